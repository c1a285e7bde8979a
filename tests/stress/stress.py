#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Suite `stress`: C programs that push the library where interposers break
(threads by the thousand, fork under load, dlclose, signals, deep and broken
stacks, ten million blocks, huge alignments, odd exits).

    stress.py --lib build/src/libmodalloc.so [--bt 0|1] [--env K=V]... CASE PROG [ARG...]

Each case runs PROG bare (it must succeed without the library too), then
preloaded; checks the exit status, that nothing hangs (timeouts), the
program's own expectation lines (protocol in progs/stress.h), every report's
invariants (tests/real/reportcheck.py) and the case's own checks below.
Exit status: 0 pass, 1 fail, 77 skip.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "real"))
from reportcheck import (REPORT_RE, Fail, check, check_report, clean_env,  # noqa: E402
                         load_report, preload_env, reports_in, sites_with)

SKIP = 77


def get(r, key):
    v = r
    for part in key.split("."):
        check(isinstance(v, dict) and part in v, f"report has no key {key}")
        v = v[part]
    return v


class Ctx:
    def __init__(self, a):
        self.lib = os.path.abspath(a.lib)
        self.bt = a.bt == "1"
        self.prog = [os.path.abspath(a.prog)] + a.args
        self.extra = dict(kv.split("=", 1) for kv in a.env)
        self.root = tempfile.mkdtemp(prefix="modalloc-stress-")
        self.timeout = a.timeout

    def outdir(self):
        return tempfile.mkdtemp(dir=self.root)

    def env(self, outdir, quiet=True):
        env = preload_env(self.lib, outdir, backtraces=self.bt, extra=self.extra)
        # State files of killed runs stay in the run's directory, not the user's.
        env.setdefault("MOD_ALLOC_STATE_DIR", os.path.join(self.root, "state"))
        if not quiet:
            del env["MOD_ALLOC_QUIET"]
        return env

    def run(self, env, rc=0, argv=None, timeout=None, what="preloaded"):
        argv = argv or self.prog
        timeout = timeout or self.timeout
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, env=env, timeout=timeout, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace")
        except subprocess.TimeoutExpired as e:
            raise Fail(f"{what} run timed out after {timeout}s (deadlock?): {' '.join(argv)}\n"
                       f"stdout so far: {(e.stdout or b'')[-2000:]!r}\nstderr so far: {(e.stderr or b'')[-2000:]!r}")
        p.seconds = time.monotonic() - t0
        desc = (f"{what} run: {' '.join(argv)}\nexit status {p.returncode}, expected {rc}\n"
                f"--- stdout ---\n{p.stdout[-3000:]}\n--- stderr ---\n{p.stderr[-3000:]}")
        for line in p.stdout.splitlines():
            check(not line.startswith("FAIL "), f"the program found a fault: {line}\n{desc}")
        check(rc is None or p.returncode == rc, desc)
        p.desc = desc
        return p

    def bare(self, rc=0):
        return self.run(clean_env(), rc=rc, what="bare")


def by_pid(reps):
    """{pid: report, "pid/exec": pre-exec report}; one of each at most."""
    out = {}
    for name, r in reps:
        key = f"{r['pid']}/exec" if r.get("at_exec") else str(r["pid"])
        check(key not in out, f"two reports for {key}: {name}")
        out[key] = r
    return out


def check_protocol(out, reps):
    """The program's E/GE/LE/SITE lines against the reports (by_pid)."""
    n = 0
    for line in out.splitlines():
        f = line.split()
        if not f or f[0] not in ("E", "GE", "LE", "SITE"):
            continue
        n += 1
        check(f[1] in reps, f"no report for pid {f[1]} (line {line!r}); reports: {sorted(reps)}")
        r = reps[f[1]]
        if f[0] == "SITE":
            if not r["config"]["backtraces"]:
                continue
            fn, want = f[2], [int(x) for x in f[3:6]]
            sites = sites_with(r, fn, innermost=True)
            got = [sum(s[k] for s in sites) for k in ("blocks", "bytes", "live_blocks")]
            check(got == want, f"sites of {fn}: blocks/bytes/live_blocks {got}, expected {want} "
                  f"({len(sites)} sites)")
            continue
        if f[2].startswith("stacks.") and not r["config"]["backtraces"]:
            continue
        v, want = get(r, f[2]), int(f[3])
        ok = {"E": v == want, "GE": v >= want, "LE": v <= want}[f[0]]
        check(ok, f"pid {f[1]}: {f[2]} = {v}, expected {f[0]} {want}")
    return n


def standard(c, rc=0, max_threads=1, files=1, bare=True, min_lines=1):
    """Bare run, preloaded run, one checked report per process, the protocol."""
    if bare:
        c.bare(rc)
    d = c.outdir()
    p = c.run(c.env(d), rc=rc)
    reps = reports_in(d)
    check(files is None or len(reps) == files,
          f"{len(reps)} reports, expected {files}: {[n for n, _ in reps]}\n{p.desc}")
    for name, r in reps:
        check_report(r, name, max_threads)
        check(r["config"]["backtraces"] == c.bt, f"{name}: config.backtraces {r['config']['backtraces']}")
    byp = by_pid(reps)
    n = check_protocol(p.stdout, byp)
    check(n >= min_lines, f"the program printed {n} expectations, expected at least {min_lines}\n{p.desc}")
    p.reps, p.byp, p.dir = reps, byp, d
    return p


def main_report(p):
    """The report of the process that was started (one without at_exec)."""
    mains = [r for _, r in p.reps if not r.get("at_exec")]
    return mains[0] if len(mains) == 1 else None


# ---- cases -------------------------------------------------------------------

def case_xfree(c):
    p = standard(c, max_threads=9)
    check(main_report(p)["threads"] == 1, "xfree: threads alive at exit != 1")


def case_churn(c):
    p = standard(c, max_threads=21)
    r = main_report(p)
    check(r["threads"] == 1, f"churn: {r['threads']} threads alive at exit, expected 1")
    if c.bt:
        # Records (and their call-site state) are reused: 4000 threads, 20 at a
        # time, must not cost 4000 thread states and frame arenas.
        check(r["stacks"]["profiler_bytes"] <= 16 << 20,
              f"churn: profiler_bytes {r['stacks']['profiler_bytes']}: thread state not reused?")


def case_forkexec(c):
    c.bare()
    d = c.outdir()
    p = c.run(c.env(d))
    m = re.search(r"^FILES (\d+)$", p.stdout, re.M)
    check(m, f"forkexec: no FILES line\n{p.desc}")
    reps = reports_in(d)
    check(len(reps) == int(m.group(1)), f"forkexec: {len(reps)} reports, expected {m.group(1)}")
    parent = int(re.search(r"^PARENT (\d+)$", p.stdout, re.M).group(1))
    for name, r in reps:
        check_report(r, name, 6 if r["pid"] == parent else 1)
    byp = by_pid(reps)
    check(check_protocol(p.stdout, byp) > 40, "forkexec: too few expectations")
    for name, r in reps:
        # A fork child's totals start at zero; the parent's blocks it freed are "inherited".
        if r["pid"] != parent and r.get("at_exec"):
            check(r["inherited"]["frees"] == 1, f"{name}: inherited {r['inherited']}")


def case_dlclose(c):
    p = standard(c, max_threads=1)
    if not c.bt:
        return
    r = main_report(p)
    libs = {"mod_keep": "/libstressmod.so", "mod_churn": "/libstressmod.so"}
    if len(c.prog) == 3:
        libs["mod2_keep"] = "/libstressmod2.so"
    for fn, lib in libs.items():
        sites = sites_with(r, fn, innermost=True)
        check(sites, f"dlclose: no site names {fn}")
        for s in sites:
            mod = s["frames"][0]["module"]
            check(mod.endswith(lib), f"dlclose: frame of {fn} in a dlclose()d library names module {mod!r}")
    # Every frame inside either library names one of their functions.
    for s in r["sites"]:
        for f in s["frames"]:
            if "/libstressmod" in f["module"]:
                check(f["function"] in libs,
                      f"dlclose: frame {f} of site {s['bytes']} bytes: a function it never ran in "
                      f"(another library now occupies the address?)")


def case_signals(c):
    p = standard(c)
    if not c.bt:
        return
    r = main_report(p)
    sites = sites_with(r, "alt_handler_alloc", innermost=True)
    check(sites, "signals: no site of the sigaltstack handler")
    fp_only = c.extra.get("MOD_ALLOC_UNWIND") == "fp"
    for s in sites:
        names = [f["function"] for f in s["frames"]]
        if fp_only:
            check(len(names) <= 4 and "main" not in names,
                  f"signals: a site of the alternate-stack handler has {len(names)} frames: {names}")
        else:
            # By call-frame information: through the signal frame (read with checked
            # copies on the alternate stack) back into raise and main, down to _start.
            check("main" in names and names[-1] == "_start" and names.index("main") >= 4
                  and not s.get("ended_early"),
                  f"signals: a site of the alternate-stack handler by CFI: {names}")
        check(names[:2] == ["alt_handler_alloc", "alt_handler"],
              f"signals: handler site frames {names}")


def case_signest(c):
    p = standard(c)
    m = re.search(r"^signals handled (\d+)$", p.stdout, re.M)
    check(m and int(m.group(1)) >= 100, f"signest: too few signals to test nesting: {m and m.group(1)}")


def case_deep(c):
    depth = int(c.extra.get("MOD_ALLOC_DEPTH", "32"))
    p = standard(c)
    r = main_report(p)
    check(r["config"]["depth"] == depth, f"deep: config.depth {r['config']['depth']}, expected {depth}")
    if not c.bt:
        return
    leaf = sites_with(r, "deep_leaf", innermost=True)
    check(leaf and all(s["truncated"] and len(s["frames"]) == depth for s in leaf),
          f"deep: leaf sites (frames, truncated): {[(len(s['frames']), s['truncated']) for s in leaf]}")
    for s in leaf:
        names = [f["function"] for f in s["frames"]]
        check(names[1:] == ["recurse"] * (depth - 1), f"deep: leaf frames {names}")
    check(r["stacks"]["truncated"] == 1000, f"deep: stacks.truncated {r['stacks']['truncated']}, expected 1000")
    shallow = sites_with(r, "shallow_leaf", innermost=True)
    check(shallow and not any(s["truncated"] for s in shallow), "deep: the shallow site is truncated")
    check(all("main" in [f["function"] for f in s["frames"]] for s in shallow),
          f"deep: the shallow site does not reach main: {[f['function'] for f in shallow[0]['frames']]}")


def case_tenmillion(c):
    p = standard(c)
    r = main_report(p)
    if c.bt:
        (s,) = sites_with(r, "big_alloc", innermost=True)
        n = 10_000_000
        check(s["max_blocks"] == n and s["at_peak_blocks"] == n and s["live_blocks"] == 0,
              f"tenmillion: site max_blocks {s['max_blocks']} at_peak_blocks {s['at_peak_blocks']} "
              f"live_blocks {s['live_blocks']}")
        check(s["max_bytes"] == s["bytes"] == s["at_peak_bytes"],
              f"tenmillion: site bytes {s['bytes']} max_bytes {s['max_bytes']} at_peak {s['at_peak_bytes']}")
    print(f"tenmillion: preloaded run {p.seconds:.2f}s (call sites {'on' if c.bt else 'off'})")


def case_align(c):
    p = standard(c)
    r = main_report(p)
    # Exact counts of progs/align.c: 18 alignments (8 B to 1 MiB) x 7 sizes
    # through the 5 aligned entry points; realloc of the first block unless
    # size 0; 5 memalign calls with odd alignments (77 bytes); refused:
    # 5 posix_memalign (bad alignment) + posix_memalign and aligned_alloc
    # of a size too big.
    sizes = [s for a in (1 << k for k in range(3, 21)) for s in (0, 1, a - 1, a, a + 1, 3 * a // 2, 1000)]
    n, sum_sizes = len(sizes), sum(sizes)
    grown = [2 * s + 1 for s in sizes if s]
    want_calls = {"posix_memalign": n + 5 + 1, "aligned_alloc": n + 1, "memalign": n + 5, "valloc": n,
                  "pvalloc": n, "realloc": len(grown), "free": 5 * n + 5, "malloc": 0, "calloc": 0}
    got_calls = {k: r["calls"][k] for k in want_calls}
    check(got_calls == want_calls, f"align: calls {got_calls}, expected {want_calls}")
    blocks, nbytes = 5 * n + len(grown) + 5, 5 * sum_sizes + sum(grown) + 5 * 77
    t = r["totals"]
    got = (t["blocks"], t["bytes"], t["frees"], t["live_blocks"], t["failed"])
    check(got == (blocks, nbytes, blocks, 0, 7),
          f"align: totals blocks/bytes/frees/live_blocks/failed {got}, expected {(blocks, nbytes, blocks, 0, 7)}")
    if not c.bt:
        return
    # One site per call in main: each aligned entry point, realloc, the odd memalign.
    sites = sorted((s["blocks"], s["bytes"], s["live_blocks"], s["frames"][0]["function"] if s["frames"] else None)
                   for s in r["sites"])
    want = sorted([(n, sum_sizes, 0, "main")] * 5 + [(len(grown), sum(grown), 0, "main"), (5, 5 * 77, 0, "main")])
    check(sites == want, f"align: sites (blocks, bytes, live_blocks, innermost) {sites}, expected {want}")


def case_exitthread(c):
    c.bare(rc=7)
    d = c.outdir()
    p = c.run(c.env(d), rc=7)
    reps = reports_in(d)
    check(len(reps) == 1, f"exitthread: {len(reps)} reports, expected 1")
    name, r = reps[0]
    check(r["at_exit"], f"{name}: at_exit false")
    check_report(r, name, max_threads=6)
    check_protocol(p.stdout, by_pid(reps))


def case_sigkill(c):
    """SIGKILL leaves nothing: no report, no temporary file.  The library
    writes only at exit, exec and on request, and SIGKILL runs none of them."""
    d = c.outdir()
    proc = subprocess.Popen(c.prog, env=c.env(d), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    check(line == b"READY\n", f"sigkill: the program said {line!r}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    check(proc.returncode == -signal.SIGKILL, f"sigkill: status {proc.returncode}")
    check(os.listdir(d) == [], f"sigkill: files left after SIGKILL: {os.listdir(d)}")
    # Killed while writing its report, at a known point: the hidden test hook
    # MOD_ALLOC_TEST_PAUSE_MS (src/options.h) makes the writer announce
    # "test: pausing mid-write" on stderr and sleep with part of the file
    # written; the test sees that part through /proc/PID/fd (proof that the
    # kill lands mid-write), kills, and finds nothing left.  Then the same
    # with MOD_ALLOC_TEST_NO_TMPFILE=1, the path for file systems without
    # O_TMPFILE: there the temporary file is named while written, so SIGKILL
    # leaves it (only it: never a partial report under a report's name).
    whole = killed_mid_write(c, {"MOD_ALLOC_TEST_PAUSE_MS": "1"}, kill=False)
    for no_tmpfile in ("0", "1"):
        killed_mid_write(c, {"MOD_ALLOC_TEST_PAUSE_MS": "60000", "MOD_ALLOC_TEST_NO_TMPFILE": no_tmpfile},
                         kill=True, whole_size=whole)
    # Killed at random moments of the exit report: a whole report or nothing,
    # never a temporary file (O_TMPFILE gives the file no name until whole).
    seen = {"whole": 0, "none": 0}
    for i in range(12):
        d = c.outdir()
        proc = subprocess.Popen(c.prog + ["exit"], env=c.env(d), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        check(proc.stdout.readline() == b"EXITING\n", "sigkill: no EXITING line")
        time.sleep(0.002 * i)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        names = os.listdir(d)
        for n in names:
            path = os.path.join(d, n)
            check(REPORT_RE.match(n), f"sigkill: unexpected file {n}")
            check_report(load_report(path), path, 1)
            seen["whole"] += 1
        if not names:
            seen["none"] += 1
    print(f"sigkill during the exit report, 12 runs: {seen}")


def case_fatal(c):
    """SIGTERM and SIGINT at random moments while 5 threads churn: each run
    dies of its signal (as it does bare) and leaves one whole,
    self-consistent report saying so (issue 13); no hang, no loop."""
    runs = {}
    for i in range(16):
        sig = signal.SIGTERM if i % 2 == 0 else signal.SIGINT
        for preload in (False, True):
            d = c.outdir()
            env = c.env(d) if preload else clean_env()
            proc = subprocess.Popen(c.prog, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            check(proc.stdout.readline() == b"READY\n", "fatal: no READY line")
            time.sleep(0.003 * i)
            proc.send_signal(sig)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise Fail(f"fatal: run {i} did not end within 30 s of {sig.name} (deadlock?)")
            check(proc.returncode == -sig, f"fatal: run {i} (preload={preload}): status {proc.returncode}, "
                  f"expected -{int(sig)}\n{err.decode(errors='replace')[-2000:]}")
            if not preload:
                continue
            reps = reports_in(d)
            check(len(reps) == 1, f"fatal: run {i}: {len(reps)} reports")
            name, r = reps[0]
            # The signal lands anywhere, also half-way through an update of the
            # thread that runs the handler (blocks of at most 2015 bytes).
            check_report(r, name, max_threads=6, interrupted_bytes=2015)
            check(r.get("signal") == sig.name, f"fatal: run {i}: signal {r.get('signal')!r}")
            check(r["totals"]["blocks"] > 0, f"fatal: run {i}: no blocks")
            runs[sig.name] = runs.get(sig.name, 0) + 1
    print(f"fatal: runs killed mid-churn, each with a whole report: {runs}")


def open_files_in(pid, d):
    """(target, size) of each file process pid has open in directory d."""
    out = []
    fddir = f"/proc/{pid}/fd"
    for n in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, n))
            size = os.stat(os.path.join(fddir, n)).st_size
        except OSError:
            continue
        if target.startswith(d + "/"):
            out.append((target, size))
    return out


def killed_mid_write(c, extra, kill, whole_size=None):
    """Runs "sigkill exit" with the writer paused mid-file.  Without kill:
    returns the size of the whole report.  With kill: proves the file was
    part-written when SIGKILL landed, and that nothing but (on the fallback
    path) the temporary file remains."""
    d = c.outdir()
    env = c.env(d)
    env.update(extra)
    fallback = extra.get("MOD_ALLOC_TEST_NO_TMPFILE") == "1"
    what = f"sigkill mid-write ({'fallback' if fallback else 'O_TMPFILE'})"
    proc = subprocess.Popen(c.prog + ["exit"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        check(proc.stdout.readline() == b"EXITING\n", f"{what}: no EXITING line")
        line = proc.stderr.readline()
        check(line.startswith(b"modalloc: ") and line.endswith(b": test: pausing mid-write\n"),
              f"{what}: the writer did not pause: {line!r}")
        if not kill:
            proc.wait(timeout=30)
            check(proc.returncode == 0, f"{what}: status {proc.returncode}")
            names = os.listdir(d)
            check(len(names) == 1 and REPORT_RE.match(names[0]), f"{what}: files {names}")
            path = os.path.join(d, names[0])
            check_report(load_report(path), path, 1)
            return os.path.getsize(path)
        opened = open_files_in(proc.pid, d)
        check(len(opened) == 1, f"{what}: open files in the output directory: {opened}")
        target, size = opened[0]
        check(0 < size < whole_size, f"{what}: {size} of {whole_size} bytes written at the pause")
        names = os.listdir(d)
        if fallback:
            check(len(names) == 1 and re.match(r"^r\.\d+\.json\.tmp\.\d+\.\d+$", names[0])
                  and target == os.path.join(d, names[0]), f"{what}: files {names}, open {target}")
        else:
            check(target.endswith(" (deleted)") and names == [],
                  f"{what}: the file has a name while written: {target}, files {names}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        check(proc.returncode == -signal.SIGKILL, f"{what}: status {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    names = os.listdir(d)
    if fallback:
        check(len(names) == 1 and not REPORT_RE.match(names[0]) and ".tmp." in names[0],
              f"{what}: files left after SIGKILL: {names}")
    else:
        check(names == [], f"{what}: files left after SIGKILL: {names}")
    return None


def case_coro(c):
    p = standard(c)
    if not c.bt:
        return
    r = main_report(p)
    # As progs/coro.c: 2 coroutines on heap stacks + 2 (or argv[1]) on mmap'd
    # ones, 2000 steps each, step i of coroutine id allocates 16 + (id * 31 + i) % 500.
    ncoro = 2 + (int(c.prog[1]) if len(c.prog) > 1 else 2)
    sizes = [16 + (cid * 31 + i) % 500 for cid in range(ncoro) for i in range(2000)]
    empty = sum(s["blocks"] for s in r["sites"] if not s["frames"])
    check(empty == 0, f"coro: {empty} blocks with an empty stack, expected 0")
    sites = sites_with(r, "coro_leaf", innermost=True)
    # Every step has the same stack: one site, whichever stack it ran on.
    got = [(s["blocks"], s["bytes"], s["live_blocks"]) for s in sites]
    check(got == [(len(sizes), sum(sizes), 0)],
          f"coro: coroutine sites (blocks, bytes, live_blocks) {got}, expected {[(len(sizes), sum(sizes), 0)]}")
    names = [f["function"] for f in sites[0]["frames"]]
    # The walk ends where the coroutine's stack does (makecontext's start
    # frame in libc at most), never running on into the scheduler's stack.
    check(names[:3] == ["coro_leaf", "coro_step", "coro_main"] and len(names) <= 4 and "main" not in names,
          f"coro: coroutine site frames {names}, expected coro_leaf, coro_step, coro_main (+ libc's start)")
    check(all("libc" in f["module"] for f in sites[0]["frames"][3:]),
          f"coro: frame after coro_main {sites[0]['frames'][3:]}, expected libc's start frame")
    check(not r["stacks"]["truncated"], f"coro: stacks.truncated {r['stacks']['truncated']}, expected 0")


def case_badfp(c):
    p = standard(c)
    if not c.bt:
        return
    r = main_report(p)
    sites = sites_with(r, "call_with_fp", innermost=True)
    check(sites, "badfp: no site of call_with_fp")
    bad = sites_with(r, "clobber_saved_fp", innermost=True)
    check(bad, "badfp: no site of clobber_saved_fp")
    for s in bad:
        names = [f["function"] for f in s["frames"]]
        check(len(names) <= 2, f"badfp: clobbered chain gave frames {names}")


def case_nofp(c):
    p = standard(c)
    if not c.bt:
        return
    r = main_report(p)
    fp_only = c.extra.get("MOD_ALLOC_UNWIND") == "fp"
    if not fp_only:
        # By call-frame information: the whole chain, no warning, no hint.
        check(r["stacks"]["shallow_warning"] is False and r["stacks"]["ended_early"] == 0,
              f"nofp: stacks {r['stacks']}")
        nbytes = sum(8 + i % 64 for i in range(2000))
        sites = sites_with(r, "nofp_leaf", innermost=True)
        got = [(s["blocks"], s["bytes"], s["live_blocks"], [f["function"] for f in s["frames"]][:4])
               for s in sites]
        want = [(2000, nbytes, 1000, ["nofp_leaf", "mid", "top", "main"])]
        check(got == want, f"nofp: sites of nofp_leaf {got}, expected {want}")
        q = c.run(c.env(c.outdir(), quiet=False))
        check("-fno-omit-frame-pointer" not in q.stderr, f"nofp: a hint on stderr:\n{q.stderr}")
        return
    check(r["stacks"]["shallow_warning"] is True and "hint" in r["stacks"],
          f"nofp: stacks {r['stacks']}")
    # As progs/nofp.c: 2000 blocks of 8 + i % 64 bytes, every other one freed,
    # all from one call path: one site, its innermost frame nofp_leaf.
    nbytes = sum(8 + i % 64 for i in range(2000))
    sites = sites_with(r, "nofp_leaf", innermost=True)
    got = [(s["blocks"], s["bytes"], s["live_blocks"]) for s in sites]
    check(got == [(2000, nbytes, 1000)], f"nofp: sites of nofp_leaf (blocks, bytes, live_blocks) {got}, "
          f"expected {[(2000, nbytes, 1000)]}")
    frames = sites[0]["frames"]
    check(frames[0]["module"].endswith("/stress_nofp"), f"nofp: innermost frame {frames[0]}")
    check(len(frames) <= 2, f"nofp: {len(frames)} frames without frame pointers: {frames}")
    # Not quiet: the summary on stderr carries the hint.
    d = c.outdir()
    q = c.run(c.env(d, quiet=False))
    check("-fno-omit-frame-pointer" in q.stderr, f"nofp: no hint on stderr:\n{q.stderr}")


CASES = {"xfree": case_xfree, "churn": case_churn, "forkexec": case_forkexec, "dlclose": case_dlclose,
         "signals": case_signals, "signest": case_signest, "deep": case_deep, "tenmillion": case_tenmillion, "align": case_align,
         "exitthread": case_exitthread, "sigkill": case_sigkill, "fatal": case_fatal, "coro": case_coro, "badfp": case_badfp,
         "nofp": case_nofp}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bt", choices=("0", "1"), default="1", help="call sites (MOD_ALLOC_BACKTRACES)")
    ap.add_argument("--env", action="append", default=[], help="K=V for the preloaded run")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("prog")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    c = Ctx(a)
    try:
        CASES[a.case](c)
    except Fail as e:
        print(f"FAIL {a.case}: {e}\n(files kept in {c.root})")
        return 1
    print(f"PASS {a.case} (call sites {'on' if c.bt else 'off'})")
    shutil.rmtree(c.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
