#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start, part 1: install missing build dependencies, build, and profile
# a real program (python3 here; pass your own command instead).
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh build
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
meson compile -C build >/dev/null
echo "built build/src/libmodalloc.so and build/tools/modalloc"
if [ $# -eq 0 ]; then
  py=python3; [ -x /usr/bin/python3 ] && py=/usr/bin/python3   # not a version-manager shim
  set -- "$py" -c 'import json; print(len(json.dumps(list(range(100000)))))'
fi
exec build/tools/modalloc run -- "$@"
