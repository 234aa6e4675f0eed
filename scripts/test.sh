#!/usr/bin/env bash
# The README's test command, for a plain clone on Debian: installs what the tests need when it is missing
# (scripts/setup.sh: uWSGI from Debian, which needs root; npm ci), then runs the unit suite (npm test) and the
# real-peer suite (npm run test:interop), which runs against Fluentd, Fluent Bit and Norikra when
# UWSGI_FORWARD_PEERS names the peers folder, and otherwise says it was skipped and how to enable it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
npm run test:interop
