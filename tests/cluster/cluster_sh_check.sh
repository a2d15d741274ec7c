#!/usr/bin/env bash
# scripts/cluster.sh end to end, on loopback, in a temporary state dir on free ports:
#   up (and up again: already up) → status 0 → login through HAProxy → the token validates
#   on every replica directly (one Redis store, one signing key) → a WebSocket through HAProxy
#   gets the logout made on another replica (ZeroMQ fan-out) → kill 2 → status non-zero,
#   HAProxy still serves → restart 2 → status 0, the session is still there → stop redis →
#   validate 503 → start redis → the session is still there → down → no process left, ports
#   free, status non-zero.
#
#   tests/cluster/cluster_sh_check.sh [path/to/sessionhub]
#
# Needs redis-server, redis-cli, haproxy, curl and python3 (scripts/setup.sh installs them);
# fails, never skips, when one is missing. Everything it starts is stopped on any exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cluster=$root/scripts/cluster.sh
binary=${1:-${SESSIONHUB_BINARY:-$root/build/hub/sessionhub}}

fail() {
  echo "cluster_sh_check: FAIL: $*" >&2
  exit 1
}
step() { echo "cluster_sh_check: $*"; }

missing=()
for tool in redis-server redis-cli haproxy curl python3 setsid flock; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || fail "missing ${missing[*]} (scripts/setup.sh installs them)"
[ -x "$binary" ] || fail "no sessionhub binary at $binary"

# The test drives cluster.sh only through these; nothing of the caller's leaks in.
unset SESSIONHUB_CLUSTER_STORE SESSIONHUB_CLUSTER_HUB_ARGS SESSIONHUB_CLUSTER_ORIGINS
export SESSIONHUB_BINARY=$binary SESSIONHUB_CLUSTER_TIMEOUT=30
SESSIONHUB_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cluster-sh-check.XXXXXX")
export SESSIONHUB_CLUSTER_DIR

# A base port with base..base+10 all bindable on 127.0.0.1, below the usual ephemeral range.
SESSIONHUB_CLUSTER_PORT=$(
  python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 32000, 11)
    socks = []
    try:
        for p in range(base, base + 11):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
else:
    raise SystemExit("no free block of 11 ports")
PY
)
export SESSIONHUB_CLUSTER_PORT
state=$SESSIONHUB_CLUSTER_DIR

# Pids of every component seen so far, to prove none is left at the end.
seen_pids=()
remember_pids() {
  local f
  for f in "$state"/pids/*.pid; do
    [ -s "$f" ] && seen_pids+=("$(cat "$f")")
  done
  return 0
}

# True when pid is a live (non-zombie) process.
running() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  case ${st%% *} in Z | X) return 1 ;; *) return 0 ;; esac
}

cleanup() {
  local rc=$? pid
  trap - EXIT
  remember_pids
  timeout 60 "$cluster" down >/dev/null 2>&1 || true
  for pid in "${seen_pids[@]}"; do
    if running "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
  done
  if [ "$rc" != 0 ] && [ -d "$state/logs" ]; then
    for f in "$state"/logs/*.log; do
      echo "----- ${f##*/} (last 15 lines)" >&2
      tail -n 15 "$f" >&2 || true
    done
  fi
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT

cl() { timeout 120 "$cluster" "$@"; }

json_field() {  # json field → value (empty when absent)
  python3 -c 'import json,sys
v = json.loads(sys.argv[1]).get(sys.argv[2])
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else v))' "$1" "$2"
}

# curl to loopback, bounded; prints the body, then the status code on the last line.
request() {  # method url [curl args...]
  local method=$1 url=$2
  shift 2
  curl -s --max-time 10 -X "$method" -w '\n%{http_code}' "$@" "$url"
}

# ---------------------------------------------------------------------------------- up
step "up in $state on ports $SESSIONHUB_CLUSTER_PORT..$((SESSIONHUB_CLUSTER_PORT + 8))"
cl up || fail "cluster.sh up exited $?"
remember_pids
[ -s "$state/cluster.env" ] || fail "up wrote no cluster.env"
# shellcheck disable=SC1091
. "$state/cluster.env"
for key in CLUSTER_FRONT_URL CLUSTER_STATS_URL CLUSTER_REDIS_PORT CLUSTER_HUB1_URL CLUSTER_HUB2_URL \
  CLUSTER_HUB3_URL CLUSTER_HUB1_CLUSTER CLUSTER_API_KEY CLUSTER_DEMO_USER CLUSTER_DEMO_PASSWORD \
  CLUSTER_SIGNING_KEY CLUSTER_ALLOWED_ORIGINS CLUSTER_LOG_DIR CLUSTER_PID_DIR; do
  [ -n "${!key:-}" ] || fail "cluster.env has no $key"
done
[ "$CLUSTER_FRONT_URL" = "http://127.0.0.1:$SESSIONHUB_CLUSTER_PORT" ] ||
  fail "front is $CLUSTER_FRONT_URL, not on the base port"
for comp in redis hub1 hub2 hub3 haproxy; do
  [ -s "$CLUSTER_PID_DIR/$comp.pid" ] || fail "no pid file for $comp"
  pid=$(cat "$CLUSTER_PID_DIR/$comp.pid")
  running "$pid" || fail "$comp (pid $pid) is not running after up"
  # setsid: every component leads its own process group.
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "$comp is not a process group leader"
  [ -s "$CLUSTER_LOG_DIR/$comp.log" ] || fail "no log for $comp"
done
# Nothing listens outside loopback.
if command -v ss >/dev/null; then
  for p in $(seq "$SESSIONHUB_CLUSTER_PORT" $((SESSIONHUB_CLUSTER_PORT + 8))); do
    if ss -Hltn "sport = :$p" | awk '{print $4}' | grep -qv '^127\.0\.0\.1:'; then
      fail "port $p listens outside 127.0.0.1"
    fi
  done
fi

out=$(cl up) || fail "a second up on a running cluster exited non-zero"
grep -q "already up" <<<"$out" || fail "a second up did not say 'already up': $out"

step "status (all up)"
cl status || fail "status exited $? on a fresh cluster"

# ------------------------------------------------------------- one session, every replica
step "login through HAProxy"
body=$(printf '{"username":"%s","password":"%s","token_delivery":"body"}' \
  "$CLUSTER_DEMO_USER" "$CLUSTER_DEMO_PASSWORD")
out=$(request POST "$CLUSTER_FRONT_URL/v1/login" -H 'Content-Type: application/json' -d "$body")
[ "${out##*$'\n'}" = 200 ] || fail "login through HAProxy: ${out//$'\n'/ }"
login=${out%$'\n'*}
token=$(json_field "$login" access_token)
[ -n "$token" ] || fail "login answered no access_token: $login"
sid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["session"]["sid"])' "$login")

validate_everywhere() {  # what
  local n url out v
  for n in 1 2 3; do
    v="CLUSTER_HUB${n}_URL"
    url=${!v}
    out=$(request GET "$url/v1/validate" -H "Authorization: Bearer $token")
    [ "${out##*$'\n'}" = 200 ] || fail "$1: validate on hub$n ($url): ${out//$'\n'/ }"
    [ "$(json_field "${out%$'\n'*}" sid)" = "$sid" ] || fail "$1: hub$n names another session"
    [ "$(json_field "${out%$'\n'*}" active)" = true ] || fail "$1: hub$n says not active"
  done
}
step "validate on each replica directly"
validate_everywhere "after login"

# ------------------------------------------------ a tab through HAProxy, logout elsewhere
step "WebSocket through HAProxy; logout on another replica reaches it"
origin=${CLUSTER_ALLOWED_ORIGINS%%,*}
probe_out=$state/probe.out
python3 "$here/ws_probe.py" --url "$CLUSTER_FRONT_URL" --origin "$origin" --token "$token" \
  --expect-event logout --timeout 20 >"$probe_out" 2>&1 &
probe=$!
replica=""
for _ in $(seq 100); do
  if [ -s "$probe_out" ]; then
    replica=$(head -n 1 "$probe_out" | python3 -c 'import json,sys
try: print(json.loads(sys.stdin.readline()).get("replica") or "")
except ValueError: print("")')
    break
  fi
  kill -0 "$probe" 2>/dev/null || break
  sleep 0.1
done
[ -n "$replica" ] || { wait "$probe" || true; fail "no ready frame through HAProxy: $(cat "$probe_out")"; }
other=1
[ "$replica" = "$CLUSTER_HUB1_ID" ] && other=2
v="CLUSTER_HUB${other}_URL"
step "tab on $replica; logout through hub$other"
out=$(request POST "${!v}/v1/logout" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"scope":"session"}')
[ "${out##*$'\n'}" = 204 ] || fail "logout on hub$other: ${out//$'\n'/ }"
wait "$probe" || fail "the tab on $replica did not get the logout: $(cat "$probe_out")"
grep -q '"event": "logout"' "$probe_out" || fail "no logout event: $(cat "$probe_out")"

step "a second login for the restart checks"
out=$(request POST "$CLUSTER_FRONT_URL/v1/login" -H 'Content-Type: application/json' -d "$body")
[ "${out##*$'\n'}" = 200 ] || fail "second login: ${out//$'\n'/ }"
token=$(json_field "${out%$'\n'*}" access_token)
sid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["session"]["sid"])' "${out%$'\n'*}")

# ------------------------------------------------------------------------ kill, restart
step "kill 2"
hub2_pid=$(cat "$CLUSTER_PID_DIR/hub2.pid")
cl kill 2 || fail "kill 2 exited $?"
running "$hub2_pid" && fail "hub2 (pid $hub2_pid) still runs after kill 2"
if cl status; then fail "status exited 0 with hub2 killed"; fi
# HAProxy sends nothing to the dead replica for long: a refused connection is redispatched.
for i in 1 2 3 4 5 6; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$CLUSTER_FRONT_URL/readyz")
  [ "$code" = 200 ] || fail "request $i through HAProxy with hub2 dead answered $code"
done

step "restart 2"
cl restart 2 || fail "restart 2 exited $?"
remember_pids
[ "$(cat "$CLUSTER_PID_DIR/hub2.pid")" != "$hub2_pid" ] || fail "restart 2 kept the old pid"
cl status || fail "status exited $? after restart 2"
step "the session outlived the replica"
validate_everywhere "after restart 2"

step "stop redis: the replicas fail closed"
cl stop redis || fail "stop redis exited $?"
out=$(request GET "$CLUSTER_HUB1_URL/v1/validate" -H "Authorization: Bearer $token")
[ "${out##*$'\n'}" = 503 ] || fail "validate with Redis stopped: ${out//$'\n'/ }"
if cl status >/dev/null; then fail "status exited 0 with Redis stopped"; fi
step "start redis: the session is still there (append-only file)"
cl start redis || fail "start redis exited $?"
# The replicas reconnect on their own; HAProxy's checks take them back within a few seconds.
for _ in $(seq 100); do
  cl status >/dev/null 2>&1 && break
  sleep 0.2
done
cl status || fail "status exited $? after start redis"
validate_everywhere "after a Redis restart"

# ------------------------------------------------------------------------------- down
step "down"
remember_pids
cl down || fail "down exited $?"
for pid in "${seen_pids[@]}"; do
  running "$pid" && fail "pid $pid still runs after down"
done
for p in $(seq "$SESSIONHUB_CLUSTER_PORT" $((SESSIONHUB_CLUSTER_PORT + 8))); do
  if timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$p" 2>/dev/null; then fail "port $p still answers"; fi
done
[ -s "$state/logs/hub1.log" ] || fail "down removed the logs"
if cl status >/dev/null 2>&1; then fail "status exited 0 after down"; fi

step "PASS"
