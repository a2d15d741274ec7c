#!/usr/bin/env bash
# Refresh-token rotations per second through the hub, on SQLite and on Redis in one run:
# for each run and each store a fresh hub (and a fresh redis-server on loopback, no
# persistence), `shubload refresh` for a few seconds, then the median of the runs. Prints
# one line per run and the medians, with the hub's and Redis's CPU per rotation.
#
#   loadtest/refresh_rate.sh path/to/shubload path/to/sessionhub [runs] [seconds] [requests]
#   (defaults: 3 runs, 5 s, 32 concurrent requests; HUB_FLAGS adds hub flags; STORES picks
#   the stores, default "sqlite redis"; "redis-unix" is Redis over its Unix socket, as for a
#   Redis on the hub's machine; "memory" is an in-memory SQLite store, a ceiling)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
loader=${1:?shubload}
hub=${2:?sessionhub}
runs=${3:-3}
seconds=${4:-5}
requests=${5:-32}
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
lt_scratch refresh-rate

"$hub" generate-key >"$work/signing-key.pem"

redis_cpu_s() {  # port: user + sys seconds of the server so far
  redis-cli -p "$1" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}

one() {  # store run
  local store=$1 run=$2 port rport="" url json cpu0=0 cpu1=0
  port=$(lt_free_port)
  if [ "$store" = redis ] || [ "$store" = redis-unix ]; then
    rport=$(lt_free_port)
    lt_start_redis "$rport"
    url=redis://127.0.0.1:$rport
    [ "$store" = redis ] || url=redis+unix://$work/redis-$rport.sock  # a co-located Redis
  elif [ "$store" = memory ]; then
    url=sqlite::memory:  # next to no store cost: what the hub and loader alone allow
  else
    mkdir -p "$work/sqlite-$run"
    url=sqlite:$work/sqlite-$run/sessions.db
  fi
  # shellcheck disable=SC2086  # HUB_FLAGS: a list of flags
  LT_HUB_STORE=$url lt_start_hub "$hub" "$port" --signing-key "$work/signing-key.pem" ${HUB_FLAGS:-}
  json=$work/$store-$run.json
  [ -z "$rport" ] || cpu0=$(redis_cpu_s "$rport")
  "$loader" refresh --url "http://127.0.0.1:$port" --api-key load-key -n "$requests" \
    -d "$seconds" --server-pid "$lt_hub_pid" --json "$json" >"$work/load-$store-$run.log" 2>&1 ||
    lt_fail "shubload refresh ($store): $(cat "$work/load-$store-$run.log")"
  [ -z "$rport" ] || cpu1=$(redis_cpu_s "$rport")
  lt_stop_hub
  lt_stop_redis
  python3 - "$json" "$store" "$run" "$cpu0" "$cpu1" >>"$work/rows" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = max(1, r["rotations"])
redis_us = (float(sys.argv[5]) - float(sys.argv[4])) * 1e6 / n
print(sys.argv[2], sys.argv[3], round(r["rotations_per_s"]), round(r["server_cpu_s"] * 1e6 / n, 1),
      round(redis_us, 1), round(r["loader_cpu_s"] * 1e6 / n, 1), r["latency_us"]["p50"],
      r["latency_us"]["p99"])
EOF
  tail -n 1 "$work/rows"
}

echo "store run rotations/s hub_us/rotation redis_us/rotation loader_us/rotation p50_us p99_us"
for run in $(seq "$runs"); do
  for store in ${STORES:-sqlite redis}; do one "$store" "$run"; done
done
python3 - "$work/rows" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for store in ("sqlite", "redis", "redis-unix", "memory"):
    mine = [r for r in rows if r[0] == store]
    if not mine:
        continue
    med = lambda i: statistics.median(float(r[i]) for r in mine)
    print(f"median {store}: {med(2):.0f} rotations/s, hub {med(3):.1f} us/rotation, "
          f"redis {med(4):.1f} us/rotation, loader {med(5):.1f} us/rotation "
          f"({len(mine)} runs)")
EOF
