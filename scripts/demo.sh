#!/usr/bin/env bash
# The README's first command. On a fresh Debian machine (as root) it installs what is missing (scripts/setup.sh:
# uWSGI from Debian, npm ci), then runs the demo (scripts/demo-route.sh): a real uWSGI app, some HTTP load, a local
# forward receiver that prints what arrives, and the uwsgi-forward sidecar between them, for DEMO_SECONDS (6).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uwsgi >/dev/null 2>&1 || [ ! -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || [ ! -d node_modules ]; then
  echo "demo: installing what is missing (scripts/setup.sh)"
  bash scripts/setup.sh
fi
exec bash scripts/demo-route.sh
