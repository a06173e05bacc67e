#!/usr/bin/env bash
# The API contract against the running service: a bounded schemathesis run on loopback.
# Every operation of /openapi.json is fuzzed (schema examples, coverage and random cases);
# any 5xx, undocumented status, wrong content type or response that breaks its schema fails.
#   scripts/contract.sh [seconds]   (default 150)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MAX_TIME="${1:-150}"
WORK="$(mktemp -d)"
PORT="$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

# The service runs on a copy of the index and its own database, so fuzzed questions stay out of data/.
cp -r data/index "$WORK/index"
export CARE_DATA_DIR="$WORK" CARE_VECTOR_CACHE="$PWD/data/cache/vectors.sqlite"
# The fuzzer is one client asking thousands of questions: rates high enough for it to reach the
# handlers (the limits themselves are tested in tests/test_limits.py).
export CARE_RATE_LIMIT_CHAT=100000/minute CARE_RATE_LIMIT_FEEDBACK=100000/minute
$PY -m assistant serve --host 127.0.0.1 --port "$PORT" >"$WORK/service.log" 2>&1 &
SERVICE=$!
stop() { kill $SERVICE 2>/dev/null || true; wait $SERVICE 2>/dev/null || true; rm -rf "$WORK"; }
trap stop EXIT

for _ in $(seq 1 240); do
  if curl -sf "$URL/readyz" >/dev/null; then break; fi
  if ! kill -0 $SERVICE 2>/dev/null; then cat "$WORK/service.log"; exit 1; fi
  sleep 0.5
done
curl -sf "$URL/readyz" >/dev/null || { echo "the service did not become ready"; tail -20 "$WORK/service.log"; exit 1; }

.venv/bin/schemathesis --config-file scripts/schemathesis.toml run "$URL/openapi.json" \
  --checks all \
  --exclude-checks ignored_auth,object_level_authorization,use_after_free,ensure_resource_availability \
  --phases examples,coverage,fuzzing \
  --max-time "$MAX_TIME" \
  --workers 2 \
  --request-timeout 30 \
  --no-color
