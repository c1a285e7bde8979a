#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/setup.sh, which test.sh runs on each build directory, against the
README's order on a fresh machine: build.sh sets up build/ before cmocka is
installed (emulated: a pkg-config that does not know cmocka, no cmake), so
build/ defines no tests; once cmocka is there, setup.sh must make the same
directory define every suite.  And with cmocka missing it must fail, not
quietly set up a directory without tests."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.environ.get("CI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
SETUP = os.path.join(ROOT, "scripts", "setup.sh")
SUITES = {"unit", "integration", "tier2", "tool", "dhat", "aarch64", "real", "stress", "ci"}
HIDE = """#!/bin/sh
for a in "$@"; do case "$a" in cmocka*) exit 1;; esac; done
exec pkg-config "$@"
"""


class Setup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modalloc-ci-")
        hide = os.path.join(self.tmp, "pkg-config-without-cmocka")
        with open(hide, "w") as fh:
            fh.write(HIDE)
        os.chmod(hide, 0o755)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PKG_CONFIG", "CMAKE", "CC", "CFLAGS", "LDFLAGS")}
        self.no_cmocka = dict(self.env, PKG_CONFIG=hide, CMAKE="/bin/false")
        self.dir = os.path.join(self.tmp, "build")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sh(self, argv, env, rc=0):
        p = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        self.assertEqual(p.returncode, rc, f"{argv}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return p.stdout + p.stderr

    def suites(self):
        out = self.sh(["meson", "introspect", self.dir, "--tests"], self.env)
        return {s.split(":")[-1] for t in json.loads(out) for s in t["suite"]}

    def test_build_dir_set_up_before_cmocka(self):
        # build.sh's set-up, before `scripts/deps.sh test`.
        out = self.sh(["meson", "setup", self.dir, ROOT, "--buildtype=debugoptimized"], self.no_cmocka)
        self.assertIn("Run-time dependency cmocka found: NO", out)
        self.assertEqual(self.suites(), set())
        # test.sh, once cmocka is installed.
        out = self.sh([SETUP, self.dir], self.env)
        self.assertIn("Run-time dependency cmocka found: YES", out)
        self.assertEqual(self.suites() & SUITES, SUITES)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "build.ninja")))

    def test_new_dir_with_options(self):
        self.sh([SETUP, self.dir, "-Dsanitize_tests=address,undefined", "-Dbench=false"], self.env)
        self.assertEqual(self.suites(), {"unit", "aarch64"})
        # Reconfigured with other options, it takes them.
        self.sh([SETUP, self.dir, "-Dsanitize_tests=none"], self.env)
        self.assertEqual(self.suites() & SUITES, SUITES)

    def test_cmocka_still_missing_fails(self):
        out = self.sh([SETUP, self.dir], self.no_cmocka, rc=1)
        self.assertIn('Dependency "cmocka" not found', out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
