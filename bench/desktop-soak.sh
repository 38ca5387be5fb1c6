#!/usr/bin/env bash
# Memory of the desktop app under a steady simulated load: pier-desktop in
# a real window (Xvfb) on the Overview screen, so the webview keeps
# rendering the live charts, with its own XDG_DATA_HOME/XDG_CONFIG_HOME and
# free ports; a simulated producer at RATE msg/s (1 KiB) and a simulated
# consumer group of 3 draining it, started through the app's HTTP API.
# Every 30 s prints the resident memory (VmRSS, KiB) of the app process
# (which also runs the broker), of its WebKitWebProcess and
# WebKitNetworkProcess, and their total; plus the CPU seconds the web
# process has used (it keeps rising while the window renders) and the
# records produced and accepted. The headless version is bench/soak.sh.
# Usage: bench/desktop-soak.sh [SECONDS=600] [RATE=1000]
#   PIER_DESKTOP_BIN (default target/debug/pier-desktop)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-600}"
RATE="${2:-1000}"
BIN="$(realpath "${PIER_DESKTOP_BIN:-target/debug/pier-desktop}")"
DIR="$(mktemp -d)"
APP=""
XVFB=""
cleanup() {
  [ -n "$APP" ] && kill "$APP" 2>/dev/null
  [ -n "$XVFB" ] && kill "$XVFB" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KAFKA_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
while [ "$HTTP_PORT" = "$KAFKA_PORT" ]; do HTTP_PORT="$(free_port)"; done
export XDG_DATA_HOME="$DIR/data" XDG_CONFIG_HOME="$DIR/config"
mkdir -p "$XDG_DATA_HOME/dev.pier.workbench"
printf '{"settings":{"kafka_port":%s,"http_port":%s}}\n' "$KAFKA_PORT" "$HTTP_PORT" >"$XDG_DATA_HOME/dev.pier.workbench/settings.json"

# Xvfb picks a free display and writes its number to fd 3.
exec 3>"$DIR/display"
Xvfb -displayfd 3 -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
exec 3>&-
for _ in $(seq 100); do [ -s "$DIR/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$DIR/display")"

"$BIN" >"$DIR/app.out" 2>"$DIR/app.err" &
APP=$!
HTTP="127.0.0.1:$HTTP_PORT"
for _ in $(seq 300); do curl -sf "http://$HTTP/api/v1/broker" >/dev/null && break; sleep 0.1; done
curl -sf "http://$HTTP/api/v1/broker" >/dev/null || { echo "the app's HTTP API did not come up" >&2; cat "$DIR/app.err" >&2; exit 1; }
post() { curl -sf -XPOST "http://$HTTP$1" -H 'content-type: application/json' -d "$2" >/dev/null; }
post /api/v1/topics '{"name":"soak","partitions":3,"config":{"retention.ms":"60000"}}'
post /api/v1/simulations/producers "{\"topic\":\"soak\",\"rate\":$RATE,\"value_bytes\":1024}"
post /api/v1/simulations/consumers '{"topic":"soak","group":"soakers","members":3,"processing_ms":0}'

# Descendants of the app (WebKitGTK may start its processes through a
# sandbox helper, so not only direct children).
descendants() {
  local kids
  kids="$(pgrep -P "$1" || true)"
  for k in $kids; do echo "$k"; descendants "$k"; done
}
rss_of() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_of() { awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
sum_rss_named() {
  local name="$1" total=0 p
  for p in $(descendants "$APP"); do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$name" ]; then total=$((total + $(rss_of "$p"))); fi
  done
  echo "$total"
}
web_cpu() {
  local p
  for p in $(descendants "$APP"); do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "WebKitWebProces" ]; then cpu_of "$p"; return; fi
  done
  echo 0
}

echo "pier-desktop $BIN on $DISPLAY, Kafka $KAFKA_PORT, HTTP $HTTP_PORT, $RATE msg/s for ${DURATION}s"
echo "    s  app_kib  webproc_kib  netproc_kib  total_kib  web_cpu_s  produced  accepted"
start=$SECONDS
next=$start
while :; do
  kill -0 "$APP" 2>/dev/null || { echo "the app exited" >&2; cat "$DIR/app.err" >&2; exit 1; }
  # /proc/PID/comm is cut to 15 characters.
  app="$(rss_of "$APP")"
  web="$(sum_rss_named WebKitWebProces)"
  net="$(sum_rss_named WebKitNetworkPr)"
  produced="$(curl -sf "http://$HTTP/api/v1/topics/soak" | python3 -c 'import json,sys; print(sum(p["high_watermark"] for p in json.load(sys.stdin)["partitions"]))')"
  accepted="$(curl -sf "http://$HTTP/api/v1/queues/sim-soakers" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')"
  printf '%5d %8d %12d %12d %10d %10s %9s %9s\n' "$((SECONDS - start))" "$app" "$web" "$net" "$((app + web + net))" "$(web_cpu)" "$produced" "$accepted"
  [ $((SECONDS - start)) -ge "$DURATION" ] && break
  next=$((next + 30))
  [ $((next - SECONDS)) -gt 0 ] && sleep $((next - SECONDS))
done
