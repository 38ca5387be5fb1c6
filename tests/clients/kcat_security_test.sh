#!/usr/bin/env bash
# kcat (librdkafka, Debian's 2.0.2) over Pier's SASL and TLS listeners:
# produce/consume of 20 distinct lines over SASL_PLAINTEXT (PLAIN,
# SCRAM-SHA-256, SCRAM-SHA-512), SSL and SASL_SSL; a wrong password and an
# unknown user exit non-zero with an authentication error; plaintext kcat on
# the SSL and SASL ports exits non-zero (no hang) and the broker keeps serving;
# after a restart with an expired certificate, TLS kcat refuses the broker
# and the plaintext listener still serves the records stored before.
# Every refusal is followed by a control: the same listener, correctly
# configured, round-trips records.
# Usage: tests/clients/kcat_security_test.sh   (PIER_BIN selects the broker binary)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

PIER_BIN="${PIER_BIN:-target/debug/pier}"
case "$PIER_BIN" in
  /*) ;;
  *) if [ -e "$PWD/$PIER_BIN" ]; then PIER_BIN="$PWD/$PIER_BIN"; else PIER_BIN="$REPO_ROOT/$PIER_BIN"; fi ;;
esac
[ -x "$PIER_BIN" ] || { echo "kcat_security_test: Pier binary not found at $PIER_BIN (set PIER_BIN or build it first)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat_security_test: kcat not installed (run tests/clients/setup.sh)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pier-kcat-sec.XXXXXX")"
DATA="$WORK/data"
CA="$DATA/tls/ca.pem"
USER_NAME=alice
PASSWORD=wonderland
PID=""
# kcat gives up on its own well before this; reaching it (exit 124) is a hang.
KCAT_TIMEOUT=20

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
    echo "kcat_security_test: pier did not exit within 20 s of SIGTERM; killing it" >&2
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

tls_init() { # tls_init [--expired --force]
  "$PIER_BIN" tls init --data-dir "$DATA" "$@" >"$WORK/tls-init.out" 2>&1 \
    || { cat "$WORK/tls-init.out" >&2; echo "kcat_security_test: pier tls init $* failed" >&2; exit 1; }
}

ready_value() { # ready_value KEY LINE: the HOST:PORT after KEY= in the ready line
  local kv
  for kv in $2; do
    if [ "${kv%%=*}" = "$1" ]; then echo "${kv#*=}"; return 0; fi
  done
  return 1
}

start_pier() {
  "$PIER_BIN" serve --data-dir "$DATA" --kafka 127.0.0.1:0 --http 127.0.0.1:0 \
    --kafka-listener SASL_PLAINTEXT://127.0.0.1:0 --kafka-listener SSL://127.0.0.1:0 \
    --kafka-listener SASL_SSL://127.0.0.1:0 --sasl-user "$USER_NAME:$PASSWORD" \
    >"$WORK/pier.stdout" 2>>"$WORK/pier.stderr" </dev/null &
  PID=$!
  local i line
  for i in $(seq 1 300); do
    if [ "$(wc -l <"$WORK/pier.stdout")" -ge 1 ]; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "kcat_security_test: pier exited before printing its ready line" >&2; stderr_tail; PID=""; exit 1
    fi
    sleep 0.1
  done
  line="$(head -n 1 "$WORK/pier.stdout")"
  if [[ ! "$line" =~ ^pier\ ready\ kafka=[^[:space:]]+\ http= ]]; then
    echo "kcat_security_test: no ready line from pier within 30 s (got: '$line')" >&2; stderr_tail; exit 1
  fi
  PLAINTEXT="$(ready_value kafka "$line")"
  SASL_PLAINTEXT="$(ready_value sasl_plaintext "$line")" \
    && SSL="$(ready_value ssl "$line")" \
    && SASL_SSL="$(ready_value sasl_ssl "$line")" \
    || { echo "kcat_security_test: ready line lacks a listener: '$line'" >&2; exit 1; }
}

# Client settings, as kcat -X arguments, for one listener.
sasl() { echo "-X security.protocol=$1 -X sasl.mechanisms=$2 -X sasl.username=$3 -X sasl.password=$4"; }
tls() { echo "-X ssl.ca.location=$CA"; }

fail() { echo "    $*" >&2; return 1; }

# round_trip NAME BROKER SETTINGS...: 20 distinct lines produced, read back
# (-e: to the end), compared as sorted lists (a lost or duplicated line fails).
round_trip() {
  local name="$1" broker="$2" t
  shift 2
  t="kcat-sec-$RANDOM$RANDOM"
  for i in $(seq 1 20); do echo "$name $t line-$i $RANDOM"; done >"$WORK/$t.in"
  timeout "$KCAT_TIMEOUT" kcat -b "$broker" "$@" -P -t "$t" -X acks=all -X message.timeout.ms=15000 <"$WORK/$t.in" \
    || fail "$name: producing 20 lines failed"
  timeout "$KCAT_TIMEOUT" kcat -b "$broker" "$@" -C -t "$t" -o beginning -e -q >"$WORK/$t.out" \
    || fail "$name: consuming failed"
  if ! diff <(sort "$WORK/$t.in") <(sort "$WORK/$t.out") >"$WORK/$t.diff"; then
    echo "    $name: consumed lines differ from produced (< missing, > unexpected or duplicated):" >&2
    head -n 20 "$WORK/$t.diff" >&2
    return 1
  fi
  LAST_TOPIC="$t"
}

# refused NAME PATTERN BROKER SETTINGS...: producing one line must exit
# non-zero before KCAT_TIMEOUT, with PATTERN (grep -E) in kcat's stderr.
refused() {
  local name="$1" pattern="$2" broker="$3" rc=0
  shift 3
  echo "must not be stored" | timeout "$KCAT_TIMEOUT" kcat -b "$broker" "$@" -P -t "kcat-refused-$RANDOM" \
    -X message.timeout.ms=15000 >"$WORK/refused.out" 2>"$WORK/refused.err" || rc=$?
  [ "$rc" -ne 0 ] || fail "$name: kcat exited 0: the broker accepted it"
  [ "$rc" -ne 124 ] || fail "$name: kcat still running after ${KCAT_TIMEOUT} s (a hang, not a refusal)"
  grep -Eq "$pattern" "$WORK/refused.err" || { sed 's/^/      /' "$WORK/refused.err" | head -n 10 >&2; fail "$name: no /$pattern/ in kcat's stderr"; }
}

# ---------------------------------------------------------------------------

# shellcheck disable=SC2046 # the settings are meant to split into arguments
test_sasl_plaintext_plain() { round_trip "SASL_PLAINTEXT PLAIN" "$SASL_PLAINTEXT" $(sasl SASL_PLAINTEXT PLAIN "$USER_NAME" "$PASSWORD"); }
# shellcheck disable=SC2046
test_sasl_plaintext_scram_sha_256() { round_trip "SASL_PLAINTEXT SCRAM-SHA-256" "$SASL_PLAINTEXT" $(sasl SASL_PLAINTEXT SCRAM-SHA-256 "$USER_NAME" "$PASSWORD"); }
# shellcheck disable=SC2046
test_sasl_plaintext_scram_sha_512() { round_trip "SASL_PLAINTEXT SCRAM-SHA-512" "$SASL_PLAINTEXT" $(sasl SASL_PLAINTEXT SCRAM-SHA-512 "$USER_NAME" "$PASSWORD"); }
# shellcheck disable=SC2046
test_ssl() { round_trip "SSL" "$SSL" -X security.protocol=SSL $(tls); }
# shellcheck disable=SC2046
test_sasl_ssl_scram_sha_512() { round_trip "SASL_SSL SCRAM-SHA-512" "$SASL_SSL" $(sasl SASL_SSL SCRAM-SHA-512 "$USER_NAME" "$PASSWORD") $(tls); }
# shellcheck disable=SC2046
test_sasl_ssl_plain() { round_trip "SASL_SSL PLAIN" "$SASL_SSL" $(sasl SASL_SSL PLAIN "$USER_NAME" "$PASSWORD") $(tls); }

# shellcheck disable=SC2046
test_wrong_password_and_unknown_user_are_refused() {
  local mech
  for mech in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
    refused "wrong password, $mech" "Authentication" "$SASL_PLAINTEXT" $(sasl SASL_PLAINTEXT "$mech" "$USER_NAME" "$PASSWORD-wrong")
    refused "unknown user, $mech" "Authentication" "$SASL_PLAINTEXT" $(sasl SASL_PLAINTEXT "$mech" mallory "$PASSWORD")
  done
  refused "wrong password, SASL_SSL SCRAM-SHA-512" "Authentication" "$SASL_SSL" $(sasl SASL_SSL SCRAM-SHA-512 "$USER_NAME" "$PASSWORD-wrong") $(tls)
  round_trip "SASL_PLAINTEXT SCRAM-SHA-512 after the refusals" "$SASL_PLAINTEXT" $(sasl SASL_PLAINTEXT SCRAM-SHA-512 "$USER_NAME" "$PASSWORD")
}

# shellcheck disable=SC2046
test_plaintext_kcat_on_secured_ports_is_refused() {
  refused "plaintext kcat on the SSL port" "transport failure|Disconnected" "$SSL"
  refused "plaintext kcat on the SASL_SSL port" "transport failure|Disconnected" "$SASL_SSL"
  refused "kcat without SASL on the SASL_PLAINTEXT port" "transport failure|Disconnected" "$SASL_PLAINTEXT"
  refused "TLS kcat on the plaintext port" "SSL|transport failure|Disconnected" "$PLAINTEXT" -X security.protocol=SSL $(tls)
  round_trip "PLAINTEXT after the refusals" "$PLAINTEXT"
  round_trip "SSL after the refusals" "$SSL" -X security.protocol=SSL $(tls)
}

test_records_before_restart() {
  round_trip "PLAINTEXT before the restart" "$PLAINTEXT"
  echo "$LAST_TOPIC" >"$WORK/kept"
}

# Runs after Pier was restarted with a certificate that expired yesterday.
# shellcheck disable=SC2046
test_expired_certificate_is_refused() {
  local kept
  kept="$(cat "$WORK/kept")"
  refused "SSL kcat against an expired certificate" "certificate verify failed" "$SSL" -X security.protocol=SSL $(tls)
  refused "SASL_SSL kcat against an expired certificate" "certificate verify failed" "$SASL_SSL" $(sasl SASL_SSL SCRAM-SHA-512 "$USER_NAME" "$PASSWORD") $(tls)
  # The control: the plaintext listener serves, and still has the records.
  timeout "$KCAT_TIMEOUT" kcat -b "$PLAINTEXT" -C -t "$kept" -o beginning -e -q >"$WORK/kept.out" \
    || fail "consuming $kept after the restart failed"
  diff <(sort "$WORK/$kept.in") <(sort "$WORK/kept.out") >&2 || fail "the records of $kept differ after the restart"
  round_trip "PLAINTEXT with an expired certificate" "$PLAINTEXT"
}

# ---------------------------------------------------------------------------

tls_init
start_pier
echo "kcat_security_test: pier at $PLAINTEXT, sasl_plaintext=$SASL_PLAINTEXT ssl=$SSL sasl_ssl=$SASL_SSL ($(kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*'))"

passed=0
failed=0
# Not called as `run_test X || ...`: in that context bash would ignore the
# subshell's set -e, and a failing step would not fail the test.
run_test() { # run_test NAME: in a subshell with errexit
  local rc
  set +e
  ( set -euo pipefail; "$1" )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    echo "ok - $1"
    passed=$((passed + 1))
  else
    echo "not ok - $1 (exit $rc)"
    failed=$((failed + 1))
  fi
}

pier_alive() { # pier_alive NAME: counts a failure if Pier died during test NAME
  kill -0 "$PID" 2>/dev/null && return 0
  echo "kcat_security_test: pier died during $1" >&2
  stderr_tail
  PID=""
  failed=$((failed + 1))
  return 1
}

alive=1
for t in test_sasl_plaintext_plain test_sasl_plaintext_scram_sha_256 test_sasl_plaintext_scram_sha_512 \
         test_ssl test_sasl_ssl_scram_sha_512 test_sasl_ssl_plain \
         test_wrong_password_and_unknown_user_are_refused test_plaintext_kcat_on_secured_ports_is_refused \
         test_records_before_restart; do
  run_test "$t"
  pier_alive "$t" || { alive=0; break; }
done

if [ "$alive" -eq 1 ]; then
  # Restart on the same data directory with a certificate that expired
  # yesterday. In this shell, which owns PID.
  rc=0
  stop_pier || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "not ok - pier exits 0 on SIGTERM before the restart (exit $rc)"
    failed=$((failed + 1))
  fi
  tls_init --expired --force
  start_pier
  run_test test_expired_certificate_is_refused
  pier_alive test_expired_certificate_is_refused || true
fi

rc=0
stop_pier || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "not ok - pier exits 0 on SIGTERM (exit $rc)"
  failed=$((failed + 1))
fi
[ "$failed" -eq 0 ] || stderr_tail
echo "kcat security: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
