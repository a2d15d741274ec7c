#!/usr/bin/env bash
# Checks each benchmark peer against the wire contract shubload speaks, on loopback:
#
#   loadtest/peers/smoke.sh [nchan|socketio|socketio-redis|ws ...]    (default: all four)
#
# For each peer: peer.sh starts it (PID=/URL= lines checked), node/smoke-client.js connects
# three subscribers on each of two channels and publishes to one (every subscriber of that
# channel gets the body, "t" intact; the other channel gets nothing; every peer started with
# --ping-interval 1000 pings, and its pings are answered), then 1,000 subscribers on one channel take 20 publishes a second for 5 s
# (sanity, not speed); the peer must still run with no error in its logs, and peer.sh stop
# must end it. Prints a line per check and one summary line; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(nchan socketio socketio-redis ws)

work=$(mktemp -d "${TMPDIR:-/tmp}/peers-smoke.XXXXXX")
dirs=()
passed=0
failed=0

cleanup() {
  local d
  for d in "${dirs[@]}"; do timeout 30 "$here/peer.sh" stop --dir "$d" >/dev/null 2>&1 || true; done
  if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "peers smoke: logs kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
  passed=$((passed + 1))
  echo "ok   $*"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

alive() { kill -0 "$1" 2>/dev/null; }

# The client's JSON line, shortened for the log.
client() {  # name args...
  local name=$1 out rc
  shift
  out=$(timeout 150 node "$here/node/smoke-client.js" "$@" 2>&1)
  rc=$?
  echo "$out" >"$work/$(tr ' ' _ <<<"$name").json"
  if [ $rc -eq 0 ]; then
    pass "$name: $(sed -E 's/.*"subscribers":([0-9]+),"published":([0-9]+),"delivered":([0-9]+).*/\1 subscribers, \2 published, \3 delivered/' <<<"$out" | tail -1)"
  else
    fail "$name (exit $rc): $(tail -c 600 <<<"$out")"
  fi
}

for peer in "${peers[@]}"; do
  case $peer in
    nchan | ws) kind=$peer ;;
    socketio | socketio-redis) kind=socketio ;;
    *) fail "$peer: no such peer"; continue ;;
  esac
  port=$(free_port)
  dir="$work/$peer"
  dirs+=("$dir")
  if ! out=$(timeout 600 "$here/peer.sh" start "$peer" --port "$port" --dir "$dir" --ping-interval 1000 2>"$work/$peer.start.err"); then
    fail "$peer: did not start: $(tail -c 600 "$work/$peer.start.err")"
    continue
  fi
  mapfile -t pids < <(sed -n 's/^PID=//p' <<<"$out")
  url=$(sed -n 's/^URL=//p' <<<"$out")
  # PID= names the process doing the work: an nginx worker (a child of the master) or node.
  bad=""
  [ ${#pids[@]} -gt 0 ] || bad="no PID= line"
  for p in "${pids[@]}"; do
    comm=$(cat "/proc/$p/comm" 2>/dev/null || echo gone)
    case $peer in
      nchan) [ "$comm" = nginx ] && [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$(cat "$dir/nginx.pid" 2>/dev/null)" ] ||
        bad="PID=$p is not an nginx worker ($comm)" ;;
      *) [ "$comm" = node ] || bad="PID=$p is not node ($comm)" ;;
    esac
  done
  [ "$url" = "http://127.0.0.1:$port" ] || bad="${bad:+$bad; }URL= is '$url'"
  if [ -n "$bad" ]; then fail "$peer: start printed: $bad"; else pass "$peer: started, PID=${pids[*]} $url"; fi

  client "$peer contract" --url "$url" --kind "$kind" --subs 3 --channels a,b --min-pings 1
  client "$peer 1000 subscribers" --url "$url" --kind "$kind" --subs 1000 --channels bcast \
    --rate 20 --seconds 5 --settle-ms 1000 --min-pings 3

  # Still running, nothing wrong in its logs (nginx's note that worker_connections exceeds the
  # open-files limit is expected where the hard limit is low).
  gone=""
  for p in "${pids[@]}"; do alive "$p" || gone="$gone $p"; done
  errs=$(cat "$dir"/*.log 2>/dev/null | grep -Ei '\[(error|crit|alert|emerg)\]|Error|exception' |
    grep -v 'worker_connections exceed' | head -3)
  if [ -n "$gone" ]; then
    fail "$peer: exited during the checks:$gone"
  elif [ -n "$errs" ]; then
    fail "$peer: errors in its logs: $errs"
  else
    pass "$peer: still running, logs clean"
  fi

  # Everything it started: the workers, nginx's master, a redis-server.
  started=("${pids[@]}")
  for f in "$dir"/*.pid; do [ -s "$f" ] && started+=("$(cat "$f")"); done
  timeout 60 "$here/peer.sh" stop "$peer" --dir "$dir" >/dev/null 2>&1
  left=""
  for p in "${started[@]}"; do alive "$p" && left="$left $p"; done
  if [ -n "$left" ] || timeout 1 bash -c ": >/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
    fail "$peer: still running after stop:$left"
  else
    pass "$peer: stopped"
  fi
done

echo "peers smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
