#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures a build directory for the tests:
#   scripts/setup.sh DIR [MESON-SETUP-OPTION...]
# A new DIR is set up; one set up before is reconfigured, so that meson looks
# again for what was missing then and takes the options given now.  (build.sh
# sets up build/ before `scripts/deps.sh test` installs cmocka; reused as it
# was, build/ would define no tests.)  Tests are required (-Dtests=enabled):
# a missing test dependency fails here, not quietly later.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$1; shift
if [ -f "$dir/meson-private/coredata.dat" ]; then
  exec meson setup --reconfigure "$dir" "$src" -Dtests=enabled "$@"
fi
exec meson setup "$dir" "$src" -Dtests=enabled "$@"
