#!/usr/bin/env bash
# kcat (librdkafka, Debian's 2.0.2) against a real Pier broker: metadata,
# produce/consume of 100 lines, keys, every compression codec, and a consumer
# group that resumes at its committed offset.
# Usage: tests/clients/kcat_test.sh   (PIER_BIN selects the broker binary)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

PIER_BIN="${PIER_BIN:-target/debug/pier}"
case "$PIER_BIN" in
  /*) ;;
  *) if [ -e "$PWD/$PIER_BIN" ]; then PIER_BIN="$PWD/$PIER_BIN"; else PIER_BIN="$REPO_ROOT/$PIER_BIN"; fi ;;
esac
[ -x "$PIER_BIN" ] || { echo "kcat_test: Pier binary not found at $PIER_BIN (set PIER_BIN or build it first)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat_test: kcat not installed (run tests/clients/setup.sh)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pier-kcat.XXXXXX")"
PID=""
KCAT_TIMEOUT=60

stderr_tail() { echo "---- pier stderr (last 60 lines) ----" >&2; tail -n 60 "$WORK/pier.stderr" >&2 || true; }

stop_pier() { # SIGTERM; returns the exit status; SIGKILL after 20 s
  local rc=0 i
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PID" 2>/dev/null; then
    echo "kcat_test: pier did not exit within 20 s of SIGTERM; killing it" >&2
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
    return 124
  fi
  wait "$PID" || rc=$?
  PID=""
  return "$rc"
}

cleanup() {
  if [ -n "$PID" ]; then kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start_pier() {
  "$PIER_BIN" serve --data-dir "$WORK/data" --kafka 127.0.0.1:0 --http 127.0.0.1:0 >"$WORK/pier.stdout" 2>"$WORK/pier.stderr" </dev/null &
  PID=$!
  local i line
  for i in $(seq 1 300); do
    if [ "$(wc -l <"$WORK/pier.stdout")" -ge 1 ]; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "kcat_test: pier exited before printing its ready line" >&2; stderr_tail; PID=""; exit 1
    fi
    sleep 0.1
  done
  line="$(head -n 1 "$WORK/pier.stdout")"
  if [[ ! "$line" =~ ^pier\ ready\ kafka=([^[:space:]]+):([0-9]+)\ http=[^[:space:]]+\ data=(.+)$ ]]; then
    echo "kcat_test: no ready line from pier within 30 s (got: '$line')" >&2; stderr_tail; exit 1
  fi
  HOST="${BASH_REMATCH[1]}"
  PORT="${BASH_REMATCH[2]}"
  BROKER="$HOST:$PORT"
}

kc() { timeout "$KCAT_TIMEOUT" kcat -b "$BROKER" "$@"; }
kp() { timeout "$KCAT_TIMEOUT" kcat -b "$BROKER" -P -X message.timeout.ms=20000 "$@"; }

fail() { echo "    $*" >&2; return 1; }

same() { # same NAME EXPECTED_FILE ACTUAL_FILE
  if ! cmp -s "$2" "$3"; then
    echo "    $1 differs (expected vs actual, first lines):" >&2
    diff "$2" "$3" | head -n 20 >&2 || true
    return 1
  fi
}

# ---------------------------------------------------------------------------

test_metadata_lists_broker() {
  kc -L >"$WORK/meta.txt"
  grep -Eq '^ *1 brokers:' "$WORK/meta.txt" || { cat "$WORK/meta.txt" >&2; fail "kcat -L does not list exactly 1 broker"; }
  grep -Eq "broker -?[0-9]+ at $HOST:$PORT" "$WORK/meta.txt" || { cat "$WORK/meta.txt" >&2; fail "kcat -L does not list the broker at $BROKER"; }
}

test_produce_consume_100_lines() {
  local t="kcat-lines-$RANDOM$RANDOM"
  seq 1 100 | sed 's/^/line-/' >"$WORK/lines.txt"
  kp -t "$t" -X acks=all <"$WORK/lines.txt"
  kc -C -t "$t" -o beginning -e -q >"$WORK/lines.out"
  same "consumed lines" "$WORK/lines.txt" "$WORK/lines.out"
  # Offsets 0..99 in order, one partition.
  paste -d' ' <(seq 0 99) "$WORK/lines.txt" | sed 's/^/0 /' >"$WORK/offsets.expected"
  kc -C -t "$t" -o beginning -e -q -f '%p %o %s\n' >"$WORK/offsets.out"
  same "partition/offset listing" "$WORK/offsets.expected" "$WORK/offsets.out"
  kc -L -t "$t" >"$WORK/meta_t.txt"
  grep -q "topic \"$t\" with 1 partitions" "$WORK/meta_t.txt" || { cat "$WORK/meta_t.txt" >&2; fail "auto-created topic does not have 1 partition"; }
}

test_keys_round_trip() {
  local t="kcat-keys-$RANDOM$RANDOM"
  for i in $(seq 1 30); do echo "key-$((i % 4))|value-$i"; done >"$WORK/keyed.txt"
  kp -t "$t" -K '|' <"$WORK/keyed.txt"
  kc -C -t "$t" -o beginning -e -q -f '%k|%s\n' >"$WORK/keyed.out"
  same "keyed records" "$WORK/keyed.txt" "$WORK/keyed.out"
}

test_compression_codecs() {
  local z t
  for z in gzip snappy lz4 zstd; do
    t="kcat-$z-$RANDOM$RANDOM"
    seq 1 500 | sed "s/^/$z-record-padding-padding-padding-/" >"$WORK/$z.txt"
    kp -t "$t" -z "$z" -X linger.ms=50 <"$WORK/$z.txt"
    kc -C -t "$t" -o beginning -e -q >"$WORK/$z.out"
    same "$z records" "$WORK/$z.txt" "$WORK/$z.out"
  done
}

test_consumer_group_resumes() {
  local t="kcat-group-$RANDOM$RANDOM" g="kcat-g-$RANDOM$RANDOM"
  seq 1 100 | sed 's/^/g-/' >"$WORK/g1.txt"
  seq 101 150 | sed 's/^/g-/' >"$WORK/g2.txt"
  kp -t "$t" <"$WORK/g1.txt"
  # Balanced consumer (-G): joins group $g, reads to the end (-e), commits on close.
  kc -G "$g" -X auto.offset.reset=earliest -e -q -f '%o %s\n' "$t" >"$WORK/g1.out"
  paste -d' ' <(seq 0 99) "$WORK/g1.txt" >"$WORK/g1.expected"
  same "first group read" "$WORK/g1.expected" "$WORK/g1.out"
  kp -t "$t" <"$WORK/g2.txt"
  # A new member of the same group starts at the committed offset (100).
  kc -G "$g" -X auto.offset.reset=earliest -e -q -f '%o %s\n' "$t" >"$WORK/g2.out"
  paste -d' ' <(seq 100 149) "$WORK/g2.txt" >"$WORK/g2.expected"
  same "second group read (resume at committed offset)" "$WORK/g2.expected" "$WORK/g2.out"
}

# ---------------------------------------------------------------------------

start_pier
echo "kcat_test: pier at $BROKER ($(kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*'))"

passed=0
failed=0
for t in test_metadata_lists_broker test_produce_consume_100_lines test_keys_round_trip \
         test_compression_codecs test_consumer_group_resumes; do
  set +e
  ( set -euo pipefail; "$t" )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    echo "ok - $t"
    passed=$((passed + 1))
  else
    echo "not ok - $t (exit $rc)"
    failed=$((failed + 1))
  fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "kcat_test: pier died during $t" >&2
    stderr_tail
    PID=""
    failed=$((failed + 1))
    break
  fi
done

rc=0
stop_pier || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "not ok - pier exits 0 on SIGTERM (exit $rc)"
  failed=$((failed + 1))
fi
[ "$failed" -eq 0 ] || stderr_tail
echo "kcat: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
