#!/usr/bin/env bash
# Installs the programs the tests use, when missing. Nothing to install is not an error.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
# (programs are added here as tests come to need them)
# promtool lints the /metrics exposition (Functional/MetricsTests); Debian ships it in the prometheus package.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# TLS and HTTP/2 (Functional/TlsTests): h2load drives many HTTP/2 streams over TLS and nghttp shows the
# server's SETTINGS (both in Debian's nghttp2-client);
# curl --http2 and openssl are checked here too, so that a slim image gets them.
{ command -v h2load && command -v nghttp; } >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The browser test (Functional/LiveUiBrowserTests) drives Debian's Chromium through playwright-core.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The native build (Functional/NativeBuildTests: dotnet publish -p:PublishAot=true) links with clang.
command -v clang >/dev/null 2>&1 || missing+=(clang)
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

# --- browser test (tests/LbProxy.Tests/Functional/LiveUiBrowserTests) ---------------------------
# playwright-core needs Node.js 20 or later; Debian 12's own nodejs is 18, so it is not installed from here.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "the browser tests need Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
# The npm package, exactly as the committed lockfile says; it downloads no browser.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
