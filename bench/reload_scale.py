#!/usr/bin/env python3
"""Config reload at scale: 10,000 routes over 1,000 clusters.

Prints: cold start time (process start -> first proxied 200), time to apply a one-route change
(file write -> the new route answers), and request latency through the proxy before and during
reloads (p50/p99 and their ratio, measured in the same run). Everything runs on 127.0.0.1; every
loop is bounded in count and time; only processes started here are stopped, by pid.

    python3 bench/bench.py scale [--routes 10000 --clusters 1000]     (publishes LbProxy, then runs this)
    python3 bench/reload_scale.py [--program PATH/LbProxy | PATH/LbProxy.dll] [--routes 10000 --clusters 1000]
"""
import argparse, http.client, json, os, signal, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLL = os.path.join(ROOT, "src", "LbProxy", "bin", "Release", "net10.0", "LbProxy.dll")


def launch(program):
    """The command that runs LbProxy: a native executable itself, a .dll through dotnet."""
    return ["dotnet", program] if program.endswith(".dll") else [program]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_config(routes, clusters, origins, extra_route=None):
    cfg_routes, cfg_clusters = {}, {}
    for c in range(clusters):
        cfg_clusters[f"c{c}"] = {
            "LoadBalancingPolicy": "RoundRobin",
            "Destinations": {f"d{i}": {"Address": o} for i, o in enumerate(origins)},
        }
    for r in range(routes):
        cfg_routes[f"r{r}"] = {"ClusterId": f"c{r % clusters}", "Match": {"Path": f"/img/{r}/{{**path}}"}}
    if extra_route:
        cfg_routes["extra"] = {"ClusterId": "c0", "Match": {"Path": extra_route + "/{**path}"}}
    return {"ReverseProxy": {"Routes": cfg_routes, "Clusters": cfg_clusters},
            "LbProxy": {"Config": {"SettleDelay": "00:00:00.100"}, "Logging": {"Level": "Warning"}}}


def get(conn_holder, port, path):
    for _ in range(2):
        try:
            if conn_holder[0] is None:
                conn_holder[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn_holder[0].request("GET", path)
            r = conn_holder[0].getresponse()
            r.read()
            return r.status
        except (http.client.HTTPException, OSError):
            conn_holder[0] = None
    return 0


def wait_status(port, path, want, limit_s):
    start = time.monotonic()
    holder = [None]
    while time.monotonic() - start < limit_s:
        if get(holder, port, path) == want:
            return time.monotonic() - start
        time.sleep(0.005)
    raise SystemExit(f"timeout waiting for {want} on {path}")


def latency_run(port, seconds, routes, max_requests=200_000):
    holder, samples, errors = [None], [], 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end and i < max_requests:
        t0 = time.perf_counter()
        status = get(holder, port, f"/img/{i % min(routes, 1000)}/a.jpg")
        samples.append((time.perf_counter() - t0) * 1000)
        errors += status != 200
        i += 1
    return samples, errors


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--routes", type=int, default=10_000)
    ap.add_argument("--clusters", type=int, default=1_000)
    ap.add_argument("--reloads", type=int, default=5)
    ap.add_argument("--program", default=DLL, help="the native LbProxy or an LbProxy.dll to run (default: the solution's Release build)")
    args = ap.parse_args()
    dll = args.program
    if not os.path.exists(dll):
        sys.exit(f"no {dll}: build first (dotnet build -c Release {ROOT}/LbProxy.sln) or use bench/bench.py scale")

    work = tempfile.mkdtemp(prefix="lbproxy-reload-bench-")
    procs = []
    try:
        origins = []
        for name in ("a", "b"):
            port = free_port()
            procs.append(subprocess.Popen(launch(dll) + ["origin", "--urls", f"http://127.0.0.1:{port}", "--id", name],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            origins.append(f"http://127.0.0.1:{port}/")
        for o in origins:
            wait_status(int(o.rsplit(":", 1)[1].strip("/")), "/healthz", 200, 30)

        path = os.path.join(work, "yarp.json")
        with open(path, "w") as f:
            json.dump(make_config(args.routes, args.clusters, origins), f)
        size_mb = os.path.getsize(path) / 1e6
        port = free_port()
        t0 = time.monotonic()
        proxy = subprocess.Popen(launch(dll) + ["--config", path, "--urls", f"http://127.0.0.1:{port}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proxy)
        wait_status(port, "/img/9/a.jpg", 200, 120)
        cold = time.monotonic() - t0

        latency_run(port, 8, args.routes)  # JIT warm-up, not measured

        # Rounds interleave an idle window and a reload window, so machine drift hits both alike.
        base, base_err = [], 0
        applies, during, during_err = [], [], 0
        for n in range(args.reloads):
            samples, errors = latency_run(port, 3, args.routes)
            base += samples
            base_err += errors
            route = f"/new{n}"
            result = {}
            t = threading.Thread(target=lambda: result.update(zip(("s", "e"), latency_run(port, 4, args.routes))))
            t.start()
            time.sleep(0.5)
            with open(path + ".tmp", "w") as f:
                json.dump(make_config(args.routes, args.clusters, origins, extra_route=route), f)
            t1 = time.monotonic()
            os.replace(path + ".tmp", path)
            wait_status(port, route + "/a.jpg", 200, 60)
            applies.append(time.monotonic() - t1)
            t.join()
            during += result["s"]
            during_err += result["e"]

        print(f"config: {args.routes} routes, {args.clusters} clusters, {size_mb:.1f} MB")
        print(f"cold start to first proxied 200: {cold:.2f} s")
        print(f"one-route change, write -> new route answers: median {statistics.median(applies):.2f} s, "
              f"max {max(applies):.2f} s over {len(applies)} reloads")
        print(f"latency idle config:   p50 {pct(base, .5):.2f} ms  p99 {pct(base, .99):.2f} ms  ({len(base)} req, {base_err} errors)")
        print(f"latency during reload: p50 {pct(during, .5):.2f} ms  p99 {pct(during, .99):.2f} ms  ({len(during)} req, {during_err} errors)")
        print(f"ratio during/idle:     p50 {pct(during, .5) / pct(base, .5):.2f}x  p99 {pct(during, .99) / pct(base, .99):.2f}x")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
