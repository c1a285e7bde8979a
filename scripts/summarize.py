#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sums meson's test results over build directories: prints 'N passed, M failed, K skipped'."""
import json
import os
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
passed = failed = skipped = 0
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        print(f"{d}: no test log (the build failed?)")
        failed += 1
        continue
    with open(log) as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)["result"]
            if r in PASS:
                passed += 1
            elif r in SKIP:
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
