"""`python3 bench/bench.py overload`: origin protection under overload, LbProxy beside HAProxy, nginx and bare YARP.

    python3 bench/bench.py overload             # every target, loads 1x 2x 3x 5x, closed and open loop (about 25 min)
    python3 bench/bench.py overload --quick     # 3x only, 3 s steps (about 3 minutes: a check, not a figure)
    python3 bench/bench.py overload --dry-run   # the plan; starts nothing

Two converter origins (`LbProxy origin --workers W --service-ms avif=40,webp=12,original=3`: W workers, a service
time per format class; requests beyond W wait inside the origin) stand behind each target. Capacity is
workers / mean service time of the request mix, summed over the origins; each target gets 1x, 2x, 3x and 5x that,
closed loop (N = load x all workers clients, each sending its next request when the last returns) and open loop
(load x capacity requests per second, sent on schedule whatever the answers; bench/overload_client.py).
Targets: LbProxy with a concurrency limit and a queue (Concurrency.MaxPerDestination = W, MaxQueue, QueueTimeout),
the same with Concurrency.Adaptive, the same with Concurrency.DegradeFormats; HAProxy with maxconn W per server, the
same queue bound and `timeout queue`; nginx and bare YARP as they come (no limits). Per step: goodput (2xx per
second), p50/p99 of 2xx, 503/s and 429/s, Retry-After on every shed answer, the highest concurrency each origin
saw (its own counter, /_origin/stats), the origins' and the proxy's CPU (/proc). Then: the p99 of a queue_full
refusal, /_lb/healthz and /metrics p99 during overload, an adaptive run whose origins slow to a quarter of their
speed mid-run, and a rate-limit run (one client at 20x its rate, one under it). Writes results-overload.md,
results-overload.json and chart-overload.png to --out. Every step is bounded in requests and in time.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import bench as B

CLASSES = ("avif", "webp", "original")
ACCEPT = {"avif": "image/avif,image/webp,*/*", "webp": "image/webp,*/*", "original": "*/*"}
ALL_TARGETS = ["direct", "lbproxy-limits", "lbproxy-adaptive", "lbproxy-degrade", "haproxy", "nginx", "bare-yarp"]
LBPROXY = {"lbproxy-limits", "lbproxy-adaptive", "lbproxy-degrade"}
RATE_POLICY = "perclient"


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench.py overload", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="load 3x only, 3 s steps, short extra runs")
    ap.add_argument("--targets", default=",".join(ALL_TARGETS), help="comma-separated subset of " + ",".join(ALL_TARGETS))
    ap.add_argument("--loads", default="1,2,3,5", help="offered load as multiples of the origins' capacity")
    ap.add_argument("--modes", default="closed,open", help="closed, open or both")
    ap.add_argument("--duration", type=float, default=15, help="seconds of each measured step")
    ap.add_argument("--warmup", type=float, default=8, help="seconds of unmeasured 1x load on each target first")
    ap.add_argument("--workers", type=int, default=4, help="workers of each origin, and MaxPerDestination / maxconn")
    ap.add_argument("--service-ms", default="avif=40,webp=12,original=3", help="service time per format class at the origin")
    ap.add_argument("--mix", default="avif=70,webp=20,original=10",
                    help="share of requests whose client's best accepted class is each (avif clients accept webp too)")
    ap.add_argument("--max-queue", type=int, default=16, help="Concurrency.MaxQueue of the cluster; HAProxy's queue bound")
    ap.add_argument("--queue-timeout", type=float, default=2.0, help="seconds: Concurrency.QueueTimeout; HAProxy's timeout queue")
    ap.add_argument("--timeout", type=float, default=10, help="client timeout, seconds after the end of a step")
    ap.add_argument("--max-conns", type=int, default=2000, help="open loop: connections of the client at most")
    ap.add_argument("--adaptive-duration", type=float, default=60, help="seconds of the adaptive slow-down run")
    ap.add_argument("--rate-duration", type=float, default=10, help="seconds of the rate-limit run")
    ap.add_argument("--origin", choices=["auto", "sample", "python"], default="auto",
                    help="sample: LbProxy's own origin in converter mode; python: bench/converter_origin.py, the same contract; "
                         "auto: sample when the build has converter mode, else python")
    ap.add_argument("--base-port", type=int, default=19400, help="origins on +1 and +2, targets from +10")
    ap.add_argument("--proxy-cpus", default="1", help="CPUs of the proxy under test (taskset -c)")
    ap.add_argument("--load-cpus", default="0", help="CPUs of the client and the origins (taskset -c)")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-build", action="store_true", help="reuse the builds in --out/build")
    ap.add_argument("--out", help="results directory (default bench-results/overload-<UTC time>)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = ap.parse_args(argv)
    if args.quick:
        args.loads = "3" if args.loads == "1,2,3,5" else args.loads
        args.duration, args.warmup, args.timeout = 3, 2, 5
        args.adaptive_duration, args.rate_duration = 15, 4
    args.targets = [t for t in args.targets.split(",") if t]
    for t in args.targets:
        if t not in ALL_TARGETS:
            ap.error(f"unknown target {t!r}; known: {', '.join(ALL_TARGETS)}")
    try:
        args.loads = [float(x) for x in args.loads.split(",") if x]
        args.service = {k: float(v) for k, v in (p.split("=") for p in args.service_ms.split(","))}
        mix = {k: float(v) for k, v in (p.split("=") for p in args.mix.split(","))}
    except ValueError:
        ap.error("--loads, --service-ms and --mix want numbers (e.g. --mix avif=70,webp=20,original=10)")
    if set(args.service) != set(CLASSES) or not set(mix) <= set(CLASSES) or sum(mix.values()) <= 0:
        ap.error(f"--service-ms names each of {', '.join(CLASSES)}; --mix some of them, with a positive total")
    args.mix = {c: mix.get(c, 0) / sum(mix.values()) for c in CLASSES}
    args.modes = [m for m in args.modes.split(",") if m]
    if not args.loads or any(x <= 0 for x in args.loads) or not set(args.modes) <= {"closed", "open"} or not args.modes:
        ap.error("--loads wants positive numbers; --modes closed, open or both")
    if args.workers < 1 or args.max_queue < 0 or args.queue_timeout <= 0 or args.duration <= 0:
        ap.error("--workers, --queue-timeout and --duration must be positive, --max-queue at least 0")
    if not 1024 < args.base_port < 65000:
        ap.error("--base-port: between 1024 and 65000")
    if args.no_pin or (os.cpu_count() or 1) < 2:
        args.proxy_cpus = args.load_cpus = None
    args.out = os.path.abspath(args.out or os.path.join(
        B.ROOT, "bench-results", "overload-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")))
    return args


def capacity(args):
    """Requests per second the two origins can serve: workers / mean service time of the mix, per origin."""
    mean_s = sum(args.mix[c] * args.service[c] for c in CLASSES) / 1000
    return 2 * args.workers / mean_s


def accepts(args):
    """The Accept header of request k is accepts[k % 100]: the mix in hundredths, interleaved."""
    counts = {c: round(args.mix[c] * 100) for c in CLASSES}
    out, acc = [], {c: 0.0 for c in CLASSES}
    for _ in range(100):
        for c in CLASSES:
            acc[c] += counts[c] / 100
        best = max(CLASSES, key=lambda c: acc[c])
        acc[best] -= 1
        out.append(ACCEPT[best])
    return out


def steps(args):
    out = []
    for mode in args.modes:
        for load in args.loads:
            out.append((mode, load))
    return out


# ---------------------------------------------------------------- configs

def lbproxy_conf(args, origins, metadata, rate_limit=False):
    routes = {"images": {"ClusterId": "origins", "Match": {"Path": "/images/{**path}"}}}
    extra = {}
    if rate_limit:
        routes["limited"] = {"ClusterId": "origins", "Match": {"Path": "/rl/images/{**path}"},
                             "RateLimiterPolicy": RATE_POLICY, "Transforms": [{"PathRemovePrefix": "/rl"}]}
        # 10 requests per second per X-Client, a burst of 10, no queue.
        extra = {"RateLimits": {RATE_POLICY: {"Kind": "TokenBucket", "TokenLimit": 10, "TokensPerPeriod": 10,
                                              "ReplenishmentPeriod": "00:00:01", "QueueLimit": 0,
                                              "PartitionBy": "Header:X-Client"}}}
    return {
        "ReverseProxy": {
            "Routes": routes,
            "Clusters": {"origins": {
                "LoadBalancingPolicy": "RoundRobin",
                "Metadata": metadata,
                "Destinations": {chr(97 + i): {"Address": f"http://127.0.0.1:{o}/"} for i, o in enumerate(origins)},
            }},
        },
        # The access log off, as HAProxy's and nginx's are here: shed answers cost what the proxy does, not a log line.
        "LbProxy": dict({"AccessLog": {"Enabled": False}, "Logging": {"Level": "Warning"}}, **extra),
    }


def limits_metadata(args, adaptive=False, degrade=False):
    m = {"Concurrency.MaxPerDestination": str(args.workers), "Concurrency.MaxQueue": str(args.max_queue),
         "Concurrency.QueueTimeout": timespan(args.queue_timeout)}
    if adaptive:
        m["Concurrency.Adaptive"] = "true"
    if degrade:
        m["Concurrency.DegradeFormats"] = "true"
    return m


def timespan(seconds):
    ms = round(seconds * 1000)
    whole = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}"
    return whole if ms % 1000 == 0 else f"{whole}.{ms % 1000:03d}"


def haproxy_conf(args, port, origins):
    # maxconn per server = workers; beyond it a request waits in the backend's queue (a non-persistent request is
    # queued there, not on a server, so a server's maxqueue alone does not bound it): the queue(origins) rule refuses
    # the request that would make it longer than --max-queue, as MaxQueue does, and `timeout queue` is QueueTimeout.
    servers = "".join(f"  server {chr(97 + i)} 127.0.0.1:{o} maxconn {args.workers} maxqueue {args.max_queue}\n"
                      for i, o in enumerate(origins))
    return f"""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout queue {round(args.queue_timeout * 1000)}ms
  option http-keep-alive
frontend fe
  bind 127.0.0.1:{port}
  maxconn 8000
  http-request return status 503 hdr Retry-After 1 if {{ queue(origins) ge {args.max_queue} }}
  http-after-response set-header Retry-After 1 if {{ status 503 }} !{{ res.hdr(Retry-After) -m found }}
  default_backend origins
backend origins
  balance roundrobin
  http-reuse safe
{servers}"""


def plan_targets(args, build_dir, origins):
    plans = {}
    dotnet_env = dict(os.environ, DOTNET_TC_CallCountingDelayMs="0", DOTNET_CLI_TELEMETRY_OPTOUT="1")
    names = list(args.targets) + (["lbproxy-ratelimit"] if any(t in LBPROXY for t in args.targets) else [])
    for i, name in enumerate(names):
        port = args.base_port + 10 + i
        d = os.path.join(args.out, "work", name)
        p = {"port": port, "dir": d, "env": dict(os.environ), "write": {}, "ready": "/images/ready.jpg", "what": ""}
        if name == "direct":
            # No proxy: each origin gets half of every step from the client itself. The origins' own ceiling.
            p["cmd"], p["port"], p["split"], p["what"] = None, origins[0], origins, "the client straight to the origins, half each"
        elif name in LBPROXY or name == "lbproxy-ratelimit":
            meta = limits_metadata(args, adaptive=name == "lbproxy-adaptive", degrade=name == "lbproxy-degrade")
            if name == "lbproxy-ratelimit":
                meta = {}
            p["write"][f"{d}/yarp.json"] = json.dumps(lbproxy_conf(args, origins, meta, rate_limit=name == "lbproxy-ratelimit"), indent=2)
            p["cmd"] = ["dotnet", f"{build_dir}/lbproxy/LbProxy.dll", "--config", f"{d}/yarp.json", "--urls", f"http://127.0.0.1:{port}"]
            p["env"], p["ready"] = dotnet_env, "/_lb/healthz"
            p["what"] = ", ".join(f"{k}={v}" for k, v in meta.items()) or f"route RateLimiterPolicy {RATE_POLICY}: TokenBucket 10/s per X-Client"
        elif name == "haproxy":
            p["write"][f"{d}/haproxy.cfg"] = haproxy_conf(args, port, origins)
            p["cmd"] = ["haproxy", "-db", "-f", f"{d}/haproxy.cfg"]
            p["what"] = (f"maxconn {args.workers} per server, queue bound {args.max_queue}, "
                         f"timeout queue {args.queue_timeout:g}s")
        elif name == "nginx":
            p["write"][f"{d}/nginx.conf"] = B.nginx_proxy_conf(d, port, origins, 1)
            p["cmd"] = ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"]
            p["what"] = "no limits (upstream keep-alive)"
        elif name == "bare-yarp":
            cfg = ["--ReverseProxy:Routes:all:ClusterId=origins", "--ReverseProxy:Routes:all:Match:Path=/{**path}",
                   "--ReverseProxy:Clusters:origins:LoadBalancingPolicy=RoundRobin", "--Logging:LogLevel:Default=Warning"]
            cfg += [f"--ReverseProxy:Clusters:origins:Destinations:{chr(97 + j)}:Address=http://127.0.0.1:{o}/"
                    for j, o in enumerate(origins)]
            p["cmd"] = ["dotnet", f"{build_dir}/bare-yarp/BareYarp.dll", "--urls", f"http://127.0.0.1:{port}"] + cfg
            p["env"] = dotnet_env
            p["what"] = "YARP's defaults, no limits"
        plans[name] = p
    return plans


def origin_cmd(args, kind, build_dir, tag, port):
    service = ",".join(f"{c}={args.service[c]:g}" for c in CLASSES)
    if kind == "sample":
        return ["dotnet", f"{build_dir}/lbproxy/LbProxy.dll", "origin", "--urls", f"http://127.0.0.1:{port}", "--id", tag,
                "--workers", str(args.workers), "--service-ms", service]
    return [sys.executable, os.path.join(B.BENCH, "converter_origin.py"), "--port", str(port), "--id", tag,
            "--workers", str(args.workers), "--service-ms", service]


# ---------------------------------------------------------------- measuring

def scrape(port):
    """Prometheus text of /metrics as {(name, frozenset(labels)): value}."""
    try:
        status, body, _ = B.http_get(port, "/metrics", timeout=5)
    except (OSError, B.http.client.HTTPException):
        return {}
    out = {}
    if status != 200:
        return out
    for line in body.decode("utf-8", "replace").splitlines():
        if not line or line[0] == "#":
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def metric_sum(samples, name, **match):
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, w) in labels for k, w in match.items()))


def metric_by(samples, name, label):
    out = {}
    for (n, labels), v in samples.items():
        if n == name:
            key = dict(labels).get(label, "")
            out[key] = out.get(key, 0) + v
    return out


def origin_stats(port):
    try:
        status, body, _ = B.http_get(port, "/_origin/stats", timeout=5)
        return json.loads(body) if status == 200 else None
    except (OSError, ValueError, B.http.client.HTTPException):
        return None


def origin_call(port, method, path):
    conn = B.http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def settle_origins(ports, limit_s=60):
    """Until both origins have nothing in flight (the backlog an unlimited proxy left behind), then zero their stats."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        stats = [origin_stats(p) for p in ports]
        if all(s is not None and s["inFlight"] == 0 for s in stats):
            break
        time.sleep(0.25)
    for p in ports:
        origin_call(p, "DELETE", "/_origin/stats")


def pct(values, q):
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


class Prober(threading.Thread):
    """GET /_lb/healthz and /metrics in turn, 10 a second, until stopped: the control plane's latency under load."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop_event, self.ms = port, threading.Event(), {"/_lb/healthz": [], "/metrics": []}

    def run(self):
        paths = list(self.ms)
        i = 0
        while not self.stop_event.wait(0.05) and i < 100_000:
            path = paths[i % 2]
            i += 1
            t = time.monotonic()
            try:
                status, _, _ = B.http_get(self.port, path, timeout=5)
            except (OSError, B.http.client.HTTPException):
                status = 0
            self.ms[path].append((time.monotonic() - t) * 1000 if status == 200 else 5000.0)


class Sampler(threading.Thread):
    """/metrics every 0.5 s until stopped: (seconds since start, sum of lbproxy_admission_limit, per destination)."""

    def __init__(self, port, t0):
        super().__init__(daemon=True)
        self.port, self.t0, self.stop_event, self.samples = port, t0, threading.Event(), []

    def run(self):
        while not self.stop_event.wait(0.5) and len(self.samples) < 10_000:
            s = scrape(self.port)
            per = metric_by(s, "lbproxy_admission_limit", "destination")
            if per:
                self.samples.append((round(time.monotonic() - self.t0, 2), sum(per.values()), per))


class Overload:
    def __init__(self, args):
        self.args, self.procs, self.meta = args, [], {"warnings": []}

    def start(self, name, cmd, env=None, cpus=None):
        p = B.Proc(name, cmd, env=env, cpus=cpus, logfile=os.path.join(self.args.out, f"{name}.log"))
        self.procs.append(p)
        return p

    def stop(self, p):
        p.stop()
        self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            p.stop()
        self.procs.clear()

    def start_origins(self, build_dir):
        args = self.args
        ports = [args.base_port + 1, args.base_port + 2]
        kind = "python" if args.origin == "python" else "sample"
        procs = [self.start(f"origin-{t}", origin_cmd(args, kind, build_dir, t, p), cpus=args.load_cpus)
                 for t, p in zip("ab", ports)]
        try:
            for p, port in zip(procs, ports):
                B.wait_ready(p, port, "/healthz", 60)
            ok = all(origin_stats(port) is not None for port in ports)
        except RuntimeError:
            ok = False
        if not ok and kind == "sample":
            for p in procs:
                self.stop(p)
            if args.origin == "sample":
                raise RuntimeError("the sample origin of this build has no converter mode (no /_origin/stats)")
            self.meta["warnings"].append("the sample origin of this build has no converter mode: the origins are "
                                         "bench/converter_origin.py (the same contract; workers hold a slot by sleeping)")
            kind = "python"
            procs = [self.start(f"origin-{t}", origin_cmd(args, kind, build_dir, t, p), cpus=args.load_cpus)
                     for t, p in zip("ab", ports)]
            for p, port in zip(procs, ports):
                B.wait_ready(p, port, "/healthz", 30)
        self.meta["origin"] = kind
        return ports, procs

    def start_target(self, name, t):
        if t["cmd"] is None:
            return None
        os.makedirs(t["dir"], exist_ok=True)
        for path, text in t["write"].items():
            with open(path, "w") as f:
                f.write(text)
        p = self.start(name, t["cmd"], env=t["env"], cpus=self.args.proxy_cpus)
        B.wait_ready(p, t["port"], t["ready"], 60)
        return p

    def client(self, port, streams, duration, name, split=None):
        """Runs overload_client.py. split: ports to share each stream between (halves of its clients or rate, one
        per port), merged back into one stream in the result."""
        if split:
            halves = []
            for s in streams:
                for i, p in enumerate(split):
                    h = dict(s, name=f"{s['name']}#{i}", port=p, max_requests=s["max_requests"] // len(split) + 1)
                    if "clients" in s:
                        h["clients"] = max(1, s["clients"] // len(split))
                    if "rate" in s:
                        h["rate"] = s["rate"] / len(split)
                    halves.append(h)
            res = self.client(port, halves, duration, name)
            merged = {}
            for key, r in res["streams"].items():
                m = merged.setdefault(key.split("#")[0], {"records": [], "unsent": 0, "timeouts": 0, "errors": 0})
                m["records"] += r["records"]
                for k in ("unsent", "timeouts", "errors"):
                    m[k] += r[k]
            return {"elapsed_s": res["elapsed_s"], "streams": merged}
        plan = {"port": port, "duration": duration, "timeout": self.args.timeout, "max_conns": self.args.max_conns,
                "streams": streams}
        path = os.path.join(self.args.out, "work", f"plan-{name}.json")
        with open(path, "w") as f:
            json.dump(plan, f)
        cmd = (["taskset", "-c", self.args.load_cpus] if self.args.load_cpus else []) + [
            sys.executable, os.path.join(B.BENCH, "overload_client.py"), path]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + self.args.timeout + 60)
        if r.returncode != 0:
            raise RuntimeError(f"overload_client failed: {r.stderr[-2000:]}")
        return json.loads(r.stdout)

    def stream(self, mode, load, name="main", duration=None):
        args = self.args
        duration = duration or args.duration
        # X-Image-Format too: the origin's class does not then depend on whether it reads Accept, nor on whether the
        # proxy negotiates (LbProxy replaces the header with its own choice; the others forward it).
        s = {"name": name, "mode": mode, "headers": {}, "accepts": accepts(args), "format_header": True}
        if mode == "closed":
            s["clients"] = max(1, round(load * 2 * args.workers))
            s["max_requests"] = int(capacity(args) * max(load, 1) * duration * 4) + 1000
        else:
            s["rate"] = load * capacity(args)
            s["max_requests"] = int(s["rate"] * duration) + 1
        return s

    def step(self, name, t, proc, origin_ports, origin_procs, mode, load, probe=False):
        args = self.args
        settle_origins(origin_ports)
        before = scrape(t["port"]) if name in LBPROXY else {}
        cpu_p, cpu_o = proc.cpu_seconds() if proc else 0, sum(o.cpu_seconds() for o in origin_procs)
        prober = Prober(t["port"]) if probe else None
        if prober:
            prober.start()
        s = self.stream(mode, load)
        res = self.client(t["port"], [s], args.duration, f"{name}-{mode}-{load:g}", t.get("split"))["streams"]["main"]
        if prober:
            prober.stop_event.set()
            prober.join(10)
        proxy_cpu = proc.cpu_seconds() - cpu_p if proc else None
        origin_cpu = sum(o.cpu_seconds() for o in origin_procs) - cpu_o
        after = scrape(t["port"]) if name in LBPROXY else {}
        stats = [origin_stats(p) for p in origin_ports]
        row = summarize_records(args, res, args.duration)
        row.update(target=name, mode=mode, load=load,
                   offered=(f"{s['clients']} clients" if mode == "closed" else f"{s['rate']:.0f}/s"),
                   origin_max_in_flight=[st and st["maxInFlight"] for st in stats],
                   origin_requests={c: sum((st or {}).get("requests", {}).get(c, 0) for st in stats) for c in CLASSES},
                   origin_cpu_s=origin_cpu, proxy_cpu_s=proxy_cpu)
        if name in LBPROXY:
            row["shed_by_reason"] = diff_by(before, after, "lbproxy_shed_requests_total", "reason")
            row["degraded"] = {f"{k}": v for k, v in diff_pairs(before, after, "lbproxy_image_degraded_total").items()}
        if prober:
            row["healthz_p99_ms"] = pct(prober.ms["/_lb/healthz"], 0.99)
            row["metrics_p99_ms"] = pct(prober.ms["/metrics"], 0.99)
            row["probes"] = len(prober.ms["/_lb/healthz"]) + len(prober.ms["/metrics"])
        return row

    def unloaded(self, name, t, origin_ports):
        """p99 of one closed-loop client with the mix: the latency with no queue anywhere."""
        settle_origins(origin_ports)
        duration = max(self.args.duration, 3)
        s = self.stream("closed", 0.5 / (2 * self.args.workers), duration=duration)
        res = self.client(t["port"], [s], duration, f"{name}-unloaded", t.get("split"))["streams"]["main"]
        ok = [r[1] for r in res["records"] if 200 <= r[3] < 300]
        return {"p50_ms": pct(ok, 0.5), "p99_ms": pct(ok, 0.99), "n": len(ok)}

    def adaptive(self, t, origin_ports, unloaded):
        """Open loop at 1x; the origins slow to a quarter of their speed at a third of the run."""
        args = self.args
        settle_origins(origin_ports)
        duration, slow_at = args.adaptive_duration, args.adaptive_duration / 3
        t0 = time.monotonic()
        sampler = Sampler(t["port"], t0)
        sampler.start()

        def slow():
            for p in origin_ports:
                origin_call(p, "PUT", "/_origin/behavior?slowFactor=4")

        timer = threading.Timer(slow_at, slow)
        timer.start()
        try:
            res = self.client(t["port"], [self.stream("open", 1.0, duration=duration)], duration, "adaptive")["streams"]["main"]
        finally:
            timer.cancel()
            sampler.stop_event.set()
            sampler.join(10)
            for p in origin_ports:
                origin_call(p, "PUT", "/_origin/behavior?slowFactor=1")
        # The unloaded p99 at a quarter of the speed, for the "back within 2x" reading against the slower origin.
        for p in origin_ports:
            origin_call(p, "PUT", "/_origin/behavior?slowFactor=4")
        try:
            slow_unloaded = self.unloaded("adaptive-slow", t, origin_ports)
        finally:
            for p in origin_ports:
                origin_call(p, "PUT", "/_origin/behavior?slowFactor=1")
        # The client's clock starts with its process, a few tens of ms after t0: its seconds are read as the run's.
        before = [v for ts, v, _ in sampler.samples if ts < slow_at]
        limit_before = B.med(before)
        fell = next((ts - slow_at for ts, v, _ in sampler.samples if ts >= slow_at and limit_before and v < limit_before), None)
        windows = {}
        for r in res["records"]:
            if 200 <= r[3] < 300:
                windows.setdefault(int(r[0] + r[1] / 1000), []).append(r[1])
        series = [(sec, pct(v, 0.99), len(v)) for sec, v in sorted(windows.items())]

        def back_within(ref):
            if not ref:
                return None
            for i, (sec, p99, _) in enumerate(series):
                if sec >= slow_at and all(x[1] <= 2 * ref for x in series[i:i + 3]) and len(series[i:i + 3]) == 3:
                    return sec - slow_at
            return None

        return {"slow_at_s": slow_at, "duration_s": duration, "limit_samples": [(ts, v) for ts, v, _ in sampler.samples],
                "limit_before": limit_before, "limit_min_after": min((v for ts, v, _ in sampler.samples if ts >= slow_at), default=None),
                "limit_fell_after_s": fell, "p99_by_second": series,
                "unloaded_p99_ms": unloaded and unloaded["p99_ms"], "unloaded_slow_p99_ms": slow_unloaded["p99_ms"],
                "back_within_2x_unloaded_after_s": back_within(unloaded and unloaded["p99_ms"]),
                "back_within_2x_unloaded_slow_after_s": back_within(slow_unloaded["p99_ms"]),
                "summary": summarize_records(args, res, duration)}

    def rate_limit(self, t):
        args = self.args
        rate = 10  # the policy's tokens per second
        streams = []
        for client, mult in (("heavy", 20), ("light", 0.5)):
            streams.append({"name": client, "mode": "open", "rate": rate * mult, "headers": {"X-Client": client},
                            "accepts": [ACCEPT["original"]], "max_requests": int(rate * mult * args.rate_duration) + 1,
                            "prefix": "/rl"})
        res = self.client(t["port"], streams, args.rate_duration, "ratelimit")["streams"]
        out = {}
        for client, r in res.items():
            n = len(r["records"]) or 1
            out[client] = {"sent": len(r["records"]), "ok_share": sum(1 for x in r["records"] if x[3] == 200) / n,
                           "limited_share": sum(1 for x in r["records"] if x[3] == 429) / n,
                           "retry_after_missing": sum(1 for x in r["records"] if x[3] in (429, 503) and not x[4]),
                           "other": n - sum(1 for x in r["records"] if x[3] in (200, 429)) + r["timeouts"] + r["errors"]}
        return out

    def run(self, build_dir):
        args = self.args
        origin_ports, origin_procs = self.start_origins(build_dir)
        plans = plan_targets(args, build_dir, origin_ports)
        rows, extra = [], {"unloaded": {}}
        for name, t in plans.items():
            if name == "lbproxy-ratelimit":
                continue
            B.log(f"start {name}: {t['what']}")
            proc = self.start_target(name, t)
            try:
                if name in LBPROXY:
                    has = any(n == "lbproxy_admission_limit" for n, _ in scrape(t["port"]))
                    if not has and "admission" not in self.meta:
                        self.meta["warnings"].append(
                            "this LbProxy build exports no lbproxy_admission_limit: it has no admission stage, so its "
                            "rows are LbProxy without limits (the Concurrency.* keys are ignored)")
                    self.meta.setdefault("admission", has)
                if proc:
                    self.client(t["port"], [self.stream("closed", 1.0, duration=args.warmup)], args.warmup, f"{name}-warmup")
                extra["unloaded"][name] = self.unloaded(name, t, origin_ports)
                B.log(f"{name}: unloaded p50 {B.fmt(extra['unloaded'][name]['p50_ms'], '.1f')} ms, p99 "
                      f"{B.fmt(extra['unloaded'][name]['p99_ms'], '.1f')} ms")
                for mode, load in steps(args):
                    row = self.step(name, t, proc, origin_ports, origin_procs, mode, load,
                                    probe=name in LBPROXY and load >= 3)
                    rows.append(row)
                    B.log(f"{name:16} {mode:6} {load:g}x  goodput {row['goodput']:7.1f}/s  p99 {B.fmt(row['p99_ms'], '.0f')} ms  "
                          f"503 {row['r503']:6.1f}/s  429 {row['r429']:5.1f}/s  origin max in flight {row['origin_max_in_flight']}  "
                          f"other {row['other']}")
                if name == "lbproxy-adaptive":
                    B.log("adaptive: origins slow to a quarter of their speed mid-run")
                    extra["adaptive"] = self.adaptive(t, origin_ports, extra["unloaded"].get(name))
                    B.log(f"adaptive: limit {extra['adaptive']['limit_before']} -> {extra['adaptive']['limit_min_after']}, "
                          f"fell after {B.fmt(extra['adaptive']['limit_fell_after_s'], '.1f')} s")
            finally:
                if proc:
                    self.stop(proc)
        if "lbproxy-ratelimit" in plans:
            t = plans["lbproxy-ratelimit"]
            B.log(f"start lbproxy-ratelimit: {t['what']}")
            try:
                proc = self.start_target("lbproxy-ratelimit", t)
            except RuntimeError as e:
                extra["rate_limit"] = {"not_run": str(e)}
                self.meta["warnings"].append(f"rate-limit run not made: {e} (lbproxy-ratelimit.log)")
            else:
                try:
                    extra["rate_limit"] = self.rate_limit(t)
                finally:
                    self.stop(proc)
        return rows, extra


def summarize_records(args, res, duration):
    recs = res["records"]
    ok = [r for r in recs if 200 <= r[3] < 300]
    lat = [r[1] for r in ok]
    # Goodput counts the 2xx answered within the step: those answered in the drain after it (a queue that an
    # unlimited proxy built up, served late) are in the latencies but are not throughput.
    in_time = sum(1 for r in ok if r[0] + r[1] / 1000 <= duration)
    shed = [r for r in recs if r[3] in (429, 503)]
    fast503 = [r[2] for r in recs if r[3] == 503 and r[2] < args.queue_timeout * 500]
    other = sum(1 for r in recs if not (200 <= r[3] < 300) and r[3] not in (429, 503))
    return {
        "requests": len(recs), "ok": len(ok), "goodput": in_time / duration, "late_2xx": len(ok) - in_time,
        "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99),
        "r503": sum(1 for r in recs if r[3] == 503) / duration, "r429": sum(1 for r in recs if r[3] == 429) / duration,
        "n503": sum(1 for r in recs if r[3] == 503), "n429": sum(1 for r in recs if r[3] == 429),
        "retry_after_missing": sum(1 for r in shed if not r[4]),
        "fast_503": len(fast503), "fast_503_p99_ms": pct(fast503, 0.99),
        "class_not_accepted": sum(1 for r in ok if r[6] == 0),
        "served_classes": {c: sum(1 for r in ok if r[5] == c) for c in CLASSES},
        "other": other + res["timeouts"] + res["errors"] + res["unsent"], "timeouts": res["timeouts"], "errors": res["errors"],
        "unsent": res["unsent"],
    }


def diff_by(before, after, name, label):
    a, b = metric_by(after, name, label), metric_by(before, name, label)
    return {k: v - b.get(k, 0) for k, v in a.items()} or None


def diff_pairs(before, after, name):
    def by(samples):
        out = {}
        for (n, labels), v in samples.items():
            if n == name:
                d = dict(labels)
                out[f"{d.get('from', '?')}->{d.get('to', '?')}"] = out.get(f"{d.get('from', '?')}->{d.get('to', '?')}", 0) + v
        return out
    a, b = by(after), by(before)
    return {k: v - b.get(k, 0) for k, v in a.items()}


# ---------------------------------------------------------------- reporting

def add_ratios(rows):
    ref = {(r["mode"], r["load"]): r for r in rows if r["target"] == "haproxy"}
    direct = {(r["mode"], r["load"]): r for r in rows if r["target"] == "direct"}
    for r in rows:
        h, d = ref.get((r["mode"], r["load"])), direct.get((r["mode"], r["load"]))
        r["goodput_x_haproxy"] = B.ratio(r["goodput"], h and h["goodput"])
        r["p99_x_haproxy"] = B.ratio(r["p99_ms"], h and h["p99_ms"])
        # The origins' own throughput at the same step, no proxy in the way: what "capacity" is on this machine.
        r["goodput_x_direct"] = B.ratio(r["goodput"], d and d["goodput"])


def report(args, meta, rows, extra):
    f = B.fmt
    cap = capacity(args)
    lines = [f"# LbProxy overload bench, {meta['machine']['date_utc']}", "",
             f"{meta['machine']['cpus']} CPUs ({meta['machine']['cpu']}), load average at start {meta['load_start']}, "
             f"at end {meta.get('load_end')}; {meta['machine']['dotnet']} SDK, {meta['machine']['haproxy']}, {meta['machine']['nginx']}.", "",
             f"`{meta['command']}`. Origins: 2 x {meta.get('origin')} converter origin, {args.workers} workers each, service "
             f"{', '.join(f'{c} {args.service[c]:g} ms' for c in CLASSES)}; mix {', '.join(f'{c} {args.mix[c]:.0%}' for c in CLASSES)} "
             f"(an avif client accepts webp too): capacity **{cap:.0f} req/s**. Limits: MaxPerDestination / maxconn {args.workers}, "
             f"queue {args.max_queue}, QueueTimeout / timeout queue {args.queue_timeout:g} s. Steps of {args.duration:g} s; "
             f"closed loop: load x {2 * args.workers} clients; open loop: load x {cap:.0f} req/s (latency from the scheduled send). "
             f"Proxy on CPUs {args.proxy_cpus or 'any'}, client and origins on {args.load_cpus or 'any'}.", "",
             "| target | loop | load | offered | goodput 2xx/s | × cap | × direct | × HAProxy | p50 ms | p99 ms | p99 × HAProxy | 503/s | 429/s | no Retry-After | origin max in flight (a, b) | origin CPU s | proxy CPU s | not accepted | late 2xx | other |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['mode']} | {r['load']:g}x | {r['offered']} | {r['goodput']:.1f} | {r['goodput'] / cap:.2f} "
                     f"| {f(r['goodput_x_direct'], '.2f')} | {f(r['goodput_x_haproxy'], '.2f')} | {f(r['p50_ms'], '.0f')} | {f(r['p99_ms'], '.0f')} | {f(r['p99_x_haproxy'], '.2f')} "
                     f"| {r['r503']:.1f} | {r['r429']:.1f} | {r['retry_after_missing']} | {', '.join(str(x) for x in r['origin_max_in_flight'])} "
                     f"| {r['origin_cpu_s']:.2f} | {f(r['proxy_cpu_s'], '.2f')} | {r['class_not_accepted']} | {r['late_2xx']} | {r['other']} |")
    lines += ["", "goodput: 2xx answered within the step, per second; late 2xx: answered after it, in the drain (counted in "
              "p50/p99, not in goodput). other: answers other than 2xx, 503 and 429, plus timeouts and socket errors, plus "
              "open-loop arrivals not sent because every client connection was busy. not accepted: 2xx in a class "
              "the client's Accept did not allow. origin max in flight: the highest count of requests inside each origin "
              "(waiting for a worker included), by the origin's own counter, over the step."]
    lines += ["", "| target | unloaded p50 ms | unloaded p99 ms |", "|---|---|---|"]
    for name, u in extra["unloaded"].items():
        lines.append(f"| {name} | {f(u['p50_ms'], '.1f')} | {f(u['p99_ms'], '.1f')} |")
    lb = [r for r in rows if r["target"] in LBPROXY]
    if lb:
        lines += ["", "LbProxy's own figures (from /metrics, over each step) and the control plane during overload:", "",
                  "| target | loop | load | shed by reason | degraded from->to | served classes | fast 503s | fast 503 p99 ms | /_lb/healthz p99 ms | /metrics p99 ms |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in lb:
            lines.append(f"| {r['target']} | {r['mode']} | {r['load']:g}x | {fmt_dict(r.get('shed_by_reason'))} | {fmt_dict(r.get('degraded'))} "
                         f"| {fmt_dict(r['served_classes'])} | {r['fast_503']} | {f(r['fast_503_p99_ms'], '.1f')} "
                         f"| {f(r.get('healthz_p99_ms'), '.1f')} | {f(r.get('metrics_p99_ms'), '.1f')} |")
        lines += ["", f"fast 503: a 503 answered in under half the QueueTimeout ({args.queue_timeout * 500:.0f} ms) from its "
                  "send, i.e. refused without waiting out the queue (queue_full); its p99 is the refusal time."]
    a = extra.get("adaptive")
    if a:
        lines += ["", f"Adaptive run (lbproxy-adaptive, open loop at 1x, {a['duration_s']:g} s; both origins slowed to a quarter "
                  f"of their speed at {a['slow_at_s']:g} s): limit (sum over destinations, /metrics every 0.5 s) "
                  f"{f(a['limit_before'], 'g')} before, lowest {f(a['limit_min_after'], 'g')} after; it first fell "
                  f"**{f(a['limit_fell_after_s'], '.1f')} s** after the slow-down. Served p99 back within 2x of the unloaded p99 "
                  f"({f(a['unloaded_p99_ms'], '.0f')} ms, at full speed) after **{f(a['back_within_2x_unloaded_after_s'], '.1f')} s**; "
                  f"within 2x of the unloaded p99 at a quarter of the speed ({f(a['unloaded_slow_p99_ms'], '.0f')} ms) after "
                  f"**{f(a['back_within_2x_unloaded_slow_after_s'], '.1f')} s** (— : not within the run; three 1 s windows in a row). "
                  f"Over the run: goodput {a['summary']['goodput']:.1f}/s, 503 {a['summary']['r503']:.1f}/s."]
    rl = extra.get("rate_limit")
    if rl:
        if "not_run" in rl:
            lines += ["", f"Rate-limit run: not made ({rl['not_run']})."]
        else:
            lines += ["", "Rate-limit run (route with RateLimiterPolicy: TokenBucket 10/s per X-Client; open loop, "
                      f"{args.rate_duration:g} s; heavy at 200/s = 20x, light at 5/s):", "",
                      "| client | sent | 200 share | 429 share | no Retry-After | other |", "|---|---|---|---|---|---|"]
            for c, v in rl.items():
                lines.append(f"| {c} | {v['sent']} | {v['ok_share']:.3f} | {v['limited_share']:.3f} | {v['retry_after_missing']} | {v['other']} |")
    verdicts = targets_met(args, rows, extra)
    if verdicts:
        lines += ["", "Read against the issue's targets (this run):", "", "| target | figure | met |", "|---|---|---|"]
        lines += [f"| {what} | {figure} | {'yes' if met else ('—' if met is None else '**no**')} |" for what, figure, met in verdicts]
    if meta["warnings"]:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in meta["warnings"]]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "results-overload.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.out, "results-overload.json"), "w") as fh:
        json.dump({"meta": meta, "rows": rows, "extra": extra}, fh, indent=2)
    chart(args, rows)
    return text


def targets_met(args, rows, extra):
    """(what, figure, met: True/False/None when not measured) for each target of the issue this run can read."""
    f, cap, out = B.fmt, capacity(args), []
    by = {(r["target"], r["mode"], r["load"]): r for r in rows}
    lb = [r for r in rows if r["target"] in LBPROXY]
    if lb:
        worst = max(max(x or 0 for x in r["origin_max_in_flight"]) for r in lb)
        out.append((f"origin never above MaxPerDestination ({args.workers}), LbProxy targets, every step",
                    f"highest at an origin: {worst}", worst <= args.workers))
    for mode in args.modes:
        r, h = by.get(("lbproxy-limits", mode, 3.0)), by.get(("haproxy", mode, 3.0))
        if r:
            u = extra["unloaded"].get("lbproxy-limits") or {}
            bound = args.queue_timeout * 1000 + 2 * (u.get("p99_ms") or 0)
            out.append((f"3x {mode}: goodput ≥ 0.95x capacity and ≥ HAProxy's", f"{r['goodput']:.1f}/s = {r['goodput'] / cap:.2f}x; "
                        f"HAProxy {f(h and h['goodput'], '.1f')}/s", r["goodput"] >= 0.95 * cap and (h is None or r["goodput"] >= h["goodput"])))
            out.append((f"3x {mode}: p99 of 2xx ≤ QueueTimeout + 2x unloaded p99", f"{f(r['p99_ms'], '.0f')} ms ≤ {bound:.0f} ms",
                        r["p99_ms"] is not None and r["p99_ms"] <= bound))
            out.append((f"3x {mode}: every shed answer has Retry-After", f"{r['retry_after_missing']} of {r['n503'] + r['n429']} without",
                        r["retry_after_missing"] == 0))
            out.append((f"3x {mode}: queue_full refusal p99 < 10 ms", f"{f(r['fast_503_p99_ms'], '.1f')} ms over {r['fast_503']}",
                        None if not r["fast_503"] else r["fast_503_p99_ms"] < 10))
            out.append((f"3x {mode}: /_lb/healthz and /metrics p99 < 50 ms", f"{f(r.get('healthz_p99_ms'), '.1f')} and {f(r.get('metrics_p99_ms'), '.1f')} ms",
                        None if r.get("healthz_p99_ms") is None else max(r["healthz_p99_ms"], r["metrics_p99_ms"]) < 50))
        d = by.get(("lbproxy-degrade", mode, 3.0))
        if d:
            total = d["requests"] + d["unsent"] + d["timeouts"] + d["errors"]
            good = d["ok"] - d["class_not_accepted"]
            out.append((f"3x {mode}, degraded formats: ≥ 99.5% answered 200 in an accepted class, none shed",
                        f"{good / max(total, 1):.2%} of {total}; shed {d['n503'] + d['n429']}",
                        good / max(total, 1) >= 0.995 and d["n503"] + d["n429"] == 0))
    a = extra.get("adaptive")
    if a:
        out.append(("adaptive: the limit falls within 10 s of the slow-down", f"{f(a['limit_fell_after_s'], '.1f')} s",
                    None if a["limit_before"] is None else (a["limit_fell_after_s"] is not None and a["limit_fell_after_s"] <= 10)))
        out.append(("adaptive: served p99 within 2x of the unloaded p99 within 30 s",
                    f"{f(a['back_within_2x_unloaded_after_s'], '.1f')} s (full-speed unloaded), "
                    f"{f(a['back_within_2x_unloaded_slow_after_s'], '.1f')} s (quarter-speed unloaded)",
                    None if a["limit_before"] is None else
                    (a["back_within_2x_unloaded_slow_after_s"] is not None and a["back_within_2x_unloaded_slow_after_s"] <= 30)))
    rl = extra.get("rate_limit")
    if rl and "not_run" not in rl:
        out.append(("rate limit: the client at 20x gets 429s, the one under its rate 100% 200s",
                    f"heavy 429 share {rl['heavy']['limited_share']:.3f}; light 200 share {rl['light']['ok_share']:.3f}",
                    rl["heavy"]["limited_share"] > 0 and rl["light"]["ok_share"] == 1.0))
    return out


def fmt_dict(d):
    if not d:
        return "—"
    return ", ".join(f"{k} {v:g}" for k, v in d.items() if v)  or "0"


def chart(args, rows):
    if shutil.which("gnuplot") is None:
        return
    cap = capacity(args)
    mode = "open" if "open" in args.modes else args.modes[0]
    names = [t for t in args.targets if any(r["target"] == t for r in rows)]
    data = os.path.join(args.out, "chart-overload.dat")
    with open(data, "w") as fh:
        fh.write("load " + " ".join(names) + " " + " ".join(n + "-p99" for n in names) + "\n")
        for load in args.loads:
            good, p99 = [], []
            for n in names:
                r = next((r for r in rows if r["target"] == n and r["mode"] == mode and r["load"] == load), None)
                good.append(f"{r['goodput'] / cap:.3f}" if r else "NaN")
                p99.append(f"{r['p99_ms']:.1f}" if r and r["p99_ms"] else "NaN")
            fh.write(f"{load:g} " + " ".join(good) + " " + " ".join(p99) + "\n")
    k = len(names)
    plot1 = ", ".join(f"'{data}' using 1:{i + 2} with linespoints title '{n}'" for i, n in enumerate(names))
    plot2 = ", ".join(f"'{data}' using 1:{i + 2 + k} with linespoints title '{n}'" for i, n in enumerate(names))
    script = f"""set terminal pngcairo size 1100,480 noenhanced
set output '{os.path.join(args.out, "chart-overload.png")}'
set multiplot layout 1,2 title '{mode} loop; capacity of the origins {cap:.0f} req/s'
set title 'goodput (2xx/s) / capacity (higher is better)'
set xlabel 'offered load (x capacity)'
set yrange [0:*]
set grid
set key bottom left
plot {plot1}
set title 'p99 of 2xx, ms (log; lower is better)'
set logscale y
set yrange [*:*]
set key top left
plot {plot2}
unset multiplot
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    if r.returncode != 0:
        subprocess.run(["gnuplot"], input=script.replace("pngcairo size 1100,480 noenhanced", "png size 1100,480 noenhanced"),
                       text=True, capture_output=True, timeout=60)


def dry_run(args):
    cap = capacity(args)
    plans = plan_targets(args, os.path.join(args.out, "build"), [args.base_port + 1, args.base_port + 2])
    n = len(steps(args))
    per_target = args.warmup + max(args.duration, 3) + n * (args.duration + 2)
    total = per_target * len(args.targets) + (args.adaptive_duration + 10 if "lbproxy-adaptive" in args.targets else 0) \
        + (args.rate_duration + 5 if "lbproxy-ratelimit" in plans else 0)
    print(f"overload; out {args.out}; capacity {cap:.0f} req/s (2 origins x {args.workers} workers, "
          f"mean service {sum(args.mix[c] * args.service[c] for c in CLASSES):.1f} ms); loads {', '.join(f'{x:g}x' for x in args.loads)}; "
          f"{', '.join(args.modes)} loop; {args.duration:g} s steps; about {total / 60:.0f} min of load")
    print(f"  origins  {' '.join(origin_cmd(args, 'sample', os.path.join(args.out, 'build'), 'a', args.base_port + 1))} "
          f"(or bench/converter_origin.py)")
    for name, t in plans.items():
        print(f"  {name:18} port {t['port']:5}  {t['what']}")
    for mode, load in steps(args):
        s = Overload(args).stream(mode, load)
        print(f"  step {mode:6} {load:g}x: " + (f"{s['clients']} clients" if mode == "closed" else f"{s['rate']:.0f} req/s") +
              f", at most {s['max_requests']} requests in {args.duration:g} s")
    return 0


def main(argv):
    args = parse_args(argv)
    command = "python3 bench/bench.py overload " + " ".join(argv)
    if args.dry_run:
        return dry_run(args)
    os.makedirs(os.path.join(args.out, "work"), exist_ok=True)
    ns = argparse.Namespace(targets=["lbproxy", "bare-yarp"], no_install=args.no_install, no_build=args.no_build,
                            out=args.out, baseline=None)
    B.ensure_programs(ns)
    build_dir = B.build(ns)
    bench = Overload(args)
    meta = bench.meta
    meta.update(command=command, machine=B.machine(), load_start=round(os.getloadavg()[0], 2),
                args={k: v for k, v in vars(args).items()}, capacity_rps=capacity(args))
    B.log(f"{meta['machine']['date_utc']}: capacity {capacity(args):.0f} req/s; results in {args.out}")
    try:
        rows, extra = bench.run(build_dir)
    finally:
        bench.stop_all()
    meta["load_end"] = round(os.getloadavg()[0], 2)
    add_ratios(rows)
    print(report(args, meta, rows, extra))
    print(f"\nresults: {args.out}")
    return 0
