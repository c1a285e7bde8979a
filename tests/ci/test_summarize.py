#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/summarize.py on hand-made meson test logs: the exact closing line
of test.sh, and an exit status that is non-zero exactly when that line
counts a failure."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("CI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
SUMMARIZE = os.path.join(ROOT, "scripts", "summarize.py")


class Summarize(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modalloc-ci-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def builddir(self, name, results=None, raw=None):
        """A build dir whose testlog.json holds one line per (suite, test, result)."""
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "meson-logs"))
        if results is None and raw is None:
            return d
        with open(os.path.join(d, "meson-logs", "testlog.json"), "w") as fh:
            for suite, test, result in results or []:
                fh.write(json.dumps({"name": f"modalloc:{suite} / {test}", "result": result,
                                     "returncode": 0, "stdout": "", "duration": 0.1}) + "\n")
            if raw is not None:
                fh.write(raw)
        return d

    def run_it(self, *specs):
        p = subprocess.run([sys.executable, SUMMARIZE, *specs], capture_output=True, text=True,
                           timeout=60)
        lines = p.stdout.splitlines()
        return p.returncode, lines[-1] if lines else "", lines[:-1], p.stderr

    def test_all_passed(self):
        a = self.builddir("a", [("unit", "unit.x", "OK"), ("unit", "unit.y", "OK"),
                                ("tool", "tool-run", "EXPECTEDFAIL"), ("dhat", "dhat.v", "SKIP")])
        b = self.builddir("b", [("fuzz", "fuzz.e", "OK")])
        rc, last, before, err = self.run_it(a + ":unit,tool,dhat", b + ":fuzz")
        self.assertEqual((rc, last, before, err), (0, "4 passed, 0 failed, 1 skipped", [], ""))

    def test_each_kind_of_failure_counts(self):
        a = self.builddir("a", [("unit", "u1", "OK"), ("unit", "u2", "FAIL"), ("unit", "u3", "TIMEOUT"),
                                ("unit", "u4", "ERROR"), ("unit", "u5", "UNEXPECTEDPASS"),
                                ("unit", "u6", "INTERRUPT"), ("unit", "u7", "SKIP")])
        rc, last, before, _ = self.run_it(a)
        self.assertEqual((rc, last, before), (1, "1 passed, 5 failed, 1 skipped", []))

    def test_one_failure_among_many_dirs(self):
        a = self.builddir("a", [("unit", f"u{i}", "OK") for i in range(27)])
        b = self.builddir("b", [("fuzz", "f", "OK"), ("fuzz", "g", "FAIL")])
        rc, last, _, _ = self.run_it(a, b)
        self.assertEqual((rc, last), (1, "28 passed, 1 failed, 0 skipped"))

    def test_missing_log_counts_one_failure(self):
        # meson test prints "No tests defined." and exits 0 without writing a
        # log; a set-up or build that failed writes none either.
        a = self.builddir("a", [("unit", "u1", "OK")] * 28)
        b = self.builddir("b")
        rc, last, before, _ = self.run_it(a, b)
        self.assertEqual((rc, last), (1, "28 passed, 1 failed, 0 skipped"))
        self.assertEqual(before, [f"{b}: no test log (set-up or build failed, or meson test did not start)"])

    def test_missing_dir_counts_one_failure(self):
        rc, last, _, _ = self.run_it(os.path.join(self.tmp, "never-set-up"))
        self.assertEqual((rc, last), (1, "0 passed, 1 failed, 0 skipped"))

    def test_empty_log_counts_one_failure(self):
        a = self.builddir("a", raw="\n")
        rc, last, before, _ = self.run_it(a)
        self.assertEqual((rc, last, before), (1, "0 passed, 1 failed, 0 skipped",
                                              [f"{a}: empty test log (no tests defined?)"]))

    def test_missing_suite_counts_one_failure_each(self):
        # A build dir configured without cmocka runs only the suites that do
        # not need it; each expected suite with no result is one failure.
        a = self.builddir("a", [("unit", "u1", "OK"), ("stress", "s1", "OK")])
        rc, last, before, _ = self.run_it(a + ":unit,integration,stress,tool")
        self.assertEqual((rc, last), (1, "2 passed, 2 failed, 0 skipped"))
        self.assertEqual([b.split(" (")[0] for b in before],
                         [f"{a}: no result for suite integration", f"{a}: no result for suite tool"])

    def test_test_in_two_suites(self):
        a = os.path.join(self.tmp, "a")
        os.makedirs(os.path.join(a, "meson-logs"))
        with open(os.path.join(a, "meson-logs", "testlog.json"), "w") as fh:
            fh.write(json.dumps({"name": "modalloc:unit+modalloc:slow / t", "result": "OK"}) + "\n")
        rc, last, _, _ = self.run_it(a + ":unit,slow")
        self.assertEqual((rc, last), (0, "1 passed, 0 failed, 0 skipped"))

    def test_single_suite_names(self):
        # A directory whose tests are all in one suite (build-fuzz): meson's
        # log names them without "project:suite / "; the suites come from
        # meson-info/intro-tests.json.
        a = os.path.join(self.tmp, "a")
        os.makedirs(os.path.join(a, "meson-logs"))
        os.makedirs(os.path.join(a, "meson-info"))
        with open(os.path.join(a, "meson-info", "intro-tests.json"), "w") as fh:
            json.dump([{"name": "fuzz.elf", "suite": ["modalloc:fuzz"]},
                       {"name": "fuzz.run.elf", "suite": ["modalloc:fuzz"]}], fh)
        with open(os.path.join(a, "meson-logs", "testlog.json"), "w") as fh:
            for name in ("fuzz.elf", "fuzz.run.elf"):
                fh.write(json.dumps({"name": name, "result": "OK"}) + "\n")
        rc, last, before, _ = self.run_it(a + ":fuzz")
        self.assertEqual((rc, last, before), (0, "2 passed, 0 failed, 0 skipped", []))
        rc, last, before, _ = self.run_it(a + ":fuzz,unit")
        self.assertEqual((rc, last, len(before)), (1, "2 passed, 1 failed, 0 skipped", 1))

    def test_unreadable_line_counts_one_failure(self):
        a = self.builddir("a", [("unit", "u1", "OK")], raw='{"name": "modalloc:unit / u2", "res\n')
        rc, last, before, _ = self.run_it(a)
        self.assertEqual((rc, last, len(before)), (1, "1 passed, 1 failed, 0 skipped", 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
