#!/usr/bin/env bash
# The cluster of docker/compose.yaml, natively on loopback and without a container engine:
# one redis-server (its append-only file in the state dir, so a restarted Redis keeps the
# sessions), three sessionhub replicas sharing it, one signing key and a ZeroMQ mesh, and
# HAProxy in front of them with docker/haproxy.cfg (the same file
# compose mounts; only its environment variables differ).
#
#   scripts/cluster.sh up           start everything, wait until it is ready, print the URLs
#   scripts/cluster.sh status       every component; exit 1 when anything is down
#   scripts/cluster.sh kill <c>     SIGKILL component c: a replica 1-3, or redis
#   scripts/cluster.sh stop <c>     SIGTERM c and wait until it has exited (a replica drains)
#   scripts/cluster.sh start <c>    start c again with the same flags, wait until ready
#   scripts/cluster.sh restart <c>  stop, then start
#   scripts/cluster.sh down         stop everything (SIGTERM, then SIGKILL); logs stay
#
# Environment (read by `up`; the other commands read what `up` wrote into cluster.env):
#   SESSIONHUB_CLUSTER_DIR       state dir (default ./data/cluster): pids/, logs/, cluster.env,
#                                signing key, users file, demo password and API key (the
#                                credentials are made once and kept, like scripts/run.sh's)
#   SESSIONHUB_CLUSTER_PORT      base port (default 8080): HAProxy front = base, replicas
#                                base+1..3, their ZeroMQ PUB sockets base+4..6, Redis base+7,
#                                HAProxy stats base+8; origins allowed by default base+9, base+10
#   SESSIONHUB_BINARY            the hub (default build/hub/sessionhub, built if missing)
#   SESSIONHUB_CLUSTER_HUB_ARGS  extra flags for every replica (split on white space)
#   SESSIONHUB_CLUSTER_ORIGINS   allowed browser origins (white space or comma separated)
#   SESSIONHUB_CLUSTER_STORE     store of the replicas (default redis://127.0.0.1:<base+7>/0)
#   SESSIONHUB_CLUSTER_TIMEOUT   seconds each wait may take (default 30)
#
# cluster.env holds one KEY=value a line, unquoted (values never contain white space or
# quotes), so it can be sourced by a shell or split on the first '=' by anything else.
# Every process is started with setsid: each is the leader of its own process group, so
# `kill -- -<pid>` reaches all of it. Nothing listens outside 127.0.0.1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
host=127.0.0.1
hubs=(1 2 3)

die() {
  echo "cluster: $*" >&2
  exit 1
}
note() { echo "cluster: $*"; }

usage() {
  sed -n '8,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- processes ------------------------------------------------------------------------------

# True when pid runs the program named and is not a zombie. The name is the kernel's
# (/proc/<pid>/comm, at most 15 characters), which redis-server's retitling leaves alone.
alive() {  # pid program
  local pid=$1 prog=$2 stat comm
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  # The state is the field after "(comm)"; a zombie (Z) or a dead task (X) is gone.
  stat=${stat##*) }
  case ${stat%% *} in Z | X) return 1 ;; esac
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [ "$comm" = "${prog:0:15}" ]
}

pid_of() {  # component → pid recorded in pids/, or empty
  local f="$state/pids/$1.pid"
  if [ -s "$f" ]; then cat "$f"; fi
}

program_of() {  # component → program name
  case $1 in
    redis) echo redis-server ;;
    haproxy) echo haproxy ;;
    hub*) basename -- "$binary" ;;
  esac
}

component_alive() {  # component
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && alive "$pid" "$(program_of "$1")"
}

# Starts argv as its own session (and process group) with its output in logs/<component>.log;
# records the pid. setsid does not fork here: a background job of a non-interactive shell is
# never a group leader, so $! is the program itself.
launch() {  # component env-assignments... -- argv...
  local comp=$1 log="$state/logs/$1.log"
  shift
  local envs=()
  while [ "$1" != "--" ]; do
    envs+=("$1")
    shift
  done
  shift
  # Not the command line itself: a replica's carries the API key (it is in cmd/<component>).
  printf '=== %s starting %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$comp" >>"$log"
  (
    cd "$state"
    exec 9>&-  # the state lock stays with this script, never with what it starts
    # The script's own SESSIONHUB_* settings are not hub options; keep them from the hub.
    exec env -u SESSIONHUB_CLUSTER_DIR -u SESSIONHUB_CLUSTER_PORT -u SESSIONHUB_BINARY \
      -u SESSIONHUB_CLUSTER_HUB_ARGS -u SESSIONHUB_CLUSTER_ORIGINS -u SESSIONHUB_CLUSTER_STORE \
      -u SESSIONHUB_CLUSTER_TIMEOUT "${envs[@]}" setsid "$@"
  ) </dev/null >>"$log" 2>&1 &
  echo "$!" >"$state/pids/$comp.pid"
}

# SIGTERM to the component's process group, up to `grace` seconds, then SIGKILL.
stop() {  # component grace-seconds
  local comp=$1 grace=$2 pid prog i
  pid=$(pid_of "$comp")
  prog=$(program_of "$comp")
  if [ -n "$pid" ] && alive "$pid" "$prog"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      alive "$pid" "$prog" || break
      sleep 0.1
    done
    if alive "$pid" "$prog"; then
      note "$comp (pid $pid) still running after ${grace}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        alive "$pid" "$prog" || break
        sleep 0.1
      done
    fi
    alive "$pid" "$prog" && die "$comp (pid $pid) does not die"
    note "$comp stopped"
  fi
  rm -f "$state/pids/$comp.pid"
}

# --- probes (loopback only, each bounded) ---------------------------------------------------

http_code() {  # url → HTTP status, or 000 when nothing answers
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

port_in_use() {  # port
  timeout 2 bash -c ": >/dev/tcp/$host/$1" 2>/dev/null
}

redis_ping() {
  [ "$(timeout 2 redis-cli -h "$host" -p "$CLUSTER_REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

# HAProxy's view of one replica: UP, DOWN, MAINT, "UP 1/2"... (empty when the stats page
# does not answer). Column 18 of the stats CSV is the status.
backend_state() {  # hub number
  curl -s --max-time 2 "${CLUSTER_STATS_URL};csv" 2>/dev/null |
    awk -F, -v s="hub$1" '$1 == "hubs" && $2 == s { print $18 }' || true
}

# Waits until `check args...` succeeds, the component dies, or the timeout passes.
wait_for() {  # component what check args...
  local comp=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout_s))
  while ! "$@"; do
    if ! component_alive "$comp"; then
      echo "cluster: $comp exited before $what; the end of $state/logs/$comp.log:" >&2
      tail -n 20 "$state/logs/$comp.log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "cluster: $comp: no $what within ${timeout_s}s; see $state/logs/$comp.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

hub_ready() { [ "$(http_code "http://$host:$(hub_port "$1")/readyz")" = 200 ]; }
backend_up() { [ "$(backend_state "$1")" = UP ]; }
front_ready() { [ "$(http_code "$CLUSTER_FRONT_URL/readyz")" = 200 ]; }
all_backends_up() {
  local n
  for n in "${hubs[@]}"; do backend_up "$n" || return 1; done
}

hub_port() {
  local v="CLUSTER_HUB$1_PORT"
  echo "${!v}"
}

# --- state ----------------------------------------------------------------------------------

# Sets $state (absolute) from SESSIONHUB_CLUSTER_DIR; creates it when asked.
resolve_state() {  # create?
  local dir=${SESSIONHUB_CLUSTER_DIR:-$root/data/cluster}
  if [ "$1" = create ]; then
    mkdir -p "$dir"
    chmod 700 "$dir"
  fi
  [ -d "$dir" ] || die "no cluster state in $dir (run: scripts/cluster.sh up)"
  state=$(cd "$dir" && pwd)
  # cluster.env is unquoted: keep its values free of anything a shell would split or expand.
  [[ $state =~ ^[A-Za-z0-9._/+@:-]+$ ]] ||
    die "the state dir path must be plain (letters, digits, . _ / + @ : -): $state"
}

load_env() {
  [ -s "$state/cluster.env" ] || die "the cluster is not up ($state/cluster.env is missing)"
  # shellcheck disable=SC1091  # written by `up` below
  . "$state/cluster.env"
  binary=$CLUSTER_BINARY
  timeout_s=$CLUSTER_TIMEOUT
}

lock_state() {
  exec 9>"$state/.lock"
  flock -w 120 9 || die "another cluster.sh is working on $state"
}

# --- commands -------------------------------------------------------------------------------

print_info() {
  cat <<INFO
sessionhub cluster (state: $state)
  front      $CLUSTER_FRONT_URL   (HAProxy, leastconn, no stickiness)
  replicas   $CLUSTER_HUB1_URL ($CLUSTER_HUB1_ID)  $CLUSTER_HUB2_URL ($CLUSTER_HUB2_ID)  $CLUSTER_HUB3_URL ($CLUSTER_HUB3_ID)
  cluster    $CLUSTER_HUB1_CLUSTER  $CLUSTER_HUB2_CLUSTER  $CLUSTER_HUB3_CLUSTER   (ZeroMQ PUB)
  store      $CLUSTER_STORE
  stats      $CLUSTER_STATS_URL   (HAProxy backend state; ";csv" for scripts)
  origins    ${CLUSTER_ALLOWED_ORIGINS//,/ }
  login      user "$CLUSTER_DEMO_USER", password "$CLUSTER_DEMO_PASSWORD"   (POST /v1/login)
  API key    $CLUSTER_API_KEY   (Authorization: Bearer ... for /v1/sessions, /v1/stats)
  signing    $CLUSTER_SIGNING_KEY   (one key, shared by every replica)
  logs       $CLUSTER_LOG_DIR/{redis,hub1,hub2,hub3,haproxy}.log
  settings   $state/cluster.env
  stop       scripts/cluster.sh down   (SESSIONHUB_CLUSTER_DIR=$state)
INFO
}

# Starts a component (redis, hub1..3) with its command line recorded in cmd/.
start_component() {  # component
  local argv=()
  mapfile -d '' -t argv <"$state/cmd/$1"
  launch "$1" -- "${argv[@]}"
}

# Redis waits for PONG; replica n for its /readyz, then for HAProxy to count it in (two
# good checks).
await_component() {  # component
  case $1 in
    redis) wait_for redis "PONG on $host:$CLUSTER_REDIS_PORT" redis_ping ;;
    hub*)
      local n=${1#hub}
      wait_for "hub$n" "/readyz 200 on $host:$(hub_port "$n")" hub_ready "$n" &&
        wait_for "hub$n" "UP state in HAProxy" backend_up "$n"
      ;;
  esac
}

cmd_up() {
  resolve_state create
  lock_state
  mkdir -p "$state/pids" "$state/logs" "$state/cmd"

  if [ -s "$state/cluster.env" ]; then
    load_env
    local comp up=() down=()
    for comp in redis hub1 hub2 hub3 haproxy; do
      if component_alive "$comp"; then up+=("$comp"); else down+=("$comp"); fi
    done
    if [ ${#down[@]} -eq 0 ]; then
      note "already up"
      print_info
      return 0
    fi
    if [ ${#up[@]} -gt 0 ]; then
      die "partly up in $state (running: ${up[*]}; not running: ${down[*]}): use" \
        "'scripts/cluster.sh restart <n>' for a replica, or 'down' then 'up'"
    fi
    rm -f "$state/cluster.env" "$state"/pids/*.pid  # a previous run that died entirely
  fi

  local base=${SESSIONHUB_CLUSTER_PORT:-8080}
  if ! [[ $base =~ ^[0-9]+$ ]] || ((base < 1024 || base + 10 > 65535)); then
    die "SESSIONHUB_CLUSTER_PORT must be a port in 1024..65525 (got '$base')"
  fi
  timeout_s=${SESSIONHUB_CLUSTER_TIMEOUT:-30}
  if ! [[ $timeout_s =~ ^[0-9]+$ ]] || ((timeout_s == 0)); then
    die "SESSIONHUB_CLUSTER_TIMEOUT must be a positive number of seconds"
  fi

  # Tools and the binary, installed and built as scripts/run.sh does when missing.
  local default_binary=$root/build/hub/sessionhub
  binary=${SESSIONHUB_BINARY:-$default_binary}
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null ||
    ! command -v haproxy >/dev/null || ! command -v curl >/dev/null; then
    "$root/scripts/setup.sh"
  fi
  if [ ! -x "$binary" ]; then
    [ "$binary" = "$default_binary" ] || die "SESSIONHUB_BINARY=$binary is not an executable"
    note "building $binary"
    "$root/scripts/setup.sh"
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$root/build" -j"$(nproc)" --target sessionhub
  fi
  binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

  local p
  for ((p = base; p <= base + 8; p++)); do
    port_in_use "$p" && die "port $p on $host is in use (the cluster takes $base..$((base + 8));" \
      "set SESSIONHUB_CLUSTER_PORT)"
  done

  # Credentials: made once, kept in the state dir.
  local secrets_made=0 old_umask
  old_umask=$(umask)
  umask 077
  if [ ! -s "$state/signing-key.pem" ]; then
    "$binary" generate-key ES256 >"$state/signing-key.pem.tmp" 2>/dev/null ||
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$state/signing-key.pem.tmp"
    mv "$state/signing-key.pem.tmp" "$state/signing-key.pem"
    secrets_made=1
  fi
  if [ ! -s "$state/demo-password" ]; then
    head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12 >"$state/demo-password"
  fi
  if [ ! -s "$state/users" ] || [ "$state/demo-password" -nt "$state/users" ]; then
    printf 'demo:%s\n' "$("$binary" hash-password <"$state/demo-password")" >"$state/users.tmp"
    mv "$state/users.tmp" "$state/users"
  fi
  if [ ! -s "$state/api-key" ]; then
    head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$state/api-key"
  fi
  umask "$old_umask"
  [ "$secrets_made" = 0 ] || note "made a new signing key in $state/signing-key.pem"

  local origins=${SESSIONHUB_CLUSTER_ORIGINS:-http://$host:$((base + 9)) http://$host:$((base + 10))}
  origins=$(tr -s ', \t\n' ',' <<<"$origins" | sed 's/^,//; s/,$//')
  [[ $origins =~ ^[A-Za-z0-9.:/_*,-]+$ ]] || die "SESSIONHUB_CLUSTER_ORIGINS: not a list of origins"
  local store=${SESSIONHUB_CLUSTER_STORE:-redis://$host:$((base + 7))/0}
  [[ $store =~ ^[A-Za-z0-9.:/_@-]+$ ]] || die "SESSIONHUB_CLUSTER_STORE: unexpected characters"

  {
    echo "# scripts/cluster.sh up, $(date -u +%Y-%m-%dT%H:%M:%SZ); KEY=value, unquoted"
    echo "CLUSTER_DIR=$state"
    echo "CLUSTER_HOST=$host"
    echo "CLUSTER_BASE_PORT=$base"
    echo "CLUSTER_FRONT_PORT=$base"
    echo "CLUSTER_FRONT_URL=http://$host:$base"
    echo "CLUSTER_STATS_PORT=$((base + 8))"
    echo "CLUSTER_STATS_URL=http://$host:$((base + 8))/stats"
    echo "CLUSTER_REDIS_PORT=$((base + 7))"
    echo "CLUSTER_STORE=$store"
    echo "CLUSTER_HUB_COUNT=${#hubs[@]}"
    local n
    for n in "${hubs[@]}"; do
      echo "CLUSTER_HUB${n}_ID=hub$n"
      echo "CLUSTER_HUB${n}_PORT=$((base + n))"
      echo "CLUSTER_HUB${n}_URL=http://$host:$((base + n))"
      echo "CLUSTER_HUB${n}_CLUSTER=tcp://$host:$((base + 3 + n))"
    done
    echo "CLUSTER_DEMO_USER=demo"
    echo "CLUSTER_DEMO_PASSWORD=$(cat "$state/demo-password")"
    echo "CLUSTER_API_KEY=$(cat "$state/api-key")"
    echo "CLUSTER_SIGNING_KEY=$state/signing-key.pem"
    echo "CLUSTER_USERS_FILE=$state/users"
    echo "CLUSTER_ALLOWED_ORIGINS=$origins"
    echo "CLUSTER_BINARY=$binary"
    echo "CLUSTER_HAPROXY_CFG=$root/docker/haproxy.cfg"
    echo "CLUSTER_LOG_DIR=$state/logs"
    echo "CLUSTER_PID_DIR=$state/pids"
    echo "CLUSTER_TIMEOUT=$timeout_s"
  } >"$state/cluster.env.tmp"
  mv "$state/cluster.env.tmp" "$state/cluster.env"
  load_env

  # From here on a failure takes down whatever was started.
  trap on_up_exit EXIT

  # Sessions survive a Redis restart: every write goes to the append-only file (fsync once
  # a second; a SIGTERM'd Redis writes everything). No RDB snapshots.
  printf '%s\0' redis-server --bind "$host" --port "$CLUSTER_REDIS_PORT" --save '' \
    --appendonly yes --appendfsync everysec --protected-mode yes --daemonize no \
    --dir "$state" >"$state/cmd/redis"
  start_component redis
  await_component redis

  # Each replica's command line, kept for `restart <n>`.
  local extra=() peers o
  read -r -a extra <<<"${SESSIONHUB_CLUSTER_HUB_ARGS:-}"
  for n in "${hubs[@]}"; do
    local argv=("$binary" --listen "$host:$(hub_port "$n")" --store "$CLUSTER_STORE"
      --replica-id "hub$n" --signing-key "$CLUSTER_SIGNING_KEY"
      --users-file "$CLUSTER_USERS_FILE" --api-key "$CLUSTER_API_KEY")
    local v="CLUSTER_HUB${n}_CLUSTER"
    argv+=(--cluster-bind "${!v}")
    for peers in "${hubs[@]}"; do
      [ "$peers" = "$n" ] && continue
      v="CLUSTER_HUB${peers}_CLUSTER"
      argv+=(--cluster-peer "${!v}")
    done
    IFS=, read -r -a o <<<"$CLUSTER_ALLOWED_ORIGINS"
    local origin
    for origin in "${o[@]}"; do argv+=(--allowed-origin "$origin"); done
    argv+=("${extra[@]}")
    printf '%s\0' "${argv[@]}" >"$state/cmd/hub$n"
    start_component "hub$n"
  done
  for n in "${hubs[@]}"; do
    wait_for "hub$n" "/readyz 200 on $host:$(hub_port "$n")" hub_ready "$n"
  done

  # HAProxy wants about two descriptors per connection; stay within this shell's hard limit.
  local fds maxconn=4096
  fds=$(ulimit -Hn)
  if [ "$fds" != unlimited ] && ((fds / 2 - 64 < maxconn)); then maxconn=$((fds / 2 - 64)); fi
  launch haproxy "SHUB_MAXCONN=$maxconn" "SHUB_FRONT_BIND=$host:$CLUSTER_FRONT_PORT" \
    "SHUB_STATS_BIND=$host:$CLUSTER_STATS_PORT" "SHUB_HUB1=$host:$CLUSTER_HUB1_PORT" \
    "SHUB_HUB2=$host:$CLUSTER_HUB2_PORT" "SHUB_HUB3=$host:$CLUSTER_HUB3_PORT" \
    -- haproxy -f "$CLUSTER_HAPROXY_CFG"
  wait_for haproxy "answer on $CLUSTER_FRONT_URL/readyz" front_ready
  wait_for haproxy "UP state of every replica in $CLUSTER_STATS_URL" all_backends_up

  trap - EXIT
  print_info
}

on_up_exit() {
  local rc=$?
  trap - EXIT
  if [ "$rc" != 0 ]; then
    echo "cluster: up failed; stopping what was started" >&2
    teardown || true
    rm -f "$state/cluster.env"
  fi
  exit "$rc"
}

teardown() {
  local n
  stop haproxy 5
  for n in "${hubs[@]}"; do stop "hub$n" 15; done
  stop redis 5
}

cmd_down() {
  resolve_state keep
  lock_state
  if [ -s "$state/cluster.env" ]; then
    load_env
  else
    binary=${SESSIONHUB_BINARY:-$root/build/hub/sessionhub}
  fi
  [ -d "$state/pids" ] && teardown
  rm -f "$state/cluster.env"
  note "down; logs stay in $state/logs"
}

cmd_status() {
  resolve_state keep
  load_env
  local bad=0 n pid code
  row() { printf '  %-8s %-26s %s\n' "$@"; }
  echo "sessionhub cluster in $state"
  pid=$(pid_of redis)
  if component_alive redis && redis_ping; then
    row redis "pid $pid" "PONG on $host:$CLUSTER_REDIS_PORT"
  else
    row redis "${pid:+pid $pid }DOWN" "no PONG on $host:$CLUSTER_REDIS_PORT"
    bad=1
  fi
  for n in "${hubs[@]}"; do
    pid=$(pid_of "hub$n")
    code=$(http_code "http://$host:$(hub_port "$n")/readyz")
    if component_alive "hub$n" && [ "$code" = 200 ]; then
      row "hub$n" "pid $pid" "/readyz $code on $host:$(hub_port "$n")"
    elif component_alive "hub$n"; then
      row "hub$n" "pid $pid NOT READY" "/readyz $code on $host:$(hub_port "$n")"
      bad=1
    else
      row "hub$n" "${pid:+pid $pid }DOWN" "not running (/readyz $code)"
      bad=1
    fi
  done
  pid=$(pid_of haproxy)
  if component_alive haproxy; then
    code=$(http_code "$CLUSTER_FRONT_URL/readyz")
    row haproxy "pid $pid" "front /readyz $code on $CLUSTER_FRONT_URL"
    [ "$code" = 200 ] || bad=1
    local st
    for n in "${hubs[@]}"; do
      st=$(backend_state "$n")
      row "" "backend hub$n" "${st:-unknown (no stats)}"
      [ "$st" = UP ] || bad=1
    done
  else
    row haproxy "${pid:+pid $pid }DOWN" "not running"
    bad=1
  fi
  if [ "$bad" = 0 ]; then echo "all up"; else echo "DEGRADED: something is down"; fi
  return "$bad"
}

# The component a command names: 1..3 → hub<n>, or redis.
component_arg() {  # argument → component or die
  case ${1:-} in
    [1-3]) echo "hub$1" ;;
    redis) echo redis ;;
    *) die "which component? a replica number 1..${#hubs[@]} or redis (got '${1:-}')" ;;
  esac
}

port_of() {  # component
  case $1 in
    redis) echo "$CLUSTER_REDIS_PORT" ;;
    hub*) hub_port "${1#hub}" ;;
  esac
}

cmd_kill() {
  local comp pid i
  comp=$(component_arg "${1:-}")
  resolve_state keep
  lock_state
  load_env
  pid=$(pid_of "$comp")
  component_alive "$comp" || die "$comp is not running"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  for ((i = 0; i < 50; i++)); do
    component_alive "$comp" || break
    sleep 0.1
  done
  component_alive "$comp" && die "$comp (pid $pid) survived SIGKILL"
  note "$comp (pid $pid) killed with SIGKILL"
}

cmd_stop() {
  local comp
  comp=$(component_arg "${1:-}")
  resolve_state keep
  lock_state
  load_env
  component_alive "$comp" || die "$comp is not running"
  stop "$comp" 15
}

cmd_start() {  # component-argument restart?
  local comp
  comp=$(component_arg "${1:-}")
  resolve_state keep
  lock_state
  load_env
  [ -s "$state/cmd/$comp" ] || die "no recorded command line for $comp in $state/cmd"
  if [ "${2:-}" = restart ]; then
    stop "$comp" 15
  elif component_alive "$comp"; then
    die "$comp is already running (pid $(pid_of "$comp"))"
  fi
  port_in_use "$(port_of "$comp")" && die "port $(port_of "$comp") is taken by something else"
  start_component "$comp"
  await_component "$comp" || {
    stop "$comp" 5
    die "$comp did not come back"
  }
  local where=""
  [ "$comp" = redis ] || where=" and back in HAProxy"
  note "$comp (pid $(pid_of "$comp")) is up$where"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kill) cmd_kill "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  restart) cmd_start "${2:-}" restart ;;
  *) usage ;;
esac
