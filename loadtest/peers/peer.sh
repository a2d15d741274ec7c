#!/usr/bin/env bash
# Starts and stops the servers sessionhub is compared with, on loopback, each in a state
# directory of its own (loadtest/peers/README.md):
#
#   loadtest/peers/peer.sh start <nchan|socketio|socketio-redis|ws> --port P [--dir D] [--workers N] [--ping-interval MS] [--redis URL]
#   loadtest/peers/peer.sh stop [<nchan|socketio|socketio-redis|ws>] [--port P] --dir D
#
# `start` installs what is missing (Debian packages, `npm ci`), starts the peer, waits until
# it answers and prints, one per line:
#   PID=<pid>   the process doing the work (nginx's worker(s), the node process); repeated
#               when there are several — sample them all
#   URL=http://127.0.0.1:<P>
#   DIR=<the state dir>   for `stop`
# --ping-interval MS: keep-alive pings to every subscriber (a silent one is closed): nchan's
# nchan_websocket_ping_interval (whole seconds, rounded up), the ws peer's heartbeat,
# Engine.IO's pingInterval. Left out: each peer's default (none for nchan and ws, 25 s for
# Socket.IO).
# --redis URL (socketio-redis): join that Redis instead of starting one, so that several
# Socket.IO processes form one cluster (loadtest/cluster_compare.sh).
# `stop` stops everything `start` put in that dir (SIGTERM, then SIGKILL), a Redis included.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "peer: $*" >&2
  exit 1
}

usage() {
  sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

port_open() { timeout 1 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Answers when `GET /health` does (HTTP 200), or with `--tcp` when the port accepts.
wait_ready() {  # [--tcp] port pid what
  local tcp=0 i
  [ "$1" = --tcp ] && { tcp=1; shift; }
  for ((i = 0; i < 150; i++)); do
    if ((tcp)); then
      port_open "$1" && return 0
    else
      [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/health")" = 200 ] &&
        return 0
    fi
    kill -0 "$2" 2>/dev/null || die "$3 exited at start (see its log in $dir)"
    sleep 0.1
  done
  die "$3 did not answer on 127.0.0.1:$1 within 15 s (see its log in $dir)"
}

# The hard limit of open files (each WebSocket is one); nginx's workers get it too.
raise_nofile() {
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  nofile=$(ulimit -n)
  [ "$nofile" = unlimited ] && nofile=1048576
  return 0
}

# Debian packages, installed when missing (apt-get; scripts/setup.sh lists them too).
need_debs() {  # package...
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "peer: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || die "could not install ${missing[*]}"
  # nginx and redis are only peers started here: not system services.
  if command -v systemctl >/dev/null; then
    $sudo systemctl disable --now nginx redis-server >/dev/null 2>&1 || true
  fi
}

# The node packages, pinned by node/package-lock.json; `npm ci` again when the lock changed.
need_node_modules() {
  local stamp="$here/node/node_modules/.package-lock.json"
  [ -f "$stamp" ] && [ ! "$here/node/package-lock.json" -nt "$stamp" ] && return 0
  (cd "$here/node" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2) ||
    die "npm ci in $here/node failed"
}

# Programs in sbin are not on every user's PATH.
program() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

start_bg() {  # name command... (own process group, output to <dir>/<name>.log)
  local name=$1
  shift
  setsid "$@" </dev/null >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

cmd_start() {
  local kind=${1:-}
  shift || true
  local port="" workers=1 ping="" redis=""
  dir=""
  while [ $# -gt 0 ]; do
    case $1 in
      --port) port=$2; shift 2 ;;
      --dir) dir=$2; shift 2 ;;
      --workers) workers=$2; shift 2 ;;
      --ping-interval) ping=$2; shift 2 ;;  # keep-alive pings, ms (see the usage above)
      --redis) redis=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $port =~ ^[0-9]+$ ]] || die "--port is required"
  [[ $workers =~ ^[0-9]+$ ]] && ((workers >= 1)) || die "--workers must be a positive number"
  [ -z "$ping" ] || [[ $ping =~ ^[0-9]+$ ]] || die "--ping-interval must be milliseconds"
  [ -z "$redis" ] || [[ $redis =~ ^redis://127\.0\.0\.1:[0-9]+$ ]] ||
    die "--redis must be redis://127.0.0.1:PORT (loopback only)"
  port_open "$port" && die "port $port on 127.0.0.1 is in use"
  [ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/peer-$kind.XXXXXX")
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # A start that fails part way stops whatever it had started.
  trap 'rc=$?; [ $rc -eq 0 ] || cmd_stop --dir "$dir" >/dev/null 2>&1; exit $rc' EXIT
  raise_nofile

  case $kind in
    nchan)
      need_debs nginx-light libnginx-mod-nchan curl
      # Started as root, nginx would run its workers as nobody: keep them the invoking user.
      local user=""
      [ "$(id -u)" -eq 0 ] && user="user $(id -un) $(id -gn);"
      sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@WORKERS@|$workers|g" \
        -e "s|@NOFILE@|$nofile|g" -e "s|@USER@|$user|g" -e "s|@PING_S@|$(((${ping:-0} + 999) / 1000))|g" \
        "$here/nchan/nginx.conf.in" >"$dir/nginx.conf"
      # -e: the error log of start-up too, before the configuration is read.
      start_bg nginx "$(program nginx)" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
      wait_ready "$port" "$(cat "$dir/nginx.pid")" nginx
      # The workers are the master's children; they do the work.
      local master i
      master=$(cat "$dir/nginx.pid")
      for ((i = 0; i < 50; i++)); do
        [ "$(pgrep -c -P "$master" || true)" -ge "$workers" ] && break
        sleep 0.1
      done
      pgrep -P "$master" | sed 's/^/PID=/'
      ;;
    ws)
      need_debs curl
      command -v node >/dev/null || need_debs nodejs
      command -v npm >/dev/null || need_debs npm
      need_node_modules
      start_bg node node "$here/node/ws.js" --port "$port" --ping-interval "${ping:-0}"
      wait_ready "$port" "$(cat "$dir/node.pid")" "ws peer"
      echo "PID=$(cat "$dir/node.pid")"
      ;;
    socketio | socketio-redis)
      need_debs curl
      command -v node >/dev/null || need_debs nodejs
      command -v npm >/dev/null || need_debs npm
      need_node_modules
      local args=(--port "$port")
      [ -z "$ping" ] || args+=(--ping-interval "$ping")
      if [ "$kind" = socketio-redis ] && [ -n "$redis" ]; then
        args+=(--redis "$redis")
      elif [ "$kind" = socketio-redis ]; then
        need_debs redis-server python3
        local rport
        rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        start_bg redis "$(program redis-server)" --bind 127.0.0.1 --port "$rport" --save '' \
          --appendonly no --dir "$dir"
        wait_ready --tcp "$rport" "$(cat "$dir/redis.pid")" redis-server
        args+=(--redis "redis://127.0.0.1:$rport")
      fi
      start_bg node node "$here/node/socketio.js" "${args[@]}"
      wait_ready "$port" "$(cat "$dir/node.pid")" "socket.io peer"
      echo "PID=$(cat "$dir/node.pid")"
      ;;
    *) usage ;;
  esac
  echo "URL=http://127.0.0.1:$port"
  echo "DIR=$dir"
}

cmd_stop() {
  dir=""
  case ${1:-} in nchan | socketio | socketio-redis | ws) shift ;; esac  # the kind: optional
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) dir=$2; shift 2 ;;
      --port) shift 2 ;;  # accepted for symmetry with start; the state dir says what runs
      *) usage ;;
    esac
  done
  [ -d "$dir" ] || die "--dir: no such state dir"
  local f pid i
  for f in "$dir"/*.pid; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    # Only what start put there: a pid file left by a peer long gone may name another process.
    case $(cat "/proc/$pid/comm" 2>/dev/null) in
      nginx | node | redis-server) ;;
      *) rm -f "$f"; continue ;;
    esac
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
