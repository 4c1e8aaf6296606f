#!/usr/bin/env python3
"""The hot set beside nginx's proxy_cache (with proxy_cache_lock) and HAProxy's cache, in one run.

    python3 bench/bench.py cache               # about 6 minutes on 2 cores
    python3 bench/bench.py cache --quick       # about 3 minutes: shorter runs and trace (a check, not a figure)
    python3 bench/bench.py cache --trace 200000   # a Zipf trace long enough for nginx's cache manager to wake in it
    python3 bench/bench.py cache --dry-run     # print the plan, start nothing

Measures, for LbProxy (route /c/ cached, the rest not), nginx and HAProxy (both caching /c/ only), against one
nginx origin that answers `Cache-Control: public, max-age=3600` and `Vary: Accept` (what an image origin behind
LbProxy sends; HAProxy's cache refuses every response with Vary, which is the point of showing it):

- CPU per hit (s per 10k requests, wrk) for 4 KiB and 100 KiB, and LbProxy's own miss path (the same files on
  its uncached route);
- origin requests in a herd: 500 connections send one GET for a cold image at the same moment (the origin sends
  its 100 KiB at 400 KiB/s, so the first request is still in flight when the others arrive), in one format class
  and in three (Accept of AVIF, WebP, JPEG browsers);
- hit ratio on a Zipf trace (s 0.9) over 1,000 objects of 8 KiB with the cache limit at 10% of the working set,
  each proxy counting bytes its own way, with what each held sampled every 0.2 s during the trace (nginx enforces
  max_size in its cache manager, which wakes at most every 10 s, so it holds more than its limit in between); the
  same trace through nginx with its manager tuned to keep up (inactive=1s: it wakes every second, manager_files,
  manager_sleep, manager_threshold: it evicts without pausing); through LbProxy with its limit at the bytes nginx
  held on average and at the most it held (equal size, each counting its own way); the trace runs on cold caches
  of their own (the herd and CPU runs leave 100 KiB objects in the others); and through SIEVE and LRU simulated (pure functions) at
  the mean number of objects each held, which is how LbProxy's policy was chosen;
- peak RSS (VmHWM) of each proxy at the end.

Every step is bounded; every process runs in its own session and is stopped by its group at the end.
"""

import asyncio
import collections
import json
import os
import random
import subprocess
import sys
import time

import bench as b

TARGETS = ["lbproxy", "nginx", "haproxy"]
ZIPF_OBJECTS = 1000
ZIPF_SIZE = 8 * 1024
ZIPF_S = 0.9
HERD = 500


def parse(argv):
    quick = "--quick" in argv
    dry = "--dry-run" in argv
    rest = [a for a in argv if a not in ("--quick", "--dry-run")]
    trace = None
    if "--trace" in rest:  # the Zipf trace's length: long enough that nginx's cache manager wakes during it
        i = rest.index("--trace")
        if i + 1 >= len(rest) or not rest[i + 1].isdigit() or int(rest[i + 1]) < 1000:
            sys.exit("--trace wants a number of requests, at least 1000")
        trace = int(rest[i + 1])
        del rest[i:i + 2]
    # Its own ports (19300+), clear of bench.py compare (19100+) run by someone else at the same time.
    args = b.parse_args(["compare", "--targets", "lbproxy", "--files", "small.jpg,large.jpg", "--base-port", "19300"] + rest + (["--quick"] if quick else []))
    args.quick, args.dry_run = quick, dry
    args.trace = trace or (5_000 if quick else 30_000)
    args.files = ["c/small.jpg", "c/large.jpg"]
    return args


def origin_conf(d, port, www):
    return b.NGINX_COMMON.format(workers=1, dir=d, body=f"""
  sendfile on;
  log_format uri '$uri';
  server {{
    listen 127.0.0.1:{port};
    root {www};
    access_log {d}/access.log uri;
    add_header Cache-Control "public, max-age=3600";
    add_header Vary Accept;
    location = /healthz {{ access_log off; return 200 "ok"; }}
    location /c/herd/ {{ limit_rate 400k; limit_rate_after 0; }}
  }}""").replace("  types { image/jpeg jpg; }", "  types { image/jpeg jpg; }\n  types_hash_max_size 2048;")


# nginx's cache manager wakes when the entry at the tail of its LRU queue becomes inactive, at most 10 s later; with
# inactive=1s that is every second (an entry not hit for a second is gone, which a tight cache has evicted by size
# long before); then it evicts up to manager_files entries, pausing manager_sleep when a pass took manager_threshold.
NGINX_MANAGER_TUNED = "inactive=1s manager_files=100000 manager_sleep=1ms manager_threshold=10s"


def nginx_conf(d, port, origin, limit, manager="inactive=1h"):
    return b.NGINX_COMMON.format(workers=1, dir=d, body=f"""
  proxy_cache_path {d}/cache levels=1:2 keys_zone=hot:10m max_size={limit} {manager} use_temp_path=off;
  upstream origins {{ server 127.0.0.1:{origin}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffer_size 16k;
    proxy_buffers 16 16k;
    location /c/ {{
      proxy_pass http://origins;
      proxy_cache hot;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      add_header Cache-Status $upstream_cache_status;
    }}
    location / {{ proxy_pass http://origins; }}
  }}""")


def haproxy_conf(port, origin, limit):
    total = max(1, round(limit / 1048576))
    return f"""global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
cache hot
  total-max-size {total}
  max-object-size {total * 1048576 // 2}
  max-age 3600
frontend fe
  bind 127.0.0.1:{port}
  default_backend origins
backend origins
  acl cached path_beg /c/
  http-request set-var(txn.cached) bool(true) if cached
  http-request cache-use hot if cached
  http-response cache-store hot if {{ var(txn.cached) -m bool }}
  http-reuse safe
  server a 127.0.0.1:{origin}
"""


def lbproxy_conf(origin, limit):
    return {
        "ReverseProxy": {
            "Routes": {
                "cached": {"ClusterId": "origins", "Match": {"Path": "/c/{**path}"}, "Metadata": {"Cache.Enabled": "true"}},
                "plain": {"ClusterId": "origins", "Match": {"Path": "/{**path}"}},
            },
            "Clusters": {"origins": {"Destinations": {"a": {"Address": f"http://127.0.0.1:{origin}/"}}}},
        },
        "LbProxy": {"AccessLog": {"Enabled": False}, "Logging": {"Level": "Warning"},
                    "Cache": {"SizeLimitBytes": limit, "MaxObjectBytes": 1048576}},
    }


def make_www(www):
    b.make_files(www)
    os.makedirs(os.path.join(www, "c", "z"), exist_ok=True)
    os.makedirs(os.path.join(www, "c", "herd"), exist_ok=True)
    for name in b.FILES:
        with open(os.path.join(www, name), "rb") as f, open(os.path.join(www, "c", name), "wb") as g:
            g.write(f.read())
    rnd = random.Random(7)
    for i in range(ZIPF_OBJECTS):
        with open(os.path.join(www, "c", "z", f"{i}.jpg"), "wb") as f:
            f.write(rnd.randbytes(ZIPF_SIZE))
    for t in TARGETS:
        for name in ("one", "three"):
            with open(os.path.join(www, "c", "herd", f"{t}-{name}.jpg"), "wb") as f:
                f.write(rnd.randbytes(100 * 1024))
    for root, dirs, files in os.walk(www):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def zipf_trace(n, objects, s, seed=42):
    weights = [1 / (k + 1) ** s for k in range(objects)]
    return random.Random(seed).choices(range(objects), weights=weights, k=n)


def simulate(trace, capacity, policy):
    """Hit ratio of a cache of `capacity` objects on `trace`: 'lru' or 'sieve' (pure function, no I/O)."""
    hits = 0
    if policy == "lru":
        cache = collections.OrderedDict()
        for key in trace:
            if key in cache:
                hits += 1
                cache.move_to_end(key)
            else:
                if len(cache) >= capacity:
                    cache.popitem(last=False)
                cache[key] = True
        return hits / len(trace)
    # SIEVE: a FIFO queue (newest at the head), one visited bit per object, a hand moving from the tail to the head.
    order, visited, hand = [], {}, None  # order: oldest first
    for key in trace:
        if key in visited:
            hits += 1
            visited[key] = True
            continue
        if len(visited) >= capacity:
            i = hand if hand is not None and hand < len(order) else 0
            while visited[order[i]]:
                visited[order[i]] = False
                i = i + 1 if i + 1 < len(order) else 0
            del visited[order[i]]
            order.pop(i)
            hand = i if i < len(order) else 0
        order.append(key)
        visited[key] = False
    return hits / len(trace)


def held_bytes(target, port, directory):
    """Bytes and objects a cache holds now: LbProxy's own count (bodies, headers, bookkeeping); nginx's files on disk
    (each the body, the response headers and the key: what its max_size counts, but in the file system's blocks);
    HAProxy's: not readable."""
    if target.startswith("lbproxy"):
        status, body, _ = b.http_get(port, "/_lb/cache")
        cache = json.loads(body) if status == 200 else {}
        return cache.get("bytes", 0), cache.get("entries")
    if target.startswith("nginx"):
        total = count = 0
        for r, _, fs in os.walk(os.path.join(directory, "cache")):
            for f in fs:
                try:
                    total += os.path.getsize(os.path.join(r, f))
                    count += 1
                except FileNotFoundError:  # evicted by the manager meanwhile
                    pass
        return total, count
    return None, None


def held(target, port, directory):
    """KiB and objects a cache holds at the end."""
    size, count = held_bytes(target, port, directory)
    return (round(size / 1024) if size is not None else None), count


def origin_count(log_path, prefix):
    try:
        with open(log_path) as f:
            return sum(1 for line in f if line.startswith(prefix))
    except FileNotFoundError:
        return 0


async def _herd(port, path, accepts, bound):
    async def one(i, go):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await go.wait()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: {accepts[i % len(accepts)]}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.read()
        writer.close()
        return int(head.split(b" ", 2)[1]), len(body)

    go = asyncio.Event()
    tasks = [asyncio.ensure_future(one(i, go)) for i in range(HERD)]
    await asyncio.sleep(1)  # every connection open before the first byte of a request
    go.set()
    done, pending = await asyncio.wait(tasks, timeout=bound)
    for t in pending:
        t.cancel()
    return [t.result() if not t.exception() else (0, 0) for t in done] + [(0, 0)] * len(pending)


def herd(port, path, accepts):
    return asyncio.run(_herd(port, path, accepts, 60))


def trace_run(port, trace, prefix, bound, sample=None):
    """Sends the trace over 4 keep-alive connections in order (each takes every 4th request); returns errors, and
    what `sample()` (bytes, objects) read every 0.2 s meanwhile."""
    import http.client
    import threading
    errors = [0]
    samples = []
    deadline = time.monotonic() + bound
    done = threading.Event()

    def sampler():
        while not done.wait(0.2):
            try:
                samples.append(sample())
            except (OSError, ValueError, http.client.HTTPException):
                pass

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for key in trace[k::4]:
            if time.monotonic() > deadline:
                errors[0] += 1
                return
            conn.request("GET", f"{prefix}{key}.jpg", headers={"Accept": "image/avif,image/webp,*/*"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    watcher = threading.Thread(target=sampler) if sample else None
    for t in threads:
        t.start()
    if watcher:
        watcher.start()
    for t in threads:
        t.join(bound + 30)
    done.set()
    if watcher:
        watcher.join(30)
    return errors[0], samples


def summarize(samples):
    """Mean and peak of what a cache held during a trace: KiB and objects."""
    kept = [(size, count) for size, count in samples if size is not None and count is not None]
    if not kept:
        return {}
    return {"mean_kib": round(sum(s for s, _ in kept) / len(kept) / 1024), "max_kib": round(max(s for s, _ in kept) / 1024),
            "mean_objects": round(sum(c for _, c in kept) / len(kept)), "max_objects": max(c for _, c in kept),
            "samples": len(kept)}


def main(argv):
    args = parse(argv)
    work = os.path.join(args.out, "work")
    origin_port = args.base_port + 1
    ports = {t: args.base_port + 10 + i for i, t in enumerate(TARGETS)}
    extra_ports = {"lbproxy-zipf": args.base_port + 20, "nginx-zipf": args.base_port + 21, "nginx-tuned": args.base_port + 22,
                   "lbproxy-equal": args.base_port + 23, "lbproxy-peak": args.base_port + 24}
    limit = ZIPF_OBJECTS * ZIPF_SIZE // 10
    if args.dry_run:
        print(f"mode cache; out {args.out}; {args.duration:g} s wrk runs, {args.connections} connections; "
              f"trace {args.trace} requests over {ZIPF_OBJECTS} x {ZIPF_SIZE} B (Zipf {ZIPF_S}), limit {limit} B; herd {HERD}")
        print(f"  origin         port {origin_port:5}  nginx (Cache-Control: public, max-age=3600; Vary: Accept)")
        for t, p in ports.items():
            print(f"  {t:14} port {p:5}  {'dotnet LbProxy.dll (/c/ cached)' if t == 'lbproxy' else t + ' (/c/ cached)'}")
        print(f"  {'lbproxy-zipf':14} port {extra_ports['lbproxy-zipf']:5}  LbProxy, the Zipf trace only, cold")
        print(f"  {'nginx-zipf':14} port {extra_ports['nginx-zipf']:5}  nginx, the Zipf trace only, cold")
        print(f"  {'nginx-tuned':14} port {extra_ports['nginx-tuned']:5}  nginx, the Zipf trace only, cold, cache manager: {NGINX_MANAGER_TUNED}")
        print(f"  {'lbproxy-equal':14} port {extra_ports['lbproxy-equal']:5}  LbProxy, the Zipf trace only, limit: the mean bytes nginx held in its trace")
        print(f"  {'lbproxy-peak':14} port {extra_ports['lbproxy-peak']:5}  LbProxy, the Zipf trace only, limit: the most bytes nginx held in its trace")
        return 0
    os.makedirs(work, exist_ok=True)
    b.ensure_programs(args)
    build_dir = b.build(args)
    meta = {"command": "python3 bench/bench.py cache " + " ".join(argv), "machine": b.machine(), "limit_bytes": limit}
    bench = b.Bench(args)
    results = {t: {} for t in TARGETS}
    try:
        www = os.path.join(work, "www")
        make_www(www)
        d = os.path.join(work, "origin")
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(origin_conf(d, origin_port, www))
        origin = bench.start("origin", ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"], cpus=args.load_cpus)
        b.wait_ready(origin, origin_port, "/healthz", 20)
        access = f"{d}/access.log"
        procs, targets = {}, {}
        for t in TARGETS:
            td = os.path.join(work, t)
            os.makedirs(td, exist_ok=True)
            port = ports[t]
            env = dict(os.environ)
            if t == "lbproxy":
                with open(f"{td}/yarp.json", "w") as f:
                    json.dump(lbproxy_conf(origin_port, limit), f, indent=2)
                cmd = ["dotnet", f"{build_dir}/lbproxy/LbProxy.dll", "--config", f"{td}/yarp.json", "--urls", f"http://127.0.0.1:{port}"]
                env.update({"DOTNET_TC_CallCountingDelayMs": "0", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"})
            elif t == "nginx":
                with open(f"{td}/nginx.conf", "w") as f:
                    f.write(nginx_conf(td, port, origin_port, limit))
                cmd = ["nginx", "-p", td, "-e", f"{td}/error.log", "-c", f"{td}/nginx.conf"]
            else:
                with open(f"{td}/haproxy.cfg", "w") as f:
                    f.write(haproxy_conf(port, origin_port, limit))
                cmd = ["haproxy", "-db", "-f", f"{td}/haproxy.cfg"]
            b.log(f"start {t}")
            procs[t] = bench.start(t, cmd, env=env, cpus=args.proxy_cpus)
            b.wait_ready(procs[t], port, "/small.jpg")
            targets[t] = {"port": port, "probe": None, "runtime": None}
            results[t]["idle_rss_mib"] = round(procs[t].status_kib("VmRSS") / 1024, 1)

        # Herds first, while every key is cold.
        for t in TARGETS:
            for name, accepts in (("one", ["image/avif,image/webp,*/*"]),
                                  ("three", ["image/avif,image/webp,*/*", "image/webp,*/*", "image/jpeg,*/*;q=0.8"])):
                path = f"/c/herd/{t}-{name}.jpg"
                before = origin_count(access, path)
                answers = herd(ports[t], path, accepts)
                time.sleep(0.5)
                results[t][f"herd_{name}_origin"] = origin_count(access, path) - before
                results[t][f"herd_{name}_ok"] = sum(1 for s, n in answers if s == 200 and n == 100 * 1024)
                b.log(f"{t}: herd of {HERD} in {name} class(es): {results[t][f'herd_{name}_origin']} origin requests, "
                      f"{results[t][f'herd_{name}_ok']} whole answers")

        # CPU per hit (and LbProxy's miss path on its uncached route).
        for t in TARGETS:
            b.prewarm(args, targets[t], procs[t], [origin])
            paths = list(args.files) + (["small.jpg", "large.jpg"] if t == "lbproxy" else [])
            for path in paths:
                b.wrk(args, ports[t], path, 1, latency=False)
                r = b.measure(args, targets[t], procs[t], [origin], path, args.duration)
                results[t][f"cpu_{path}"] = round(r["cpu_per_10k"], 4)
                results[t][f"rps_{path}"] = round(r["rps"])
                results[t][f"errors_{path}"] = r["errors"]
                b.log(f"{t}: {path}: {r['rps']:.0f} req/s, CPU {r['cpu_per_10k']:.3f} s/10k, errors {r['errors']}")

        # Zipf trace, limit at 10% of the working set; what each holds sampled during it.
        trace = zipf_trace(args.trace, ZIPF_OBJECTS, ZIPF_S)

        def zipf(t, port, directory):
            before = origin_count(access, "/c/z/")
            errors, samples = trace_run(port, trace, "/c/z/", 300, lambda: held_bytes(t, port, directory))
            misses = origin_count(access, "/c/z/") - before
            r = results.setdefault(t, {})
            r["zipf_hit_ratio"] = round(1 - misses / len(trace), 4)
            r["zipf_errors"] = errors
            r["held_kib"], r["held_objects"] = held(t, port, directory)
            r["held_during"] = summarize(samples)
            b.log(f"{t}: Zipf hit ratio {r['zipf_hit_ratio']:.3f} ({misses} origin requests of {len(trace)}), errors {errors}; "
                  f"held during the trace {r['held_during']}")

        for t in TARGETS:
            results[t]["peak_rss_mib"] = round(procs[t].status_kib("VmHWM") / 1024, 1)

        # The trace through caches of their own, cold: the herd and CPU runs left 100 KiB objects in the others.
        def cold(name, conf_lbproxy_limit=None, manager=None):
            td = os.path.join(work, name)
            os.makedirs(td, exist_ok=True)
            port = extra_ports[name]
            if conf_lbproxy_limit is not None:
                with open(f"{td}/yarp.json", "w") as f:
                    json.dump(lbproxy_conf(origin_port, conf_lbproxy_limit), f, indent=2)
                env = dict(os.environ, DOTNET_TC_CallCountingDelayMs="0", DOTNET_CLI_TELEMETRY_OPTOUT="1")
                p = bench.start(name, ["dotnet", f"{build_dir}/lbproxy/LbProxy.dll", "--config", f"{td}/yarp.json", "--urls",
                                       f"http://127.0.0.1:{port}"], env=env, cpus=args.proxy_cpus)
            else:
                with open(f"{td}/nginx.conf", "w") as f:
                    f.write(nginx_conf(td, port, origin_port, limit, manager))
                p = bench.start(name, ["nginx", "-p", td, "-e", f"{td}/error.log", "-c", f"{td}/nginx.conf"], cpus=args.proxy_cpus)
            b.wait_ready(p, port, "/small.jpg")
            zipf(name, port, td)
            p.stop()

        cold("lbproxy-zipf", conf_lbproxy_limit=limit)
        cold("nginx-zipf", manager="inactive=1h")
        zipf("haproxy", ports["haproxy"], os.path.join(work, "haproxy"))
        # nginx with its cache manager tuned to keep up.
        cold("nginx-tuned", manager=NGINX_MANAGER_TUNED)
        # LbProxy with its limit at the bytes nginx held on average during its trace: equal size, each counting its way.
        # Its mean is that of a sawtooth (it overshoots until its manager wakes), so also at the most nginx held: the
        # memory a host has to have for it.
        for name, key in (("lbproxy-equal", "mean_kib"), ("lbproxy-peak", "max_kib")):
            equal = results["nginx-zipf"].get("held_during", {}).get(key)
            if equal:
                cold(name, conf_lbproxy_limit=equal * 1024)
                results[name]["limit_kib"] = equal
        for t in ("lbproxy", "nginx"):
            results[t].update(results[f"{t}-zipf"])

        # Simulated at 10% of the objects and at the mean number each held (LbProxy's entries cost headers and
        # bookkeeping too; nginx's files its headers and key).
        sim = {}
        capacities = {ZIPF_OBJECTS // 10}
        for t in ("lbproxy-zipf", "nginx-zipf", "nginx-tuned", "lbproxy-equal", "lbproxy-peak"):
            if results.get(t, {}).get("held_during", {}).get("mean_objects"):
                capacities.add(results[t]["held_during"]["mean_objects"])
        for capacity in sorted(capacities):
            sim[capacity] = {p: round(simulate(trace, capacity, p), 4) for p in ("lru", "sieve")}
            b.log(f"simulated at {capacity} objects: LRU {sim[capacity]['lru']:.3f}, SIEVE {sim[capacity]['sieve']:.3f}")
    finally:
        bench.stop_all()

    lines = report(meta, results, sim, args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cache.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "simulated": {str(c): v for c, v in sim.items()}}, f, indent=2)
    with open(os.path.join(args.out, "cache.md"), "w") as f:
        f.write(lines + "\n")
    print(lines)
    print(f"\nresults: {args.out}")
    failed = any(v for r in results.values() for k, v in r.items() if k.startswith("errors_") or k == "zipf_errors")
    return 1 if failed else 0


def report(meta, results, sim, args):
    def cpu(t, p):
        return results[t].get(f"cpu_{p}")

    def ratio(a, c):
        return f"{a / c:.2f}x" if a and c else "-"

    m = meta["machine"]
    out = [f"`{meta['command']}` on {m['cpus']} CPUs ({m['cpu']}), {m['date_utc']}, load {m['load_avg'][0]:.2f}", "",
           "| | LbProxy | nginx | HAProxy |", "|---|---|---|---|"]
    for p, label in (("c/small.jpg", "CPU s/10k hits, 4 KiB"), ("c/large.jpg", "CPU s/10k hits, 100 KiB")):
        out.append(f"| {label} | {cpu('lbproxy', p)} | {cpu('nginx', p)} | {cpu('haproxy', p)} (no hit: Vary) |")
    for p in ("c/small.jpg", "c/large.jpg"):
        out.append(f"| req/s, {p} | {results['lbproxy'].get('rps_' + p)} | {results['nginx'].get('rps_' + p)} | {results['haproxy'].get('rps_' + p)} |")
    out.append(f"| origin requests, herd of {HERD}, one class | {results['lbproxy']['herd_one_origin']} | {results['nginx']['herd_one_origin']} | {results['haproxy']['herd_one_origin']} |")
    out.append(f"| origin requests, herd of {HERD}, three classes | {results['lbproxy']['herd_three_origin']} | {results['nginx']['herd_three_origin']} | {results['haproxy']['herd_three_origin']} |")
    out.append(f"| whole answers in the herds (of {2 * HERD}) | {results['lbproxy']['herd_one_ok'] + results['lbproxy']['herd_three_ok']} | "
               f"{results['nginx']['herd_one_ok'] + results['nginx']['herd_three_ok']} | {results['haproxy']['herd_one_ok'] + results['haproxy']['herd_three_ok']} |")
    out.append(f"| Zipf hit ratio, limit {meta['limit_bytes'] // 1024} KiB (10%) | {results['lbproxy']['zipf_hit_ratio']} | {results['nginx']['zipf_hit_ratio']} | {results['haproxy']['zipf_hit_ratio']} |")
    out.append(f"| held at the end of the trace, KiB (objects) | {results['lbproxy']['held_kib']} ({results['lbproxy']['held_objects']}) | "
               f"{results['nginx']['held_kib']} ({results['nginx']['held_objects']}) | - |")

    def during(t):
        h = results.get(t, {}).get("held_during") or {}
        return f"{h['mean_kib']:,} / {h['max_kib']:,} ({h['mean_objects']} / {h['max_objects']})" if h else "-"

    out.append(f"| held during the trace, mean / max KiB (objects) | {during('lbproxy')} | {during('nginx')} | - |")
    out.append(f"| RSS idle / peak, MiB | {results['lbproxy']['idle_rss_mib']} / {results['lbproxy']['peak_rss_mib']} | "
               f"{results['nginx']['idle_rss_mib']} / {results['nginx']['peak_rss_mib']} | {results['haproxy']['idle_rss_mib']} / {results['haproxy']['peak_rss_mib']} |")
    out += ["", "| LbProxy ratios | 4 KiB | 100 KiB |", "|---|---|---|",
            f"| hit CPU / nginx hit CPU (target at most 1.3x) | {ratio(cpu('lbproxy', 'c/small.jpg'), cpu('nginx', 'c/small.jpg'))} | {ratio(cpu('lbproxy', 'c/large.jpg'), cpu('nginx', 'c/large.jpg'))} |",
            f"| hit CPU / its own miss path (target at most 0.5x) | {ratio(cpu('lbproxy', 'c/small.jpg'), cpu('lbproxy', 'small.jpg'))} | {ratio(cpu('lbproxy', 'c/large.jpg'), cpu('lbproxy', 'large.jpg'))} |",
            ""]
    tuned, equal, peak = results.get("nginx-tuned", {}), results.get("lbproxy-equal", {}), results.get("lbproxy-peak", {})
    out += ["| Zipf trace, equal size | hit ratio | held during the trace, mean / max KiB (objects) |", "|---|---|---|",
            f"| LbProxy, limit {meta['limit_bytes'] // 1024} KiB | {results['lbproxy']['zipf_hit_ratio']} | {during('lbproxy')} |",
            f"| nginx, max_size {meta['limit_bytes'] // 1024} KiB, manager as by default | {results['nginx']['zipf_hit_ratio']} | {during('nginx')} |",
            f"| nginx, max_size {meta['limit_bytes'] // 1024} KiB, manager tuned (`{NGINX_MANAGER_TUNED}`) | {tuned.get('zipf_hit_ratio', '-')} | {during('nginx-tuned')} |",
            f"| LbProxy, limit {equal.get('limit_kib', '-')} KiB (nginx's mean held) | {equal.get('zipf_hit_ratio', '-')} | {during('lbproxy-equal')} |",
            f"| LbProxy, limit {peak.get('limit_kib', '-')} KiB (the most nginx held) | {peak.get('zipf_hit_ratio', '-')} | {during('lbproxy-peak')} |",
            ""]
    out += [f"Simulated on the same trace at {c} objects: LRU {v['lru']}, SIEVE {v['sieve']}." for c, v in sim.items()]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
