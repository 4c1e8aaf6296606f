#!/usr/bin/env python3
"""HTTPS + HTTP/2 beside nginx: LbProxy and nginx terminate TLS with the same certificate, in front of the same two
nginx origins, driven by h2load, measured interleaved in the same run.

    python3 bench/bench.py tls              # 3 rounds (about 3 minutes on 2 cores)
    python3 bench/bench.py tls --quick      # 1 round of short runs: checks the bench works, gives no figure
    python3 bench/bench_tls.py --dry-run    # the same script on its own; print the plan and exit

Two loads per target and round:
  requests    h2load over a few long-lived HTTP/2 connections with many streams each: CPU per request.
  handshakes  h2load with one request per connection, so each request costs a full TLS handshake (h2load does not
              resume sessions): CPU per connection, and per handshake once the CPU of its one request is taken off.
CPU is the target's own (utime + stime of its process group, from /proc) over the run, after a pre-warm that lasts
until CPU per request stops falling (tiered JIT). The per-handshake figure subtracts the CPU of a multiplexed request,
so it is an estimate of the handshake's own cost, not a measurement of it alone. The certificate is an EC P-256
one made here with openssl, TLS 1.2 and 1.3 on both sides. h2load (Debian nghttp2-client) and nginx are installed when
missing. Every process started here runs in its own session and is stopped by it at the end.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the main bench: processes, builds, origins, files)

PACKAGES = {"nginx": ["nginx-light", "nginx"], "h2load": ["nghttp2-client"], "openssl": ["openssl"]}
TARGETS = ["nginx-tls", "lbproxy-tls"]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 round of 3 s runs: checks the bench works")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10, help="seconds of each requests run")
    ap.add_argument("--connections", type=int, default=4, help="requests runs: HTTP/2 connections")
    ap.add_argument("--streams", type=int, default=32, help="requests runs: concurrent streams per connection")
    ap.add_argument("--handshakes", type=int, default=2000, help="handshake runs: connections, one request each")
    ap.add_argument("--prewarm-max", type=float, default=40, help="pre-warm at most this many seconds per target")
    ap.add_argument("--file", default="small.jpg", choices=sorted(bench.FILES))
    ap.add_argument("--base-port", type=int, default=19300, help="origins on +1 and +2, targets on +10 and +11")
    ap.add_argument("--proxy-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.handshakes, args.prewarm_max = 1, 3, 500, 10
    if not 1024 < args.base_port < 65000 or (args.base_port <= 8082 and args.base_port + 20 >= 8080):
        ap.error("--base-port: base+1 to base+20 must stay clear of 8080-8082")
    if args.no_pin or (os.cpu_count() or 1) < 2:
        args.proxy_cpus = args.load_cpus = None
    args.files = [args.file]
    args.out = os.path.abspath(args.out or os.path.join(
        bench.ROOT, "bench-results", "tls-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")))
    return args


def ensure_programs(args):
    missing = [name for name in PACKAGES if shutil.which(name) is None]
    if not missing:
        return
    if args.no_install:
        sys.exit(f"missing: {', '.join(missing)} (and --no-install)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    bench.log(f"installing: {', '.join(missing)}")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    for name in missing:
        if not any(subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", p], env=env, timeout=600,
                                  stdout=subprocess.DEVNULL).returncode == 0 for p in PACKAGES[name]):
            sys.exit(f"could not install {name} ({' or '.join(PACKAGES[name])})")


def build(args):
    out = os.path.join(args.out, "build")
    if not (args.no_build and os.path.exists(os.path.join(out, "lbproxy", "LbProxy.dll"))):
        bench.log("dotnet publish src/LbProxy -c Release")
        subprocess.run(["dotnet", "publish", os.path.join(bench.ROOT, "src/LbProxy"), "-c", "Release", "-nologo",
                        "-clp:NoSummary", "-o", os.path.join(out, "lbproxy")], check=True, stdout=subprocess.DEVNULL,
                       timeout=900, env=dict(os.environ, DOTNET_CLI_TELEMETRY_OPTOUT="1", DOTNET_NOLOGO="1"))
    return out


def make_certificate(d):
    os.makedirs(d, exist_ok=True)
    crt, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "30", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
    return crt, key


def nginx_tls_conf(d, port, origins, workers, crt, key):
    servers = "".join(f"    server 127.0.0.1:{o};\n" for o in origins)
    return bench.NGINX_COMMON.format(workers=workers, dir=d, body=f"""
  upstream origins {{
{servers}    keepalive 128;
  }}
  server {{
    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    http2_max_concurrent_streams 100;
    location / {{
      proxy_pass http://origins;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }}
  }}""")


def lbproxy_tls_conf(origins, port, crt, key):
    conf = bench.lbproxy_conf(origins, access_log=True)
    conf["Kestrel"] = {"Endpoints": {"Https": {
        "Url": f"https://127.0.0.1:{port}", "Protocols": "Http1AndHttp2",
        "Certificate": {"Path": crt, "KeyPath": key}}}}
    return conf


def plan(args, work, build_dir, origins, crt, key):
    workers = len(bench.parse_cpus(args.proxy_cpus)) if args.proxy_cpus else (os.cpu_count() or 1)
    plans = {}
    for i, name in enumerate(TARGETS):
        port, d = args.base_port + 10 + i, os.path.join(work, name)
        p = {"port": port, "dir": d, "write": {}, "env": dict(os.environ)}
        if name == "nginx-tls":
            p["write"][f"{d}/nginx.conf"] = nginx_tls_conf(d, port, origins, workers, crt, key)
            p["cmd"] = ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"]
        else:
            p["write"][f"{d}/yarp.json"] = json.dumps(lbproxy_tls_conf(origins, port, crt, key), indent=2)
            p["cmd"] = ["dotnet", f"{build_dir}/lbproxy/LbProxy.dll", "--config", f"{d}/yarp.json"]
            p["env"].update({"DOTNET_TC_CallCountingDelayMs": "0", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"})
        plans[name] = p
    return plans


def https_get(port, path, timeout=5):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE   # our own self-signed certificate
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def h2load(args, port, requests=None, seconds=None, clients=1, streams=1):
    cmd = (["taskset", "-c", args.load_cpus] if args.load_cpus else []) + ["h2load", "-c", str(clients), "-m", str(streams)]
    cmd += ["-D", str(max(1, round(seconds)))] if seconds else ["-n", str(requests)]
    cmd.append(f"https://127.0.0.1:{port}/{args.file}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=(seconds or 60) + 60)
    return parse_h2load(r.stdout + r.stderr)


def parse_h2load(text):
    res = {"succeeded": 0, "failed": 0, "errored": 0, "rps": 0.0, "protocol": None, "tls": None}
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    if m:
        res["succeeded"], res["failed"], res["errored"] = map(int, m.groups())
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"Application protocol: (\S+)", text)
    res["protocol"] = m.group(1) if m else None
    m = re.search(r"TLS Protocol: (\S+)", text)
    res["tls"] = m.group(1) if m else None
    return res


def prewarm(args, port, proc):
    """Unmeasured 2 s requests runs until CPU per request stops falling by more than 10% (tiered JIT), at most
    --prewarm-max seconds, then one handshake run. Returns the CPU µs per request of each chunk."""
    trail, start = [], time.monotonic()
    while time.monotonic() - start < args.prewarm_max:
        r = measured(proc, lambda: h2load(args, port, seconds=2, clients=args.connections, streams=args.streams))
        trail.append(round(r["cpu_s"] / max(r["succeeded"], 1) * 1e6))
        if len(trail) >= 2 and trail[-1] >= 0.9 * trail[-2]:
            break
    h2load(args, port, requests=min(args.handshakes, 500), clients=100, streams=1)
    return trail


def measured(proc, run):
    before = proc.cpu_seconds()
    res = run()
    res["cpu_s"] = proc.cpu_seconds() - before
    return res


def main(argv):
    args = parse_args(argv)
    work = os.path.join(args.out, "work")
    origins = [args.base_port + 1, args.base_port + 2]
    if args.dry_run:
        for name, t in plan(args, work, os.path.join(args.out, "build"), origins, "tls.crt", "tls.key").items():
            print(f"  {name:12} port {t['port']:5}  {' '.join(t['cmd'])}")
        print(f"  requests: h2load -c {args.connections} -m {args.streams} -D {args.duration:g}; "
              f"handshakes: h2load -c 100 -m 1 -n {args.handshakes}; {args.rounds} round(s)")
        return 0
    os.makedirs(args.out, exist_ok=True)
    ensure_programs(args)
    build_dir = build(args)
    crt, key = make_certificate(os.path.join(work, "tls"))
    runner = bench.Bench(args)
    meta = {"command": "python3 bench/bench_tls.py " + " ".join(argv), "machine": bench.machine(),
            "load_start": round(os.getloadavg()[0], 2)}
    rows = []
    try:
        origin_ports, _ = runner.start_origins()
        plans = plan(args, work, build_dir, origin_ports, crt, key)
        procs = {}
        with open(os.path.join(work, "www", args.file), "rb") as f:
            expected = f.read()
        for name, t in plans.items():
            os.makedirs(t["dir"], exist_ok=True)
            for path, text in t["write"].items():
                with open(path, "w") as f:
                    f.write(text)
            bench.log(f"start {name}")
            procs[name] = runner.start(name, t["cmd"], env=t["env"], cpus=args.proxy_cpus)
            bench.wait_ready(procs[name], t["port"], "/" + args.file, get=https_get)
            status, body = https_get(t["port"], "/" + args.file)
            if status != 200 or body != expected:
                raise RuntimeError(f"{name}: GET /{args.file} gave {status} and {len(body)} bytes, not the file")
            trail = prewarm(args, t["port"], procs[name])
            bench.log(f"{name}: pre-warm CPU us/request {trail}")
        for rnd in range(1, args.rounds + 1):
            for name, t in plans.items():
                r = measured(procs[name], lambda: h2load(args, t["port"], seconds=args.duration,
                                                         clients=args.connections, streams=args.streams))
                h = measured(procs[name], lambda: h2load(args, t["port"], requests=args.handshakes, clients=100, streams=1))
                per_request = r["cpu_s"] / max(r["succeeded"], 1)
                per_connection = h["cpu_s"] / max(h["succeeded"], 1)
                row = {"round": rnd, "target": name, "protocol": r["protocol"], "tls": r["tls"],
                       "requests": r["succeeded"], "failed": r["failed"] + r["errored"] + h["failed"] + h["errored"],
                       "rps": r["rps"], "cpu_us_per_request": per_request * 1e6,
                       "handshakes": h["succeeded"], "handshakes_per_s": h["rps"],
                       "cpu_us_per_connection": per_connection * 1e6,
                       "cpu_us_per_handshake": (per_connection - per_request) * 1e6}
                rows.append(row)
                bench.log(f"round {rnd} {name}: {row['requests']} requests ({row['protocol']}, {row['tls']}), "
                          f"{row['cpu_us_per_request']:.0f} us CPU/request; {row['handshakes']} handshakes, "
                          f"{row['cpu_us_per_handshake']:.0f} us CPU/handshake; failed {row['failed']}")
    finally:
        runner.stop_all()
    meta["load_end"] = round(os.getloadavg()[0], 2)
    print(report(args, meta, rows))
    return 1 if any(r["failed"] for r in rows) or not rows else 0


def report(args, meta, rows):
    lines = [f"# HTTPS + HTTP/2 beside nginx ({meta['machine']['date_utc']})", "",
             f"`{meta['command']}`; {meta['machine']['cpus']} CPUs {meta['machine']['cpu']}; "
             f"load {meta['load_start']} at start, {meta['load_end']} at the end. Medians over {args.rounds} round(s).", "",
             "| target | protocol | requests/s | CPU µs per request | handshakes/s | CPU µs per handshake | failed |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name in TARGETS:
        mine = [r for r in rows if r["target"] == name]
        if not mine:
            continue
        med = lambda key: bench.med([r[key] for r in mine])  # noqa: E731
        lines.append(f"| {name} | {mine[0]['protocol']} {mine[0]['tls']} | {med('rps'):.0f} | {med('cpu_us_per_request'):.0f} | "
                     f"{med('handshakes_per_s'):.0f} | {med('cpu_us_per_handshake'):.0f} | {sum(r['failed'] for r in mine)} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "results-tls.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results-tls.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    return text + f"\nresults: {args.out}"


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
