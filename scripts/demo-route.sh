#!/usr/bin/env bash
# The demo itself, once uWSGI and the npm packages are there (scripts/demo.sh installs them first; the tests run this
# script, which installs nothing): builds, then runs the whole route for a few seconds: a real uWSGI app with its
# stats socket, some HTTP load, a local forward receiver (FluentServer) that prints what arrives, and the
# uwsgi-forward sidecar between them. Then it cleans everything up.
# DEMO_SECONDS (default 6) sets how long it runs. Exit status 0 when records arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${DEMO_SECONDS:-6}"

if ! command -v uwsgi >/dev/null 2>&1 || [ ! -e /usr/lib/uwsgi/plugins/python3_plugin.so ]; then
  echo "demo: uWSGI is not installed: run bash scripts/demo.sh as root (it installs it), or apt-get install uwsgi-core uwsgi-plugin-python3" >&2
  exit 1
fi
if [ ! -d node_modules ]; then
  echo "demo: the npm packages are not installed: run npm ci (or bash scripts/demo.sh)" >&2
  exit 1
fi
echo "demo: building"
node scripts/build.mjs

work="$(mktemp -d "${TMPDIR:-/tmp}/uwsgi-forward-demo.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# 1. A uWSGI app: master + 2 workers, HTTP and stats on unix sockets in the temp dir.
cat >"$work/app.py" <<'PY'
import time
def application(env, start_response):
    path = env.get('PATH_INFO', '/')
    if path == '/boom':
        raise RuntimeError('boom')
    if path == '/slow':
        time.sleep(0.05)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello from uWSGI\n']
PY
cat >"$work/uwsgi.ini" <<INI
[uwsgi]
plugins = python3
master = true
processes = 2
http-socket = $work/http.sock
stats = $work/stats.sock
wsgi-file = $work/app.py
need-app = true
die-on-term = true
memory-report = true
logto = $work/uwsgi.log
INI
uwsgi --ini "$work/uwsgi.ini" &
pids+=($!)

# 2. The local forward receiver: prints every event it gets.
node scripts/demo-receiver.mjs "$work/receiver.port" &
receiver=$!
pids+=("$receiver")

for _ in $(seq 100); do
  [ -S "$work/stats.sock" ] && [ -S "$work/http.sock" ] && [ -s "$work/receiver.port" ] && break
  sleep 0.1
done
[ -S "$work/stats.sock" ] || { echo "demo: uWSGI did not start:" >&2; cat "$work/uwsgi.log" >&2; exit 1; }
port="$(cat "$work/receiver.port")"

# 3. The sidecar: summary and worker records every second, acks on, a health record every 2 s.
node dist/esm/cli/main.js --stats "$work/stats.sock" --forward "127.0.0.1:$port" \
  --shape summary --shape worker --require-ack --interval 1s --health-interval 2s &
sidecar=$!
pids+=("$sidecar")

# 4. HTTP load on the app for the length of the demo.
node -e '
const http = require("node:http");
const [socketPath, seconds] = process.argv.slice(1);
const end = Date.now() + Number(seconds) * 1000;
const paths = ["/", "/", "/", "/slow", "/boom"];
let sent = 0;
(function next() {
  if (Date.now() > end) return console.log(`load: ${sent} requests sent`);
  const req = http.get({ socketPath, path: paths[sent++ % paths.length] }, (res) => res.resume().on("end", next));
  req.on("error", next);
})();
' "$work/http.sock" "$seconds"

# 5. Stop the sidecar the way systemd would (it delivers what it holds), then the receiver.
kill -TERM "$sidecar"
wait "$sidecar"
kill -TERM "$receiver"
status=0
wait "$receiver" || status=$?
if [ "$status" -ne 0 ]; then
  echo "demo: FAILED, no record arrived" >&2
  exit 1
fi
echo "demo: done: uWSGI -> uwsgi-forward -> forward receiver works"
