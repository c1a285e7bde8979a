#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Cross-builds libmodalloc for aarch64 and checks call-site capture under qemu-user.

usage: run.py SOURCE_ROOT WORK_DIR
Skips (77) when the cross compiler or qemu-aarch64 is missing.
"""
import json
import os
import subprocess
import sys

import cross

SKIP = cross.SKIP


def main():
    src, work = sys.argv[1], sys.argv[2]
    got = cross.build_lib(src, work)
    if got is None:
        return SKIP
    build, lib = got
    here = cross.HERE
    prog = os.path.join(build, "stack_prog")
    # pac-ret: return addresses carry pointer-authentication codes the walker must strip.
    subprocess.run(["aarch64-linux-gnu-gcc", "-O1", "-fno-omit-frame-pointer", "-fno-builtin",
                    "-mbranch-protection=pac-ret", "-rdynamic", "-o", prog,
                    os.path.join(here, "stack_prog.c")], check=True)
    out = os.path.join(build, "report.%p.json")
    for f in os.listdir(build):
        if f.startswith("report.") and f.endswith(".json"):
            os.unlink(os.path.join(build, f))
    r = subprocess.run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu",
                        "-E", "LD_PRELOAD=" + lib, "-E", "MOD_ALLOC_BACKTRACES=1",
                        "-E", "MOD_ALLOC_OUT=" + out, "-E", "MOD_ALLOC_QUIET=1", prog],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print("program failed:", r.returncode, r.stderr)
        return 1
    reports = [f for f in os.listdir(build) if f.startswith("report.") and f.endswith(".json")]
    if len(reports) != 1:
        print("expected one report, found", reports)
        return 1
    with open(os.path.join(build, reports[0])) as fh:
        d = json.load(fh)
    t = d["totals"]
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: got {got!r}, want {want!r}")

    expect("config.backtraces", d["config"]["backtraces"], True)
    expect("blocks", t["blocks"], 111)
    expect("bytes", t["bytes"], 100 * 24 + 10 * 4096 + 7)
    expect("live_blocks", t["live_blocks"], 1)
    expect("live_bytes", t["live_bytes"], 7)
    expect("peak_bytes", t["peak_bytes"], 100 * 24 + 4096)
    expect("peak_blocks", t["peak_blocks"], 101)
    # Complete chains (frame pointers everywhere, BL/BLR before each return address): none ended early.
    expect("stacks.ended_early", d["stacks"].get("ended_early"), 0)
    expect("stacks.shallow_warning", d["stacks"]["shallow_warning"], False)
    sites = {}
    for s in d["sites"]:
        names = [f["function"] for f in s["frames"]]
        sites[tuple(names[:4])] = s
    want = {
        ("level3", "level2", "level1", "main"): (100, 2400, 0),
        ("level1", "main"): (10, 40960, 0),
        ("main",): (1, 7, 7),
    }
    for prefix, (blocks, bytes_, live) in want.items():
        match = [s for k, s in sites.items() if k[:len(prefix)] == prefix and
                 (len(k) == len(prefix) or k[len(prefix)] not in ("level1", "level2", "level3", "main"))]
        if len(match) != 1:
            failures.append(f"site {' < '.join(prefix)}: found {len(match)} sites; all: {list(sites)}")
            continue
        s = match[0]
        expect(f"{prefix[0]} blocks", s["blocks"], blocks)
        expect(f"{prefix[0]} bytes", s["bytes"], bytes_)
        expect(f"{prefix[0]} live_bytes", s["live_bytes"], live)
    expect("sum of site blocks", sum(s["blocks"] for s in d["sites"]), t["blocks"])
    expect("sum of at_peak_bytes", sum(s["at_peak_bytes"] for s in d["sites"]), t["peak_bytes"])
    if failures:
        print("\n".join(failures))
        return 1
    print("ok: aarch64 call sites under qemu, PAC stripped, totals exact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
