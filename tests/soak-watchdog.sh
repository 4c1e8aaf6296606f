#!/usr/bin/env bash
# The watchdog's soak: 1,000,000 healthy requests through a Release LbProxy (the demo's two in-process origins),
# at a bounded rate (h2load: 8 clients × 250 requests/s = 2,000/s, about 8.5 minutes), then 40 s more samples so
# that a suspicion would have time to be declared. Passes when every lbproxy_watchdog_suspect series is 0 and the
# log has no "Suspected leak" line. Too long for the default suite; run it before a release:
#   bash tests/soak-watchdog.sh                 # REQUESTS=1000000 CLIENTS=8 RPS_PER_CLIENT=250 PORT=18180
# Loopback only; the proxy it starts is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-1000000}
CLIENTS=${CLIENTS:-8}
RPS_PER_CLIENT=${RPS_PER_CLIENT:-250}
PORT=${PORT:-18180}
command -v h2load >/dev/null 2>&1 || { echo "h2load is missing: apt-get install nghttp2-client" >&2; exit 1; }
dotnet build src/LbProxy/LbProxy.csproj -c Release -nologo -clp:NoSummary >/dev/null
work=$(mktemp -d)
sed "s#127.0.0.1:8081#127.0.0.1:$((PORT + 1))#; s#127.0.0.1:8082#127.0.0.1:$((PORT + 2))#" yarp.json > "$work/yarp.json"
dotnet src/LbProxy/bin/Release/net10.0/LbProxy.dll --config "$work/yarp.json" --urls "http://127.0.0.1:$PORT" \
  --LbProxy:AccessLog:Enabled false > "$work/proxy.log" 2>&1 &
proxy=$!
trap 'kill "$proxy" 2>/dev/null || true; wait "$proxy" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do
  curl -fs "http://127.0.0.1:$PORT/_lb/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
echo "soak: $REQUESTS requests, $CLIENTS clients at $RPS_PER_CLIENT/s each, against http://127.0.0.1:$PORT"
h2load --h1 -n "$REQUESTS" -c "$CLIENTS" --rps "$RPS_PER_CLIENT" "http://127.0.0.1:$PORT/images/cat.jpg" | grep -E '^(finished|requests|status codes)'
sleep 40
suspects=$(curl -fs "http://127.0.0.1:$PORT/metrics" | grep '^lbproxy_watchdog_suspect{')
echo "$suspects"
curl -fs "http://127.0.0.1:$PORT/_lb/runtime" | grep -E '"(activeTimers|threads|workingSetBytes)"' || true
series=$(echo "$suspects" | wc -l)
if [ "$series" -ne 7 ] || echo "$suspects" | grep -qv ' 0$' || grep -q 'Suspected leak' "$work/proxy.log"; then
  echo "soak FAILED: a resource was suspected (or a series is missing)" >&2
  grep 'Suspected leak' "$work/proxy.log" >&2 || true
  exit 1
fi
echo "soak passed: no suspicion after $REQUESTS requests"
