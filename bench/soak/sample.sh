#!/usr/bin/env bash
# Samples a running broker every 20 s until it exits: seconds, resident
# memory (KiB), open file descriptors, data directory bytes.
# Usage: bench/soak/sample.sh PID DATA_DIR OUT.csv   (plot: bench/soak/plot.py)
PID=$1; DATA=$2; OUT=$3
echo "t_s,rss_kib,fds,data_bytes" > "$OUT"
start=$(date +%s)
while kill -0 "$PID" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status 2>/dev/null)
  fds=$(ls /proc/$PID/fd 2>/dev/null | wc -l)
  bytes=$(du -sb "$DATA" 2>/dev/null | cut -f1)
  echo "$(( $(date +%s) - start )),$rss,$fds,$bytes" >> "$OUT"
  sleep 20
done
