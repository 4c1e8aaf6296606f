#!/usr/bin/env bash
# Installs the programs the tests use, when missing. Nothing to install is not an error.
set -euo pipefail
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
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
