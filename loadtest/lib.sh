# Shared by the scripts of loadtest/ (sourced): starting sessionhub, Redis and the peers on
# loopback for shubload, reading its JSON reports, and the command line and set-up the
# comparison scripts have in common. Expects $here (loadtest/) to be set, and $work (a
# scratch dir) before anything is started; registers what it starts for lt_cleanup.

lt_hub_pid=""
lt_hub_pids=()  # more hubs, stopped by lt_cleanup
lt_redis_pid=""
lt_peer_dirs=()

lt_fail() {
  echo "loadtest: FAIL: $*" >&2
  exit 1
}

lt_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A field of a shubload JSON report (a number or string at the top level).
lt_field() {
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# sessionhub with the limits a benchmark needs lifted; sets lt_hub_pid, prints its URL.
# Its store: LT_HUB_STORE, else a SQLite file of its own.
lt_start_hub() {  # binary port [extra flags...]
  local binary=$1 port=$2
  shift 2
  "$binary" --listen "127.0.0.1:$port" --store "${LT_HUB_STORE:-sqlite:$work/hub-$port/sessions.db}" \
    --api-key load-key --allowed-origin http://load.example.test --refresh-rate-limit 0 \
    --login-rate-limit 0 --max-connections-per-ip 1000000 --ws-connect-rate-limit 0 \
    --log-level warn "$@" >"$work/hub-$port.log" 2>&1 &
  lt_hub_pid=$!
  local i
  for i in $(seq 150); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
    kill -0 "$lt_hub_pid" 2>/dev/null || lt_fail "sessionhub exited at start: $(tail -5 "$work/hub-$port.log")"
    sleep 0.1
  done
  lt_fail "sessionhub did not answer on $port"
}

# Stops the process whose pid the named variable holds, and empties it.
lt_stop_pid() {  # variable
  local -n lt_pid=$1
  [ -n "$lt_pid" ] || return 0
  kill "$lt_pid" 2>/dev/null || true
  wait "$lt_pid" 2>/dev/null || true
  lt_pid=""
}

lt_stop_hub() { lt_stop_pid lt_hub_pid; }

# Stops the hubs kept in lt_hub_pids, all at once.
lt_stop_hubs() {
  local p
  for p in "${lt_hub_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${lt_hub_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  lt_hub_pids=()
}

# A Redis of its own on loopback, no persistence, also listening on the Unix socket
# $work/redis-<port>.sock; sets lt_redis_pid.
lt_start_redis() {  # port
  redis-server --port "$1" --bind 127.0.0.1 --unixsocket "$work/redis-$1.sock" \
    --unixsocketperm 700 --save '' --appendonly no --dir "$work" >"$work/redis-$1.log" 2>&1 &
  lt_redis_pid=$!
  local i
  for i in $(seq 50); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  lt_fail "redis-server did not answer on $1"
}

lt_stop_redis() { lt_stop_pid lt_redis_pid; }

# A peer of loadtest/peers/; sets lt_peer_pids (array) and lt_peer_dir.
lt_start_peer() {  # peer port [peer.sh start options...]
  lt_peer_dir="$work/peer-$1-$2"
  lt_peer_dirs+=("$lt_peer_dir")
  local out
  out=$("$here/peers/peer.sh" start "$1" --port "$2" --dir "$lt_peer_dir" "${@:3}") || lt_fail "$1 did not start"
  mapfile -t lt_peer_pids < <(sed -n 's/^PID=//p' <<<"$out")
}

lt_stop_peer() { "$here/peers/peer.sh" stop --dir "$lt_peer_dir" >/dev/null 2>&1 || true; }

# Stops every peer started so far.
lt_stop_peers() {
  local d
  for d in "${lt_peer_dirs[@]}"; do "$here/peers/peer.sh" stop --dir "$d" >/dev/null 2>&1 || true; done
  lt_peer_dirs=()
}

# A scratch dir in $work, removed at exit with everything started stopped; on a failing exit
# the tail of its logs goes to stderr first.
lt_scratch() {  # name
  work=$(mktemp -d "${TMPDIR:-/tmp}/loadtest-$1.XXXXXX")
  trap lt_exit EXIT
}

lt_exit() {
  local rc=$?
  lt_cleanup
  [ "$rc" = 0 ] || tail -n 20 "$work"/*.log 2>/dev/null >&2 || true
  rm -rf "$work"
  exit "$rc"
}

lt_cleanup() {
  lt_stop_hub
  lt_stop_hubs
  lt_stop_redis
  lt_stop_peers
}

# compare.sh and cluster_compare.sh: parses [--quick] [--peers LIST] [--out DIR] into quick,
# peers (default: the second argument) and out (default loadtest/out/<prefix><UTC time>),
# finds the builds (loader, hub; SHUBLOAD and SESSIONHUB_BINARY override), makes $out and
# the scratch dir (lt_scratch), and raises the open-files limit.
lt_compare_setup() {  # name default-peers out-prefix args...
  local name=$1 prefix=$3 root
  peers=$2 out="" quick=0
  shift 3
  while [ $# -gt 0 ]; do
    case $1 in
      --quick) quick=1; shift ;;
      --peers) peers=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      *) grep -m1 "^#   loadtest/" "$0" | sed 's/^# *//' >&2; exit 2 ;;  # the usage line
    esac
  done
  root=$(cd "$here/.." && pwd)
  loader=${SHUBLOAD:-$root/build/loadtest/shubload}
  hub=${SESSIONHUB_BINARY:-$root/build/hub/sessionhub}
  [ -x "$loader" ] && [ -x "$hub" ] || {
    echo "$name: build first (cmake --build build --target shubload sessionhub)" >&2
    exit 2
  }
  out=${out:-$root/loadtest/out/$prefix$(date -u +%Y%m%dT%H%M%SZ)}
  mkdir -p "$out"
  lt_scratch "$name"
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}
