#!/usr/bin/env bash
# The cost of a /metrics scrape with 50 destinations: a benchmark, not a test.
#
# Starts the real program (Release build) on 127.0.0.1 with a generated config of 5 clusters x 10
# destinations served by 5 sample origins, sends traffic so every destination has its series, then
# scrapes SCRAPES times and prints the median and p90 scrape time (curl), the size of a scrape, and
# the bytes allocated and CPU time spent per scrape (read from the proxy's own
# dotnet_gc_heap_total_allocated_bytes_total and dotnet_process_cpu_time_seconds_total, with the
# idle rate over the same wall time subtracted). Every loop is bounded; it stops only what it started.
#
# Usage: bash bench/scrape-cost.sh [SCRAPES]    (default 500; needs dotnet, curl, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
SCRAPES=${1:-500}
ORIGINS=5
PER_CLUSTER=10
CLUSTERS=5
DLL=src/LbProxy/bin/Release/net10.0/LbProxy.dll

# Always build: an incremental build is quick, and a stale binary would measure old code.
dotnet build src/LbProxy -c Release -nologo -clp:NoSummary >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

free_ports() { # N free loopback ports
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

wait_for() { # URL: up to 30 s
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  echo "not up after 30 s: $1" >&2
  return 1
}

read -r -a ports <<<"$(free_ports $((ORIGINS + 1)))"
proxy_port=${ports[$ORIGINS]}

# 5 clusters of 10 destinations; destination d spreads over the origins by a path prefix, so 50
# destinations need only 5 origin processes on a 2-core machine.
python3 - "$work/bench.json" "$CLUSTERS" "$PER_CLUSTER" "${ports[@]:0:$ORIGINS}" <<'PY'
import json, sys
path, clusters, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
origins = sys.argv[4:]
routes, cl = {}, {}
for c in range(clusters):
    dests = {}
    for d in range(per):
        port = origins[(c * per + d) % len(origins)]
        dests[f"c{c}-d{d}"] = {"Address": f"http://127.0.0.1:{port}/c{c}d{d}/"}
    cl[f"pool{c}"] = {
        "LoadBalancingPolicy": "RoundRobin",
        "HealthCheck": {"Active": {"Enabled": True, "Interval": "00:00:05", "Timeout": "00:00:02",
                                    "Policy": "ConsecutiveFailures", "Path": "/healthz"}},
        "Destinations": dests,
    }
    routes[f"route{c}"] = {"ClusterId": f"pool{c}", "Match": {"Path": f"/p{c}/{{**path}}"}}
json.dump({"ReverseProxy": {"Routes": routes, "Clusters": cl}}, open(path, "w"), indent=2)
PY

for i in $(seq 0 $((ORIGINS - 1))); do
  dotnet "$DLL" origin --urls "http://127.0.0.1:${ports[$i]}" --id "origin-$i" >"$work/origin-$i.log" 2>&1 &
  pids+=($!)
done
dotnet "$DLL" --config "$work/bench.json" --urls "http://127.0.0.1:$proxy_port" --LbProxy:Logging:Level Warning >"$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=("$proxy_pid")
base="http://127.0.0.1:$proxy_port"
for i in $(seq 0 $((ORIGINS - 1))); do wait_for "http://127.0.0.1:${ports[$i]}/healthz"; done
wait_for "$base/_lb/healthz"

# Traffic: 4 requests per destination (round robin), one curl reusing its connection.
requests=$((CLUSTERS * PER_CLUSTER * 4))
for i in $(seq 0 $((requests - 1))); do
  echo "url = \"$base/p$((i % CLUSTERS))/img-$i.jpg\""
  echo "output = /dev/null"
done >"$work/traffic.curl"
curl -s --max-time 120 -K "$work/traffic.curl"

curl -s --max-time 10 -o "$work/first.txt" "$base/metrics"
# Warm-up, then wait (at most 60 s) for the proxy to settle: for some seconds after start the runtime
# recompiles hot methods in the background, which would be counted against the idle baseline or the scrapes.
for _ in $(seq 1 200); do curl -s --max-time 10 -o /dev/null "$base/metrics"; done
cpu_ticks() { awk '{print $14 + $15}' "/proc/$proxy_pid/stat"; }
for _ in $(seq 1 30); do
  a=$(cpu_ticks); sleep 2; b=$(cpu_ticks)
  [ $((b - a)) -le 5 ] && break   # at most 5 % of a core
done

# Idle baseline: allocation and CPU over one health-check interval with no scrape (the active probes of
# 50 destinations allocate too), to subtract from the scrapes' share.
curl -s --max-time 10 -o "$work/idle0.txt" "$base/metrics"
date +%s.%N >"$work/idle0.time"
sleep 5
date +%s.%N >"$work/idle1.time"
curl -s --max-time 10 -o "$work/idle1.txt" "$base/metrics"

# The scrapes, between two reading scrapes.
curl -s --max-time 10 -o "$work/before.txt" "$base/metrics"
date +%s.%N >"$work/before.time"
for _ in $(seq 1 "$SCRAPES"); do
  curl -s --max-time 10 -o /dev/null -w '%{time_total}\n' "$base/metrics"
done >"$work/times.txt"
date +%s.%N >"$work/after.time"
curl -s --max-time 10 -o "$work/after.txt" "$base/metrics"

python3 - "$work" "$SCRAPES" "$CLUSTERS" "$PER_CLUSTER" "$ORIGINS" <<'PY'
import statistics, sys
work, scrapes, clusters, per, origins = sys.argv[1], *map(int, sys.argv[2:])

def read(name):
    return open(f"{work}/{name}").read()

def metric(text, family):
    total = 0.0
    for line in text.splitlines():
        if line and not line.startswith("#") and (line.startswith(family + "{") or line.split(" ")[0] == family):
            total += float(line.rsplit(" ", 1)[1])
    return total

def delta(a, b, family):
    return metric(read(b), family) - metric(read(a), family)

def seconds(a, b):
    return float(read(b)) - float(read(a))

ALLOC, CPU = "dotnet_gc_heap_total_allocated_bytes_total", "dotnet_process_cpu_time_seconds_total"
first = read("first.txt")
samples = [l for l in first.splitlines() if l and not l.startswith("#")]
times = sorted(float(t) * 1000 for t in read("times.txt").split())
# Between the two reading scrapes lie the timed scrapes and about one more (the rest of the first, the start of the last).
n = scrapes + 1
scrape_wall = seconds("before.time", "after.time")
idle_wall = seconds("idle0.time", "idle1.time")
idle_alloc = delta("idle0.txt", "idle1.txt", ALLOC) * scrape_wall / idle_wall
idle_cpu = delta("idle0.txt", "idle1.txt", CPU) * scrape_wall / idle_wall
alloc = delta("before.txt", "after.txt", ALLOC)
cpu = delta("before.txt", "after.txt", CPU)

print(f"destinations            {clusters * per} ({clusters} clusters x {per}, {origins} origin processes)")
print(f"proxied requests        {metric(first, 'lbproxy_proxy_requests_total'):.0f}")
print(f"scrape                  {len(samples)} series ({sum(l.startswith('lbproxy_') for l in samples)} lbproxy_*), {len(first.encode())} bytes")
print(f"scrapes timed           {len(times)}")
print(f"scrape time             median {statistics.median(times):.2f} ms, p90 {times[int(len(times) * 0.9) - 1]:.2f} ms, max {times[-1]:.2f} ms")
print(f"allocated per scrape    {(alloc - idle_alloc) / n:.0f} bytes ({alloc / n:.0f} raw, idle share {idle_alloc / n:.0f} subtracted)")
print(f"CPU per scrape          {(cpu - idle_cpu) / n * 1000:.2f} ms ({cpu / n * 1000:.2f} raw, idle share {idle_cpu / n * 1000:.2f} subtracted)")
PY
