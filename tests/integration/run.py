#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Integration test runner: runs test programs under LD_PRELOAD=libmodalloc.so
and checks their JSON reports exactly.

    run.py --lib build/src/libmodalloc.so CASE PROG [PROG...]

Each program prints its expectations on stdout (protocol in progs/t.h); each
case below runs its program(s) in fresh temporary directories, checks exit
codes, stderr and the report files, then every expectation.  Exit status:
0 pass, 1 fail, 77 skip (meson's convention).
"""
import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import SKIP, Fail, Skip, check, load_report  # noqa: E402

REPORT_RE = re.compile(r"^modalloc\.(\d+)(\.\d+)?\.json$")


class Result:
    def __init__(self, argv, rc, out, err, outdir):
        self.argv, self.rc, self.out, self.err, self.outdir = argv, rc, out, err, outdir

    def describe(self):
        return (f"command: {' '.join(self.argv)}\nexit code: {self.rc}\n"
                f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}")


class Ctx:
    def __init__(self, lib, progs, valgrind):
        self.lib = os.path.abspath(lib)
        self.progs = [os.path.abspath(p) for p in progs]
        self.valgrind = valgrind
        self.root = tempfile.mkdtemp(prefix="modalloc-integ-")
        self.extra_env = {}

    def prog(self, i=0):
        return self.progs[i]

    def fresh_dir(self):
        return tempfile.mkdtemp(dir=self.root)

    def env(self, preload=True, extra=None):
        """The environment of a test run: nothing inherited that could change
        the library's behaviour, quiet unless a case asks otherwise, plus the
        --env settings of this invocation."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MOD_ALLOC_") and k not in ("LD_PRELOAD", "MALLOC_PERTURB_")}
        env["MOD_ALLOC_QUIET"] = "1"
        env.update(self.extra_env)
        if preload:
            env["LD_PRELOAD"] = self.lib
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run(self, argv, preload=True, extra=None, out=None, rc=0, timeout=30, cwd=None,
            stderr_empty=True):
        """Runs argv; MOD_ALLOC_OUT defaults to a fresh directory's modalloc.%p.json."""
        outdir = None
        extra = dict(extra or {})
        if out is None and "MOD_ALLOC_OUT" not in extra:
            outdir = self.fresh_dir()
            extra["MOD_ALLOC_OUT"] = os.path.join(outdir, "modalloc.%p.json")
        elif out is not None:
            extra["MOD_ALLOC_OUT"] = out
        try:
            p = subprocess.run(argv, env=self.env(preload, extra), cwd=cwd, timeout=timeout,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               errors="replace")
        except subprocess.TimeoutExpired as e:
            raise Fail(f"timed out after {timeout}s (deadlock?): {' '.join(argv)}\n"
                       f"stdout so far: {e.stdout!r}\nstderr so far: {e.stderr!r}")
        res = Result(argv, p.returncode, p.stdout, p.stderr, outdir)
        for line in res.out.splitlines():
            if line.startswith("FAIL "):
                raise Fail(f"the program found a fault: {line}\n{res.describe()}")
        if rc is not None and p.returncode != rc:
            raise Fail(f"exit code {p.returncode}, expected {rc}\n{res.describe()}")
        if stderr_empty and res.err:
            raise Fail(f"unexpected stderr\n{res.describe()}")
        return res


def reports_in(d, allow_other=False):
    """Every report in directory d by pid.  Reports must be mode 0600 regular
    files; anything else (a temporary file left behind) fails the test."""
    byname, bypid = {}, {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if not REPORT_RE.match(name):
            check(allow_other, f"unexpected file left in the output directory: {path}")
            continue
        st = os.lstat(path)
        check(stat.S_ISREG(st.st_mode), f"{path}: not a regular file")
        check(stat.S_IMODE(st.st_mode) == 0o600, f"{path}: mode {oct(stat.S_IMODE(st.st_mode))}, not 0600")
        r = load_report(path)
        byname[name] = r
        key = report_key(r)
        check(key not in bypid, f"two reports for pid {key} in {d}")
        bypid[key] = r
    return bypid, byname


def report_key(r):
    """A process's report is keyed by its pid; the one an image wrote just
    before exec (same pid as the new image's) by "<pid>/exec"."""
    return f"{r['pid']}/exec" if r.get("at_exec") else r["pid"]


def get(report, key):
    v = report
    for part in key.split("."):
        check(isinstance(v, dict) and part in v, f"report has no key {key}")
        v = v[part]
    return v


def check_expectations(res, bypid, baseline=None, files=True):
    """Applies the E/GE/NEAR/SLACK/DELTA/FILES lines of res.out; returns how many."""
    n = 0
    want_files = None
    for line in res.out.splitlines():
        f = line.split()
        if not f:
            continue
        verb = f[0]
        if verb == "FILES":
            want_files = int(f[1])
            continue
        if verb == "DELTA":
            check(baseline is not None, "DELTA without a baseline run")
            (r,) = bypid.values()
            got = get(r, f[1]) - get(baseline, f[1])
            check(got == int(f[2]), f"{f[1]}: run minus baseline = {got}, expected {f[2]}")
            n += 1
            continue
        if verb not in ("E", "GE", "NEAR", "SLACK"):
            continue
        pid = int(f[1]) if f[1].isdigit() else f[1]
        check(pid in bypid, f"no report from pid {pid} (have {sorted(map(str, bypid))}): {line}\n{res.describe()}")
        r = bypid[pid]
        got = get(r, f[2])
        want = int(f[3])
        if verb == "E":
            ok, rel = got == want, "=="
        elif verb == "GE":
            ok, rel = got >= want, ">="
        elif verb == "NEAR":
            tol = int(f[4])
            ok, rel = abs(got - want) < tol, f"within {tol} of"
        else:
            tol = int(f[4]) * get(r, "config.peak_slack_bytes")
            ok, rel = abs(got - want) < tol, f"within {tol} (slack) of"
        check(ok, f"pid {pid}: {f[2]} = {got}, expected {rel} {want}")
        n += 1
    if files and want_files is not None:
        check(len(bypid) == want_files, f"{len(bypid)} reports, expected {want_files}")
    return n


def simple_case(ctx, argv=None, rc=0, timeout=30, min_checks=1):
    res = ctx.run(argv or [ctx.prog()], rc=rc, timeout=timeout)
    bypid, _ = reports_in(res.outdir)
    n = check_expectations(res, bypid)
    check(n >= min_checks, f"only {n} expectations checked\n{res.describe()}")
    for r in bypid.values():
        check(r["at_exit"] is True, "report not written at exit")
    return res, bypid


# ---------------------------------------------------------------- the cases

def case_entry_points(ctx):
    res, bypid = simple_case(ctx, min_checks=21)
    check(len(bypid) == 1, "one report expected")


def case_errors(ctx):
    pre = ctx.run([ctx.prog()])
    bare = ctx.run([ctx.prog()], preload=False)

    def outcomes(res):
        return [l for l in res.out.splitlines()
                if l.split()[0] not in ("E", "GE") and not l.startswith("active ")]
    a, b = outcomes(bare), outcomes(pre)
    check(len(a) > 40, f"too few outcomes from the bare run:\n{bare.describe()}")
    diff = [f"  glibc:    {x}\n  modalloc: {y}" for x, y in zip(a, b) if x != y]
    check(len(a) == len(b) and not diff,
          "behaviour differs from glibc's:\n" + "\n".join(diff) + f"\n{pre.describe()}")
    check("active api=1" in pre.out and "active api=0" in bare.out, "API activity not as expected")
    bypid, _ = reports_in(pre.outdir)
    check(check_expectations(pre, bypid) == 6, "expected 6 totals checks")


def case_malloc0(ctx):
    simple_case(ctx, min_checks=14)


def case_peak(ctx):
    simple_case(ctx, min_checks=6)


def case_foreign(ctx):
    simple_case(ctx, min_checks=9)


def baseline_case(ctx, n_checks, timeout=30):
    """The program run as "empty" (start-up and scaffolding only), then "run":
    the DELTA lines compare the two reports, the E lines the run's own."""
    base = ctx.run([ctx.prog(), "empty"], timeout=timeout)
    bb, _ = reports_in(base.outdir)
    check(len(bb) == 1, "one baseline report expected")
    (baseline,) = bb.values()
    res = ctx.run([ctx.prog(), "run"], timeout=timeout)
    bypid, _ = reports_in(res.outdir)
    n = check_expectations(res, bypid, baseline=baseline)
    check(n == n_checks, f"{n} checks, expected {n_checks}\n{res.describe()}")


def case_cxx(ctx):
    baseline_case(ctx, 14)


def case_threads(ctx):
    baseline_case(ctx, 11, timeout=45)


def case_thread_stats(ctx):
    res = ctx.run([ctx.prog(), "thread_stats"])
    check(res.out == "thread_stats done\n", res.describe())


def case_exit_records(ctx):
    res = ctx.run([ctx.prog(), "exit_records"])
    bypid, _ = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 1 and "exit_records done" in res.out, res.describe())


def case_peak_threads(ctx):
    simple_case(ctx, timeout=30, min_checks=4)


def case_fork(ctx):
    res, bypid = simple_case(ctx, timeout=30, min_checks=10)
    pids = sorted(bypid)
    check(len(set(pids)) == len(pids), "duplicate pids")
    for pid, r in bypid.items():
        check(r["pid"] == pid, "pid mismatch")


def case_fork_threads(ctx):
    simple_case(ctx, timeout=30, min_checks=10)


def case_exec(ctx):
    parent, child = ctx.prog(0), ctx.prog(1)
    # fork + exec: the parent's report, the child's pre-exec one, the new image's.
    res, bypid = simple_case(ctx, argv=[parent, child], min_checks=15)
    pids = sorted(k for k in bypid if isinstance(k, int))
    check(len(pids) == 2, f"reports {sorted(map(str, bypid))}")
    (cpid,) = [p for p in pids if f"{p}/exec" in bypid]
    check(bypid[cpid]["cmd"] == f"{child} child", f"cmd {bypid[cpid]['cmd']}")
    check(bypid[f"{cpid}/exec"]["cmd"] == f"{parent} {child}", "pre-exec cmd")
    # exec in place: two reports under one pid, neither overwriting the other.
    res = ctx.run([parent, child, "direct"])
    bypid, byname = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 12, f"expected 12 checks\n{res.describe()}")
    (pid,) = [k for k in bypid if isinstance(k, int)]
    check(sorted(byname) == [f"modalloc.{pid}.1.json", f"modalloc.{pid}.json"], f"files {sorted(byname)}")
    check(bypid[pid]["cmd"] == f"{child} child", f"cmd {bypid[pid]['cmd']}")
    # A failed exec: the pre-exec report is withdrawn, the report at exit stays.
    res = ctx.run([parent, child, "fail"])
    bypid, byname = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 3, f"expected 3 checks\n{res.describe()}")
    check(len(byname) == 1, f"files {sorted(byname)}")


def case_exit_thread(ctx):
    simple_case(ctx, rc=7, timeout=30, min_checks=3)


def warnings_of(res):
    return [l for l in res.err.splitlines() if l]


def case_env(ctx):
    prog = ctx.prog()
    defaults = {"buckets": 4096, "depth": 32, "backtraces": False}
    cases = [
        ("MOD_ALLOC_BUCKETS", "abc", {"buckets": 4096}),
        ("MOD_ALLOC_BUCKETS", "10", {"buckets": 64}),
        ("MOD_ALLOC_BUCKETS", "99999999", {"buckets": 1048576}),
        ("MOD_ALLOC_BUCKETS", "-5", {"buckets": 4096}),
        ("MOD_ALLOC_BUCKETS", "99999999999999999999999", {"buckets": 4096}),
        ("MOD_ALLOC_DEPTH", "x", {"depth": 32}),
        ("MOD_ALLOC_DEPTH", "0", {"depth": 1}),
        ("MOD_ALLOC_DEPTH", "1000", {"depth": 256}),
        ("MOD_ALLOC_BACKTRACES", "maybe", {"backtraces": False}),
        ("MOD_ALLOC_QUIET", "sometimes", {}),
        ("MOD_ALLOC_REPORT", "2", {}),
    ]
    for var, val, want in cases:
        res = ctx.run([prog, "exit=5"], extra={var: val}, rc=5, stderr_empty=False)
        lines = warnings_of(res)
        # MOD_ALLOC_QUIET=sometimes falls back to 0: the summary follows the warning.
        if var == "MOD_ALLOC_QUIET":
            lines = [l for l in lines if not l.startswith("modalloc: pid ") and
                     not l.startswith("modalloc: report ")]
        check(len(lines) == 1 and lines[0].startswith("modalloc: ") and var in lines[0],
              f"{var}={val}: expected one stderr line naming {var}\n{res.describe()}")
        bypid, _ = reports_in(res.outdir)
        check(len(bypid) == 1, f"{var}={val}: {len(bypid)} reports")
        check_expectations(res, bypid)
        (r,) = bypid.values()
        exp = dict(defaults, **want)
        for k, v in exp.items():
            check(r["config"][k] == v, f"{var}={val}: config.{k} = {r['config'][k]}, expected {v}")
    # Good values are taken silently; an in-range bucket count is rounded up
    # to a power of two without a warning (documented in src/options.h).
    for buckets, want in (("1024", 1024), ("1000", 1024), ("65", 128)):
        res = ctx.run([prog], extra={"MOD_ALLOC_BUCKETS": buckets, "MOD_ALLOC_DEPTH": "7",
                                     "MOD_ALLOC_BACKTRACES": "off"})
        (r,) = reports_in(res.outdir)[0].values()
        check((r["config"]["buckets"], r["config"]["depth"]) == (want, 7),
              f"MOD_ALLOC_BUCKETS={buckets}: config {r['config']}")
    # MOD_ALLOC_REPORT=0: no file at all; not quiet: the summary line says so.
    res = ctx.run([prog, "exit=3"], extra={"MOD_ALLOC_REPORT": "0", "MOD_ALLOC_QUIET": "0"},
                  rc=3, stderr_empty=False)
    check(os.listdir(res.outdir) == [], "MOD_ALLOC_REPORT=0 wrote a file")
    lines = warnings_of(res)
    check(len(lines) == 1 and lines[0].startswith("modalloc: pid ") and "3 allocations" in lines[0],
          f"summary line expected\n{res.describe()}")


def case_paths(ctx):
    prog = ctx.prog()

    def one_warning(res, path, reason):
        lines = warnings_of(res)
        check(len(lines) == 1 and path in lines[0] and reason in lines[0],
              f"expected one stderr line naming {path} and '{reason}'\n{res.describe()}")

    # A missing directory, and a path under a regular file (root ignores modes).
    for path, reason in (("/nonexistent-modalloc/dir/x.json", "No such file or directory"),
                         ("/etc/passwd/x.json", "Not a directory")):
        res = ctx.run([prog, "exit=4"], out=path, rc=4, stderr_empty=False)
        one_warning(res, path, reason)
        check(not os.path.lexists(path), f"{path} exists")
    # A bad %-escape.
    d = ctx.fresh_dir()
    res = ctx.run([prog, "exit=4"], out=os.path.join(d, "bad%q.json"), rc=4, stderr_empty=False)
    one_warning(res, "bad%q.json", "Invalid argument")
    check(os.listdir(d) == [], f"files left: {os.listdir(d)}")
    # An unwritable directory, when not root (root writes anywhere).
    if os.geteuid() != 0:
        d = ctx.fresh_dir()
        os.chmod(d, 0o500)
        res = ctx.run([prog], out=os.path.join(d, "x.json"), stderr_empty=False)
        one_warning(res, os.path.join(d, "x.json"), "Permission denied")
        os.chmod(d, 0o700)
        check(os.listdir(d) == [], "files left")

    # No %p, parent and child: two files, neither overwritten.
    d = ctx.fresh_dir()
    tmpl = os.path.join(d, "modalloc.json")
    res = ctx.run([prog, "fork"], out=tmpl)
    names = sorted(os.listdir(d))
    check(names == ["modalloc.1.json", "modalloc.json"], f"files: {names}")
    reps = [load_report(os.path.join(d, n)) for n in names]
    check(len({r["pid"] for r in reps}) == 2, "both reports from one pid")
    bypid = {r["pid"]: r for r in reps}
    check(check_expectations(res, bypid) == 10, "expected 10 checks")
    for n in names:
        check(stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode) == 0o600, f"{n}: mode not 0600")

    # Planted symlinks (to an existing file, and dangling), an existing file
    # and a directory at the target: none followed or replaced.
    d = ctx.fresh_dir()
    victim = os.path.join(d, "victim")
    with open(victim, "w") as f:
        f.write("VICTIM\n")
    os.symlink(victim, os.path.join(d, "r.json"))
    os.symlink(os.path.join(d, "nowhere"), os.path.join(d, "r.1.json"))
    with open(os.path.join(d, "r.2.json"), "w") as f:
        f.write("EXISTING\n")
    os.mkdir(os.path.join(d, "r.3.json"))
    res = ctx.run([prog], out=os.path.join(d, "r.json"))
    with open(victim) as f:
        check(f.read() == "VICTIM\n", "the symlink's target was written")
    check(not os.path.lexists(os.path.join(d, "nowhere")), "a dangling symlink was followed")
    check(os.path.islink(os.path.join(d, "r.json")) and os.path.islink(os.path.join(d, "r.1.json")),
          "a symlink was replaced")
    with open(os.path.join(d, "r.2.json")) as f:
        check(f.read() == "EXISTING\n", "an existing file was replaced")
    names = sorted(os.listdir(d))
    check(names == ["r.1.json", "r.2.json", "r.3.json", "r.4.json", "r.json", "victim"],
          f"files: {names}")
    p4 = os.path.join(d, "r.4.json")
    check(stat.S_IMODE(os.stat(p4).st_mode) == 0o600, "mode not 0600")
    r = load_report(p4)
    check(check_expectations(res, {r["pid"]: r}) == 5, "expected 5 checks")

    # %% and %p, and a relative template resolved against the start-up
    # directory although the program changes directory before exiting.
    d = ctx.fresh_dir()
    res = ctx.run([prog, "chdir=/"], out="a%%b.%p.json", cwd=d)
    names = os.listdir(d)
    check(len(names) == 1 and re.fullmatch(r"a%b\.\d+\.json", names[0]), f"files: {names}")
    r = load_report(os.path.join(d, names[0]))
    check(names[0] == f"a%b.{r['pid']}.json", "pid not in the name")
    check(check_expectations(res, {r["pid"]: r}) == 5, "expected 5 checks")

    # Not quiet: the summary names the file it wrote.
    d = ctx.fresh_dir()
    res = ctx.run([prog], out=os.path.join(d, "s.json"), extra={"MOD_ALLOC_QUIET": "0"},
                  stderr_empty=False)
    lines = warnings_of(res)
    check(len(lines) == 2 and lines[0].startswith("modalloc: pid ") and
          lines[1] == f"modalloc: report {os.path.join(d, 's.json')}", f"summary:\n{res.describe()}")


def case_api(ctx):
    prog = ctx.prog()
    d = ctx.fresh_dir()
    now_tmpl = os.path.join(d, "now.%p.json")
    bare = ctx.run([prog, now_tmpl], preload=False)
    check(bare.out == "not active\n", f"bare run:\n{bare.describe()}")
    check(os.listdir(d) == [], "a report without the library")
    res = ctx.run([prog, now_tmpl])
    check(res.out.splitlines()[-1] == "active", res.describe())
    bypid, _ = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 3, "expected 3 checks")
    (pid,) = bypid
    now = load_report(os.path.join(d, f"now.{pid}.json"))
    check(now["at_exit"] is False, "on-demand report says at_exit")
    t = now["totals"]
    check((t["blocks"], t["bytes"], t["frees"], t["live_bytes"]) == (1, 300, 0, 300), f"totals {t}")
    check(sorted(os.listdir(d)) == [f"now.{pid}.json"], f"files {os.listdir(d)}")


def dhat_totals(path):
    with open(path) as f:
        d = json.load(f)
    tb = sum(pp["tb"] for pp in d["pps"])
    tbk = sum(pp["tbk"] for pp in d["pps"])
    return tb, tbk


def case_dhat(ctx):
    vg = ctx.valgrind or shutil.which("valgrind")
    if not vg:
        raise Skip("valgrind not installed")
    prog = ctx.prog()
    res = ctx.run([prog])
    bypid, _ = reports_in(res.outdir)
    check_expectations(res, bypid)
    (ours,) = bypid.values()
    zero = [int(l.split()[1]) for l in res.out.splitlines() if l.startswith("ZERO ")]
    check(len(zero) == 1, f"the program must say how many zero-byte requests it made\n{res.describe()}")
    d = ctx.fresh_dir()
    out = os.path.join(d, "dhat.out")
    vres = ctx.run([vg, "--tool=dhat", "--run-libc-freeres=no", "--run-cxx-freeres=no",
                    f"--dhat-out-file={out}", prog], preload=False, timeout=60, stderr_empty=False)
    tb, tbk = dhat_totals(out)
    t = ours["totals"]
    check(tbk == t["blocks"] and tb == t["bytes"] + zero[0],
          f"DHAT: {tbk} blocks {tb} bytes; modalloc: {t['blocks']} blocks {t['bytes']} bytes "
          f"+ {zero[0]} zero-byte requests\n{vres.describe()}")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True, help="libmodalloc.so to preload")
    ap.add_argument("--valgrind", help="valgrind executable (default: from PATH)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="set for every run (e.g. MOD_ALLOC_BACKTRACES=1: the same exact totals with call sites)")
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("progs", nargs="+")
    a = ap.parse_args()
    ctx = Ctx(a.lib, a.progs, a.valgrind)
    for kv in a.env:
        k, _, v = kv.partition("=")
        ctx.extra_env[k] = v
    try:
        CASES[a.case](ctx)
    except Skip as e:
        print(f"SKIP {a.case}: {e}")
        return SKIP
    except Fail as e:
        print(f"FAIL {a.case}: {e}")
        print(f"(temporary files kept in {ctx.root})")
        return 1
    if a.keep:
        print(f"(temporary files kept in {ctx.root})")
    else:
        shutil.rmtree(ctx.root, ignore_errors=True)
    print(f"PASS {a.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
