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
