#!/usr/bin/env bash
# The cluster target of issue 6: an event published on one replica reaches the tabs on the
# other replicas with a p99 at most 2 ms above the tabs of the replica it was published on.
# shubload's `cluster` scenario against REPLICAS sessionhub replicas that share a Redis
# store, one signing key and a ZeroMQ mesh, then against as many Socket.IO processes on its
# Redis adapter (what a Socket.IO cluster is), back to back: the subscribers spread evenly
# over the replicas, every publish made on the first one. Prints each run's table, then
# per server the same-replica and cross-replica p99 and the verdict.
#
#   loadtest/cluster_compare.sh [--quick] [--peers "socketio-redis"] [--out DIR]
#
# Scale (environment): CLUSTER_CONNECTIONS (10000) over CLUSTER_CHANNELS (1000) channels at
# CLUSTER_RATE (1000) publishes/s for DURATION (20) s, REPLICAS (2) replicas with
# HUB_THREADS (1) worker thread each. --quick: 2,000 / 200 / 500 / 5 s. --peers "": sessionhub
# only. Reports (JSON, plot, table) go to --out (default loadtest/out/cluster-<UTC time>).
# Build first: cmake --build build --target shubload sessionhub.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
lt_compare_setup cluster socketio-redis cluster- "$@"
if [ "$quick" = 1 ]; then
  : "${CLUSTER_CONNECTIONS:=2000}" "${CLUSTER_CHANNELS:=200}" "${CLUSTER_RATE:=500}" "${DURATION:=5}"
fi
n=${CLUSTER_CONNECTIONS:-10000}
channels=${CLUSTER_CHANNELS:-1000}
rate=${CLUSTER_RATE:-1000}
duration=${DURATION:-20}
replicas=${REPLICAS:-2}
hub_threads=${HUB_THREADS:-1}
[[ $replicas =~ ^[0-9]+$ ]] && ((replicas >= 2)) || lt_fail "REPLICAS must be 2 or more"

run() {  # name target url sub-urls... -- pids...
  local name=$1 target=$2 url=$3
  shift 3
  local args=()
  while [ "$1" != -- ]; do args+=(--sub-url "$1"); shift; done
  shift
  for p in "$@"; do args+=(--server-pid "$p"); done
  echo "== $name cluster"
  "$loader" cluster --target "$target" --url "$url" -n "$n" -s "$channels" -r "$rate" \
    -d "$duration" "${args[@]}" --json "$out/$name-cluster.json" --plot "$out/$name-cluster.svg" |
    tee "$out/$name-cluster.txt"
}

# sessionhub: REPLICAS hubs on one Redis and one key, each publishing to all the others.
servers=(sessionhub)
rport=$(lt_free_port)
lt_start_redis "$rport"
"$hub" generate-key >"$work/signing-key.pem"
ports=() zports=()
for ((i = 0; i < replicas; i++)); do
  ports+=("$(lt_free_port)")
  zports+=("$(lt_free_port)")
done
urls=()
for ((i = 0; i < replicas; i++)); do
  mesh=(--replica-id "hub$((i + 1))" --cluster-bind "tcp://127.0.0.1:${zports[i]}")
  for ((j = 0; j < replicas; j++)); do
    [ "$j" = "$i" ] || mesh+=(--cluster-peer "tcp://127.0.0.1:${zports[j]}")
  done
  LT_HUB_STORE=redis://127.0.0.1:$rport lt_start_hub "$hub" "${ports[i]}" \
    --signing-key "$work/signing-key.pem" --threads "$hub_threads" "${mesh[@]}"
  lt_hub_pids+=("$lt_hub_pid")
  lt_hub_pid=""  # stopped with the others
  urls+=("http://127.0.0.1:${ports[i]}")
done
# Every replica must see all the others before the first publish.
for ((i = 0; i < 100; i++)); do
  linked=0
  for u in "${urls[@]}"; do
    up=$(curl -fs -H 'Authorization: Bearer load-key' "$u/v1/stats" |
      python3 -c 'import json,sys; print(sum(p["up"] for p in json.load(sys.stdin)["cluster"]["peers"]))' 2>/dev/null || echo 0)
    [ "$up" = "$((replicas - 1))" ] && linked=$((linked + 1))
  done
  [ "$linked" = "$replicas" ] && break
  sleep 0.1
done
[ "$linked" = "$replicas" ] || lt_fail "the replicas did not link up (${linked:-0} of $replicas)"
run sessionhub sessionhub "${urls[0]}" "${urls[@]}" -- "${lt_hub_pids[@]}" "$lt_redis_pid"
lt_stop_hubs
lt_stop_redis

# Each peer: REPLICAS processes on one Redis (socketio-redis: the first starts it).
for peer in $peers; do
  [ "$peer" = socketio-redis ] || lt_fail "cluster peers: socketio-redis only (got $peer)"
  rport=$(lt_free_port)
  lt_start_redis "$rport"
  urls=() pids=()
  for ((i = 0; i < replicas; i++)); do
    port=$(lt_free_port)
    lt_start_peer "$peer" "$port" --ping-interval "${PEER_PING_MS:-20000}" --redis "redis://127.0.0.1:$rport"
    urls+=("http://127.0.0.1:$port")
    pids+=("${lt_peer_pids[@]}")
  done
  run "$peer" socketio "${urls[0]}" "${urls[@]}" -- "${pids[@]}" "$lt_redis_pid"
  lt_stop_peers
  lt_stop_redis
  servers+=("$peer")
done

python3 - "$out" "${servers[@]}" <<'PY' | tee "$out/summary.txt"
import json, os, sys
out, servers = sys.argv[1], sys.argv[2:]
print(f"{'server':<16} {'same p99 (us)':>14} {'cross p99 (us)':>15} {'cross - same':>13} {'lost':>6}  target (cross <= same + 2 ms)")
for s in servers:
    p = os.path.join(out, f"{s}-cluster.json")
    if not os.path.exists(p):
        print(f"{s:<16} not measured")
        continue
    r = json.load(open(p))
    groups = r.get("latency_by_replica_us", [])
    same = groups[0]["p99"] if groups else None
    cross = max((g["p99"] for g in groups[1:]), default=None)
    if same is None or cross is None:
        print(f"{s:<16} no per-replica latency")
        continue
    verdict = "met" if cross <= same + 2000 and r.get("lost", 1) == 0 else "MISSED"
    print(f"{s:<16} {same:>14,} {cross:>15,} {cross - same:>13,} {r.get('lost'):>6}  {verdict}")
PY
echo "cluster: reports in $out"
