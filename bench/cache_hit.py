#!/usr/bin/env python3
"""CPU per cache hit only: LbProxy builds (and settings) beside nginx's proxy_cache, interleaved, in one run.

    python3 bench/bench.py cache-hit                             # this tree beside nginx: 5 rounds of 5 s runs
    python3 bench/bench.py cache-hit --variant base=75810f6      # and LbProxy as it was at a revision
    python3 bench/bench.py cache-hit --variant wks=. --env wks:DOTNET_gcServer=0   # this tree with other settings
    python3 bench/bench.py cache-hit --miss                      # and LbProxy's miss path (its uncached route)
    python3 bench/bench.py cache-hit --rounds 0 --perf 10 --strace 200 \
        --env lbproxy:DOTNET_PerfMapEnabled=1 --env lbproxy:DOTNET_EnableWriteXorExecute=0 --env lbproxy:DOTNET_ReadyToRun=0
                                                                 # no figures: where the CPU goes and the syscalls per hit
    python3 bench/bench.py cache-hit --dry-run

The same origin, nginx and LbProxy configuration as `bench.py cache` (bench/cache.py), but only the hit figures:
after a pre-warm, every round runs wrk (50 connections, 1 thread) against each target for each file in turn, the
order rotated each round, and reads the proxy's CPU (user + system, every process of its session) around the run.
Prints CPU s/10k hits per target, file and round, the median, and each LbProxy target's ratio to nginx (median of
the per-round ratios: a round's targets ran within seconds of each other, so drift of a shared machine hits them
alike). A variant is `NAME=REV` (LbProxy built from a git revision, committed content only) or `NAME=.` (this
working tree); `--env NAME:KEY=VALUE` adds environment to one target. Every wrk run is bounded by time; every
process runs in its own session and is stopped by its group at the end.

`--perf S` records each LbProxy target under wrk for S seconds per file (`perf record -g`, written as
perf-NAME-FILE.data with a flat report beside it); the JIT's frames have names only with the three environment
settings above (a perf map; W^X off, or perf sees only `memfd:doublemapper`; ReadyToRun off, so the framework's
code is jitted and in the map too). `--strace N` counts the system calls of every target (`strace -c -f`) while one
keep-alive connection fetches N hits of each file in turn, and prints them per response.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import bench as b
import cache as c

FILES = {"4k": "c/small.jpg", "100k": "c/large.jpg"}
MISS = {"4k": "small.jpg", "100k": "large.jpg"}


def parse(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5, help="seconds of each measured wrk run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--files", default="4k,100k", help="comma-separated subset of " + ",".join(FILES))
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=REV", help="another LbProxy target (repeatable)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME:KEY=VALUE", help="environment of one target (repeatable)")
    ap.add_argument("--miss", action="store_true", help="also each LbProxy target's miss path: the same files on its uncached route")
    ap.add_argument("--no-nginx", action="store_true")
    ap.add_argument("--perf", type=float, default=0, metavar="S", help="then perf record each LbProxy target S seconds per file")
    ap.add_argument("--strace", type=int, default=0, metavar="N", help="then strace -c every target over N sequential hits per file")
    ap.add_argument("--prewarm", type=float, default=8, help="seconds of unmeasured load per target and file first")
    ap.add_argument("--base-port", type=int, default=19700)
    ap.add_argument("--proxy-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--no-build", action="store_true", help="reuse the builds in --out/build")
    ap.add_argument("--out")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    args.files = [f for f in args.files.split(",") if f]
    for f in args.files:
        if f not in FILES:
            ap.error(f"unknown file {f!r}")
    args.variants = {"lbproxy": "."}
    for v in args.variant:
        name, _, rev = v.partition("=")
        if not name or not rev or name in ("nginx", "lbproxy") or not name.replace("-", "").isalnum():
            ap.error(f"--variant wants NAME=REV, not {v!r}")
        if rev != "." and subprocess.run(["git", "-C", b.ROOT, "rev-parse", "--verify", "--quiet", rev + "^{commit}"],
                                         stdout=subprocess.DEVNULL).returncode != 0:
            ap.error(f"--variant {v}: not a revision")
        args.variants[name] = rev
    args.envs = {}
    for e in args.env:
        name, _, kv = e.partition(":")
        key, _, value = kv.partition("=")
        if name not in args.variants or not key:
            ap.error(f"--env wants NAME:KEY=VALUE with a known LbProxy target, not {e!r}")
        args.envs.setdefault(name, {})[key] = value
    if args.rounds < 0 or args.perf < 0 or args.strace < 0 or args.duration <= 0 or not 1024 < args.base_port < 65000:
        ap.error("bad --rounds, --duration or --base-port")
    args.out = os.path.abspath(args.out or os.path.join(
        b.ROOT, "bench-results", "cache-hit-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    return args


def publish(args, name, rev):
    out = os.path.join(args.out, "build", name)
    if args.no_build and os.path.exists(os.path.join(out, "LbProxy.dll")):
        return out
    project = os.path.join(b.ROOT, "src/LbProxy")
    if rev != ".":
        tree = os.path.join(args.out, "src-" + name)
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        archive = subprocess.run(["git", "-C", b.ROOT, "archive", rev], check=True, stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        project = os.path.join(tree, "src/LbProxy")
    b.log(f"dotnet publish {name} ({rev})")
    subprocess.run(["dotnet", "publish", project, "-c", "Release", "-nologo", "-clp:NoSummary", "-o", out],
                   check=True, stdout=subprocess.DEVNULL, timeout=900,
                   env=dict(os.environ, DOTNET_CLI_TELEMETRY_OPTOUT="1", DOTNET_NOLOGO="1"))
    return out


def run_wrk(args, port, path, seconds):
    class A:  # what b.wrk reads
        load_cpus = args.load_cpus
        connections = args.connections
    return b.wrk(A, port, path, seconds)


def measure(args, proc, port, path, seconds):
    before = proc.cpu_seconds()
    r = run_wrk(args, port, path, seconds)
    cpu = proc.cpu_seconds() - before
    return {"cpu_per_10k": cpu / max(r["requests"], 1) * 10_000, "rps": r["rps"], "p99_ms": r["p99"], "errors": r["errors"], "requests": r["requests"]}


def profile(args, name, proc, port, path, tag):
    """perf record -g of one LbProxy target under wrk; a flat report (dso, symbol) beside the data."""
    if not shutil.which("perf"):
        b.log("perf: not installed, skipped")
        return
    data = os.path.join(args.out, f"perf-{name}-{tag}.data")
    cmd = (["taskset", "-c", args.load_cpus] if args.load_cpus else []) + [
        "wrk", "-t1", f"-c{args.connections}", f"-d{round(args.perf) + 3}s", "--timeout", "5s", f"http://127.0.0.1:{port}/{path}"]
    load = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        pids = ",".join(str(p) for p in proc.pids())
        subprocess.run(["perf", "record", "-F", "999", "-g", "-o", data, "-p", pids, "--", "sleep", str(args.perf)],
                       capture_output=True, timeout=args.perf + 60)
    finally:
        load.wait(timeout=args.perf + 30)
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none"],
                            capture_output=True, text=True, timeout=600).stdout
    lines = [line for line in report.splitlines() if line.strip() and not line.startswith("#")][:80]
    with open(data[:-5] + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    b.log(f"perf {name} {tag}: {data[:-5]}.txt; top: " + "; ".join(" ".join(line.split()[:1] + line.split()[2:])[:90] for line in lines[:5]))


def syscalls(args, name, proc, port, path, tag):
    """System calls per response (strace -c -f on every process of the target) over N sequential keep-alive hits."""
    import http.client
    import signal
    if not shutil.which("strace"):
        b.log("strace: not installed, skipped")
        return {}
    out = os.path.join(args.out, f"strace-{name}-{tag}.txt")
    cmd = ["strace", "-c", "-f", "-o", out]
    for pid in proc.pids():
        cmd += ["-p", str(pid)]
    tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.monotonic() + 120
        for _ in range(args.strace):
            if time.monotonic() > deadline:
                break
            conn.request("GET", "/" + path)
            conn.getresponse().read()
        conn.close()
        time.sleep(0.5)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    counts = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = round(int(parts[3]) / args.strace, 2)
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
    b.log(f"strace {name} {tag}: per response " + ", ".join(f"{k} {v:g}" for k, v in top))
    return counts


def main(argv):
    args = parse(argv)
    origin_port = args.base_port + 1
    names = (["nginx"] if not args.no_nginx else []) + list(args.variants)
    ports = {n: args.base_port + 10 + i for i, n in enumerate(names)}
    jobs = [(n, f, FILES[f]) for f in args.files for n in names]
    if args.miss:
        jobs += [(n, "miss-" + f, MISS[f]) for f in args.files for n in args.variants]
    if args.dry_run:
        print(f"out {args.out}; {args.rounds} rounds of {args.duration:g} s runs, {args.connections} connections")
        for n in names:
            print(f"  {n:12} port {ports[n]}  {'nginx proxy_cache' if n == 'nginx' else 'LbProxy ' + args.variants[n]} {args.envs.get(n, {})}")
        print("  jobs per round: " + ", ".join(f"{n}:{f}" for n, f, _ in jobs))
        return 0
    os.makedirs(os.path.join(args.out, "work"), exist_ok=True)
    builds = {n: publish(args, n, rev) for n, rev in args.variants.items()}
    limit = 64 * 1024 * 1024
    meta = {"command": "python3 bench/bench.py cache-hit " + " ".join(argv), "machine": b.machine(),
            "variants": args.variants, "env": args.envs}
    bench = b.Bench(args)
    rows = []
    try:
        work = os.path.join(args.out, "work")
        www = os.path.join(work, "www")
        c.make_www(www)
        d = os.path.join(work, "origin")
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(c.origin_conf(d, origin_port, www))
        origin = bench.start("origin", ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"], cpus=args.load_cpus)
        b.wait_ready(origin, origin_port, "/healthz", 20)
        procs = {}
        for n in names:
            td = os.path.join(work, n)
            os.makedirs(td, exist_ok=True)
            env = dict(os.environ)
            if n == "nginx":
                with open(f"{td}/nginx.conf", "w") as f:
                    f.write(c.nginx_conf(td, ports[n], origin_port, limit))
                cmd = ["nginx", "-p", td, "-e", f"{td}/error.log", "-c", f"{td}/nginx.conf"]
            else:
                with open(f"{td}/yarp.json", "w") as f:
                    json.dump(c.lbproxy_conf(origin_port, limit), f, indent=2)
                cmd = ["dotnet", f"{builds[n]}/LbProxy.dll", "--config", f"{td}/yarp.json", "--urls", f"http://127.0.0.1:{ports[n]}"]
                env.update({"DOTNET_TC_CallCountingDelayMs": "0", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"})
                env.update(args.envs.get(n, {}))
            procs[n] = bench.start(n, cmd, env=env, cpus=args.proxy_cpus)
            b.wait_ready(procs[n], ports[n], "/small.jpg")
        b.log(f"started {', '.join(names)}; load {os.getloadavg()[0]:.2f}; pre-warm {args.prewarm:g} s per job")
        for n, _, path in jobs:
            run_wrk(args, ports[n], path, args.prewarm)
        load = []
        for r in range(args.rounds):
            order = jobs[r % len(jobs):] + jobs[:r % len(jobs)]
            load.append(os.getloadavg()[0])
            for n, f, path in order:
                m = measure(args, procs[n], ports[n], path, args.duration)
                rows.append(dict(m, round=r, target=n, file=f))
            b.log(f"round {r + 1}/{args.rounds} done; load {load[-1]:.2f}")
        if args.perf:
            for n in names[1 if "nginx" in names else 0:]:
                for f in args.files:
                    profile(args, n, procs[n], ports[n], FILES[f], f)
        if args.strace:
            meta["syscalls"] = {n: {f: syscalls(args, n, procs[n], ports[n], FILES[f], f) for f in args.files} for n in names}
    finally:
        bench.stop_all()
    meta["load"] = [round(x, 2) for x in load] or [os.getloadavg()[0]]
    text = report(meta, rows, names, args)
    with open(os.path.join(args.out, "cache_hit.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    with open(os.path.join(args.out, "cache_hit.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"\nresults: {args.out}")
    return 1 if any(r["errors"] for r in rows) else 0


def report(meta, rows, names, args):
    m = meta["machine"]
    out = [f"`{meta['command']}` on {m['cpus']} CPUs ({m['cpu']}), {m['date_utc']}, load {min(meta['load']):.1f}-{max(meta['load']):.1f}",
           "", "CPU s/10k (median of rounds; each round's figures after it), req/s and p99 ms (medians):", ""]
    files = list(args.files) + (["miss-" + f for f in args.files] if args.miss else [])
    def cell(n, f):
        return [r for r in rows if r["target"] == n and r["file"] == f]
    out += ["| target | " + " | ".join(files) + " |", "|---|" + "---|" * len(files)]
    for n in names:
        cells = []
        for f in files:
            rs = cell(n, f)
            if not rs:
                cells.append("")
                continue
            cpu = [r["cpu_per_10k"] for r in rs]
            p99 = [r["p99_ms"] for r in rs if r["p99_ms"] is not None]
            cells.append(f"**{statistics.median(cpu):.3f}** ({' '.join(f'{x:.3f}' for x in cpu)}) {statistics.median(r['rps'] for r in rs):.0f}/s"
                         + (f", p99 {statistics.median(p99):.1f}" if p99 else ""))
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    if "nginx" in names:
        out += ["", "Ratio to nginx (median of per-round ratios; each round's after it):", ""]
        out += ["| target | " + " | ".join(args.files) + " |", "|---|" + "---|" * len(args.files)]
        for n in names:
            if n == "nginx":
                continue
            cells = []
            for f in args.files:
                ratios = [a["cpu_per_10k"] / g["cpu_per_10k"] for a, g in zip(cell(n, f), cell("nginx", f)) if g["cpu_per_10k"]]
                cells.append(f"**{statistics.median(ratios):.2f}x** ({' '.join(f'{x:.2f}' for x in ratios)})" if ratios else "-")
            out.append(f"| {n} | " + " | ".join(cells) + " |")
    if args.miss and rows:
        out += [""] + [f"{n} hit / its own miss path (median of per-round ratios): " + ", ".join(
            f"{f} {statistics.median(a['cpu_per_10k'] / m['cpu_per_10k'] for a, m in zip(cell(n, f), cell(n, 'miss-' + f))):.2f}x"
            for f in args.files) for n in names if n != "nginx"]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
