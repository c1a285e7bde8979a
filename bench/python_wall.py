#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""python3's wall time with call sites on against bare (issue 12's one-time cost).

A python3 workload (json of 60,000 entries dumped and loaded, 50,000 sqlite3
inserts; ~0.3 s bare) run bare, with call sites walked by frame pointers
(MOD_ALLOC_UNWIND=fp) and with call-frame information (the default), in
alternating runs; prints the minimum and the sorted samples (ms) of each.
The call-frame runs include compiling the tables of every module the stacks
pass through (python3, libc, the extension modules, libsqlite3...).

    bench/python_wall.py --build build [-r 5]

Python 3 standard library only.  See docs/bench.md.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

WORKLOAD = r"""
import json, sqlite3
d = {"k%d" % i: [i, str(i) * 3, {"x": i / 7}] for i in range(60000)}
s = json.dumps(d)
assert len(json.loads(s)) == 60000
db = sqlite3.connect(":memory:")
db.execute("create table t (a integer, b text)")
db.executemany("insert into t values (?, ?)", ((i, "v%d" % i) for i in range(50000)))
assert db.execute("select count(*) from t").fetchone()[0] == 50000
"""


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("MOD_ALLOC_", "MALLOC_")) or k == "LD_PRELOAD":
            del env[k]
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="meson build directory (default: build)")
    ap.add_argument("-r", "--reps", type=int, default=5, help="runs per configuration (default 5)")
    ap.add_argument("--python", default=sys.executable, help="the python3 to run (default: this one)")
    args = ap.parse_args()
    lib = os.path.abspath(os.path.join(args.build, "src", "libmodalloc.so"))
    if not os.path.exists(lib):
        sys.exit("python_wall.py: %s not found" % lib)
    configs = [("bare", {}), ("call sites, MOD_ALLOC_UNWIND=fp", {"MOD_ALLOC_UNWIND": "fp"}),
               ("call sites, call-frame information", {})]
    samples = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory(prefix="modalloc-pywall-") as tmp:
        prog = os.path.join(tmp, "work.py")
        with open(prog, "w") as f:
            f.write(WORKLOAD)
        for _ in range(args.reps):
            for name, extra in configs:
                env = clean_env()
                if name != "bare":
                    env.update({"LD_PRELOAD": lib, "MOD_ALLOC_BACKTRACES": "1", "MOD_ALLOC_QUIET": "1",
                                "MOD_ALLOC_OUT": os.path.join(tmp, "r.%p.json")})
                    env.update(extra)
                t0 = time.monotonic()
                subprocess.run([args.python, prog], env=env, check=True, cwd=tmp)
                samples[name].append((time.monotonic() - t0) * 1000.0)
    bare = min(samples["bare"])
    for name, _ in configs:
        s = sorted(samples[name])
        print("%-38s min %4.0f ms  %.2fx bare  (%s)" % (name, s[0], s[0] / bare, " ".join("%.0f" % x for x in s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
