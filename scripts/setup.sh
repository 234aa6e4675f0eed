#!/usr/bin/env bash
# Installs what the tests and the demo need, each only when missing, then the npm packages:
# - uWSGI (Debian uwsgi-core, uwsgi-plugin-python3): the source tests and the demo run a real uWSGI;
# - Prometheus (Debian prometheus): promtool lints /metrics in the unit suite, and the real-peer suite scrapes the
#   sidecar with a real Prometheus;
# - dnsmasq (Debian dnsmasq-base): the aggregator-tier tests resolve server names with a real DNS server.
# Tests that need one of them say they were skipped, and why, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
if ! command -v uwsgi >/dev/null 2>&1 || [ ! -e /usr/lib/uwsgi/plugins/python3_plugin.so ]; then
  missing+=(uwsgi-core uwsgi-plugin-python3)
fi
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then missing+=(prometheus); fi
if ! command -v dnsmasq >/dev/null 2>&1 && [ ! -x /usr/sbin/dnsmasq ]; then missing+=(dnsmasq-base); fi
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run as root, or: apt-get install -y ${missing[*]}" >&2
  # uWSGI is needed by most tests; without Prometheus or dnsmasq their few tests say they were skipped.
  case " ${missing[*]} " in *" uwsgi-core "*) exit 1 ;; esac
  missing=()
fi
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
