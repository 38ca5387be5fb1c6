#!/usr/bin/env bash
# Memory under a steady simulated load: `pier serve` on a data directory,
# a simulated producer at RATE msg/s (1 KiB) and a simulated consumer group
# of 3 draining it, for MINUTES; prints the broker's resident memory every
# 30 s. Usage: bench/soak.sh [MINUTES=10] [RATE=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-10}"
RATE="${2:-1000}"
BIN="${PIER_BIN:-target/release/pier}"
DIR="$(mktemp -d)"
"$BIN" serve --data-dir "$DIR/data" --kafka 127.0.0.1:0 --http 127.0.0.1:0 >"$DIR/out" 2>"$DIR/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -q '^pier ready' "$DIR/out" && break; sleep 0.1; done
HTTP="$(sed -n 's/^pier ready .*http=\([^ ]*\) .*/\1/p' "$DIR/out")"
post() { curl -sf -XPOST "http://$HTTP$1" -H 'content-type: application/json' -d "$2" >/dev/null; }
post /api/v1/topics '{"name":"soak","partitions":3,"config":{"retention.ms":"60000"}}'
post /api/v1/simulations/producers "{\"topic\":\"soak\",\"rate\":$RATE,\"value_bytes\":1024}"
post /api/v1/simulations/consumers '{"topic":"soak","group":"soakers","members":3,"processing_ms":0}'
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
echo "minute rss_kib produced accepted backlog"
end=$((SECONDS + MINUTES * 60))
while [ $SECONDS -lt $end ]; do
  q="$(curl -sf "http://$HTTP/api/v1/queues/sim-soakers")"
  t="$(curl -sf "http://$HTTP/api/v1/topics/soak")"
  printf '%5.1f %8s %9s %9s %7s\n' "$(echo "$SECONDS/60" | bc -l)" "$(rss)" \
    "$(echo "$t" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(sum(p["high_watermark"] for p in t["partitions"]))')" \
    "$(echo "$q" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')" \
    "$(echo "$q" | python3 -c 'import json,sys; q=json.load(sys.stdin); print(q["backlog"]+q["in_flight"])')"
  sleep 30
done
