# SPDX-License-Identifier: Apache-2.0
"""What the Python test harnesses share (integration/run.py, tier2/run.py,
real/reportcheck.py and through it stress/stress.py, dhat/run_dhat.py):
the exception a failed expectation raises, the check that raises it, and
the loader of a modalloc JSON report.  Python 3 stdlib only.

A harness in tests/NAME/ imports it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    from harness import Fail, check, load_report  # noqa: E402
"""
import json

SKIP = 77  # exit status meson counts as a skipped test


class Fail(Exception):
    """An expectation that did not hold: the harness prints it and exits 1."""


class Skip(Exception):
    """Something the test needs is missing: the harness exits SKIP."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


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
