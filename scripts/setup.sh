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
