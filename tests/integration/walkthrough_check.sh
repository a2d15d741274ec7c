#!/usr/bin/env bash
# Runs docs/walkthrough.sh (the README's curl session) against a fresh hub and checks that
# every step behaves as PROTOCOL §2 says. Usage: walkthrough_check.sh <sessionhub binary>
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
pid=""
# shellcheck source=tests/integration/start_hub.sh
. "$root/tests/integration/start_hub.sh"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

# A 3 s grace: steps 3 and 4 (refresh, then the racing refresh) must fall within it even for
# the sanitizer build on a busy machine; step 5 then waits it out.
start_hub "$bin" "$dir/log" --store "sqlite:$dir/hub.db" --api-key walkthrough-key \
  --reuse-interval-s 3 --refresh-rate-limit 0

out=$(HUB="http://127.0.0.1:$port" KEY=walkthrough-key GRACE=3 "$root/docs/walkthrough.sh")
echo "$out"
expect() { grep -qF -- "$1" <<<"$out" || { echo "MISSING: $1"; exit 1; }; }
expect '"active":true'
expect 'same successor: yes'
expect 'status 401'
expect 'refresh 401'
expect '"code":"session_revoked"'
grep -q '"msg":"refresh_token_reuse"' "$dir/log" || { echo "no reuse warning logged"; exit 1; }
echo "walkthrough: all steps as specified"
