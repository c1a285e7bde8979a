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
        # State files of killed runs stay in the run's directory, not the user's.
        env["MOD_ALLOC_STATE_DIR"] = os.path.join(self.root, "state")
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
    # fork + exec: the parent's report and the new image's; the child image,
    # which counted nothing, writes none before its exec.
    res, bypid = simple_case(ctx, argv=[parent, child], min_checks=12)
    check(all(isinstance(k, int) for k in bypid) and len(bypid) == 2, f"reports {sorted(map(str, bypid))}")
    (cpid,) = [p for p, r in bypid.items() if r["cmd"] == f"{child} child"]
    check(bypid[cpid]["at_exec"] is False and bypid[cpid]["totals"]["blocks"] == 5, "the exec'd image's report")
    # exec before any allocation: exactly one report, the new image's.
    res = ctx.run([parent, child, "immediate"])
    bypid, byname = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 7, f"expected 7 checks\n{res.describe()}")
    (pid,) = bypid
    check(sorted(byname) == [f"modalloc.{pid}.json"], f"files {sorted(byname)}")
    check(bypid[pid]["cmd"] == f"{child} child" and bypid[pid]["at_exec"] is False, f"cmd {bypid[pid]['cmd']}")
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
    defaults = {"buckets": 4096, "buckets_max": 262144, "depth": 32, "backtraces": False}
    cases = [
        ("MOD_ALLOC_BUCKETS", "abc", {"buckets": 4096}),
        ("MOD_ALLOC_BUCKETS", "10", {"buckets": 64}),
        ("MOD_ALLOC_BUCKETS", "99999999", {"buckets": 1048576}),
        ("MOD_ALLOC_BUCKETS", "-5", {"buckets": 4096}),
        ("MOD_ALLOC_BUCKETS_MAX", "abc", {"buckets_max": 262144}),
        ("MOD_ALLOC_BUCKETS_MAX", "10", {"buckets_max": 64}),
        ("MOD_ALLOC_BUCKETS_MAX", "99999999", {"buckets_max": 16777216}),
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
            lines = [l for l in lines if not re.match(r"modalloc: integ_simple \(pid \d+\): \d+ allocations", l)
                     and not l.startswith("modalloc: report ")]
        check(len(lines) == 1 and re.match(r"modalloc: integ_simple \(pid \d+\): ", lines[0]) and var in lines[0],
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
    check(len(lines) == 1 and lines[0].startswith("modalloc: integ_simple (pid ") and "3 allocations" in lines[0],
          f"summary line expected\n{res.describe()}")


def case_paths(ctx):
    prog = ctx.prog()

    def one_warning(res, path, reason):
        lines = warnings_of(res)
        check(len(lines) == 1 and path in lines[0] and reason in lines[0],
              f"expected one stderr line naming {path} and '{reason}'\n{res.describe()}")

    def lines_of(res):
        """stderr lines, their head "modalloc: integ_simple (pid N): " cut to "modalloc: "."""
        return [re.sub(r"^modalloc: integ_simple \(pid \d+\): ", "modalloc: ", l) for l in warnings_of(res)]

    def default_report(res, d, n_checks=5):
        """The run's report went to the default template in its start-up directory d."""
        names = os.listdir(d)
        check(len(names) == 1 and REPORT_RE.match(names[0]) and not REPORT_RE.match(names[0]).group(2),
              f"files in the start-up directory: {names}\n{res.describe()}")
        r = load_report(os.path.join(d, names[0]))
        check(names[0] == f"modalloc.{r['pid']}.json", f"files: {names}")
        check(check_expectations(res, {r["pid"]: r}) == n_checks, f"expected {n_checks} checks")

    # Templates that cannot work are said at start-up, in one line, and the
    # report goes to the default template (modalloc.%p.json, start-up directory).
    missing = ctx.fresh_dir() + "/missing"
    for tmpl, line in (
            ("/nonexistent-modalloc/dir/x.json",
             'MOD_ALLOC_OUT="/nonexistent-modalloc/dir/x.json": cannot create files in '
             '"/nonexistent-modalloc/dir": No such file or directory'),
            ("/etc/passwd/x.json",
             'MOD_ALLOC_OUT="/etc/passwd/x.json": cannot create files in "/etc/passwd": Not a directory'),
            (missing + "/",
             f'MOD_ALLOC_OUT="{missing}/": cannot create files in "{missing}": No such file or directory'),
            ("bad%q.json", 'MOD_ALLOC_OUT="bad%q.json": unknown %-escape (%p = pid, %% = %)')):
        d = ctx.fresh_dir()
        res = ctx.run([prog, "exit=4"], out=tmpl, rc=4, stderr_empty=False, cwd=d)
        check(lines_of(res) == [f"modalloc: {line}; using 'modalloc.%p.json' instead"],
              f"{tmpl}: expected one line\n{res.describe()}")
        default_report(res, d)
        check(not os.path.lexists(tmpl) and not os.path.lexists(missing), f"{tmpl} exists")
    # ... at start-up: the line comes before anything the program writes
    # (stderr and stdout into one pipe), and also when no report is written.
    d = ctx.fresh_dir()
    p = subprocess.run([prog], env=ctx.env(extra={"MOD_ALLOC_OUT": "/nonexistent-modalloc/x.json",
                                                  "MOD_ALLOC_REPORT": "0"}),
                       cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    lines = p.stdout.splitlines()
    check(p.returncode == 0 and len(lines) == 6 and lines[0].startswith("modalloc: ")
          and "/nonexistent-modalloc" in lines[0] and all(l.startswith("E ") for l in lines[1:]),
          f"start-up line first expected:\n{p.stdout}")
    check(os.listdir(d) == [], f"MOD_ALLOC_REPORT=0 wrote {os.listdir(d)}")
    # A directory means "reports go in it", with or without a trailing slash.
    for slash in ("", "/"):
        d = ctx.fresh_dir()
        res = ctx.run([prog], out=d + slash)
        (name,) = os.listdir(d)
        r = load_report(os.path.join(d, name))
        check(name == f"modalloc.{r['pid']}.json", f"{d + slash}: files {os.listdir(d)}")
        check(check_expectations(res, {r["pid"]: r}) == 5, "expected 5 checks")
        check(not os.path.lexists(d + ".1") and not os.path.lexists(d + ".json"), "a file beside the directory")
    # The same for MOD_ALLOC_DHAT: a directory, and a missing one.
    d, cwd = ctx.fresh_dir(), ctx.fresh_dir()
    res = ctx.run([prog], extra={"MOD_ALLOC_DHAT": d}, cwd=cwd)
    (r,) = reports_in(res.outdir)[0].values()
    check(os.listdir(d) == [f"dhat.{r['pid']}.json"] and os.listdir(cwd) == [], f"DHAT in {os.listdir(d)}")
    res = ctx.run([prog], extra={"MOD_ALLOC_DHAT": missing + "/d.json"}, cwd=cwd, stderr_empty=False)
    (r,) = reports_in(res.outdir)[0].values()
    check(lines_of(res) == [f'modalloc: MOD_ALLOC_DHAT="{missing}/d.json": cannot create files in '
                               f'"{missing}": No such file or directory; using \'dhat.%p.json\' instead'],
          f"DHAT: one line expected\n{res.describe()}")
    check(os.listdir(cwd) == [f"dhat.{r['pid']}.json"], f"DHAT in {os.listdir(cwd)}")
    # A read-only directory: root passes access(2) checks, so the check is a
    # real attempt.  A read-only tmpfs in a private mount namespace.
    if subprocess.run(["unshare", "-rm", "true"], stderr=subprocess.DEVNULL).returncode == 0:
        ro, d = ctx.fresh_dir(), ctx.fresh_dir()
        res = ctx.run(["unshare", "-rm", "sh", "-c",
                       'mount -t tmpfs none "$0" && mount -o remount,ro "$0" && LD_PRELOAD="$2" exec "$1" exit=4',
                       ro, prog, ctx.lib], preload=False, out=ro + "/x.json", rc=4, stderr_empty=False, cwd=d)
        check(lines_of(res) == [f'modalloc: MOD_ALLOC_OUT="{ro}/x.json": cannot create files in "{ro}": '
                                   "Read-only file system; using 'modalloc.%p.json' instead"],
              f"read-only: one line expected\n{res.describe()}")
        default_report(res, d)
    else:
        print("note: unshare -rm unavailable: the read-only file system case did not run")
    # An unwritable directory, when not root (root writes anywhere).
    if os.geteuid() != 0:
        ro, d = ctx.fresh_dir(), ctx.fresh_dir()
        os.chmod(ro, 0o500)
        res = ctx.run([prog], out=os.path.join(ro, "x.json"), stderr_empty=False, cwd=d)
        one_warning(res, os.path.join(ro, "x.json"), "Permission denied")
        os.chmod(ro, 0o700)
        check(os.listdir(ro) == [], "files left")
        default_report(res, d)
    # Failures at exit are still said: the directory removed during the run.
    d = ctx.fresh_dir()
    gone = os.path.join(d, "gone")
    os.mkdir(gone)
    res = ctx.run([prog, "exit=4", f"rmdir={gone}"], out=os.path.join(gone, "x.json"), rc=4,
                  stderr_empty=False)
    one_warning(res, os.path.join(gone, "x.json"), "No such file or directory")
    check(warnings_of(res)[0].startswith("modalloc: ") and "cannot write report" in warnings_of(res)[0],
          res.describe())
    check(os.listdir(d) == [], f"files: {os.listdir(d)}")

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
    check(len(lines) == 2 and lines[0].startswith("modalloc: integ_simple (pid ") and
          lines[1] == f"modalloc: report {os.path.join(d, 's.json')}", f"summary:\n{res.describe()}")


def case_summary(ctx):
    """The library's stderr lines: headed with the program's name and pid
    (a newline in the name shown as '?'), sizes rounded as `modalloc report`
    rounds them, "1 block" in the singular."""
    d = ctx.fresh_dir()
    prog = os.path.join(d, "my\nprog")
    shutil.copy(ctx.prog(), prog)
    res = ctx.run([prog], extra={"MOD_ALLOC_QUIET": "0", "MOD_ALLOC_DEPTH": "x"}, stderr_empty=False)
    bypid, byname = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 5, "expected 5 checks")
    ((pid, r),) = bypid.items()
    lines = res.err.split("\n")
    head = f"modalloc: my?prog (pid {pid}): "
    check(len(lines) == 4 and lines[3] == "", f"three lines expected\n{res.describe()}")
    check(lines[0].startswith(head + 'MOD_ALLOC_DEPTH="x" is not a non-negative decimal integer'),
          f"warning line: {lines[0]!r}")
    m = re.fullmatch(re.escape(head + "3 allocations, 3.0 KiB; peak 2.0 KiB in 1 block; "
                               "leaked 2.0 KiB in 1 block; RSS peak ") + r"\d+\.\d (KiB|MiB)", lines[1])
    check(m, f"summary line: {lines[1]!r}")
    check(lines[2] == f"modalloc: report {os.path.join(res.outdir, f'modalloc.{pid}.json')}",
          f"report line: {lines[2]!r}")
    summary_into_closed_pipe(ctx)


def summary_into_closed_pipe(ctx):
    """The summary written into a pipe nobody reads: the library gets EPIPE,
    but the program must not die of the SIGPIPE our write raised (it exits 0,
    and its report is written)."""
    d = ctx.fresh_dir()
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([ctx.prog()], env=ctx.env(extra={"MOD_ALLOC_QUIET": "0",
                                                            "MOD_ALLOC_OUT": os.path.join(d, "p.%p.json")}),
                           stdout=subprocess.PIPE, stderr=w, timeout=30)
    finally:
        os.close(w)
    check(p.returncode == 0, f"summary into a closed pipe: exit {p.returncode}, expected 0")
    check(len(os.listdir(d)) == 1, f"summary into a closed pipe: reports {os.listdir(d)}")


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


def case_dhat_sites(ctx):
    """MOD_ALLOC_DHAT alone (no MOD_ALLOC_BACKTRACES) implies call sites: the
    DHAT file is written, with the same totals as the JSON report."""
    d = ctx.fresh_dir()
    res = ctx.run([ctx.prog()], extra={"MOD_ALLOC_DHAT": os.path.join(d, "dhat.%p.json"),
                                       "MOD_ALLOC_BACKTRACES": None})
    bypid, _ = reports_in(res.outdir)
    check(check_expectations(res, bypid) == 5, f"expected 5 checks\n{res.describe()}")
    ((pid, r),) = bypid.items()
    check(r["config"]["backtraces"] is True and len(r["sites"]) >= 3,
          f"no call sites: config {r['config']}, {len(r.get('sites', []))} sites")
    check(os.listdir(d) == [f"dhat.{pid}.json"], f"DHAT files: {os.listdir(d)}")
    check(dhat_totals(os.path.join(d, f"dhat.{pid}.json")) == (3100, 3), "DHAT totals")


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
