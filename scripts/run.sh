#!/usr/bin/env bash
# Runs the hub and its demo for a person to try on this machine: installs what is missing,
# builds, and starts sessionhub on http://127.0.0.1:8080 with the embedded SQLite store
# under ./data/, a demo users file (user "demo") and a server API key, plus the two demo
# micro-apps (Analytics on :8081, CRM on :8082). Credentials are made on the first run,
# kept in ./data/ and printed every time. Extra arguments go to sessionhub.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target sessionhub

mkdir -p data
chmod 700 data
if [ ! -s data/demo-password ]; then
  head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12 >data/demo-password
fi
if [ ! -s data/users ]; then
  printf 'demo:%s\n' "$(./build/hub/sessionhub hash-password <data/demo-password)" >data/users
fi
if [ ! -s data/api-key ]; then
  head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >data/api-key
fi

# The demo apps: a dependency-free static server, stopped with the hub.
node web-client/demo/serve.mjs --hub http://127.0.0.1:8080 >data/demo-server.log 2>&1 &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true' EXIT

cat <<INFO
sessionhub
  hub        http://127.0.0.1:8080   (health: /healthz, keys: /.well-known/jwks.json)
  demo       http://127.0.0.1:8081 (Analytics)   http://127.0.0.1:8082 (CRM)
             http://127.0.0.1:8081/side-by-side.html (both at once)
  login      user "demo", password "$(cat data/demo-password)"   (POST /v1/login)
  API key    $(cat data/api-key)   (Authorization: Bearer ... for /v1/sessions, /v1/stats)
  store      sqlite:./data/sessionhub.db   (signing key: ./data/signing-key.pem)
  stop       Ctrl-C (drains and exits)
INFO

./build/hub/sessionhub \
  --listen 127.0.0.1:8080 \
  --store sqlite:./data/sessionhub.db \
  --users-file data/users \
  --api-key "$(cat data/api-key)" \
  --allowed-origin http://127.0.0.1:8081 \
  --allowed-origin http://127.0.0.1:8082 \
  "$@"
