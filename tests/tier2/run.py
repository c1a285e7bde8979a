#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Tier 2 (call sites) end-to-end checks over tests/tier2/sites.c.

    run.py LIB PROG CASE     CASE: basic | determinism | overflow | depth | alternate | random | grow |
                                   grow_cap | setuid
"""
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


class Fail(Exception):
    pass


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


def main():
    lib, prog, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    try:
        globals()["case_" + case](lib, prog)
    except Fail as e:
        print(f"FAIL {case}: {e}")
        return 1
    print(f"ok {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
