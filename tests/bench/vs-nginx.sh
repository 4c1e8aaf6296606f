#!/usr/bin/env bash
# LbProxy side by side with nginx and HAProxy, through an external benchmark harness (BENCH_DIR): RoundRobin
# over two nginx origins on 127.0.0.1, small (4 KiB) and large (100 KiB) images, wrk load.
# A benchmark, not a test: it prints figures and ratios measured in the same run. About 5 minutes.
#
#   bash tests/bench/vs-nginx.sh [--access-log] [extra bench.py options]
#
# --access-log keeps LbProxy's access log on (to /dev/null); by default it is off, as the harness asks
# ("log little or nothing per request") and as nginx and HAProxy run there.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
[ -f "$bench/bench.py" ] || { echo "no benchmark harness at $bench (set BENCH_DIR)" >&2; exit 2; }

access_log=false
if [ "${1:-}" = "--access-log" ]; then access_log=true; shift; fi

bash "$bench/install-deps.sh"
out=$(mktemp -d /tmp/lbproxy-bench-XXXXXX)
dotnet publish src/LbProxy -c Release -o "$out/app" -nologo -clp:NoSummary >/dev/null

# The harness gives $PORT, $ORIGIN_A and $ORIGIN_B; write a config for them, then exec the proxy so that it
# is the process the harness measures and signals.
cat > "$out/start.sh" <<SH
#!/bin/sh
cat > "$out/yarp-\$PORT.json" <<JSON
{
  "ReverseProxy": {
    "Routes": { "all": { "ClusterId": "origins", "Match": { "Path": "/{**path}" } } },
    "Clusters": { "origins": { "LoadBalancingPolicy": "RoundRobin",
      "Destinations": { "a": { "Address": "\$ORIGIN_A" }, "b": { "Address": "\$ORIGIN_B" } } } }
  },
  "LbProxy": { "AccessLog": { "Enabled": $access_log }, "Logging": { "Level": "Warning" } }
}
JSON
exec dotnet "$out/app/LbProxy.dll" --config "$out/yarp-\$PORT.json" --urls "http://127.0.0.1:\$PORT" >/dev/null
SH
chmod +x "$out/start.sh"

python3 "$bench/bench.py" --out "$out/results" --proxy "lbproxy=exec $out/start.sh" "$@"
echo "results: $out/results/results.md"
