#!/usr/bin/env python3
"""LbProxy's benchmark: LbProxy beside nginx, HAProxy and a bare YARP app, in one run, on one machine.

    python3 bench/bench.py                  # compare: every target, 3 rounds (13 to 15 minutes on 2 cores)
    python3 bench/bench.py --quick          # the same in about 4 minutes: 1 round of 3 s runs (a check, not a figure)
    python3 bench/bench.py soak             # 1,000,000 requests through LbProxy; idle state before and after
    python3 bench/bench.py scale            # 10,000 routes: cold start, one-route reload, latency during reloads
    python3 bench/bench.py overload         # origin protection under overload: LbProxy's limits beside HAProxy's (bench/overload.py)
    python3 bench/bench.py --dry-run        # print what would run, start nothing
    python3 bench/bench.py cache            # the hot set beside nginx's proxy_cache and HAProxy's cache (bench/cache.py)
    python3 bench/bench.py cache-hit        # CPU per hit only: LbProxy builds beside nginx, interleaved rounds (bench/cache_hit.py)

Builds LbProxy (Release, `dotnet publish`) and bench/BareYarp, generates the served files, starts two nginx
origins and every target on 127.0.0.1, and measures them interleaved in rounds, so that drift of a shared
machine hits every target alike. Writes results.md, results.json and chart.png to --out. Only the standard
library; the programs it drives (nginx, haproxy, wrk, gnuplot) are installed from Debian packages when missing.
Every load step is bounded by time; every process started here runs in its own session and is stopped by
its process group at the end, and nothing else is touched.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# name: (size in bytes, magic bytes in front of the random body). Random bytes are incompressible, as real
# images are; the proxies never decode a body, so the magic only makes the files look like what they are.
FILES = {"small.jpg": (4 * 1024, b"\xff\xd8\xff\xe0"), "large.jpg": (100 * 1024, b"\xff\xd8\xff\xe0")}
TARGETS = ["direct", "nginx", "haproxy", "bare-yarp", "lbproxy", "lbproxy-nolog", "lbproxy-aot", "lbproxy-base"]
# lbproxy-base is LbProxy as it was at --baseline REV (a commit, a branch), run like lbproxy: "a new stage costs
# nothing when it is not configured" is read as lbproxy against lbproxy-base in one run.
# Run by the .NET runtime (JIT): bench/AllocProbe is loaded into them as a startup hook. lbproxy-aot is LbProxy's
# native build (Native AOT: no startup hooks); its allocated bytes come from its own /_lb/runtime.
DOTNET_TARGETS = {"bare-yarp", "lbproxy", "lbproxy-nolog", "lbproxy-base"}
PACKAGES = {"nginx": ["nginx-light", "nginx"], "haproxy": ["haproxy"], "wrk": ["wrk"], "gnuplot": ["gnuplot-nox"]}


def log(msg):
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {msg}", flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="compare", choices=["compare", "soak", "scale", "tls"])
    ap.add_argument("--quick", action="store_true", help="1 round, 3 s runs, short pre-warm: checks the bench works")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10, help="seconds of each measured wrk run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--prewarm-max", type=float, default=40, help="pre-warm at most this many seconds per target")
    ap.add_argument("--baseline", metavar="REV",
                    help="also measure LbProxy as it was at this git revision, as target lbproxy-base (git archive, then dotnet publish)")
    ap.add_argument("--targets", default=",".join(t for t in TARGETS if t != "lbproxy-base"), help="comma-separated subset of " + ",".join(TARGETS))
    ap.add_argument("--files", default=",".join(FILES), help="comma-separated subset of " + ",".join(FILES))
    ap.add_argument("--env", action="append", default=[], metavar="TARGET:KEY=VALUE",
                    help="extra environment of one target, e.g. lbproxy:DOTNET_GCgen0size=0x400000 (repeatable)")
    ap.add_argument("--requests", type=int, default=1_000_000, help="soak: requests to send")
    ap.add_argument("--soak-max", type=float, default=1800, help="soak: stop sending after this many seconds anyway")
    ap.add_argument("--routes", type=int, default=10_000, help="scale: routes")
    ap.add_argument("--clusters", type=int, default=1_000, help="scale: clusters")
    ap.add_argument("--base-port", type=int, default=19100, help="origins on +1 and +2, targets from +10, probes from +50")
    ap.add_argument("--proxy-cpus", default="1", help="CPUs of the proxy under test (taskset -c)")
    ap.add_argument("--load-cpus", default="0", help="CPUs of wrk and the origins (taskset -c)")
    ap.add_argument("--no-pin", action="store_true", help="let the scheduler place every process")
    ap.add_argument("--no-install", action="store_true", help="never call apt-get; fail when a program is missing")
    ap.add_argument("--no-build", action="store_true", help="reuse the builds in --out/build")
    ap.add_argument("--out", help="results directory (default bench-results/<UTC time>)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.prewarm_max = 1, 3, 8
    args.targets = [t for t in args.targets.split(",") if t]
    if args.baseline and "lbproxy-base" not in args.targets:
        args.targets.append("lbproxy-base")
    if "lbproxy-base" in args.targets and not args.baseline:
        ap.error("target lbproxy-base needs --baseline REV")
    if args.baseline and subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "--quiet", args.baseline + "^{commit}"],
                                        stdout=subprocess.DEVNULL).returncode != 0:
        ap.error(f"--baseline: {args.baseline!r} is not a revision of this repository")
    args.files = [f for f in args.files.split(",") if f]
    for t in args.targets:
        if t not in TARGETS:
            ap.error(f"unknown target {t!r}; known: {', '.join(TARGETS)}")
    for f in args.files:
        if f not in FILES:
            ap.error(f"unknown file {f!r}; known: {', '.join(FILES)}")
    args.extra_env = {}
    for item in args.env:
        m = re.fullmatch(r"([\w-]+):(\w+)=(.*)", item)
        if not m or m.group(1) not in TARGETS:
            ap.error(f"--env wants TARGET:KEY=VALUE with a known target, not {item!r}")
        args.extra_env.setdefault(m.group(1), {})[m.group(2)] = m.group(3)
    if args.mode == "soak" and args.targets == TARGETS:
        args.targets = ["lbproxy"]
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1 or args.requests < 1:
        ap.error("--rounds, --duration, --connections and --requests must be positive")
    if not 1024 < args.base_port < 65000 or (args.base_port <= 8082 and args.base_port + 80 >= 8080):
        ap.error("--base-port: the bench uses base+1 to base+80, which must stay clear of 8080-8082 and below 65536")
    if args.no_pin or (os.cpu_count() or 1) < 2:
        args.proxy_cpus = args.load_cpus = None
    args.out = os.path.abspath(args.out or os.path.join(
        ROOT, "bench-results", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")))
    return args


# ---------------------------------------------------------------- processes

class Proc:
    """A process started in its own session; CPU and memory are summed over the session, stop ends the session."""

    def __init__(self, name, cmd, env=None, cpus=None, logfile=None, cwd=None):
        self.name = name
        full = (["taskset", "-c", cpus] if cpus else []) + cmd
        out = open(logfile, "ab") if logfile else subprocess.DEVNULL
        self.popen = subprocess.Popen(full, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                      start_new_session=True)
        self.sid = self.popen.pid

    def pids(self):
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = read_stat(entry)
                if stat and int(stat[3]) == self.sid:
                    found.append(int(entry))
        return found

    def cpu_seconds(self):
        total = 0
        for pid in self.pids():
            stat = read_stat(pid)
            if stat:
                total += int(stat[11]) + int(stat[12])
        return total / CLK_TCK

    def status_kib(self, field):
        return sum(read_status_kib(pid, field) for pid in self.pids())

    def alive(self):
        return self.popen.poll() is None

    def stop(self):
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.sid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            deadline = time.monotonic() + wait
            while self.pids() and time.monotonic() < deadline:  # nginx workers outlive their master briefly
                time.sleep(0.05)
            if not self.pids():
                return


def read_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # [0] state, [1] ppid, [2] pgrp, [3] session, [11] utime, [12] stime


def read_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def established_connections(pids):
    """TCP connections in state ESTABLISHED held by these processes (their socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "01" and cols[9] in inodes:
                        count += 1
        except OSError:
            pass
    return count


def open_fds(pids):
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def http_get(port, path, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read(), r.msg  # r.msg: headers by name in any case (HAProxy sends them lower-case)
    finally:
        conn.close()


def wait_ready(proc, port, path, limit_s=60, get=None):
    """Until `get(port, path, timeout)` (plain HTTP unless given) answers 200."""
    get = get or http_get
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} before it was ready (see its log)")
        try:
            if get(port, path, timeout=2)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready on port {port} after {limit_s:.0f} s")


def read_alloc(target):
    """Managed bytes allocated since start: from bench/AllocProbe loaded as a startup hook, else from LbProxy's own
    /_lb/runtime (GC.GetTotalAllocatedBytes, imprecise by at most one allocation context, ~8 KiB), else None."""
    if target["probe"]:
        return read_probe(target["probe"])
    if target["runtime"]:
        status, body, _ = http_get(target["runtime"], "/_lb/runtime")
        return json.loads(body)["gc"]["totalAllocatedBytes"] if status == 200 else None
    return None


def read_probe(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(64)
            if not chunk:
                break
            data += chunk
    return int(data)


# ---------------------------------------------------------------- setup

def ensure_programs(args):
    # clang links the native build (Native AOT), which only lbproxy-aot needs.
    wanted = dict(PACKAGES, **({"clang": ["clang"]} if "lbproxy-aot" in args.targets else {}))
    missing = [name for name in wanted if shutil.which(name) is None]
    if not missing:
        return
    if args.no_install:
        sys.exit(f"missing: {', '.join(missing)} (and --no-install)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"installing: {', '.join(missing)}")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    for name in missing:
        for package in wanted[name]:
            if subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", package], env=env, timeout=600,
                              stdout=subprocess.DEVNULL).returncode == 0:
                break
        else:
            sys.exit(f"could not install {name} ({' or '.join(wanted[name])})")


def build(args):
    out = os.path.join(args.out, "build")
    if args.no_build and os.path.exists(os.path.join(out, "lbproxy", "LbProxy.dll")):
        return out
    # LbProxy twice: as shipped (`dotnet publish`: JIT), and native (Native AOT) when a target asks for it.
    builds = [("src/LbProxy", "lbproxy", []), ("bench/BareYarp", "bare-yarp", []), ("bench/AllocProbe", "probe", [])]
    if "lbproxy-aot" in args.targets:
        builds.insert(1, ("src/LbProxy", "lbproxy-aot", ["-p:PublishAot=true"]))
    if args.baseline:
        # The baseline's own tree, from git (committed content only), beside the results: the working tree is untouched.
        tree = os.path.join(args.out, "baseline-src")
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        log(f"git archive {args.baseline} -> {tree}")
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.baseline], check=True, stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        builds.append((os.path.join(tree, "src/LbProxy"), "lbproxy-base", []))
    for project, name, extra in builds:
        log(f"dotnet publish {project} -c Release {' '.join(extra)}".rstrip())
        subprocess.run(["dotnet", "publish", os.path.join(ROOT, project), "-c", "Release", "-nologo",
                        "-clp:NoSummary", "-o", os.path.join(out, name)] + extra,
                       check=True, stdout=subprocess.DEVNULL, timeout=900,
                       env=dict(os.environ, DOTNET_CLI_TELEMETRY_OPTOUT="1", DOTNET_NOLOGO="1"))
    return out


def make_files(www):
    os.makedirs(www, exist_ok=True)
    for name, (size, magic) in FILES.items():
        body = magic + random.Random(name).randbytes(size - len(magic))
        with open(os.path.join(www, name), "wb") as f:
            f.write(body)
    os.chmod(www, 0o755)
    for name in FILES:
        os.chmod(os.path.join(www, name), 0o644)


NGINX_COMMON = """
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fcgi;
  uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 75s;
  types {{ image/jpeg jpg; }}
{body}
}}
"""


def nginx_origin_conf(d, port, www, tag):
    return NGINX_COMMON.format(workers=1, dir=d, body=f"""
  sendfile on;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    add_header X-Origin {tag};
    location = /healthz {{ return 200 "ok"; }}
  }}""")


def nginx_proxy_conf(d, port, origins, workers):
    servers = "".join(f"    server 127.0.0.1:{o};\n" for o in origins)
    return NGINX_COMMON.format(workers=workers, dir=d, body=f"""
  upstream origins {{
{servers}    keepalive 128;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://origins;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffer_size 16k;
      proxy_buffers 16 16k;
      proxy_max_temp_file_size 0;
    }}
  }}""")


def haproxy_conf(port, origins, threads):
    servers = "".join(f"  server {chr(97 + i)} 127.0.0.1:{o}\n" for i, o in enumerate(origins))
    return f"""global
  nbthread {threads}
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:{port}
  default_backend origins
backend origins
  balance roundrobin
  http-reuse safe
{servers}"""


def lbproxy_conf(origins, access_log):
    return {
        "ReverseProxy": {
            "Routes": {"all": {"ClusterId": "origins", "Match": {"Path": "/{**path}"}}},
            "Clusters": {"origins": {
                "LoadBalancingPolicy": "RoundRobin",
                # Every stage on: outlier ejection is the one stage a cluster must ask for.
                "Metadata": {"OutlierEjection.Consecutive5xx": "5"},
                "Destinations": {chr(97 + i): {"Address": f"http://127.0.0.1:{o}/"} for i, o in enumerate(origins)},
            }},
        },
        "LbProxy": {"AccessLog": {"Enabled": access_log}, "Logging": {"Level": "Warning"}},
    }


def plan_targets(args, work, build_dir, origins):
    """name -> dict(port, cmd, env, probe, file to write before start)."""
    plans = {}
    cpus = args.proxy_cpus
    workers = len(parse_cpus(cpus)) if cpus else (os.cpu_count() or 1)
    for i, name in enumerate(args.targets):
        port = args.base_port + 10 + i
        d = os.path.join(work, name)
        # probe: AllocProbe's port (JIT targets); runtime: the port of LbProxy's /_lb/runtime (the native target's)
        p = {"port": port, "dir": d, "env": dict(os.environ), "probe": None, "runtime": None, "write": {}}
        if name == "direct":
            p["port"], p["cmd"] = origins[0], None
        elif name == "nginx":
            p["write"][f"{d}/nginx.conf"] = nginx_proxy_conf(d, port, origins, workers)
            p["cmd"] = ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"]
        elif name == "haproxy":
            p["write"][f"{d}/haproxy.cfg"] = haproxy_conf(port, origins, workers)
            p["cmd"] = ["haproxy", "-db", "-f", f"{d}/haproxy.cfg"]
        elif name == "bare-yarp":
            cfg = ["--ReverseProxy:Routes:all:ClusterId=origins", "--ReverseProxy:Routes:all:Match:Path=/{**path}",
                   "--ReverseProxy:Clusters:origins:LoadBalancingPolicy=RoundRobin",
                   "--Logging:LogLevel:Default=Warning"]
            cfg += [f"--ReverseProxy:Clusters:origins:Destinations:{chr(97 + j)}:Address=http://127.0.0.1:{o}/"
                    for j, o in enumerate(origins)]
            p["cmd"] = ["dotnet", f"{build_dir}/bare-yarp/BareYarp.dll", "--urls", f"http://127.0.0.1:{port}"] + cfg
        else:
            p["write"][f"{d}/yarp.json"] = json.dumps(lbproxy_conf(origins, name != "lbproxy-nolog"), indent=2)
            program = ([f"{build_dir}/lbproxy-aot/LbProxy"] if name == "lbproxy-aot"
                       else ["dotnet", f"{build_dir}/{'lbproxy-base' if name == 'lbproxy-base' else 'lbproxy'}/LbProxy.dll"])
            p["cmd"] = program + ["--config", f"{d}/yarp.json", "--urls", f"http://127.0.0.1:{port}"]
            p["runtime"] = port if name not in DOTNET_TARGETS else None
        if name in DOTNET_TARGETS:
            p["probe"] = args.base_port + 50 + i
            p["env"].update({
                "DOTNET_STARTUP_HOOKS": f"{build_dir}/probe/AllocProbe.dll",
                "BENCH_ALLOC_PORT": str(p["probe"]),
                # Tiered JIT: on a saturated core the call-counting delay keeps being postponed and a .NET app
                # needs ~45 s of load to reach its steady state; 0 only gets there sooner, for both alike.
                "DOTNET_TC_CallCountingDelayMs": os.environ.get("DOTNET_TC_CallCountingDelayMs", "0"),
                "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
            })
        p["env"].update(args.extra_env.get(name, {}))
        plans[name] = p
    return plans


def parse_cpus(spec):
    cpus = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        cpus += range(int(a), int(b or a) + 1)
    return cpus


# ---------------------------------------------------------------- load

def wrk(args, port, path, seconds, latency=True):
    cmd = (["taskset", "-c", args.load_cpus] if args.load_cpus else []) + [
        "wrk", "-t1", f"-c{args.connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    if latency:
        cmd.append("--latency")
    cmd.append(f"http://127.0.0.1:{port}/{path}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    return parse_wrk(r.stdout)


def parse_wrk(text):
    def unit_ms(value, unit):
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    res = {"requests": 0, "rps": 0.0, "p50": None, "p99": None, "errors": 0}
    m = re.search(r"(\d+) requests in", text)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        if m:
            res[key] = unit_ms(m.group(1), m.group(2))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        res["errors"] += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        res["errors"] += sum(int(g) for g in m.groups())
    return res


def measure(args, target, proc, origins_procs, path, seconds):
    before_cpu = proc.cpu_seconds() if proc else 0
    before_origin = sum(o.cpu_seconds() for o in origins_procs)
    before_alloc = read_alloc(target)
    res = wrk(args, target["port"], path, seconds)
    after_alloc = read_alloc(target)
    res["proxy_cpu_s"] = (proc.cpu_seconds() - before_cpu) if proc else None
    res["origin_cpu_s"] = sum(o.cpu_seconds() for o in origins_procs) - before_origin
    n = max(res["requests"], 1)
    res["cpu_per_10k"] = res["proxy_cpu_s"] / n * 10_000 if proc else None
    res["alloc_per_req"] = (after_alloc - before_alloc) / n if before_alloc is not None else None
    res["peak_rss_mib"] = proc.status_kib("VmHWM") / 1024 if proc else None
    return res


def prewarm(args, target, proc, origins_procs):
    """Unmeasured load in 2 s chunks until CPU per request stops falling by more than 10% (tiered JIT).
    Returns the CPU s/10k of each chunk and whether it settled within --prewarm-max."""
    if proc is None:
        return [], True
    trail, start = [], time.monotonic()
    while time.monotonic() - start < args.prewarm_max:
        for path in args.files:
            trail.append(round(measure(args, target, proc, origins_procs, path, 2)["cpu_per_10k"], 4))
        if len(trail) >= 2 * len(args.files) and trail[-1] >= 0.9 * trail[-1 - len(args.files)]:
            return trail, True
    return trail, False


# ---------------------------------------------------------------- reporting

def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    def version(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host": platform.node(), "kernel": platform.release(), "cpu": model, "cpus": os.cpu_count(),
        "mem_mib": read_meminfo_total() // 1024, "load_avg": os.getloadavg(),
        "dotnet": version(["dotnet", "--version"]), "nginx": version(["nginx", "-v"]),
        "haproxy": version(["haproxy", "-v"]), "wrk": version(["wrk", "-v"]),
    }


def read_meminfo_total():
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1])


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(args, runs, meta):
    rows = []
    for name in args.targets:
        for path in args.files:
            rs = [r for r in runs if r["target"] == name and r["file"] == path]
            rows.append({
                "target": name, "file": path, "rounds": len(rs),
                "rps": med(r["rps"] for r in rs), "rps_min": min(r["rps"] for r in rs), "rps_max": max(r["rps"] for r in rs),
                "p50_ms": med(r["p50"] for r in rs), "p99_ms": med(r["p99"] for r in rs),
                "cpu_s_per_10k": med(r["cpu_per_10k"] for r in rs),
                "alloc_bytes_per_req": med(r["alloc_per_req"] for r in rs),
                "start_rss_mib": meta["start_rss_mib"].get(name),
                "start_s": meta["start_s"].get(name),
                "peak_rss_mib": max((r["peak_rss_mib"] for r in rs if r["peak_rss_mib"] is not None), default=None),
                "origin_cpu_s_per_10k": med(r["origin_cpu_s"] / max(r["requests"], 1) * 10_000 for r in rs),
                "errors": sum(r["errors"] for r in rs),
            })
    by = {(r["target"], r["file"]): r for r in rows}
    for r in rows:
        for ref in ("nginx", "bare-yarp"):
            base = by.get((ref, r["file"]))
            key = ref.replace("-", "_")
            r[f"cpu_x_{key}"] = ratio(r["cpu_s_per_10k"], base and base["cpu_s_per_10k"])
            r[f"rps_x_{key}"] = ratio(r["rps"], base and base["rps"])
    return rows


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def write_reports(args, meta, rows, runs):
    lines = [f"# LbProxy bench, {meta['machine']['date_utc']}", "",
             f"{meta['machine']['cpus']} CPUs ({meta['machine']['cpu']}), {meta['machine']['mem_mib']} MiB, "
             f"kernel {meta['machine']['kernel']}, load average at start {meta['load_start']}, at end {meta['load_end']}; "
             f"{meta['machine']['dotnet']} SDK, {meta['machine']['nginx']}, {meta['machine']['haproxy']}, {meta['machine']['wrk']}.", "",
             f"`{meta['command']}`: {args.rounds} round(s), wrk -t1 -c{args.connections} -d{args.duration:g}s per file, "
             f"proxy on CPUs {args.proxy_cpus or 'any'}, wrk and origins on {args.load_cpus or 'any'}. Medians over rounds.", "",
             "| target | file | req/s | p50 ms | p99 ms | CPU s/10k req | × nginx | × bare YARP | req/s × nginx | req/s × bare YARP | alloc B/req | start s | RSS at start MiB | peak RSS MiB | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['file']} | {fmt(r['rps'], ',.0f')} | {fmt(r['p50_ms'], '.2f')} | {fmt(r['p99_ms'], '.2f')} "
                     f"| {fmt(r['cpu_s_per_10k'], '.3f')} | {fmt(r['cpu_x_nginx'], '.2f')} | {fmt(r['cpu_x_bare_yarp'], '.2f')} "
                     f"| {fmt(r['rps_x_nginx'], '.2f')} | {fmt(r['rps_x_bare_yarp'], '.2f')} | {fmt(r['alloc_bytes_per_req'], ',.0f')} | {fmt(r['start_s'], '.2f')} | {fmt(r['start_rss_mib'], '.0f')} | {fmt(r['peak_rss_mib'], '.0f')} | {r['errors']} |")
    lines += ["", "CPU s/10k req: user+system CPU of the target's processes (its session) during the measured run, per 10,000 "
              "requests; `direct` is wrk against origin A, so it has none. Alloc B/req: managed bytes allocated per request "
              "(GC.GetTotalAllocatedBytes: read by bench/AllocProbe in the JIT targets, from /_lb/runtime in lbproxy-aot, LbProxy's "
              "native build). Start s: from the spawn to the first file served through the target, on its one CPU. RSS at start: VmRSS after start and 8 "
              "requests, before any load. Peak RSS: VmHWM summed over the target's processes, since its start."]
    if meta["warnings"]:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in meta["warnings"]]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": rows, "runs": runs}, f, indent=2)
    chart(args, rows)
    return "\n".join(lines)


def chart(args, rows):
    if shutil.which("gnuplot") is None:
        return
    data = os.path.join(args.out, "chart.dat")
    names = [t for t in args.targets if t != "direct"]
    with open(data, "w") as f:
        f.write("target " + " ".join(args.files) + "\n")
        for t in names:
            vals = [next((r["cpu_s_per_10k"] for r in rows if r["target"] == t and r["file"] == p), None) for p in args.files]
            f.write(t + " " + " ".join("0" if v is None else f"{v:.4f}" for v in vals) + "\n")
    cols = " , ".join(f"'{data}' using {i + 2}:xtic(1) title columnheader" for i in range(len(args.files)))
    script = f"""set terminal pngcairo size 900,500 noenhanced
set output '{os.path.join(args.out, "chart.png")}'
set title 'CPU seconds per 10,000 requests (lower is better)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set grid ytics
set key top left
plot {cols}
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    if r.returncode != 0:
        # pngcairo is missing from some builds of gnuplot-nox; the plain png terminal always is there.
        script = script.replace("pngcairo size 900,500 noenhanced", "png size 900,500 noenhanced")
        subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)


# ---------------------------------------------------------------- modes

class Bench:
    def __init__(self, args):
        self.args = args
        self.procs = []
        self.work = os.path.join(args.out, "work")

    def start(self, name, cmd, env=None, cpus=None):
        p = Proc(name, cmd, env=env, cpus=cpus, logfile=os.path.join(self.args.out, f"{name}.log"))
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()

    def start_origins(self):
        www = os.path.join(self.work, "www")
        make_files(www)
        ports = [self.args.base_port + 1, self.args.base_port + 2]
        procs = []
        for tag, port in zip("ab", ports):
            d = os.path.join(self.work, f"origin-{tag}")
            os.makedirs(d, exist_ok=True)
            with open(f"{d}/nginx.conf", "w") as f:
                f.write(nginx_origin_conf(d, port, www, tag))
            procs.append(self.start(f"origin-{tag}", ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"],
                                    cpus=self.args.load_cpus))
        for p, port in zip(procs, ports):
            wait_ready(p, port, "/healthz", 20)
        return ports, procs

    def start_target(self, name, t):
        os.makedirs(t["dir"], exist_ok=True)
        for path, text in t["write"].items():
            with open(path, "w") as f:
                f.write(text)
        if t["cmd"] is None:
            return None
        started = time.monotonic()
        p = self.start(name, t["cmd"], env=t["env"], cpus=self.args.proxy_cpus)
        wait_ready(p, t["port"], "/" + self.args.files[0])
        # From the spawn to the first file served through it (polled every 0.1 s), on the proxy's one CPU.
        p.start_s = time.monotonic() - started
        return p

    def check(self, name, t, origin_ports):
        """Each file comes back whole, and through a proxy both origins answer."""
        www = os.path.join(self.work, "www")
        seen = set()
        for i in range(8):
            path = self.args.files[i % len(self.args.files)]
            status, body, headers = http_get(t["port"], "/" + path)
            with open(os.path.join(www, path), "rb") as f:
                if status != 200 or body != f.read():
                    raise RuntimeError(f"{name}: GET /{path} gave {status} and {len(body)} bytes, not the file")
            seen.add(headers.get("X-Origin"))
        if name != "direct" and seen != {"a", "b"}:
            raise RuntimeError(f"{name}: 8 requests reached origins {sorted(map(str, seen))}, not both")

    def compare(self, build_dir, meta):
        args = self.args
        origin_ports, origin_procs = self.start_origins()
        plans = plan_targets(args, self.work, build_dir, origin_ports)
        procs = {}
        for name, t in plans.items():
            log(f"start {name}")
            procs[name] = self.start_target(name, t)
            self.check(name, t, origin_ports)
            time.sleep(1)
            meta["start_rss_mib"][name] = procs[name].status_kib("VmRSS") / 1024 if procs[name] else None
            meta["start_s"][name] = procs[name].start_s if procs[name] else None
            trail, settled = prewarm(args, t, procs[name], origin_procs)
            meta["prewarm"][name] = trail
            log(f"{name}: pre-warm CPU s/10k {trail}")
            if not settled:
                meta["warnings"].append(f"{name}: CPU per request still falling after {args.prewarm_max:.0f} s "
                                        f"of pre-warm (raise --prewarm-max)")
        runs = []
        for rnd in range(1, args.rounds + 1):
            for name, t in plans.items():
                for path in args.files:
                    wrk(args, t["port"], path, 1, latency=False)
                    r = measure(args, t, procs[name], origin_procs, path, args.duration)
                    r.update(target=name, file=path, round=rnd)
                    runs.append(r)
                    log(f"round {rnd} {name:14} {path:10} {r['rps']:9.0f} req/s  p99 {fmt(r['p99'], '.2f')} ms  "
                        f"CPU {fmt(r['cpu_per_10k'], '.3f')} s/10k  alloc {fmt(r['alloc_per_req'], ',.0f')} B/req  "
                        f"errors {r['errors']}")
                    if r["errors"]:
                        meta["failed"] = True
                        meta["warnings"].append(f"{name} {path} round {rnd}: {r['errors']} errors")
        return runs

    def soak(self, build_dir, meta):
        args = self.args
        origin_ports, origin_procs = self.start_origins()
        plans = plan_targets(args, self.work, build_dir, origin_ports)
        results = {}
        for name, t in plans.items():
            if t["cmd"] is None:
                continue
            proc = self.start_target(name, t)
            self.check(name, t, origin_ports)
            prewarm(args, t, proc, origin_procs)
            before = self.idle_state(name, t, proc)
            sent, errors, start = 0, 0, time.monotonic()
            path = args.files[0]
            while sent < args.requests and time.monotonic() - start < args.soak_max:
                rate = sent / (time.monotonic() - start) if sent else 0
                chunk = min(10, max(1, (args.requests - sent) / rate)) if rate else 10
                r = wrk(args, t["port"], path, chunk, latency=False)
                sent, errors = sent + r["requests"], errors + r["errors"]
                log(f"soak {name}: {sent:,} requests, {errors} errors")
            after = self.idle_state(name, t, proc)
            results[name] = {"requests": sent, "errors": errors, "seconds": time.monotonic() - start,
                             "before": before, "after": after}
        return results

    def idle_state(self, name, t, proc):
        # Wait past the upstream pool's idle timeout (LbProxy: 4 s) and for the CPU to go quiet (at most 30 s).
        time.sleep(6)
        for _ in range(15):
            a = proc.cpu_seconds()
            time.sleep(2)
            if proc.cpu_seconds() - a <= 0.04:
                break
        state = {"rss_mib": proc.status_kib("VmRSS") / 1024, "fds": open_fds(proc.pids()),
                 "connections": established_connections(proc.pids()), "threads": proc.status_kib("Threads"),
                 "timers": None, "threadpool_threads": None}
        if name.startswith("lbproxy"):
            status, body, _ = http_get(t["port"], "/_lb/runtime")
            if status == 200:
                snap = json.loads(body)
                state["timers"] = snap["activeTimers"]
                state["threadpool_threads"] = snap["threadPool"]["threads"]
        return state


def write_soak(args, meta, results):
    lines = [f"# LbProxy soak, {meta['machine']['date_utc']}", "", f"`{meta['command']}`", ""]
    for name, r in results.items():
        lines += [f"{name}: {r['requests']:,} requests in {r['seconds']:.0f} s, {r['errors']} failed.", "",
                  "| at idle | before | after | change |", "|---|---|---|---|"]
        for key, label in (("timers", "active timers"), ("threadpool_threads", "thread-pool threads"),
                           ("threads", "OS threads"), ("fds", "file descriptors"),
                           ("connections", "established connections"), ("rss_mib", "RSS MiB")):
            b, a = r["before"][key], r["after"][key]
            change = "—" if a is None or b is None else (f"{(a - b) / b * 100:+.1f}%" if key == "rss_mib" and b else f"{a - b:+g}")
            lines.append(f"| {label} | {fmt(b, '.1f') if key == 'rss_mib' else fmt(b, 'd')} | "
                         f"{fmt(a, '.1f') if key == 'rss_mib' else fmt(a, 'd')} | {change} |")
        lines.append("")
    with open(os.path.join(args.out, "soak.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=2)
    return "\n".join(lines)


def main(argv):
    if argv[:1] == ["cache"]:  # the hot set beside nginx's and HAProxy's caches: bench/cache.py
        import cache
        return cache.main(argv[1:])
    if argv[:1] == ["cache-hit"]:  # CPU per hit only, LbProxy builds beside nginx, interleaved: bench/cache_hit.py
        import cache_hit
        return cache_hit.main(argv[1:])
    if argv[:1] == ["tls"]:  # HTTPS + HTTP/2 beside nginx, h2load: its own script
        return subprocess.run([sys.executable, os.path.join(BENCH, "bench_tls.py")] + argv[1:], timeout=1800).returncode
    if argv[:1] == ["overload"]:  # overload: its own module, on this module's processes, builds and reports
        import overload
        return overload.main(argv[1:])
    args = parse_args(argv)
    command = "python3 bench/bench.py " + " ".join(argv)
    if args.dry_run:
        plans = plan_targets(args, os.path.join(args.out, "work"), os.path.join(args.out, "build"),
                             [args.base_port + 1, args.base_port + 2])
        print(f"mode {args.mode}; out {args.out}; rounds {args.rounds}, {args.duration:g} s runs, "
              f"{args.connections} connections; proxy CPUs {args.proxy_cpus}, load CPUs {args.load_cpus}")
        for name, t in plans.items():
            print(f"  {name:14} port {t['port']:5}  {' '.join(t['cmd']) if t['cmd'] else '(wrk straight to origin a)'}")
        return 0
    os.makedirs(args.out, exist_ok=True)
    if args.mode == "scale":
        build_dir = build(args)
        return subprocess.run([sys.executable, os.path.join(BENCH, "reload_scale.py"), "--program",
                               f"{build_dir}/lbproxy/LbProxy.dll", "--routes", str(args.routes),
                               "--clusters", str(args.clusters)], timeout=1800).returncode
    ensure_programs(args)
    build_dir = build(args)
    meta = {"command": command, "machine": machine(), "load_start": round(os.getloadavg()[0], 2),
            "warnings": [], "prewarm": {}, "start_rss_mib": {}, "start_s": {}, "args": {k: v for k, v in vars(args).items() if k != "extra_env"},
            "env": args.extra_env}
    log(f"{meta['machine']['date_utc']}: {meta['machine']['cpus']} CPUs {meta['machine']['cpu']}, "
        f"load {meta['machine']['load_avg']}; results in {args.out}")
    bench = Bench(args)
    try:
        if args.mode == "soak":
            results = bench.soak(build_dir, meta)
            meta["load_end"] = round(os.getloadavg()[0], 2)
            meta["failed"] = any(r["errors"] for r in results.values())
            print(write_soak(args, meta, results))
        else:
            runs = bench.compare(build_dir, meta)
            meta["load_end"] = round(os.getloadavg()[0], 2)
            print(write_reports(args, meta, summarize(args, runs, meta), runs))
    finally:
        bench.stop_all()
    print(f"\nresults: {args.out}")
    # Exit 1 when a request failed (a warning alone, such as an unsettled pre-warm, is only reported).
    return 1 if meta.get("failed") else 0


if __name__ == "__main__":
    # SIGTERM stops the bench like Ctrl+C: through main's finally, which stops every process it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
