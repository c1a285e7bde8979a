#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sums meson's test results over build directories and prints the closing
line of ./test.sh: 'N passed, M failed, K skipped'.

    summarize.py DIR[:SUITE,SUITE...]...

Reads each DIR's meson-logs/testlog.json (test.sh deletes it before each run,
so a log left by an earlier run never counts).  Each of these counts as one
failure, with a line saying why: a DIR without a log, or whose log holds no
result (its set-up or build failed, or meson test did not start or found no
tests), and a SUITE listed after DIR with no result in its log (DIR was
configured without that suite).  Exit status: 1 when the closing line counts
a failure, else 0.
"""
import json
import os
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}


def defined_suites(d):
    """{test name: {suite, ...}} from DIR's meson-info/intro-tests.json ({} without it)."""
    try:
        with open(os.path.join(d, "meson-info", "intro-tests.json")) as fh:
            return {t["name"]: {s.split(":", 1)[-1] for s in t["suite"]} for t in json.load(fh)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def suites_of(name, defined):
    """The suites of a test from its name in the log: 'modalloc:unit+ci / unit.x'
    when the project has several suites, else just 'unit.x' (look it up)."""
    if " / " not in name:
        return defined.get(name, set())
    head, _, test = name.partition(" / ")
    return {s.split(":", 1)[-1] for s in head.split("+") if s} | defined.get(test, set())


def summarize(specs, out=print):
    """specs: ['DIR' or 'DIR:SUITE,...']; returns (passed, failed, skipped)."""
    passed = failed = skipped = 0
    for spec in specs:
        d, _, want = spec.partition(":")
        want = [s for s in want.split(",") if s]
        log = os.path.join(d, "meson-logs", "testlog.json")
        if not os.path.exists(log):
            out(f"{d}: no test log (set-up or build failed, or meson test did not start)")
            failed += 1
            continue
        defined = defined_suites(d)
        seen = set()
        n = 0
        with open(log, errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                n += 1
                try:
                    r = json.loads(line)
                    result = r["result"]
                    seen |= suites_of(r.get("name", ""), defined)
                except (ValueError, KeyError, TypeError):
                    out(f"{d}: unreadable line in {log}: {line[:100]!r}")
                    failed += 1
                    continue
                if result in PASS:
                    passed += 1
                elif result in SKIP:
                    skipped += 1
                else:
                    failed += 1
        if n == 0:
            out(f"{d}: empty test log (no tests defined?)")
            failed += 1
        for s in want:
            if s not in seen:
                out(f"{d}: no result for suite {s} (configured without it? run scripts/setup.sh {d})")
                failed += 1
    return passed, failed, skipped


def main(argv):
    passed, failed, skipped = summarize(argv)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
