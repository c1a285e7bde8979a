#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Programs that die of a signal (issue 13, first item).

    signals.py --lib build/src/libmodalloc.so [--env NAME=VALUE] PROG [CASE...]

PROG is progs/signals.c.  Every run is made twice, without the library (the
baseline) and with it: the wait status (signal, core dump bit) must be the
same, and the run with the library must leave exactly one complete report with
exact totals and "signal": "SIG...".  Core dumps are enabled in the children
(RLIMIT_CORE, never the machine's core_pattern) when core_pattern writes a
file into the working directory, so the core bit is observable; with a piped
pattern the bit is only compared with the baseline.  Exit status: 0 pass,
1 fail (meson's convention).
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

REPORT_RE = re.compile(r"^modalloc\.(\d+)(\.\d+)?\.json$")

# What work() in progs/signals.c allocates.
WORK = {"blocks": 2, "bytes": 1200, "frees": 1, "freed_bytes": 200,
        "live_blocks": 1, "live_bytes": 1000, "peak_blocks": 2, "peak_bytes": 1200}

CORE_BY_DEFAULT = {signal.SIGQUIT, signal.SIGILL, signal.SIGTRAP, signal.SIGABRT, signal.SIGBUS,
                   signal.SIGFPE, signal.SIGSEGV, signal.SIGXCPU, signal.SIGXFSZ, signal.SIGSYS}

# Every signal whose default action ends the process, as the kernel numbers them.
FATAL = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
         "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
         "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR", "SIGSYS"]


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def signame(sig):
    if signal.SIGRTMIN <= sig <= signal.SIGRTMAX:
        return f"SIGRTMIN+{sig - signal.SIGRTMIN}"
    return signal.Signals(sig).name


class Run:
    def __init__(self, status, out, err, outdir):
        self.status, self.out, self.err, self.outdir = status, out, err, outdir

    def describe(self):
        return f"wait status {self.status:#x}\n--- stdout ---\n{self.out[:2000]}--- stderr ---\n{self.err[:2000]}"

    @property
    def signal(self):
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None

    @property
    def core(self):
        return os.WIFSIGNALED(self.status) and os.WCOREDUMP(self.status)


class Ctx:
    def __init__(self, lib, prog, extra_env):
        self.lib, self.prog, self.extra_env = os.path.abspath(lib), os.path.abspath(prog), extra_env
        self.root = tempfile.mkdtemp(prefix="modalloc-signals-")
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
        # Cores land in the run's directory (a temporary one) unless the pattern pipes or names a path.
        self.cores = bool(pattern) and not pattern.startswith("|") and "/" not in pattern
        self.keep_cores = False

    def env(self, preload, outdir, extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MOD_ALLOC_") and k not in ("LD_PRELOAD", "MALLOC_PERTURB_")}
        env["MOD_ALLOC_QUIET"] = "1"
        env["MOD_ALLOC_OUT"] = os.path.join(outdir, "modalloc.%p.json")
        # State files of killed runs stay in the run's directory, not the user's.
        env["MOD_ALLOC_STATE_DIR"] = os.path.join(self.root, "state")
        env.update(self.extra_env)
        if preload:
            env["LD_PRELOAD"] = self.lib
        env.update(extra or {})
        return env

    def run(self, argv, preload=True, extra=None, ignore=(), timeout=30, stdout=None,
            after_start=None):
        """Runs argv with its own wait status (WCOREDUMP included): a fresh
        output directory that is also its working directory (cores land there)."""
        outdir = tempfile.mkdtemp(dir=self.root)
        cores = self.cores

        def child_setup():
            for s in ignore:
                signal.signal(s, signal.SIG_IGN)
            if cores:
                resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            else:
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        p = subprocess.Popen(argv, env=self.env(preload, outdir, extra), cwd=outdir,
                             stdout=stdout if stdout is not None else subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=child_setup,
                             restore_signals=not ignore, text=True, errors="replace")
        if after_start:
            after_start(p)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise Fail(f"timed out after {timeout}s (a loop or a deadlock?): {argv}\n{out}\n{err}")
        status = p._raw_status
        core = None
        for name in os.listdir(outdir):
            if name == "core" or name.startswith("core."):
                if self.keep_cores and core is None:
                    core = os.path.join(self.root, f"core.{p.pid}")
                    os.rename(os.path.join(outdir, name), core)
                else:
                    os.unlink(os.path.join(outdir, name))
        run = Run(status, out or "", err, outdir)
        run.core_file = core
        return run

    def reports(self, d):
        byname = {}
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            check(REPORT_RE.match(name), f"unexpected file in the output directory: {path}")
            st = os.lstat(path)
            check(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
                  f"{path}: not a mode-0600 regular file")
            with open(path) as f:
                text = f.read()
            try:
                byname[name] = json.loads(text)
            except ValueError as e:
                raise Fail(f"{path}: not valid JSON ({e}): {text[:200]}")
        return list(byname.values())


# Popen keeps only the signal number: remember the raw wait status (WCOREDUMP).
_orig_handle = subprocess.Popen._handle_exitstatus


def _handle(self, sts, *args, **kw):
    self._raw_status = sts
    return _orig_handle(self, sts, *args, **kw)


subprocess.Popen._handle_exitstatus = _handle


def same_ending(base, run, what):
    check(base.status == run.status,
          f"{what}: wait status {run.status:#x} with the library, {base.status:#x} without\n"
          f"--- with ---\n{run.describe()}\n--- without ---\n{base.describe()}")


def one_report(run, what):
    reps = CTX.reports(run.outdir)
    check(len(reps) == 1, f"{what}: {len(reps)} reports, expected 1\n{run.describe()}")
    return reps[0]


def check_totals(r, what, want):
    for k, v in want.items():
        got = r["totals"][k]
        check(got == v, f"{what}: totals.{k} = {got}, expected {v}")


def expect_signal_report(run, sig, what, totals=WORK):
    r = one_report(run, what)
    check(r.get("signal") == signame(sig), f"{what}: \"signal\" is {r.get('signal')!r}, expected {signame(sig)!r}")
    check(r["at_exit"] is True and r["at_exec"] is False, f"{what}: at_exit/at_exec wrong")
    check_totals(r, what, totals)
    return r


def case_kill(ctx):
    """Every catchable fatal signal sent by the program to itself."""
    sigs = [getattr(signal, n) for n in FATAL if hasattr(signal, n)]
    sigs += [signal.SIGRTMIN, signal.SIGRTMIN + 5, signal.SIGRTMAX]
    failures = []
    for sig in sigs:
        what = f"kill {signame(sig)}"
        argv = [ctx.prog, "kill", str(int(sig))]
        try:
            base = ctx.run(argv, preload=False)
            run = ctx.run(argv)
            check(base.signal == sig, f"{what}: the baseline did not die of it\n{base.describe()}")
            same_ending(base, run, what)
            if ctx.cores and sig in CORE_BY_DEFAULT:
                check(run.core, f"{what}: no core dump\n{run.describe()}")
            expect_signal_report(run, sig, what)
            check(run.err == "", f"{what}: stderr\n{run.describe()}")
        except Fail as e:
            failures.append(str(e).splitlines()[0])
            continue
        print(f"ok {what}: status {run.status:#x}, core {run.core}, report with \"signal\"")
    check(not failures, f"{len(failures)} of {len(sigs)} signals:\n  " + "\n  ".join(failures))


def case_faults(ctx):
    """Real faults and real causes: the instruction, abort(), a closed pipe, a file limit, a timer."""
    for name, sig in [("segv", signal.SIGSEGV), ("bus", signal.SIGBUS), ("fpe", signal.SIGFPE),
                      ("ill", signal.SIGILL), ("trap", signal.SIGTRAP), ("abort", signal.SIGABRT),
                      ("pipe", signal.SIGPIPE), ("xfsz", signal.SIGXFSZ), ("alrm", signal.SIGALRM)]:
        what = f"fault {name}"
        argv = [ctx.prog, "fault", name]
        base = ctx.run(argv, preload=False)
        run = ctx.run(argv)
        check(base.signal == sig, f"{what}: the baseline did not die of {signame(sig)}\n{base.describe()}")
        same_ending(base, run, what)
        expect_signal_report(run, sig, what)
        print(f"ok {what}: status {run.status:#x}, core {run.core}")


def core_facts(prog, core):
    """What gdb reads in a core: the innermost frames (function, file:line,
    without addresses) and the signal's si_signo/si_code."""
    p = subprocess.run(["gdb", "-nx", "-batch", "-ex", "bt 3", "-ex", "p $_siginfo.si_signo",
                        "-ex", "p $_siginfo.si_code", prog, core],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
    facts = []
    for line in p.stdout.splitlines():
        if line.startswith("#") or line.startswith("$"):
            line = re.sub(r"0x[0-9a-f]+", "ADDR", line)
            facts.append(re.sub(r"^\$\d+ = ", "", line))
    return facts


def case_cores(ctx):
    """The core dump is the one the program would have left: same innermost
    frames (the faulting instruction, abort's raise), same siginfo."""
    if not ctx.cores or not shutil.which("gdb"):
        print("skipped cores: core dumps not observable here or no gdb")
        return
    ctx.keep_cores = True
    try:
        for name in ("segv", "fpe", "abort"):
            argv = [ctx.prog, "fault", name]
            base, run = ctx.run(argv, preload=False), ctx.run(argv)
            check(base.core_file and run.core_file, f"core {name}: no core file")
            want, got = core_facts(ctx.prog, base.core_file), core_facts(ctx.prog, run.core_file)
            check(len(want) >= 3 and got == want,
                  f"core {name}: with the library\n  " + "\n  ".join(got) + "\nwithout\n  " + "\n  ".join(want))
            print(f"ok core {name}: {want[0]} ... signo {want[-2]} code {want[-1]}")
    finally:
        ctx.keep_cores = False


def case_pipe_reader_exits(ctx):
    """`prog | head -n 1`: the reader exits, the writer dies of SIGPIPE."""
    for preload in (False, True):
        r, w = os.pipe()
        reader = subprocess.Popen(["head", "-n", "1"], stdin=r, stdout=subprocess.DEVNULL)
        os.close(r)
        try:
            run = ctx.run([ctx.prog, "spin"], preload=preload, stdout=w)
        finally:
            os.close(w)
            reader.wait()
        check(run.signal == signal.SIGPIPE, f"spin | head (preload={preload}): not SIGPIPE\n{run.describe()}")
        if preload:
            expect_signal_report(run, signal.SIGPIPE, "spin | head")
    print("ok spin | head: SIGPIPE, report with \"signal\": \"SIGPIPE\"")


def case_external(ctx):
    """SIGTERM and SIGINT from outside (systemd, timeout, Ctrl-C), with 4 threads
    allocating: the same totals as the same program exiting normally."""
    exit_run = ctx.run([ctx.prog, "wait", "4", "exit"])
    check(exit_run.status == 0, f"wait 4 exit: {exit_run.describe()}")
    want = {k: one_report(exit_run, "wait 4 exit")["totals"][k] for k in WORK}
    check(want["blocks"] >= 6 and want["live_bytes"] >= 1400, f"wait 4 exit: totals {want}")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        def kill_when_ready(p, sig=sig):
            line = p.stdout.readline()
            check(line == "ready\n", f"expected ready, got {line!r}")
            p.send_signal(sig)
        for preload in (False, True):
            run = ctx.run([ctx.prog, "wait", "4"], preload=preload, after_start=kill_when_ready)
            check(run.signal == sig and not run.core, f"wait 4, {signame(sig)}: {run.describe()}")
            if preload:
                expect_signal_report(run, sig, f"wait 4, {signame(sig)} from outside", want)
        print(f"ok {signame(sig)} from outside, 4 threads: totals {want}")


def case_python(ctx):
    """Python's KeyboardInterrupt: its own SIGINT handler, then its own exit path
    (it re-raises SIGINT with the default action after finalising)."""
    code = ("import os, signal\n"
            "keep = [bytearray(1000) for _ in range(100)]\n"
            "os.kill(os.getpid(), signal.SIGINT)\n"
            "import time; time.sleep(5)\n")
    argv = [sys.executable, "-c", code]
    base = ctx.run(argv, preload=False)
    run = ctx.run(argv)
    check(base.signal == signal.SIGINT, f"python baseline: {base.describe()}")
    same_ending(base, run, "python KeyboardInterrupt")
    check("KeyboardInterrupt" in run.err, f"python: no traceback\n{run.describe()}")
    r = one_report(run, "python KeyboardInterrupt")
    check(r.get("signal") == "SIGINT", f"python: signal {r.get('signal')!r}")
    check(r["totals"]["blocks"] >= 100, f"python: only {r['totals']['blocks']} blocks")
    print(f"ok python KeyboardInterrupt: status {run.status:#x}, report with {r['totals']['blocks']} blocks")


def case_own_handler(ctx):
    """The program's own handler runs; no report from us until its exit."""
    run = ctx.run([ctx.prog, "handler"])
    check(run.status == 3 << 8, f"handler: exit status\n{run.describe()}")
    r = one_report(run, "handler")
    check("signal" not in r, f"handler: the report says signal {r.get('signal')!r}")
    t = dict(WORK, blocks=3, bytes=1700, live_blocks=2, live_bytes=1500, peak_blocks=2, peak_bytes=1500)
    check_totals(r, "handler", t)
    run = ctx.run([ctx.prog, "rearm"])
    check(run.signal == signal.SIGTERM, f"rearm: {run.describe()}")
    expect_signal_report(run, signal.SIGTERM, "rearm (SIG_DFL set again by the program)")
    print("ok own handler: it runs, the report is written at exit; SIG_DFL set again re-arms ours")


def case_dispositions(ctx):
    """What the sigaction family tells the program, with and without the
    library, across a series of changes and across exec."""
    for argv in ([ctx.prog, "disp"], [ctx.prog, "disp", "exec"]):
        base = ctx.run(argv, preload=False)
        run = ctx.run(argv)
        check(base.status == 0 and run.status == 0, f"{argv}: {run.describe()}")
        if base.out != run.out:
            a, b = base.out.splitlines(), run.out.splitlines()
            diff = [f"-{x}\n+{y}" for x, y in zip(a, b) if x != y][:10]
            raise Fail(f"{' '.join(argv[1:])}: dispositions differ (- without, + with the library):\n"
                       + "\n".join(diff))
        starts = [l for l in run.out.splitlines() if l.startswith("start ")]
        check(len(starts) == 64 * (2 if "exec" in argv else 1), "disp: not every signal described")
        first = starts[:64]
        check(all(l.split()[2] == "DFL" and l.split()[4] == "0" for l in first
                  if int(l.split()[1]) not in (32, 33)), "disp: a signal is not SIG_DFL with no flags at start")
    print("ok dispositions: identical with and without the library (start, changes, after exec)")


def case_inherited_ignore(ctx):
    """SIGTERM and SIGPIPE ignored by the parent stay ignored: the program survives them."""
    run = ctx.run([ctx.prog, "ign"], ignore=(signal.SIGTERM, signal.SIGPIPE))
    check(run.status == 0 and "survived" in run.out, f"ign: {run.describe()}")
    check(all(l.split()[2] == "IGN" for l in run.out.splitlines() if l.startswith("ign ")),
          f"ign: not seen as ignored\n{run.out}")
    r = one_report(run, "ign")
    check("signal" not in r, "ign: the report names a signal")
    check_totals(r, "ign", WORK)
    print("ok inherited SIG_IGN: stays ignored, the program survives SIGTERM and SIGPIPE")


def case_fork(ctx):
    """A fork child inherits the hooks and writes its own report."""
    run = ctx.run([ctx.prog, "fork"])
    check(run.status == 0, f"fork: {run.describe()}")
    m = re.search(r"child (\d+) (\d+)", run.out)
    check(m, f"fork: no child line\n{run.describe()}")
    cpid, cstatus = int(m.group(1)), int(m.group(2))
    check(os.WIFSIGNALED(cstatus) and os.WTERMSIG(cstatus) == signal.SIGTERM, f"fork: child status {cstatus:#x}")
    reps = {r["pid"]: r for r in ctx.reports(run.outdir)}
    check(len(reps) == 2 and cpid in reps, f"fork: reports {sorted(reps)}")
    child = reps.pop(cpid)
    parent = next(iter(reps.values()))
    check(child.get("signal") == "SIGTERM" and "signal" not in parent, "fork: signal keys")
    # The child's counts restart at fork: its one block of 300 bytes.
    check_totals(child, "fork child", {"blocks": 1, "bytes": 300, "live_bytes": 300})
    check_totals(parent, "fork parent", WORK)
    print("ok fork: the child dies of SIGTERM with its own report")


def case_vfork(ctx):
    """A vfork child (posix_spawn, shells) changing its dispositions changes
    nothing for its parent, which shares our memory with it."""
    argv = [ctx.prog, "vfork"]
    base = ctx.run(argv, preload=False)
    run = ctx.run(argv)
    same_ending(base, run, "vfork")
    check(base.out == run.out, f"vfork: the parent sees other dispositions with the library:\n"
                               f"{run.out}--- without ---\n{base.out}")
    expect_signal_report(run, signal.SIGINT, "vfork parent")
    print("ok vfork: the child's changes stay the child's")


def case_defer(ctx):
    """A signal while the exit report is being written: the report is
    completed first, then the process dies of the signal."""
    def kill_mid_write(p):
        line = p.stderr.readline()
        check("pausing mid-write" in line, f"defer: expected the pause line, got {line!r}")
        time.sleep(0.3)  # into the pause (the line is written just before it)
        p.send_signal(signal.SIGTERM)
    extra = {"MOD_ALLOC_TEST_PAUSE_MS": "5000"}
    t0 = time.monotonic()
    run = ctx.run([ctx.prog, "kill", "0"], extra=extra, after_start=kill_mid_write)
    took = time.monotonic() - t0
    check(run.signal == signal.SIGTERM, f"defer: not SIGTERM\n{run.describe()}")
    check(took < 4.5, f"defer: the signal did not cut the pause short ({took:.1f} s)")
    r = one_report(run, "defer")
    check("signal" not in r, "defer: the exit report was already under way: no signal key")
    check_totals(r, "defer", WORK)
    print("ok a signal during the exit report: report completed, then SIGTERM")


def case_crash_in_report(ctx):
    """The report writer crashes while writing for a signal: no loop, no
    report, the process dies of the original signal."""
    run = ctx.run([ctx.prog, "kill", str(int(signal.SIGTERM))], extra={"MOD_ALLOC_TEST_FATAL_FAULT": "1"},
                  timeout=20)
    check(run.signal == signal.SIGTERM, f"crash: not SIGTERM\n{run.describe()}")
    check("crashed while writing the report for SIGTERM; no report" in run.err, f"crash: {run.describe()}")
    check(CTX.reports(run.outdir) == [], "crash: a report was left")
    print("ok a crash in the report writer: one line, no loop, SIGTERM")


def case_summary(ctx):
    """The stderr summary says how the program ended."""
    run = ctx.run([ctx.prog, "kill", str(int(signal.SIGTERM))], extra={"MOD_ALLOC_QUIET": "0"})
    first = run.err.splitlines()[0] if run.err else ""
    check(re.search(r"\(pid \d+\): 2 allocations, 1\.2 KiB; .*; killed by SIGTERM$", first),
          f"summary: {first!r}")
    print(f"ok summary: {first}")


CASES = {
    "kill": case_kill, "faults": case_faults, "cores": case_cores, "pipe": case_pipe_reader_exits,
    "external": case_external, "python": case_python, "handler": case_own_handler,
    "disp": case_dispositions, "ignore": case_inherited_ignore, "fork": case_fork, "vfork": case_vfork,
    "defer": case_defer, "crash": case_crash_in_report, "summary": case_summary,
}

CTX = None


def main():
    global CTX
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("prog")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    extra = dict(kv.split("=", 1) for kv in a.env)
    CTX = Ctx(a.lib, a.prog, extra)
    failed = 0
    for name in a.cases or list(CASES):
        try:
            CASES[name](CTX)
        except Fail as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    if not a.keep:
        shutil.rmtree(CTX.root, ignore_errors=True)
    print("cores observable" if CTX.cores else "core dumps not observable here: only compared with the baseline")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
