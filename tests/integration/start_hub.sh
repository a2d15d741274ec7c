# Sourced by the shell checks. start_hub BINARY LOG [flags...] runs the hub on a free
# loopback port (--listen 127.0.0.1:0), sets `pid`, and sets `port` from its "listening"
# log line; when it does not come up within 20 s the check fails with the hub's log.
start_hub() {
  local binary=$1 log=$2
  shift 2
  "$binary" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 200); do
    port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  cat "$log"
  echo "hub did not start"
  exit 1
}
