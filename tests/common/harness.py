# SPDX-License-Identifier: Apache-2.0
"""What the Python test harnesses share (integration/run.py, tier2/run.py,
real/reportcheck.py and through it stress/stress.py, dhat/run_dhat.py):
the exception a failed expectation raises, the check that raises it, and
the loader of a modalloc JSON report.  Python 3 stdlib only.

A harness in tests/NAME/ imports it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    from harness import Fail, check, load_report  # noqa: E402
"""
import glob
import json
import os
import shutil
import subprocess
import tempfile

SKIP = 77  # exit status meson counts as a skipped test


class Fail(Exception):
    """An expectation that did not hold: the harness prints it and exits 1."""


class Skip(Exception):
    """Something the test needs is missing: the harness exits SKIP."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def expect(what, got, want):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


def run_one_report(lib, prog, env_extra, prefix="modalloc-test-"):
    """Runs prog preloaded with lib, with no MOD_ALLOC_* setting of the caller's but
    env_extra's: its one report (parsed) and the finished process."""
    out = tempfile.mkdtemp(prefix=prefix)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOD_ALLOC_") and k != "MALLOC_PERTURB_"}
        env.update({"LD_PRELOAD": lib, "MOD_ALLOC_QUIET": "1", "MOD_ALLOC_OUT": os.path.join(out, "r.%p.json")})
        env.update(env_extra)
        r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail(f"{prog}: exit {r.returncode}\n{r.stderr}")
        files = glob.glob(os.path.join(out, "r.*.json"))
        if len(files) != 1:
            raise Fail(f"expected one report, got {files}")
        with open(files[0]) as f:
            return json.load(f), r
    finally:
        shutil.rmtree(out, ignore_errors=True)


def oracle_stacks(path):
    """The oracle programs' own record (tests/tier2/oracle.c): one line per block, its size
    and libgcc's return addresses from alloc_here's caller on -> {stack: (blocks, bytes)},
    and the set of sizes seen."""
    want, sizes = {}, set()
    with open(path) as f:
        for line in f:
            v = line.split()
            ips = [int(x, 16) for x in v[1:]]
            while ips and ips[-1] == 0:
                ips.pop()
            b, n = want.get(tuple(ips), (0, 0))
            want[tuple(ips)] = (b + 1, n + int(v[0]))
            sizes.add(int(v[0]))
    return want, sizes


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate keys {dup}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def load_report(path):
    """A modalloc report: strict JSON (no duplicate keys, NaN or Infinity), an
    object with format "modalloc" and version 1; anything else fails."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        r = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except ValueError as e:
        raise Fail(f"{path}: not valid JSON ({e}); first bytes: {text[:2000]!r}")
    check(isinstance(r, dict), f"{path}: not a JSON object")
    check(r.get("format") == "modalloc" and r.get("version") == 1, f"{path}: bad header {text[:80]!r}")
    return r
