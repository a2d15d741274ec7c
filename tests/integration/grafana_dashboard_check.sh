#!/usr/bin/env bash
# Checks docker/grafana-dashboard.json against the hub it is for: well-formed JSON, the
# datasource an import input (${DS_PROMETHEUS}) on every panel and query, an `instance`
# variable every query filters on, and every sessionhub_* name in an expression present in
# the /metrics of a freshly started hub, with rate()/increase() only over counters and
# histogram buckets and counters never graphed raw. A metric renamed in hub/stats.cpp fails
# this test instead of leaving an empty panel.
# Usage: grafana_dashboard_check.sh <sessionhub binary> <dashboard json>
set -euo pipefail
bin=$1
dashboard=$2
dir=$(mktemp -d)
pid=""
# shellcheck source=tests/integration/start_hub.sh
. "$(dirname "$0")/start_hub.sh"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

python3 -m json.tool "$dashboard" >/dev/null || { echo "$dashboard: not well-formed JSON"; exit 1; }

# A file store, so that sessionhub_sessions_active (reported when the store answers) is there.
start_hub "$bin" "$dir/log" --store "sqlite:$dir/hub.db" --api-key grafana-check-key

curl -sf -H "Authorization: Bearer grafana-check-key" "http://127.0.0.1:$port/metrics" \
  >"$dir/metrics" || { echo "GET /metrics failed"; exit 1; }

python3 - "$dashboard" "$dir/metrics" <<'EOF'
import json, re, sys

dashboard = json.load(open(sys.argv[1]))
exposition = open(sys.argv[2]).read()
errors = []

# What the hub exposes: every sample name, and the declared type of each family.
samples = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", exposition, re.M))
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M))
if not samples:
    sys.exit("no samples in /metrics")

def family(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)], suffix
    return name, ""

def rateable(name):
    base, suffix = family(name)
    return types.get(base) == "counter" or suffix != ""

inputs = {i.get("name") for i in dashboard.get("__inputs", []) if i.get("type") == "datasource"}
if "DS_PROMETHEUS" not in inputs:
    errors.append("__inputs: no datasource input DS_PROMETHEUS")
if not 36 <= dashboard.get("schemaVersion", 0) <= 41:
    errors.append(f"schemaVersion {dashboard.get('schemaVersion')}: expected about 39")
variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
if "instance" not in variables:
    errors.append("templating: no instance variable")
else:
    q = variables["instance"].get("definition", "")
    for name in re.findall(r"sessionhub_[a-z0-9_]+", q):
        if name not in samples:
            errors.append(f"instance variable: {name} is not in /metrics")

def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))

def uses_input(ds):
    return isinstance(ds, dict) and ds.get("uid") == "${DS_PROMETHEUS}"

ids, used = set(), set()
exprs = 0
for p in all_panels(dashboard.get("panels", [])):
    title = p.get("title", "?")
    if p.get("id") in ids:
        errors.append(f"{title}: panel id {p.get('id')} used twice")
    ids.add(p.get("id"))
    if "gridPos" not in p:
        errors.append(f"{title}: no gridPos")
    if p.get("type") == "row":
        continue
    if not uses_input(p.get("datasource")):
        errors.append(f"{title}: panel datasource is not ${{DS_PROMETHEUS}}")
    targets = p.get("targets", [])
    if not targets:
        errors.append(f"{title}: no query")
    for t in targets:
        expr = t.get("expr", "")
        exprs += 1
        where = f"{title} [{t.get('refId')}]"
        if not uses_input(t.get("datasource")):
            errors.append(f"{where}: query datasource is not ${{DS_PROMETHEUS}}")
        names = re.findall(r"\b(sessionhub_[a-z0-9_]+)", expr)
        if not names:
            errors.append(f"{where}: no sessionhub metric in {expr!r}")
        for name in names:
            used.add(family(name)[0])
            if name not in samples:
                errors.append(f"{where}: {name} is not in the hub's /metrics")
        # Every selector filters on the instance variable.
        for name, selector in re.findall(r"\b(sessionhub_[a-z0-9_]+)(\{[^}]*\})?", expr):
            if 'instance=~"$instance"' not in selector:
                errors.append(f"{where}: {name} without {{instance=~\"$instance\"}}")
        # rate()/increase() only over counters and histogram parts; a counter never raw.
        for fn, name in re.findall(r"\b(rate|irate|increase)\(\s*(sessionhub_[a-z0-9_]+)", expr):
            if not rateable(name):
                errors.append(f"{where}: {fn}() over {name}, a {types.get(name, 'untyped')}")
        for m in re.finditer(r"\b(sessionhub_[a-z0-9_]+)", expr):
            name = m.group(1)
            if rateable(name) and not re.search(r"\b(rate|irate|increase)\(\s*$", expr[: m.start()]):
                errors.append(f"{where}: counter {name} graphed without rate()/increase()")

if exprs == 0:
    errors.append("no queries at all")
for e in errors:
    print("ERROR", e)
if errors:
    sys.exit(1)
unused = sorted(set(types) - used)
print(f"grafana dashboard: {exprs} queries over {len(used)} metric families, all in /metrics")
if unused:
    print("not on the dashboard:", ", ".join(unused))
EOF
