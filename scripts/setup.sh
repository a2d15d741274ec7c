#!/usr/bin/env bash
# Installs every Debian package sessionhub needs to build, run and test.
# Idempotent: packages already present are skipped, and `apt-get update` runs
# at most once per invocation (only when something is missing).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build clang-format
  libboost1.81-dev libboost-program-options1.81-dev
  libssl-dev rapidjson-dev libsqlite3-dev
  libzmq3-dev cppzmq-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server haproxy curl ca-certificates python3
  chromium  # the browser tests drive Debian's Chromium (never a downloaded one)
  nginx-light libnginx-mod-nchan gnuplot-nox  # benchmark peer (nchan) and plots (loadtest/)
  # The fuzz build (fuzz/): clang 14, its compiler-rt (libFuzzer and the sanitizer runtimes,
  # only recommended by clang), and llvm-symbolizer for readable crash stacks.
  clang libclang-rt-14-dev llvm
)
# Node.js runs the snippet's build and tests; any installed Node >= 18 will do (Debian 12's
# own is 18), so it is only installed when there is none.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx is only a benchmark peer, started on loopback by loadtest/peers/peer.sh: not a
# system service listening on port 80.
if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
echo "setup: done"
