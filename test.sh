#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start, part 2: the whole test suite.  Installs test dependencies,
# builds, runs every meson suite (unit, integration, tier2, tool, dhat,
# aarch64, real, stress, ci), then the unit tests under ASan+UBSan and under
# TSan, then the fuzz targets (corpus replay and a 20 s run each), and prints
# one closing line "N passed, M failed, K skipped" over all of them.  Exit
# status 1 when that line counts a failure (a build directory that fails to
# set up or build, or whose meson test does not start, counts as one).
set -uo pipefail
cd "$(dirname "$0")"
scripts/deps.sh test
export MALLOC_PERTURB_=0
status=0
run() { # build-dir, meson-setup-args..., -- meson-test-args...
  local dir=$1; shift
  local setup=() ; while [ $# -gt 0 ] && [ "$1" != -- ]; do setup+=("$1"); shift; done; shift
  rm -f "$dir/meson-logs/testlog.json"   # a log of an earlier run must not count
  # Set up, or reconfigure one set up before (maybe before cmocka was installed).
  local out; out=$(scripts/setup.sh "$dir" "${setup[@]}" 2>&1) || { printf '%s\n' "$out" | tail -30; return 1; }
  meson compile -C "$dir" >/dev/null || { meson compile -C "$dir" 2>&1 | tail -30; return 1; }
  meson test -C "$dir" --print-errorlogs "$@"
}
run build -- || status=1
run build-asan -Dsanitize_tests=address,undefined -Dbench=false -- --suite unit || status=1
run build-tsan -Dsanitize_tests=thread -Dbench=false -- --suite unit || status=1
# libFuzzer (clang): replay the committed corpora, then a short run of each target.
CC=clang run build-fuzz -Dfuzz=true -Dbench=false -- --suite fuzz || status=1
# Each directory must have run these suites (else it counts a failure).
python3 scripts/summarize.py build:unit,integration,tier2,tool,dhat,aarch64,real,stress,ci \
  build-asan:unit build-tsan:unit build-fuzz:fuzz || status=1
exit $status
