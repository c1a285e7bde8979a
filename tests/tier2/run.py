#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Tier 2 (call sites) end-to-end checks over tests/tier2/sites.c.

    run.py LIB PROG CASE     CASE: basic | determinism | overflow | depth | alternate | random | grow |
                                   grow_cap | grow_threads | setuid
    run.py LIB NOFP_JUNK CASE NOFP_PLAIN NOFP_FP INMAIN TOOL
                             CASE: nofp | nofp_diff | shallow | sort (nofp.c, inmain.c)
"""
import glob
import json
import os
import pwd
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import SKIP, Fail, oracle_stacks  # noqa: E402


def expect(what, got, want):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


def run(lib, prog, args, env_extra=None, cwd=None):
    out = tempfile.mkdtemp(prefix="modalloc-t2-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOD_ALLOC_") and k != "MALLOC_PERTURB_"}
    env.update({"LD_PRELOAD": lib, "MOD_ALLOC_BACKTRACES": "1", "MOD_ALLOC_QUIET": "1",
                "MOD_ALLOC_OUT": os.path.join(out, "r.%p.json")})
    env.update(env_extra or {})
    r = subprocess.run([prog] + args, env=env, capture_output=True, text=True, timeout=60, cwd=cwd)
    if r.returncode != 0:
        raise Fail(f"{prog} {args}: exit {r.returncode}\n{r.stderr}")
    files = glob.glob(os.path.join(out, "r.*.json"))
    reports = [json.load(open(f)) for f in files]
    shutil.rmtree(out)
    return reports, r


def one(reports):
    if len(reports) != 1:
        raise Fail(f"expected one report, got {len(reports)}")
    return reports[0]


def names(site, n=None):
    fr = [f["function"] for f in site["frames"]]
    return fr if n is None else fr[:n]


def invariants(d, exact_peak=True):
    t, sites = d["totals"], d["sites"]
    for key, skey in (("blocks", "blocks"), ("bytes", "bytes"), ("live_bytes", "live_bytes"),
                      ("live_blocks", "live_blocks")):
        expect(f"sum of sites' {skey}", sum(s[skey] for s in sites), t[key])
    if exact_peak:
        expect("sum of at_peak_bytes", sum(s["at_peak_bytes"] for s in sites), t["peak_bytes"])
        expect("sum of at_peak_blocks", sum(s["at_peak_blocks"] for s in sites), t["peak_blocks"])
    for s in sites:
        if s["max_bytes"] < s["at_peak_bytes"] or s["max_bytes"] < s["live_bytes"]:
            raise Fail(f"site max below at_peak/live: {s}")
    expect("sites sorted by bytes", [s["bytes"] for s in sites], sorted((s["bytes"] for s in sites), reverse=True))


def find(sites, prefix):
    m = [s for s in sites if names(s, len(prefix)) == prefix]
    if len(m) != 1:
        raise Fail(f"sites starting {prefix}: {len(m)}; all: {[names(s, 4) for s in sites]}")
    return m[0]


def case_basic(lib, prog):
    d = one(run(lib, prog, ["basic"])[0])
    expect("backtraces", d["config"]["backtraces"], True)
    t = d["totals"]
    expect("blocks", t["blocks"], 13)
    expect("bytes", t["bytes"], 1000 + 5000 + 16 + 64)
    expect("peak_bytes", t["peak_bytes"], 6000)
    expect("peak_blocks", t["peak_blocks"], 11)
    invariants(d)
    a = find(d["sites"], ["site_a", "basic", "main"])
    expect("site_a", (a["blocks"], a["bytes"], a["live_blocks"], a["live_bytes"], a["at_peak_bytes"], a["max_bytes"]),
           (10, 1000, 5, 500, 1000, 1000))
    expect("site_a histogram (100 B in [64,128))", a["size_hist_log2"], [0] * 7 + [10])
    b = find(d["sites"], ["site_b", "basic", "main"])
    expect("site_b: freed elsewhere, attributed here", (b["blocks"], b["frees"], b["live_bytes"], b["at_peak_bytes"]),
           (1, 1, 0, 5000))
    c = find(d["sites"], ["site_c", "basic", "main"])
    expect("site_c: its block moved to site_d by realloc", (c["blocks"], c["bytes"], c["frees"], c["live_bytes"]),
           (1, 16, 1, 0))
    dd = find(d["sites"], ["site_d", "basic", "main"])
    expect("site_d: realloc's own site", (dd["blocks"], dd["bytes"], dd["frees"]), (1, 64, 1))
    # Lifetimes on the allocation clock: site_b's block lived from its birth to its free,
    # during which nothing else was allocated: 5000 bytes (its own).
    expect("site_b lifetime", b["lifetime_total"], 5000)
    expect("lifetime unit", b["lifetime_unit"], "bytes_allocated")
    for s in d["sites"]:
        for f in s["frames"]:
            if not f["module"] or not f["ip"].startswith("0x"):
                raise Fail(f"frame without module/ip: {f}")


def strip_addresses(d):
    """A report minus what ASLR moves: per-site numbers keyed by function names."""
    return sorted((tuple(names(s)), tuple((k, v) for k, v in sorted(s.items()) if k != "frames"))
                  for s in d["sites"])


def case_determinism(lib, prog):
    a = one(run(lib, prog, ["basic"])[0])
    b = one(run(lib, prog, ["basic"])[0])
    expect("identical per-site numbers over two runs", strip_addresses(a), strip_addresses(b))
    expect("identical timelines (clock, live bytes)", [p[:2] for p in a["timeline"]["points"]],
           [p[:2] for p in b["timeline"]["points"]])


def case_overflow(lib, prog):
    # A table that may not grow: MOD_ALLOC_BUCKETS_MAX = MOD_ALLOC_BUCKETS.
    d = one(run(lib, prog, ["many", "100"], {"MOD_ALLOC_BUCKETS": "64", "MOD_ALLOC_BUCKETS_MAX": "64",
                                             "MOD_ALLOC_DEPTH": "128"})[0])
    expect("buckets", d["config"]["buckets"], 64)
    expect("buckets_max", d["config"]["buckets_max"], 64)
    expect("table_buckets", d["stacks"]["table_buckets"], 64)
    invariants(d)
    over = [s for s in d["sites"] if s.get("overflow")]
    real = [s for s in d["sites"] if not s.get("overflow")]
    expect("overflow sites", len(over), 1)
    # 64 buckets hold 48 sites (3/4); 100 distinct stacks: 52 overflow.
    expect("sites held", len(real), 48)
    expect("overflow_stacks", d["stacks"]["overflow_stacks"], 52)
    expect("overflow_events", d["stacks"]["overflow_events"], 52)
    expect("overflow blocks", over[0]["blocks"], 52)
    expect("buckets_needed", d["stacks"]["buckets_needed"], 256)
    # Two different stacks never share a site: each held site has exactly one block.
    expect("one block per held site", sorted({s["blocks"] for s in real}), [1])
    d2 = one(run(lib, prog, ["many", "100"], {"MOD_ALLOC_BUCKETS": "64", "MOD_ALLOC_BUCKETS_MAX": "256",
                                              "MOD_ALLOC_DEPTH": "128"})[0])
    expect("no overflow with the suggested MOD_ALLOC_BUCKETS_MAX", d2["stacks"]["overflow_events"], 0)
    expect("sites with up to 256 buckets", len(d2["sites"]), 100)
    expect("table grown to", d2["stacks"]["table_buckets"], 256)


def case_depth(lib, prog):
    d = one(run(lib, prog, ["deep", "100"], {"MOD_ALLOC_DEPTH": "16"})[0])
    s = find(d["sites"], ["deep"] * 3)
    expect("frames kept", len(s["frames"]), 16)
    expect("truncated", s["truncated"], True)
    expect("stacks.truncated", d["stacks"]["truncated"], 1)
    d = one(run(lib, prog, ["deep", "10"], {"MOD_ALLOC_DEPTH": "16"})[0])
    s = find(d["sites"], ["deep"] * 3)
    expect("not truncated", s["truncated"], False)
    expect("frames: 10 x deep + main + libc start", names(s)[:11], ["deep"] * 10 + ["main"])
    # The same truncated stack again and again (the repeat check answers after
    # the first walk): every event still counts as truncated.
    d = one(run(lib, prog, ["deep", "100", "50"], {"MOD_ALLOC_DEPTH": "16"})[0])
    s = find(d["sites"], ["deep"] * 3)
    expect("one site, 50 blocks", (len(d["sites"]), s["blocks"], s["frees"]), (1, 50, 50))
    expect("stacks.truncated, repeated", d["stacks"]["truncated"], 50)


def case_alternate(lib, prog):
    """Two stacks with equal frame pointers, told apart by one return address,
    in runs of 3 and 2: each run's first allocation must see the change."""
    d = one(run(lib, prog, ["alternate"])[0])
    invariants(d)
    # alt_x and alt_y are each called from two places in alternate(): 2 sites each.
    expect("sites", len(d["sites"]), 6)

    def blocks(prefix):
        return sorted((s["blocks"], s["frees"], s["bytes"]) for s in d["sites"] if names(s, len(prefix)) == prefix)
    expect("alt_x sites", blocks(["alt_leaf", "alt_mid", "alt_x", "alternate", "main"]),
           [(10, 10, 240), (18, 18, 18 * 24)])
    expect("alt_y sites", blocks(["alt_leaf", "alt_mid", "alt_y", "alternate", "main"]),
           [(10, 10, 240), (12, 12, 12 * 24)])
    expect("alt_leaf direct", blocks(["alt_leaf", "alternate", "main"]), [(10, 10, 240)])
    expect("alt_mid direct", blocks(["alt_leaf", "alt_mid", "alternate", "main"]), [(10, 10, 240)])


def case_random(lib, prog):
    """Call paths of random shapes (sites.c 'random'), some repeating, most not:
    every site's counts must equal a replay of the program's choices."""
    n, mask = 4000, (1 << 64) - 1
    want = {}
    rs = 0x2545F4914F6CDD1D
    for _ in range(n):
        rs ^= (rs << 13) & mask
        rs ^= rs >> 7
        rs ^= (rs << 17) & mask
        d, bits = rs % 8, rs >> 3
        path = tuple(["r_leaf"] + ["r_b" if (bits >> k) & 1 else "r_a" for k in reversed(range(d))] +
                     ["random_paths", "main"])
        blocks, live = want.get(path, (0, 0))
        want[path] = (blocks + 1, live + (0 if (rs >> 40) & 7 else 1))
    d = one(run(lib, prog, ["random", str(n)])[0])
    invariants(d)
    got = {}
    for s in d["sites"]:
        path = tuple(names(s))
        path = path[:path.index("main") + 1] if "main" in path else path
        blocks, live = got.get(path, (0, 0))
        got[path] = (blocks + s["blocks"], live + s["live_blocks"])
    expect("distinct paths", len(got), len(want))
    bad = [(p, got.get(p), w) for p, w in want.items() if got.get(p) != w]
    expect("paths with other counts (path, got, want)", bad[:3], [])
    expect("sites, one per path", len(d["sites"]), len(want))


def wide_path(i):
    """sites.c 'wide': the function names of path i, innermost first, down to main."""
    return tuple(["r_leaf"] + ["r_b" if (i >> k) & 1 else "r_a" for k in reversed(range(13))] +
                 ["wide_paths", "main"])


def wide_sites(d):
    """{path: (blocks, bytes, frees)} over the report's real sites."""
    got = {}
    for s in d["sites"]:
        if s.get("overflow"):
            continue
        path = tuple(names(s))
        path = path[:path.index("main") + 1] if "main" in path else path
        if path in got:
            raise Fail(f"two sites for one stack: {path}")
        got[path] = (s["blocks"], s["bytes"], s["frees"])
    return got


def case_grow(lib, prog):
    """5000 distinct stacks from a 64-bucket table: it grows (64 -> 8192); every
    stack has its own site with exact counts, nothing goes to the overflow site."""
    n = 5000
    d = one(run(lib, prog, ["wide", str(n)], {"MOD_ALLOC_BUCKETS": "64"})[0])
    invariants(d)
    expect("buckets (the start size)", d["config"]["buckets"], 64)
    expect("buckets_max (the default)", d["config"]["buckets_max"], 262144)
    st = d["stacks"]
    expect("overflow_events", st["overflow_events"], 0)
    expect("overflow_stacks", st["overflow_stacks"], 0)
    expect("buckets_needed", st["buckets_needed"], 0)
    expect("table_buckets", st["table_buckets"], 8192)
    expect("overflow site", [s for s in d["sites"] if s.get("overflow")], [])
    got = wide_sites(d)
    want = {wide_path(i): (2, 16, 2) for i in range(n)}
    expect("distinct stacks", len(got), n)
    bad = [(p, got.get(p), w) for p, w in want.items() if got.get(p) != w]
    expect("stacks with other counts (path, got, want)", bad[:3], [])
    expect("totals", (d["totals"]["blocks"], d["totals"]["bytes"]), (2 * n, 16 * n))


def case_grow_threads(lib, prog):
    """4 threads at once, each allocating twice from the same 3000 stacks, from a
    64-bucket table: it grows while they insert; each stack still has one site,
    counting all 8 blocks, and nothing overflows."""
    n, t = 3000, 4
    d = one(run(lib, prog, ["wide_threads", str(n), str(t)], {"MOD_ALLOC_BUCKETS": "64"})[0])
    invariants(d, exact_peak=False)
    st = d["stacks"]
    expect("overflow_events", st["overflow_events"], 0)
    expect("overflow site", [s for s in d["sites"] if s.get("overflow")], [])
    got = {}
    for s in d["sites"]:
        fr = names(s)
        if "wide_paths" not in fr:
            continue  # the threads' own start-up, if any
        path = tuple(fr[:fr.index("wide_paths") + 1])
        if path in got:
            raise Fail(f"two sites for one stack: {path}")
        got[path] = (s["blocks"], s["bytes"], s["frees"])
    want = {wide_path(i)[:-1]: (2 * t, 16 * t, 2 * t) for i in range(n)}
    expect("distinct stacks", len(got), n)
    bad = [(p, got.get(p), w) for p, w in want.items() if got.get(p) != w]
    expect("stacks with other counts (path, got, want)", bad[:3], [])


def case_grow_cap(lib, prog):
    """The same 5000 stacks with MOD_ALLOC_BUCKETS_MAX=1024: the table grows to
    1024 buckets, 768 sites; the other 4232 stacks' events go to the overflow site."""
    n = 5000
    d = one(run(lib, prog, ["wide", str(n)], {"MOD_ALLOC_BUCKETS": "64", "MOD_ALLOC_BUCKETS_MAX": "1024"})[0])
    invariants(d)
    st = d["stacks"]
    expect("table_buckets", st["table_buckets"], 1024)
    expect("overflow_stacks", st["overflow_stacks"], n - 768)
    expect("overflow_events (two passes)", st["overflow_events"], 2 * (n - 768))
    over = [s for s in d["sites"] if s.get("overflow")]
    expect("overflow sites", len(over), 1)
    expect("overflow site", (over[0]["blocks"], over[0]["bytes"], over[0]["frees"]),
           (2 * (n - 768), 16 * (n - 768), 2 * (n - 768)))
    # (768 held + 4232 overflowing) * 4/3 + 1 -> 8192.
    expect("buckets_needed", st["buckets_needed"], 8192)
    # The first 768 stacks, in program order, got the sites.
    expect("held stacks", wide_sites(d), {wide_path(i): (2, 16, 2) for i in range(768)})


def case_setuid(lib, prog):
    """A setuid program (AT_SECURE) takes no paths or options from the environment."""
    if os.geteuid() != 0:
        print("skip: needs root to make a setuid binary")
        sys.exit(SKIP)
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        print("skip: no user 'nobody'")
        sys.exit(SKIP)
    work = tempfile.mkdtemp(prefix="modalloc-suid-")
    os.chmod(work, 0o777)
    suid = os.path.join(work, "suid_prog")
    shutil.copy(prog, suid)
    os.chown(suid, nobody.pw_uid, nobody.pw_gid)
    os.chmod(suid, 0o4755)
    # A preloaded library must live in a trusted directory with the setuid bit for
    # ld.so to load it into a secure process: copy it to a system library directory.
    libdir = "/usr/lib/x86_64-linux-gnu" if os.path.isdir("/usr/lib/x86_64-linux-gnu") else "/usr/lib"
    libcopy = os.path.join(libdir, "libmodalloc-suidtest.so")
    shutil.copy(lib, libcopy)
    os.chmod(libcopy, 0o4755)
    evil = os.path.join(work, "evil")
    os.mkdir(evil)
    try:
        env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": os.path.basename(libcopy),
               "MOD_ALLOC_OUT": os.path.join(evil, "x.%p.json"), "MOD_ALLOC_BACKTRACES": "1",
               "MOD_ALLOC_QUIET": "1"}
        r = subprocess.run([suid, "uid"], env=env, cwd=work, capture_output=True, text=True, timeout=60)
        expect("exit code", r.returncode, 0)
        expect("nothing written where the environment said", os.listdir(evil), [])
        got = [f for f in os.listdir(work) if f.startswith("modalloc.") and f.endswith(".json")]
        expect("report at the default path", len(got), 1)
        d = json.load(open(os.path.join(work, got[0])))
        expect("options ignored (backtraces)", d["config"]["backtraces"], False)
        expect("blocks", d["totals"]["blocks"], 1)
        expect("stderr summary printed (MOD_ALLOC_QUIET ignored)",
               "modalloc: %s (pid " % os.path.basename(suid) in r.stderr, True)
    finally:
        os.unlink(libcopy)
        shutil.rmtree(work)


# ---- return addresses checked (issue 10): nofp.c, inmain.c, Debian's sort ----

EXTRA = []  # NOFP_PLAIN NOFP_FP INMAIN TOOL, from the command line
FP_ONLY = {"MOD_ALLOC_UNWIND": "fp"}  # the frame-pointer walk these cases were written for


def exec_ranges(path, cache={}):
    """The [lo, hi) ELF virtual address ranges of path's executable PT_LOAD segments."""
    if path not in cache:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise Fail(f"{path}: not a 64-bit ELF file")
        end = "<" if data[5] == 1 else ">"
        phoff, = struct.unpack_from(end + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
        ranges = []
        for i in range(phnum):
            p_type, p_flags, _off, p_vaddr, _pa, _fs, p_memsz = struct.unpack_from(end + "IIQQQQQ", data,
                                                                                   phoff + i * phentsize)
            if p_type == 1 and p_flags & 1:  # PT_LOAD, PF_X
                ranges.append((p_vaddr, p_vaddr + p_memsz))
        cache[path] = ranges
    return cache[path]


def check_frames(d, allowed_modules=None):
    """Every frame of every site: in a module's executable code (its offset,
    an ELF virtual address, just after an instruction of a PF_X segment),
    never this library."""
    for s in d["sites"]:
        if s.get("overflow"):
            continue
        for f in s["frames"]:
            mod = f["module"]
            if not mod or not os.path.isfile(mod):
                raise Fail(f"frame outside every module: {f} in {names(s)}")
            if "libmodalloc" in os.path.basename(mod):
                raise Fail(f"a frame of the profiler itself: {f}")
            if allowed_modules is not None and os.path.realpath(mod) not in allowed_modules:
                raise Fail(f"frame in {mod}, want one of {sorted(allowed_modules)}: {f}")
            off = int(f["offset"], 16)
            if not any(lo < off <= hi for lo, hi in exec_ranges(mod)):
                raise Fail(f"frame {f} not after code of {mod} (executable ranges {exec_ranges(mod)})")


def case_nofp(lib, prog):
    """One malloc(10000) line reached from 6 paths (2 to 5 calls deep) with junk
    in the frame-pointer register (nofp.c): the walk ends at the first record
    that fails its checks, so every allocation has the one stack it can prove."""
    plain = os.path.abspath(EXTRA[0])
    for p in (prog, plain):
        d = one(run(lib, p, ["20"], FP_ONLY)[0])
        expect("config.unwind", d["config"]["unwind"], "fp")
        invariants(d)
        check_frames(d, {os.path.realpath(p)})
        got = [(names(s), s["blocks"], s["bytes"], s.get("ended_early")) for s in d["sites"]]
        expect(f"{os.path.basename(p)}: sites (frames, blocks, bytes, ended_early)", got,
               [(["alloc_line"], 120, 1200000, True)])
    # By call-frame information (the default): the program's .eh_frame gives
    # every path whole, down to _start.  The junk program's inline asm moves
    # the stack pointer without telling its CFI: there the walk reads junk
    # and every return address it reports still passes the checks.
    d = one(run(lib, plain, ["20"])[0])
    expect("config.unwind", d["config"]["unwind"], "cfi")
    invariants(d)
    check_frames(d)
    start = ["main", "__libc_start_call_main", "__libc_start_main@GLIBC_2.2.5", "_start"]
    got = sorted((names(s), s["blocks"], s["bytes"], s.get("ended_early")) for s in d["sites"])
    want = sorted((["alloc_line"] + mid + start, 20, 200000, False) for mid in
                  (["path_small"], ["path_heap"], ["via_record", "path_stack"], ["via_record"],
                   ["via_record"] + ["deeper"] * 4, ["via_record"] + ["deeper"] * 2))
    got = [([n.split("@")[0] for n in g[0]],) + g[1:] for g in got]
    want = [([n.split("@")[0] for n in w[0]],) + w[1:] for w in want]
    expect("nofp_plain by CFI: sites (frames, blocks, bytes, ended_early)", got, want)
    d = one(run(lib, prog, ["20"])[0])
    invariants(d)
    check_frames(d, None)
    expect("nofp_junk by CFI: blocks", sum(s["blocks"] for s in d["sites"]), 120)


def diff_counts(tool, a, b):
    r = subprocess.run([tool, "diff", a, b], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Fail(f"modalloc diff: exit {r.returncode}\n{r.stdout}{r.stderr}")
    m = re.search(r"^(\d+) call sites? changed, (\d+) unchanged", r.stdout, re.M)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.search(r"^No call site changed \((\d+) unchanged\)\.$", r.stdout, re.M)
    if m:
        return 0, int(m.group(1))
    raise Fail(f"modalloc diff printed no count:\n{r.stdout}")


def case_nofp_diff(lib, prog):
    """Two identical runs, without and with frame pointers: no site changes
    (junk addresses move with address-space randomisation; checked ones do not
    change what they name)."""
    tool = EXTRA[3]
    if not tool:
        print("skip: the modalloc tool is not built")
        sys.exit(SKIP)
    fp = os.path.abspath(EXTRA[1])
    work = tempfile.mkdtemp(prefix="modalloc-t2diff-")
    try:
        plain = os.path.abspath(EXTRA[0])
        for p, sites, unwind in ((prog, 1, "fp"), (fp, 6, "fp"), (plain, 6, "cfi"), (fp, 6, "cfi")):
            files = []
            for k in range(2):
                out = os.path.join(work, f"{os.path.basename(p)}.{unwind}.{k}.json")
                env = {k2: v for k2, v in os.environ.items() if not k2.startswith("MOD_ALLOC_")}
                env.update({"LD_PRELOAD": lib, "MOD_ALLOC_BACKTRACES": "1", "MOD_ALLOC_QUIET": "1",
                            "MOD_ALLOC_OUT": out, "MOD_ALLOC_UNWIND": unwind})
                r = subprocess.run([p, "20"], env=env, capture_output=True, text=True, timeout=60)
                expect(f"{p}: exit", r.returncode, 0)
                files.append(out)
            expect(f"{os.path.basename(p)}: diff of two identical runs (changed, unchanged)",
                   diff_counts(tool, files[0], files[1]), (0, sites))
    finally:
        shutil.rmtree(work)


WARNING = ("modalloc: stacks end early (frame pointers missing) for {} allocations: call sites are cut short; "
           "rebuild with -fno-omit-frame-pointer\n")


def case_shallow(lib, prog):
    """The rebuild hint: not for complete 2-frame stacks made in main (-O0 with
    frame pointers); for stacks cut short by code without frame pointers; in
    the stderr summary, and not with MOD_ALLOC_QUIET=1 (`modalloc run` sets it and
    prints the report's stacks.shallow_warning once for the whole tree)."""
    plain, fp, inmain = (os.path.abspath(x) for x in EXTRA[:3])
    reports, r = run(lib, inmain, [], FP_ONLY)
    d = one(reports)
    # main and the C library's start of it (named when libc's symbols are installed)
    expect("inmain: sites (first frame, frames, blocks, ended_early)",
           [(names(x)[0], len(x["frames"]), x["blocks"], x.get("ended_early")) for x in d["sites"]],
           [("main", 2, 40, False)])
    check_frames(d)
    expect("inmain: (shallow_warning, ended_early)", (d["stacks"]["shallow_warning"], d["stacks"].get("ended_early")),
           (False, 0))
    expect("inmain: quiet stderr", r.stderr, "")
    reports, r = run(lib, fp, ["20"], FP_ONLY)
    d = one(reports)
    expect("nofp_fp: (shallow_warning, ended_early)", (d["stacks"]["shallow_warning"], d["stacks"].get("ended_early")),
           (False, 0))
    expect("nofp_fp: sites ended early", [names(x)[:2] for x in d["sites"] if x.get("ended_early") is not False], [])
    expect("nofp_fp: quiet stderr", r.stderr, "")
    reports, r = run(lib, plain, ["20"], FP_ONLY)
    d = one(reports)
    expect("nofp_plain: (shallow_warning, ended_early)", (d["stacks"]["shallow_warning"], d["stacks"].get("ended_early")),
           (True, 120))
    expect("nofp_plain: quiet stderr", r.stderr, "")
    reports, r = run(lib, plain, ["20"], {"MOD_ALLOC_QUIET": "0", **FP_ONLY})
    expect("nofp_plain: the summary carries the warning", WARNING.format(120) in r.stderr, True)
    reports, r = run(lib, inmain, [], {"MOD_ALLOC_QUIET": "0", **FP_ONLY})
    expect("inmain: the summary has no warning", "stacks end early" in r.stderr, False)
    # By call-frame information (the default): main's stack reaches _start
    # through the C library, and the program without frame pointers needs no
    # hint.
    d = one(run(lib, inmain, [])[0])
    expect("inmain by CFI: sites (first frame, frames, blocks, ended_early)",
           [(names(x)[0], len(x["frames"]), x["blocks"], x.get("ended_early")) for x in d["sites"]],
           [("main", 4, 40, False)])
    check_frames(d)
    reports, r = run(lib, plain, ["20"], {"MOD_ALLOC_QUIET": "0"})
    d = one(reports)
    expect("nofp_plain by CFI: (shallow_warning, ended_early)",
           (d["stacks"]["shallow_warning"], d["stacks"].get("ended_early")), (False, 0))
    expect("nofp_plain by CFI: the summary has no warning", "stacks end early" in r.stderr, False)


def case_sort(lib, prog):
    """Debian's sort (built without frame pointers): every frame in a module's code."""
    sort = "/usr/bin/sort"
    if not os.path.isfile(sort):
        print("skip: no /usr/bin/sort")
        sys.exit(SKIP)
    work = tempfile.mkdtemp(prefix="modalloc-t2sort-")
    try:
        inp = os.path.join(work, "in.txt")
        with open(inp, "w") as f:
            for i in range(500):
                f.write(f"line {(i * 7919) % 1000:04d} {'x' * (i % 37)}\n")
        d = one(run(lib, sort, [inp, "-o", os.path.join(work, "out.txt")])[0])
        expect("sort: report has sites", len(d["sites"]) > 0, True)
        check_frames(d)
    finally:
        shutil.rmtree(work)


def case_oracle(lib, prog):
    """Random call paths through code without frame pointers (oracle.c): every
    allocation's stack, walked by call-frame information, equals libgcc's
    _Unwind_Backtrace at the same place frame for frame, with exact counts
    per site; through a qsort comparator, a thread and a signal handler."""
    from collections import Counter
    work = tempfile.mkdtemp(prefix="modalloc-oracle-")
    try:
        for seed in ("7", "12345"):
            txt = os.path.join(work, f"oracle.{seed}.txt")
            d = one(run(lib, prog, [txt, seed, "150"] + [os.path.abspath(m) for m in EXTRA],
                        {"MOD_ALLOC_DEPTH": "256"})[0])
            invariants(d)
            check_frames(d)
            # A site is a stack: paths of one shape share one (their sizes add up).
            want, sizes = oracle_stacks(txt)
            got = {}
            for x in d["sites"]:
                if not x["frames"] or x["frames"][0]["function"] != "alloc_here":
                    continue
                expect("a site's truncated/ended_early", (x["truncated"], x.get("ended_early")), (False, False))
                key = tuple(int(f["ip"], 16) for f in x["frames"][1:])
                expect("one site per stack", key in got, False)
                got[key] = (x["blocks"], x["bytes"])
            if got != want:
                extra = sorted(k for k in got if got[k] != want.get(k))[:2]
                missing = sorted(k for k in want if want[k] != got.get(k))[:2]
                raise Fail(f"seed {seed}: {len(got)} sites, oracle {len(want)}; differing: "
                           f"{[([hex(a) for a in k], got[k]) for k in extra]}; oracle: "
                           f"{[([hex(a) for a in k], want[k]) for k in missing]}")
            expect(f"seed {seed}: shapes (signal frames, on an alternate stack, qsort, thread) seen",
                   (any(z % 5 == 1 for z in sizes), any(z % 7 == 2 for z in sizes), 3001 in sizes, len(want) > 100),
                   (True, True, True, True))
            if EXTRA:  # frames in each dlopened (then dlclosed) module
                mods = {f["module"] for x in d["sites"] for f in x["frames"]}
                expect("frames in both oracle modules",
                       [any(os.path.basename(m).startswith(f"liboracle_mod_{c}") for m in mods if m) for c in "ab"],
                       [True, True])
    finally:
        shutil.rmtree(work)


def case_oracle_cxx(lib, prog):
    """C++ exceptions through code without frame pointers (oracle_cxx.cc): the
    exception objects' stacks (libstdc++'s __cxa_allocate_exception, called by
    thrower) and those of destructors that allocate while the exception unwinds
    (from landing pads) equal libgcc's _Unwind_Backtrace frame for frame, with
    exact counts per site."""
    work = tempfile.mkdtemp(prefix="modalloc-oracle-cxx-")
    try:
        for seed in ("7", "99"):
            txt = os.path.join(work, f"oracle.{seed}.txt")
            d = one(run(lib, prog, [txt, seed, "100"], {"MOD_ALLOC_DEPTH": "256"})[0])
            invariants(d)
            check_frames(d)
            want = {}
            for line in open(txt):
                v = line.split()
                ips = [int(x, 16) for x in v[1:]]
                while ips and ips[-1] == 0:
                    ips.pop()
                key = (v[0], tuple(ips))
                want[key] = want.get(key, 0) + 1
            got = {}
            for x in d["sites"]:
                n = [f["function"] for f in x["frames"]]
                if n[:1] == ["alloc_here()"]:
                    key = ("d", tuple(int(f["ip"], 16) for f in x["frames"][1:]))
                elif n[:2] == ["__cxa_allocate_exception", "thrower(int)"]:
                    key = ("t", tuple(int(f["ip"], 16) for f in x["frames"][2:]))
                else:
                    continue
                expect("a site's truncated/ended_early", (x["truncated"], x.get("ended_early")), (False, False))
                expect("one site per stack", key in got, False)
                got[key] = x["blocks"]
            if got != want:
                diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))[:2]
                raise Fail(f"seed {seed}: {len(got)} sites, oracle {len(want)}; differing: "
                           f"{[(k[0], [hex(a) for a in k[1]], got.get(k), want.get(k)) for k in diff]}")
            expect(f"seed {seed}: both kinds, many stacks",
                   (sum(1 for k in want if k[0] == "t") > 20, sum(1 for k in want if k[0] == "d") > 20),
                   (True, True))
    finally:
        shutil.rmtree(work)


def main():
    lib, prog, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    EXTRA[:] = sys.argv[4:]
    try:
        globals()["case_" + case](lib, prog)
    except Fail as e:
        print(f"FAIL {case}: {e}")
        return 1
    print(f"ok {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
