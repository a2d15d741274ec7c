#!/usr/bin/env bash
# sessionhub against the servers a user would otherwise pick, same client, same run:
# shubload's `fanout` and `broadcast` scenarios against sessionhub, nchan, Socket.IO and
# plain ws (loadtest/peers/), back to back, then a table with every figure and the ratio of
# sessionhub's to each peer's, and the issue-6 targets these scenarios measure, each met or
# MISSED with its figure (fan-out loss and p99, saturation CPU and rate, memory per tab,
# connect+auth per core, the loader's own rate).
#
#   loadtest/compare.sh [--quick] [--peers "nchan socketio ws"] [--out DIR]
#
# Scale (environment): FANOUT_CONNECTIONS (20000) over FANOUT_CHANNELS (2000) channels at
# FANOUT_RATE (1000) publishes/s for DURATION (20) s; BROADCAST_CONNECTIONS (10000) on one
# channel for DURATION s. --quick: 2,000 / 200 / 500 / 5 s and 2,000. The JSON report of
# every run, a plot per run and the table (summary.txt) go to --out (default
# loadtest/out/<UTC time>). Build first: cmake --build build --target shubload sessionhub.
#
# SESSIONHUB_LOAD_FLAGS: more shubload flags for sessionhub's runs only, e.g.
# --auth-in-upgrade (the token offered with the upgrade instead of an auth frame).
#
# Every server gets one core, the loader the other: nchan runs one worker process, Socket.IO
# and ws are one Node process each, and sessionhub runs --threads HUB_THREADS (1).
#
# Every server keeps its connections alive the same way: sessionhub pings each tab every
# 20 s (PROTOCOL §3), and each peer is started with --ping-interval PEER_PING_MS (20000;
# 0: each peer's own default, which for nchan and ws is no pings at all). Pings and their
# answers are work for server and loader alike; a peer that skips them is measured doing
# less than sessionhub does.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
lt_compare_setup compare "nchan socketio ws" "" "$@"
if [ "$quick" = 1 ]; then
  : "${FANOUT_CONNECTIONS:=2000}" "${FANOUT_CHANNELS:=200}" "${FANOUT_RATE:=500}"
  : "${DURATION:=5}" "${BROADCAST_CONNECTIONS:=2000}"
fi
fanout_n=${FANOUT_CONNECTIONS:-20000}
fanout_s=${FANOUT_CHANNELS:-2000}
fanout_r=${FANOUT_RATE:-1000}
duration=${DURATION:-20}
broadcast_n=${BROADCAST_CONNECTIONS:-10000}
hub_threads=${HUB_THREADS:-1}
peer_ping_ms=${PEER_PING_MS:-20000}
peer_opts=()
[ "$peer_ping_ms" = 0 ] || peer_opts=(--ping-interval "$peer_ping_ms")

# One scenario against one server: JSON and plot into $out.
measure() {  # name scenario target url pids...
  local name=$1 scenario=$2 target=$3 url=$4
  shift 4
  local pids=() args=()
  for p in "$@"; do pids+=(--server-pid "$p"); done
  if [ "$scenario" = fanout ]; then
    args=(-n "$fanout_n" -s "$fanout_s" -r "$fanout_r")
  else
    args=(-n "$broadcast_n")
  fi
  if [ "$name" = sessionhub ]; then
    # shellcheck disable=SC2206  # a list of flags
    args+=(${SESSIONHUB_LOAD_FLAGS:-})
  fi
  echo "== $name $scenario"
  "$loader" "$scenario" --target "$target" --url "$url" -d "$duration" "${args[@]}" "${pids[@]}" \
    --json "$out/$name-$scenario.json" --plot "$out/$name-$scenario.svg" | tee "$out/$name-$scenario.txt"
}

servers=(sessionhub)
port=$(lt_free_port)
lt_start_hub "$hub" "$port" --threads "$hub_threads"
for scenario in fanout broadcast; do
  measure sessionhub "$scenario" sessionhub "http://127.0.0.1:$port" "$lt_hub_pid"
done
lt_stop_hub
for peer in $peers; do
  port=$(lt_free_port)
  lt_start_peer "$peer" "$port" "${peer_opts[@]}"
  target=$peer
  [ "$peer" = socketio-redis ] && target=socketio
  for scenario in fanout broadcast; do
    measure "$peer" "$scenario" "$target" "http://127.0.0.1:$port" "${lt_peer_pids[@]}"
  done
  lt_stop_peer
  servers+=("$peer")
done

COMPARE_SCALE="$fanout_n tabs over $fanout_s sessions, $broadcast_n on one channel" \
SESSIONHUB_LOAD_FLAGS="${SESSIONHUB_LOAD_FLAGS:-}" python3 - "$out" "${servers[@]}" <<'PY' | tee "$out/summary.txt"
import json, os, sys
out, servers = sys.argv[1], sys.argv[2:]
def load(name, scenario):
    p = os.path.join(out, f"{name}-{scenario}.json")
    return json.load(open(p)) if os.path.exists(p) else {}
rows = [
    ("fanout", "latency p50 (us)", lambda r: r.get("latency_us", {}).get("p50"), "low"),
    ("fanout", "latency p99 (us)", lambda r: r.get("latency_us", {}).get("p99"), "low"),
    ("fanout", "latency max (us)", lambda r: r.get("latency_us", {}).get("max"), "low"),
    ("fanout", "lost deliveries", lambda r: r.get("lost"), "low"),
    ("fanout", "RSS per connection (KiB)", lambda r: r.get("server_rss_per_connection_kib"), "low"),
    ("fanout", "connects per second", lambda r: r.get("connects_per_s"), "high"),
    ("fanout", "connects per server core-second", lambda r: r.get("connects_per_server_cpu_s"), "high"),
    ("broadcast", "deliveries per second", lambda r: r.get("deliveries_per_s"), "high"),
    ("broadcast", "server CPU per delivery (us)", lambda r: r.get("server_cpu_us_per_delivery"), "low"),
    ("broadcast", "latency p99 (us)", lambda r: r.get("latency_us", {}).get("p99"), "low"),
    ("broadcast", "loader saturated", lambda r: r.get("loader_bound"), None),
]
def fmt(v):
    if v is None: return "-"
    if isinstance(v, bool): return "yes" if v else "no"
    return f"{v:,.2f}" if isinstance(v, float) and v < 100 else f"{v:,.0f}"
head = f"{'scenario':<10} {'figure':<32}" + "".join(f"{s:>14}" for s in servers)
peers = servers[1:]
head += "".join(f"{'vs ' + p:>14}" for p in peers)
print(head)
for scenario, label, get, better in rows:
    vals = [get(load(s, scenario)) for s in servers]
    line = f"{scenario:<10} {label:<32}" + "".join(f"{fmt(v):>14}" for v in vals)
    for v in vals[1:]:
        mine = vals[0]
        if better is None or not isinstance(mine, (int, float)) or not isinstance(v, (int, float)) or v == 0 or mine == 0:
            line += f"{'-':>14}"
        else:
            # >1 means sessionhub is better, whichever direction "better" is.
            ratio = (v / mine) if better == "low" else (mine / v)
            line += f"{ratio:>13.2f}x"
    print(line)
print("\n(ratios: how many times better sessionhub is; below 1 = behind)")

# The issue-6 targets these two scenarios measure, each with its figure and verdict.
hub = {sc: load("sessionhub", sc) for sc in ("fanout", "broadcast")}
peer = {p: {sc: load(p, sc) for sc in ("fanout", "broadcast")} for p in peers}
def fig(r, *path):
    for k in path:
        r = r.get(k) if isinstance(r, dict) else None
    return r if isinstance(r, (int, float)) and not isinstance(r, bool) else None
def target(text, mine, bound, ok, unit=""):
    if mine is None or bound is None:
        print(f"  {'not measured':<12} {text}")
        return None
    print(f"  {'met' if ok(mine, bound) else 'MISSED':<12} {text}: {fmt(mine)}{unit} against {fmt(bound)}{unit}")
    return ok(mine, bound)
def of(name, scenario, *path):
    return fig(peer.get(name, {}).get(scenario, {}), *path)
upgrade = "--auth-in-upgrade" in os.environ.get("SESSIONHUB_LOAD_FLAGS", "")
print(f"\ntargets (issue 6; set for 20000 tabs over 2000 sessions, 10000 on one channel; this run: {os.environ['COMPARE_SCALE']})")
print("  (refresh: loadtest/refresh_rate.sh; cluster: loadtest/cluster_compare.sh; RESULTS.md has both)")
verdicts = [
    target("fan-out: nothing lost", fig(hub["fanout"], "lost"), 0, lambda m, b: m <= b),
    target("fan-out: p99 no higher than nchan's", fig(hub["fanout"], "latency_us", "p99"),
           of("nchan", "fanout", "latency_us", "p99"), lambda m, b: m <= b, " us"),
    target("saturation: server CPU per delivery at most half nchan's",
           fig(hub["broadcast"], "server_cpu_us_per_delivery"),
           (lambda v: v / 2 if v is not None else None)(of("nchan", "broadcast", "server_cpu_us_per_delivery")),
           lambda m, b: m <= b, " us"),
    target("saturation: deliveries/s at least nchan's", fig(hub["broadcast"], "deliveries_per_s"),
           of("nchan", "broadcast", "deliveries_per_s"), lambda m, b: m >= b),
    target("saturation: deliveries/s at least 3x Socket.IO's", fig(hub["broadcast"], "deliveries_per_s"),
           (lambda v: 3 * v if v is not None else None)(of("socketio", "broadcast", "deliveries_per_s")),
           lambda m, b: m >= b),
    target("memory: RSS per idle authenticated tab at most 5 KiB",
           fig(hub["fanout"], "server_rss_per_connection_kib"), 5.0, lambda m, b: m <= b, " KiB"),
    target("connect+auth on one core (" + ("token in the upgrade" if upgrade else "auth frame") + ")",
           fig(hub["fanout"], "connects_per_server_cpu_s"), 20000, lambda m, b: m >= b, "/s"),
    target("the loader receives 400k frames/s on one core", fig(hub["broadcast"], "deliveries_per_s"),
           400000, lambda m, b: m >= b, "/s"),
]
if hub["broadcast"].get("loader_bound"):
    print("  (the loader was the limit of sessionhub's broadcast: its deliveries/s are a floor)")
measured = [v for v in verdicts if v is not None]
print(f"  {sum(measured)} of {len(measured)} measured targets met")
PY
if [ "$peer_ping_ms" = 0 ]; then
  echo "(keep-alive: sessionhub pings every 20 s; the peers at their defaults)"
else
  echo "(keep-alive: sessionhub pings every 20 s, each peer every $((peer_ping_ms / 1000)) s)"
fi | tee -a "$out/summary.txt"
echo "compare: reports in $out"
