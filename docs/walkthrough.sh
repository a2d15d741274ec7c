#!/usr/bin/env bash
# The README's curl session: create → validate → refresh → race → reuse → revoked
# (PROTOCOL §2). Run it against a hub started by ./scripts/run.sh; tests run it too.
set -euo pipefail
HUB=${HUB:-http://127.0.0.1:8080}
KEY=${KEY:-$(cat data/api-key)}
GRACE=${GRACE:-10}  # the hub's --reuse-interval-s
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "1. a backend creates a session for alice: 201 with a refresh token"
S1=$(curl -sf -X POST "$HUB/v1/sessions" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"sub":"alice","claims":{"tenant":"acme"}}')
AT=$(json '["access_token"]' <<<"$S1")
RT=$(json '["refresh_token"]' <<<"$S1")
echo "   sid $(json '["session"]["sid"]' <<<"$S1")"

echo "2. a resource server validates the access token"
curl -s "$HUB/v1/validate" -H "Authorization: Bearer $AT"; echo

echo "3. refresh: a new pair, and the old refresh token becomes 'previous'"
S2=$(curl -s -X POST "$HUB/v1/refresh" -d "{\"refresh_token\":\"$RT\"}")
RT2=$(json '["refresh_token"]' <<<"$S2")
echo "   new refresh token ${RT2:0:8}…"

echo "4. race: another tab presents the same old token within the grace: the SAME pair"
S3=$(curl -s -X POST "$HUB/v1/refresh" -d "{\"refresh_token\":\"$RT\"}")
[ "$(json '["refresh_token"]' <<<"$S3")" = "$RT2" ] && echo "   same successor: yes"

echo "5. reuse: the old token after the grace: 401 invalid_grant, the session is revoked"
sleep $((GRACE + 1))
curl -s -o /dev/stderr -w '   status %{http_code}\n' -X POST "$HUB/v1/refresh" \
  -d "{\"refresh_token\":\"$RT\"}" 2>/dev/null

echo "6. revoked: the newest refresh token and the access token are dead too"
curl -s -o /dev/null -w '   refresh %{http_code}\n' -X POST "$HUB/v1/refresh" \
  -d "{\"refresh_token\":\"$RT2\"}"
curl -s "$HUB/v1/validate" -H "Authorization: Bearer $AT"; echo
