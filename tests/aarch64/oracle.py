#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""aarch64 call-frame walk against libgcc's _Unwind_Backtrace, under qemu-user.

usage: oracle.py SOURCE_ROOT WORK_DIR

tests/tier2/oracle.c cross-built -O2 -fomit-frame-pointer (with pac-ret, so
return addresses carry authentication codes), against Debian's arm64 cross
libraries (no frame pointers either): random call paths through recursion of
four frame layouts, a qsort comparator that allocates (frames of the C
library), a thread, and signal handlers that allocate, on the thread's stack
and on an alternate stack, sent by raise() or by a leaf function's own
system call (through qemu's sigreturn trampoline: the walk goes on from the
interrupted context, with x30 from it for the leaf).  Every allocation's stack must equal
libgcc's at the same place, frame for frame, with exact per-site counts;
stacks reach _start or the thread's start.  With MOD_ALLOC_UNWIND=fp the frame-pointer walk is kept: its
stacks differ from libgcc's.  With tests/aarch64/cxx_prog.cc (when the arm64
C++ cross compiler is installed): >= 95% of allocations, most of them made
inside libstdc++, have complete stacks by call-frame information.
Skips (77) when the cross compiler or qemu-aarch64 is missing.
"""
import json
import os
import shutil
import subprocess
import sys

import cross
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import oracle_stacks  # noqa: E402

SKIP = cross.SKIP
QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
failures = []


def expect(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def run(lib, prog, args, out, env=()):
    if os.path.exists(out):
        os.unlink(out)
    cmd = QEMU + ["-E", "LD_PRELOAD=" + lib, "-E", "MOD_ALLOC_BACKTRACES=1", "-E", "MOD_ALLOC_DEPTH=256",
                  "-E", "MOD_ALLOC_OUT=" + out, "-E", "MOD_ALLOC_QUIET=1"]
    for e in env:
        cmd += ["-E", e]
    r = subprocess.run(cmd + [prog] + args, capture_output=True, text=True, timeout=240)
    if r.returncode != 0:
        raise SystemExit(f"{prog} failed: {r.returncode} {r.stderr}")
    expect(f"{os.path.basename(prog)} {env}: quiet stderr", r.stderr, "")
    with open(out) as fh:
        return json.load(fh)



def report_sites(d):
    got = {}
    for x in d["sites"]:
        if not x["frames"] or x["frames"][0]["function"] != "alloc_here":
            continue
        key = tuple(int(f["ip"], 16) for f in x["frames"][1:])
        if key in got:
            failures.append(f"two sites for one stack: {[hex(a) for a in key]}")
        got[key] = (x["blocks"], x["bytes"])
    return got


def complete(d, entry):
    """Blocks whose stack is complete: not truncated nor ended early, and
    through main to _start, or (another thread) through the thread's entry
    function `entry` and then only the C and C++ libraries' frames down to
    the C library's (unnamed) thread start."""
    def whole(x):
        f = x["frames"]
        if x["truncated"] or x.get("ended_early") is not False or not f:
            return False
        names = [g["function"] for g in f]
        if "main" in names:
            return names[-1] == "_start"
        if entry not in names:
            return False
        rest = f[len(names) - names[::-1].index(entry):]
        return bool(rest) and all(g["module"].startswith("/usr/aarch64-linux-gnu/lib/") for g in rest) and \
            os.path.basename(rest[-1]["module"]) == "libc.so.6"
    allb = sum(x["blocks"] for x in d["sites"])
    ok = sum(x["blocks"] for x in d["sites"] if whole(x))
    return ok, allb


def main():
    src, work = sys.argv[1], sys.argv[2]
    got = cross.build_lib(src, work)
    if got is None:
        return SKIP
    build, lib = got
    here = cross.HERE
    prog = os.path.join(build, "oracle")
    subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-fomit-frame-pointer", "-fno-builtin",
                    "-mbranch-protection=pac-ret", "-rdynamic", "-o", prog,
                    os.path.join(src, "tests", "tier2", "oracle.c"), "-lpthread", "-ldl"], check=True)
    paths = frames = 0
    for seed in ("7", "12345"):
        txt = os.path.join(build, f"oracle.{seed}.txt")
        d = run(lib, prog, [txt, seed, "150"], os.path.join(build, f"oracle.{seed}.json"))
        expect("config.unwind", d["config"]["unwind"], "cfi")
        want, got = oracle_stacks(txt)[0], report_sites(d)
        if got != want:
            extra = sorted(k for k in got if got[k] != want.get(k))[:2]
            missing = sorted(k for k in want if want[k] != got.get(k))[:2]
            failures.append(f"seed {seed}: {len(got)} sites, oracle {len(want)}, "
                            f"{sum(1 for k in want if got.get(k) == want[k])} equal; differing: "
                            f"{[([hex(a) for a in k], got[k]) for k in extra]}; oracle: "
                            f"{[([hex(a) for a in k], want[k]) for k in missing]}")
        sizes = Counter()
        for line in open(txt):
            sizes[int(line.split()[0])] += 1
        ends = Counter(x["frames"][-1]["function"] for x in d["sites"]
                       if x["frames"] and x["frames"][0]["function"] == "alloc_here")
        # Signal handlers' blocks: size+1 (SIGUSR1, this stack), size+2 (SIGUSR2, the alternate stack).
        sig = sum(n for s, n in sizes.items() if s > 5000 and s % 8 == 1)
        alt = sum(n for s, n in sizes.items() if s > 5000 and s % 8 == 2)
        # SIGUSR1 sent from a leaf (size % 15 == 0): the interrupted frame's return address still in x30.
        leaf = sum(n for s, n in sizes.items() if s > 5000 and s % 8 == 1 and (s - 1) % 15 == 0)
        expect(f"seed {seed}: (qsort comparator's blocks, > 100 stacks, handlers' blocks on both stacks, "
               "ends: _start, libc's thread start)",
               (sizes[3001] > 0, len(want) > 100, sig > leaf > 0, alt > 0, sorted(ends)),
               (True, True, True, True, ["??", "_start"]))
        ok, allb = complete(d, "thread_main")
        expect(f"seed {seed}: every block's stack complete", ok, allb)
        paths += sum(b for b, _ in want.values())
        frames += sum(len(k) * b for k, (b, _) in want.items())
        print(f"seed {seed}: {sum(1 for k in want if got.get(k) == want[k])} of {len(want)} stacks "
              f"({sum(b for b, _ in want.values())} allocations) equal libgcc's frame for frame, counts exact; "
              f"{ok}/{allb} blocks with complete stacks")
    # MOD_ALLOC_UNWIND=fp: the frame-pointer walk, as before (no frame pointers here: stacks differ).
    txt = os.path.join(build, "oracle.fp.txt")
    d = run(lib, prog, [txt, "7", "150"], os.path.join(build, "oracle.fp.json"), ["MOD_ALLOC_UNWIND=fp"])
    expect("fp: config.unwind", d["config"]["unwind"], "fp")
    want, got = oracle_stacks(txt)[0], report_sites(d)
    expect("fp: stacks equal to libgcc's", sum(1 for k in want if got.get(k) == want[k]), 0)
    cxx = os.path.join(build, "cxx_prog")
    if shutil.which("aarch64-linux-gnu-g++"):
        subprocess.run(["aarch64-linux-gnu-g++", "-O2", "-fomit-frame-pointer", "-rdynamic", "-o", cxx,
                        os.path.join(here, "cxx_prog.cc"), "-lpthread"], check=True)
        d = run(lib, cxx, [], os.path.join(build, "cxx.json"))
        ok, allb = complete(d, "work(int)")
        expect("cxx: >= 95% of blocks with complete stacks", ok * 100 >= 95 * allb, True)
        inner = sum(x["blocks"] for x in d["sites"] if x["frames"] and "libstdc++" in x["frames"][0]["module"])
        expect("cxx: more than half the blocks allocated inside libstdc++", inner * 2 > allb, True)
        print(f"cxx: {ok}/{allb} blocks ({100.0 * ok / max(allb, 1):.1f}%) with complete stacks")
        d = run(lib, cxx, [], os.path.join(build, "cxx.fp.json"), ["MOD_ALLOC_UNWIND=fp"])
        fok, fall = complete(d, "work(int)")
        print(f"cxx, MOD_ALLOC_UNWIND=fp: {fok}/{fall} blocks with complete stacks")
    else:
        print("cxx: skipped (no aarch64-linux-gnu-g++)")
    if failures:
        print("\n".join(failures))
        return 1
    print(f"ok: {paths} allocations' stacks ({frames} frames) equal libgcc's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
