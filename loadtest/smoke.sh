#!/usr/bin/env bash
# The benchmark tooling, end to end and briefly: shubload's fanout, broadcast, connect and
# (for sessionhub) refresh scenarios against sessionhub and against every peer of
# loadtest/peers/ (nchan, Socket.IO, Socket.IO with its Redis adapter, ws), each on a few
# hundred connections for a second. Every run must subscribe every connection and lose no
# delivery. Not a measurement (loadtest/compare.sh is); a check that the tools measure.
#
#   loadtest/smoke.sh path/to/shubload path/to/sessionhub
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
loader=${1:?shubload}
hub=${2:?sessionhub}
work=$(mktemp -d "${TMPDIR:-/tmp}/loadtest-smoke.XXXXXX")
hub_pid=""
peer_dirs=()

cleanup() {
  local rc=$? d
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null || true
  for d in "${peer_dirs[@]}"; do "$here/peers/peer.sh" stop --dir "$d" >/dev/null 2>&1 || true; done
  [ "$rc" = 0 ] || tail -n 20 "$work"/*.log 2>/dev/null >&2 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

fail() {
  echo "loadtest smoke: FAIL: $*" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A JSON number field of the loader's report.
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

check() {  # name json connections
  local got lost
  got=$(field "$2" connections)
  [ "$got" = "$3" ] || fail "$1: $got of $3 connections subscribed ($(field "$2" first_error 2>/dev/null || true))"
  if python3 -c 'import json,sys; sys.exit(0 if "lost" in json.load(open(sys.argv[1])) else 1)' "$2"; then
    lost=$(field "$2" lost)
    [ "$lost" = 0 ] || fail "$1: $lost deliveries lost"
    [ "$(field "$2" received)" -gt 0 ] || fail "$1: nothing delivered"
  fi
  echo "loadtest smoke: $1 ok"
}

run_target() {  # label target url pids...
  local label=$1 target=$2 url=$3
  shift 3
  local pids=()
  for p in "$@"; do pids+=(--server-pid "$p"); done
  "$loader" fanout --target "$target" --url "$url" -n 300 -s 30 -r 300 -d 1 "${pids[@]}" \
    --json "$work/$label-fanout.json" >"$work/$label-fanout.log" 2>&1 ||
    fail "$label fanout exited $?: $(cat "$work/$label-fanout.log")"
  check "$label fanout" "$work/$label-fanout.json" 300
  "$loader" broadcast --target "$target" --url "$url" -n 300 -d 1 "${pids[@]}" \
    --json "$work/$label-broadcast.json" >"$work/$label-broadcast.log" 2>&1 ||
    fail "$label broadcast exited $?: $(cat "$work/$label-broadcast.log")"
  check "$label broadcast" "$work/$label-broadcast.json" 300
}

# --- sessionhub ---------------------------------------------------------------------------
port=$(free_port)
"$hub" --listen "127.0.0.1:$port" --store "sqlite:$work/hub/sessions.db" --api-key load-key \
  --allowed-origin http://load.example.test --refresh-rate-limit 0 \
  --max-connections-per-ip 100000 --ws-connect-rate-limit 0 >"$work/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break
  kill -0 "$hub_pid" 2>/dev/null || fail "sessionhub exited at start: $(cat "$work/hub.log")"
  sleep 0.1
done
run_target sessionhub sessionhub "http://127.0.0.1:$port" "$hub_pid"
"$loader" connect --url "http://127.0.0.1:$port" -n 300 -s 30 --server-pid "$hub_pid" \
  --json "$work/connect.json" >"$work/connect.log" 2>&1 || fail "connect: $(cat "$work/connect.log")"
check "sessionhub connect" "$work/connect.json" 300
"$loader" refresh --url "http://127.0.0.1:$port" -n 8 --race 2 -d 1 --json "$work/refresh.json" \
  >"$work/refresh.log" 2>&1 || fail "refresh (racing tabs must agree): $(cat "$work/refresh.log")"
[ "$(field "$work/refresh.json" rotations)" -gt 0 ] || fail "refresh: no rotation"
echo "loadtest smoke: sessionhub refresh ok"
kill "$hub_pid"
wait "$hub_pid" 2>/dev/null || true
hub_pid=""

# --- the peers ----------------------------------------------------------------------------
for peer in nchan socketio socketio-redis ws; do
  port=$(free_port)
  dir="$work/peer-$peer"
  peer_dirs+=("$dir")
  out=$("$here/peers/peer.sh" start "$peer" --port "$port" --dir "$dir") || fail "$peer did not start"
  mapfile -t pids < <(sed -n 's/^PID=//p' <<<"$out")
  target=$peer
  [ "$peer" = socketio-redis ] && target=socketio
  run_target "$peer" "$target" "http://127.0.0.1:$port" "${pids[@]}"
  "$here/peers/peer.sh" stop --dir "$dir"
done
echo "loadtest smoke: PASS"
