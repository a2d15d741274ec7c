#!/usr/bin/env bash
# Runs one fuzz target as a test: every committed seed first (each must pass), then
# mutations for <seconds>. The inputs it finds go to a temporary directory that is removed
# afterwards, never into the committed corpus; a crashing, leaking or hanging input is kept
# in <artifacts>/ (its path is printed) to be reproduced with `<fuzzer> <file>`.
#   run_fuzzer.sh <fuzzer> <seed dir> <seconds> <artifacts dir> [libFuzzer flags...]
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 artifacts=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
name=$(basename "$fuzzer")
# The first directory receives new inputs; the seeds are only read.
args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$artifacts/$name-" "$@" "$work" "$seeds")
echo "$fuzzer ${args[*]}"
"$fuzzer" "${args[@]}"
