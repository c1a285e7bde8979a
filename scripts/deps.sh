#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what modalloc needs on Debian 12, only what is missing.
#   scripts/deps.sh build   compiler, meson, ninja, pkg-config; json-c, libdw, libdebuginfod and zlib
#                           for the modalloc tool (reports; file:line from DWARF, debuginfod; gzip
#                           for pprof)
#   scripts/deps.sh test    + cmocka, valgrind, clang (fuzzing), the aarch64 cross
#                           compiler and qemu-user, chromium and node (DHAT viewer and speedscope
#                           tests), redis, sqlite3 (the real-program suite), debuginfod and xz
#                           (the tool suite serves debug files on 127.0.0.1), golang-go (go tool
#                           pprof reads the pprof output), tmux (`modalloc top` is tested in a
#                           terminal), procps (pgrep), libjemalloc2 (bench/run.py's jemalloc
#                           profiler column, issue 14)
set -euo pipefail
what=${1:-build}
pkgs=(gcc g++ meson ninja-build pkg-config python3 libjson-c-dev libdw-dev libdebuginfod-dev zlib1g-dev)
if [ "$what" = test ]; then
  pkgs+=(libcmocka-dev valgrind clang libclang-rt-14-dev gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
         qemu-user chromium nodejs npm redis-server redis-tools sqlite3 librsvg2-bin
         debuginfod xz-utils binutils dwz golang-go tmux procps libjemalloc2)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node/npm may come from outside Debian (a node build on PATH): then keep it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Again when the lock file changed since (speedscope joined playwright-core there).
if [ "$what" = test ] && [ -f tests/dhat/package.json ] &&
   { [ ! -d tests/dhat/node_modules ] ||
     [ tests/dhat/package-lock.json -nt tests/dhat/node_modules/.package-lock.json ]; }; then
  (cd tests/dhat && npm ci --no-audit --no-fund --silent)
fi
