#!/usr/bin/env bash
# Installs what the cross-language client tests need: kcat (Debian), a Python
# venv with kafka-python and confluent-kafka, and kafkajs for Node.
# Idempotent and quick when everything is already in place.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

log() { printf '\033[1m[clients setup]\033[0m %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------
# Node 20 and npm are expected on the machine already; kcat, venv, and Java
# 17 + Maven for the reference Kafka (where no java/mvn is on the PATH).
APT_PACKAGES=(kcat python3-venv)
command -v java >/dev/null || APT_PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || APT_PACKAGES+=(maven)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing Debian packages (run as root or install them): ${missing[*]}"
  fi
fi
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { log "error: $tool not found (Node 20 + npm required)"; exit 1; }
done

# --- Python venv ------------------------------------------------------------
# Debian's python3 (with python3-venv) unless PIER_TEST_PYTHON names another.
PY="${PIER_TEST_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY="$(command -v python3)"; fi
fi
VENV="$HERE/.venv"
REQ="$HERE/python/requirements.txt"
if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "venv at $VENV is broken; recreating"
  rm -rf "$VENV"
fi
if [ ! -d "$VENV" ]; then
  log "creating venv $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
want="$( { cat "$REQ"; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$VENV/.requirements.sha256"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "pip install -r python/requirements.txt"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" >"$stamp"
fi

# --- Node: kafkajs ------------------------------------------------------------
NODE_DIR="$HERE/node"
want="$(cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"
stamp="$NODE_DIR/node_modules/.pier-setup.sha256"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "npm ci (tests/clients/node)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
fi

# --- The reference Apache Kafka 4.4 (Maven jars) -----------------------------
# The differential tests run the same scenarios against Pier and against it.
for tool in java mvn; do
  command -v "$tool" >/dev/null || { log "error: $tool not found (Java 17+ and Maven fetch and run the reference Kafka)"; exit 1; }
done
"$HERE/../reference/kafka" fetch
