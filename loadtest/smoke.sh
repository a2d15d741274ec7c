#!/usr/bin/env bash
# The benchmark tooling, end to end and briefly: shubload's fanout, broadcast, connect and
# (for sessionhub) refresh scenarios against sessionhub and against every peer of
# loadtest/peers/ (nchan, Socket.IO, Socket.IO with its Redis adapter, ws), each on a few
# hundred connections for a second, then cluster_compare.sh and refresh_rate.sh as briefly.
# Every run must subscribe every connection and lose no delivery. Not a measurement (loadtest/compare.sh is); a check that the tools measure.
#
#   loadtest/smoke.sh path/to/shubload path/to/sessionhub
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
loader=${1:?shubload}
hub=${2:?sessionhub}
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
lt_scratch smoke

check() {  # name json connections
  local got lost
  got=$(lt_field "$2" connections)
  [ "$got" = "$3" ] || lt_fail "$1: $got of $3 connections subscribed ($(lt_field "$2" first_error))"
  lost=$(lt_field "$2" lost)
  if [ -n "$lost" ]; then
    [ "$lost" = 0 ] || lt_fail "$1: $lost deliveries lost"
    [ "$(lt_field "$2" received)" -gt 0 ] || lt_fail "$1: nothing delivered"
  fi
  echo "loadtest smoke: $1 ok"
}

run() {  # label scenario connections loader-args...
  local label=$1 scenario=$2 n=$3
  shift 3
  "$loader" "$scenario" -n "$n" "$@" --json "$work/$label-$scenario.json" \
    >"$work/$label-$scenario.log" 2>&1 ||
    lt_fail "$label $scenario exited $?: $(cat "$work/$label-$scenario.log")"
  check "$label $scenario" "$work/$label-$scenario.json" "$n"
}

both() {  # label target url pids...
  local label=$1 target=$2 url=$3
  shift 3
  local pids=()
  for p in "$@"; do pids+=(--server-pid "$p"); done
  run "$label" fanout 300 --target "$target" --url "$url" -s 30 -r 300 -d 1 "${pids[@]}"
  run "$label" broadcast 300 --target "$target" --url "$url" -d 1 "${pids[@]}"
}

port=$(lt_free_port)
lt_start_hub "$hub" "$port"
url=http://127.0.0.1:$port
both sessionhub sessionhub "$url" "$lt_hub_pid"
run sessionhub connect 300 --url "$url" -s 30 --server-pid "$lt_hub_pid"
"$loader" refresh --url "$url" -n 8 --race 2 -d 1 --json "$work/refresh.json" \
  >"$work/refresh.log" 2>&1 || lt_fail "refresh (racing tabs must agree): $(cat "$work/refresh.log")"
[ "$(lt_field "$work/refresh.json" rotations)" -gt 0 ] || lt_fail "refresh: no rotation"
echo "loadtest smoke: sessionhub refresh ok"
lt_stop_hub

for peer in nchan socketio socketio-redis ws; do
  port=$(lt_free_port)
  lt_start_peer "$peer" "$port"
  target=$peer
  [ "$peer" = socketio-redis ] && target=socketio
  both "$peer" "$target" "http://127.0.0.1:$port" "${lt_peer_pids[@]}"
  lt_stop_peer
done

# The cluster and refresh-rate scripts, at a size that only shows they run and measure.
CLUSTER_CONNECTIONS=300 CLUSTER_CHANNELS=30 CLUSTER_RATE=300 DURATION=1 SHUBLOAD=$loader \
  SESSIONHUB_BINARY=$hub "$here/cluster_compare.sh" --out "$work/cluster" >"$work/cluster.log" 2>&1 ||
  lt_fail "cluster_compare.sh: $(tail -20 "$work/cluster.log")"
for s in sessionhub socketio-redis; do
  check "cluster_compare $s" "$work/cluster/$s-cluster.json" 300
  grep -Eq "^$s +[0-9,]+ +[0-9,]+ +-?[0-9,]+ +0  (met|MISSED)\$" "$work/cluster/summary.txt" ||
    lt_fail "cluster_compare $s: no verdict: $(cat "$work/cluster/summary.txt")"
done
"$here/refresh_rate.sh" "$loader" "$hub" 1 1 8 >"$work/refresh-rate.log" 2>&1 ||
  lt_fail "refresh_rate.sh: $(tail -20 "$work/refresh-rate.log")"
for store in sqlite redis; do
  grep -Eq "^median $store: [1-9][0-9]* rotations/s" "$work/refresh-rate.log" ||
    lt_fail "refresh_rate.sh $store: $(cat "$work/refresh-rate.log")"
done
echo "loadtest smoke: refresh_rate ok"
echo "loadtest smoke: PASS"
