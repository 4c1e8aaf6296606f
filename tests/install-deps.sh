#!/usr/bin/env bash
# Installs the programs the tests use, when missing. Nothing to install is not an error.
set -euo pipefail
missing=()
# (programs are added here as tests come to need them)
# promtool lints the /metrics exposition (Functional/MetricsTests); Debian ships it in the prometheus package.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- deploy checks (tests/LbProxy.Tests/Deploy) -------------------------------------------------
# The prometheus package above also gives the `prometheus` server the live check starts. docker-compose
# (Debian's v1) parses deploy/docker-compose.yml with `config -q`, no engine needed; without
# --no-install-recommends it would pull docker.io and containerd. python3 runs the generators' --check.
# node and npm run tests/deploy's validators (Kubernetes schemas, Compose spec, Dockerfile lint), installed
# from its committed package-lock.json with `npm ci`.
deploy_missing=()
command -v docker-compose >/dev/null 2>&1 || deploy_missing+=(docker-compose)
command -v python3 >/dev/null 2>&1 || deploy_missing+=(python3)
command -v npm >/dev/null 2>&1 || deploy_missing+=(nodejs npm)
if [ ${#deploy_missing[@]} -gt 0 ]; then
  echo "installing: ${deploy_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${deploy_missing[@]}" >/dev/null
fi
deploy_checks="$(dirname "$0")/deploy"
if [ ! -f "$deploy_checks/node_modules/.package-lock.json" ] \
   || [ "$deploy_checks/package-lock.json" -nt "$deploy_checks/node_modules/.package-lock.json" ]; then
  echo "npm ci in tests/deploy"
  (cd "$deploy_checks" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
