#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_view.py: view.mjs must fail on the broken files that the real viewer
loads without complaint or with only an on-page error (dhat-format.md
section 7), and pass the reference one; otherwise the dhat.view.* tests
prove nothing.

  test_view.py NODE ARTIFACT_DIR        exit 77 when view.mjs skips
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_check_dhat  # noqa: E402

SKIP = 77


def base():
    """The section 8 document as an interposer writes it (no access data)."""
    d = test_check_dhat.no_access(test_check_dhat.DOC)
    d["tu"], d["Mtu"] = "bytes allocated", "MB allocated"
    d["te"], d["tg"] = 374, 300
    for pp in d["pps"]:
        pp["tl"] = min(pp["tl"], pp["tbk"] * 374)
    report = {"cmd": d["cmd"], "pid": d["pid"],
              "totals": {"bytes": 374, "blocks": 7, "peak_bytes": 264, "peak_blocks": 5,
                         "live_bytes": 32, "live_blocks": 2}}
    return d, report


def variant(fn):
    d, r = base()
    fn(d, r)
    return d, r


# (name, mutation, substring the output must hold; None = must pass)
CASES = [
    ("reference", lambda d, r: None, None),
    ("repeated location", lambda d, r: d["pps"][2].__setitem__("fs", [4, 5, 3]),
     "viewer error: Error: data file contains a repeated location"),
    ("missing field", lambda d, r: d["pps"][1].pop("tbk"), "viewer error: Error: data file is missing a field"),
    ("tl missing", lambda d, r: [pp.pop("tl") for pp in d["pps"]], "rendered text contains NaN"),
    ("frame out of range", lambda d, r: d["pps"][0].__setitem__("fs", [1, 2, 9]),
     "rendered text contains undefined"),
    ("te zero", lambda d, r: (d.__setitem__("te", 0), d.__setitem__("tg", 0)), "rendered text contains ∞"),
    ("numbers as strings", lambda d, r: d["pps"][0].__setitem__("tb", "64"), "root bytes: viewer shows"),
    ("peak off by one", lambda d, r: r["totals"].__setitem__("peak_blocks", 4),
     "root peak_blocks: viewer shows 5, JSON report has 4"),
    ("wrong cmd", lambda d, r: d.__setitem__("cmd", "./other"), "DHAT cmd"),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    node, art = sys.argv[1], sys.argv[2]
    if not shutil.which(node):
        print(f"SKIP: node not found ({node})")
        return SKIP
    os.makedirs(art, exist_ok=True)
    work = tempfile.mkdtemp(prefix="modalloc-dhat-viewtest-")
    fails = []
    try:
        jobs = []
        for i, (name, fn, want) in enumerate(CASES):
            d, r = variant(fn)
            dp, rp = os.path.join(work, f"{i}.dhat.json"), os.path.join(work, f"{i}.report.json")
            with open(dp, "w") as f:
                json.dump(d, f)
            with open(rp, "w") as f:
                json.dump(r, f)
            jobs.append({"name": str(i), "dhat": dp, "json": rp,
                         "screenshot": os.path.join(art, f"dhat-viewtest-{i}.png")})
        jp = os.path.join(work, "jobs.json")
        with open(jp, "w") as f:
            json.dump(jobs, f)
        # One browser for all cases: a Chromium start costs seconds here.
        p = subprocess.run([node, os.path.join(HERE, "view.mjs"), "--jobs", jp],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=110)
        out = p.stdout.decode(errors="replace")
        if p.returncode == SKIP:
            print(out, end="")
            return SKIP
        lines = out.splitlines()
        for i, (name, fn, want) in enumerate(CASES):
            mine = "\n".join(x for x in lines if x.startswith(f"[{i}] "))
            if want is None:
                ok = f"[{i}] ok" in mine and "FAIL" not in mine
            else:
                ok = f"[{i}] FAIL: {want}" in mine
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
            if not ok:
                fails.append(name)
                print(mine or out)
        if p.returncode != 1:
            fails.append(f"view.mjs exited {p.returncode}, expected 1 (some jobs fail)")
            print(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(CASES)} viewer cases, {len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
