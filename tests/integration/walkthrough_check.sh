#!/usr/bin/env bash
# Runs docs/walkthrough.sh (the README's curl session) against a fresh hub and checks that
# every step behaves as PROTOCOL §2 says. Usage: walkthrough_check.sh <sessionhub binary>
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

"$bin" --listen 127.0.0.1:0 --store "sqlite:$dir/hub.db" --api-key walkthrough-key \
  --reuse-interval-s 1 --refresh-rate-limit 0 >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$dir/log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "${port:-}" ] || { cat "$dir/log"; echo "hub did not start"; exit 1; }

out=$(HUB="http://127.0.0.1:$port" KEY=walkthrough-key GRACE=1 "$root/docs/walkthrough.sh")
echo "$out"
expect() { grep -qF -- "$1" <<<"$out" || { echo "MISSING: $1"; exit 1; }; }
expect '"active":true'
expect 'same successor: yes'
expect 'status 401'
expect 'refresh 401'
expect '"code":"session_revoked"'
grep -q '"msg":"refresh_token_reuse"' "$dir/log" || { echo "no reuse warning logged"; exit 1; }
echo "walkthrough: all steps as specified"
