#!/usr/bin/env bash
# Installs what the tests and the demo need: uWSGI from Debian (when missing) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uwsgi >/dev/null 2>&1 || [ ! -e /usr/lib/uwsgi/plugins/python3_plugin.so ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "uWSGI is missing: run as root, or install it: apt-get install -y uwsgi-core uwsgi-plugin-python3" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq uwsgi-core uwsgi-plugin-python3 >/dev/null
fi
npm ci --no-audit --no-fund

# Prometheus (Debian package prometheus): promtool lints /metrics in the unit suite (skipped without it), and the
# real-peer suite scrapes the sidecar with a real Prometheus (test/interop/prometheus.test.ts). Only when missing.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "prometheus is missing (promtool, prometheus): run as root, or: apt-get install -y prometheus" >&2
  else
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
  fi
fi
