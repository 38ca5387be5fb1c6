#!/usr/bin/env bash
# Property-based API test: schemathesis generates requests from Pier's
# /openapi.json (valid and invalid ones) and checks every answer: no 5xx,
# status codes, content types, headers and bodies as documented, invalid
# input rejected. Bounded by --max-examples per operation.
# Usage: tests/http/schemathesis.sh   (PIER_BIN, PIER_SCHEMATHESIS_EXAMPLES)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
PIER_BIN="${PIER_BIN:-$REPO_ROOT/target/debug/pier}"
VENV="${PIER_TEST_VENV:-$REPO_ROOT/tests/clients/.venv}"
EXAMPLES="${PIER_SCHEMATHESIS_EXAMPLES:-40}"
WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$PIER_BIN" serve --in-memory --kafka 127.0.0.1:0 --http 127.0.0.1:0 >"$WORK/out" 2>"$WORK/err" </dev/null &
PID=$!
for _ in $(seq 100); do
  grep -q '^pier ready' "$WORK/out" 2>/dev/null && break
  sleep 0.1
done
HTTP="$(sed -n 's/^pier ready .*http=\([^ ]*\) .*/\1/p' "$WORK/out")"
[ -n "$HTTP" ] || { echo "schemathesis.sh: pier did not start"; cat "$WORK/err"; exit 1; }

cd "$WORK"
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$HERE" \
  timeout 900 "$VENV/bin/schemathesis" run "http://$HTTP/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance \
  --exclude-path /api/v1/events \
  --max-examples "$EXAMPLES" --workers 1 --request-timeout 15 \
  --seed "${PIER_SCHEMATHESIS_SEED:-20261125}" \
  --suppress-health-check filter_too_much
kill -0 "$PID" || { echo "schemathesis.sh: pier died during the run"; cat "$WORK/err"; exit 1; }
