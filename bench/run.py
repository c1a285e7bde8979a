#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Measure modalloc side by side with plain glibc and other tools.

Runs every workload of bench/bench.c under each configuration, alternating
configurations run by run (A B C D E A B C D E ...) because these machines
are shared and noisy, and reports for each (mode, configuration) the median
of the per-pair ratios  ns_per_call(config, run i) / ns_per_call(plain, run i)
plus the median ns per call, and the same for the process's peak RSS.

    bench/run.py --build build [--quick] [--out FILE] [--modes tight,pool]

Python 3 standard library only.  See docs/bench.md.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

MEMUSAGE = "/usr/lib/x86_64-linux-gnu/libmemusage.so"

# mode name -> (bench arguments, operations).  Op counts give ~0.3-0.45 s of
# measured loop per run with plain glibc on the 2-core EPYC VM.
MODES = {
    "tight": (["tight"], 40_000_000),
    "pool": (["pool"], 3_500_000),
    "threads": (["threads"], 6_000_000),
    "realloc": (["realloc"], 2_500_000),
    "aligned": (["aligned"], 3_000_000),
    "deep2": (["deep", "2"], 3_500_000),
    "deep20": (["deep", "20"], 3_500_000),
    "deep40": (["deep", "40"], 3_500_000),
    "deep80": (["deep", "80"], 3_500_000),
    "sites20": (["sites", "20"], 3_500_000),
    "paths20": (["paths", "20"], 3_500_000),
}

# heaptrack 1.4.0 aborts (std::bad_alloc thrown in heaptrack, exit 141) on
# sites20 from about 300k operations and on paths20 from about 170k (200k and
# 150k pass, every time): run it on a smaller share there.
HEAPTRACK_EXTRA_DIV = {"sites20": 2, "paths20": 4}

CONFIGS = ["plain", "memusage", "tier1", "tier2", "sampled", "heaptrack", "jemalloc", "jemalloc-prof"]
# Issue 14's peer: jemalloc's own heap profiler (Debian libjemalloc2 is built with it) at the same
# mean as "sampled" (2^19 = 512 KiB), over jemalloc's allocator; compare it with the "jemalloc" column.
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
SAMPLE_BYTES = "512K"
TITLES = {
    "plain": "plain glibc",
    "memusage": "libmemusage",
    "tier1": "modalloc Tier 1",
    "tier2": "modalloc Tier 2",
    "sampled": "modalloc sampled 512 KiB",
    "heaptrack": "heaptrack",
    "jemalloc": "jemalloc",
    "jemalloc-prof": "jemalloc prof 512 KiB",
}

# Design targets, as ratios to plain glibc (docs/design.md).
TARGETS = {
    "tier1": {"tight": 1.3, "pool": 1.05, "threads": 1.15, "realloc": 1.15, "rss": 1.1},
    "tier2": {"tight": 3.0, "deep20": 1.5, "threads": 1.6, "deep80": 2.5, "rss": 1.3},
}

LINE_RE = re.compile(r"^bench (.*)$", re.M)


def parse_line(text):
    m = LINE_RE.search(text)
    if not m:
        return None
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        # meson test sets MALLOC_PERTURB_ to a random value: never inherit it,
        # nor a preload or tool setting from the calling shell.
        if k.startswith(("MOD_ALLOC_", "MEMUSAGE_", "MALLOC_", "GLIBC_TUNABLES", "HEAPTRACK")) or k == "LD_PRELOAD":
            del env[k]
    return env


class Runner:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.lib = os.path.abspath(os.path.join(args.build, "src", "libmodalloc.so"))
        self.bench = os.path.abspath(args.bench or os.path.join(args.build, "bench", "bench"))
        self.heaptrack = shutil.which("heaptrack")
        self.tier2_on = None  # unknown until the first Tier 2 report is read
        self.seq = 0

    def available(self, cfg):
        if cfg == "memusage":
            return os.path.exists(MEMUSAGE)
        if cfg == "heaptrack":
            return self.heaptrack is not None
        if cfg in ("tier2", "sampled"):
            return self.tier2_on is not False
        if cfg in ("jemalloc", "jemalloc-prof"):
            return os.path.exists(JEMALLOC)
        return True

    def run(self, cfg, mode):
        """One run: returns (ns_per_call, maxrss_kb) or raises RuntimeError."""
        argv, ops = MODES[mode]
        if cfg == "heaptrack":
            ops = max(1, ops // self.args.heaptrack_scale // HEAPTRACK_EXTRA_DIV.get(mode, 1))
        if self.args.scale != 1:
            ops = max(1, int(ops * self.args.scale))
        cmd = [self.bench] + argv + ["-n", str(ops)]
        env = clean_env()
        self.seq += 1
        report = None
        if cfg == "memusage":
            # Without MEMUSAGE_OUTPUT it keeps its counters in memory and
            # prints a summary on stderr at exit: no profile file to write.
            env["LD_PRELOAD"] = MEMUSAGE
        elif cfg in ("tier1", "tier2", "sampled"):
            report = os.path.join(self.tmp, "modalloc.%d.json" % self.seq)
            env["LD_PRELOAD"] = self.lib
            env["MOD_ALLOC_QUIET"] = "1"
            env["MOD_ALLOC_OUT"] = report
            if cfg == "tier2":
                env["MOD_ALLOC_BACKTRACES"] = "1"
            if cfg == "sampled":
                env["MOD_ALLOC_SAMPLE"] = SAMPLE_BYTES
        elif cfg in ("jemalloc", "jemalloc-prof"):
            # stats_print: proof on stderr that jemalloc ran, and with which options;
            # abort_conf: a jemalloc built without profiling aborts instead of ignoring prof:true.
            env["LD_PRELOAD"] = JEMALLOC
            env["MALLOC_CONF"] = "stats_print:true,abort_conf:true" + (
                ",prof:true,lg_prof_sample:19" if cfg == "jemalloc-prof" else "")
        elif cfg == "heaptrack":
            # heaptrack unsets LD_PRELOAD and preloads itself into exactly
            # this command: run the program directly, never through a shell.
            report = os.path.join(self.tmp, "ht.%d" % self.seq)
            cmd = [self.heaptrack, "-o", report] + cmd
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=self.tmp)
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError("%s %s: exit %d: %s" % (cfg, mode, proc.returncode, err.decode(errors="replace")[-500:]))
        fields = parse_line(out.decode(errors="replace"))
        if not fields:
            raise RuntimeError("%s %s: no result line" % (cfg, mode))
        # Check that the tool really was there: a silently missing preload
        # would show up as a flattering 1.00x.
        if cfg == "memusage" and b"Memory usage summary" not in err:
            raise RuntimeError("libmemusage did not run (no summary on stderr)")
        if cfg in ("jemalloc", "jemalloc-prof"):
            if b"Begin jemalloc statistics" not in err:
                raise RuntimeError("jemalloc did not run (no statistics on stderr)")
            want = b"opt.prof: true" if cfg == "jemalloc-prof" else b"opt.prof: false"
            if want not in err:
                raise RuntimeError("%s: jemalloc's statistics lack %r" % (cfg, want.decode()))
        if cfg in ("tier1", "tier2", "sampled"):
            try:
                with open(report) as f:
                    rep = json.load(f)
            except (OSError, ValueError) as e:
                raise RuntimeError("%s %s: no modalloc report: %s" % (cfg, mode, e))
            os.unlink(report)
            calls = int(fields["calls"])
            seen = sum(rep["calls"].values())
            if seen < calls:
                raise RuntimeError("%s %s: report counts %d calls, the program made %d" % (cfg, mode, seen, calls))
            if cfg in ("tier2", "sampled"):
                self.tier2_on = bool(rep["config"].get("backtraces"))
                if not self.tier2_on:
                    return None
            if cfg == "sampled" and not rep["config"].get("sample_bytes"):
                raise RuntimeError("sampled %s: the report says it did not sample" % mode)
        if cfg == "heaptrack":
            files = glob.glob(report + "*")
            if not files:
                raise RuntimeError("heaptrack wrote no data file")
            for f in files:
                os.unlink(f)
        key = "cpu_ns_per_call" if self.args.clock == "cpu" else "ns_per_call"
        return float(fields[key]), int(fields["maxrss_kb"])


def machine_line():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = "?"
    load = "%.2f" % os.getloadavg()[0]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "machine: %s, %d cores, Linux %s, %s, load %s, %s" % (
        cpu, os.cpu_count() or 0, platform.release(), glibc, load, date)


def tool_versions(runner):
    parts = []
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        if rev:
            # The library is built from the working tree, which may be ahead of HEAD.
            dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "include"],
                                   capture_output=True, text=True,
                                   cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
            parts.append("modalloc %s%s" % (rev, " + uncommitted changes in src/" if dirty else ""))
    except OSError:
        pass
    if runner.heaptrack:
        v = subprocess.run([runner.heaptrack, "--version"], capture_output=True, text=True)
        parts.append((v.stdout or v.stderr).strip().splitlines()[0] if (v.stdout or v.stderr) else "heaptrack")
    return ", ".join(parts)


def fmt_ns(ns):
    return "%.1f" % ns if ns < 100 else "%.0f" % ns


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="meson build directory (default: build)")
    ap.add_argument("--bench", help="bench program (default: BUILD/bench/bench)")
    ap.add_argument("-r", "--reps", type=int, default=7, help="runs per configuration (default 7)")
    ap.add_argument("--quick", action="store_true", help="3 runs per configuration")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every op count")
    ap.add_argument("--heaptrack-scale", type=int, default=10,
                    help="heaptrack runs OPS/N operations (it is ~30x slower per call; default 10)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: CLOCK_MONOTONIC (default); cpu: the process's CPU time, "
                         "less disturbed when other processes load the machine")
    ap.add_argument("--no-micro", action="store_true", help="skip the contention and bookkeeping programs")
    ap.add_argument("--out", help="also write the Markdown to this file")
    args = ap.parse_args()
    if args.quick:
        args.reps = 3
    modes = [m for m in args.modes.split(",") if m]
    configs = [c for c in args.configs.split(",") if c]
    for m in modes:
        if m not in MODES:
            ap.error("unknown mode %s" % m)
    for c in configs:
        if c not in CONFIGS:
            ap.error("unknown configuration %s" % c)
    if "plain" not in configs:
        configs.insert(0, "plain")

    lines = []

    def emit(s=""):
        print(s, flush=True)
        lines.append(s)

    with tempfile.TemporaryDirectory(prefix="modalloc-bench-") as tmp:
        runner = Runner(args, tmp)
        if not os.path.exists(runner.bench):
            sys.exit("run.py: %s not found (build with -Dbench=true)" % runner.bench)
        if ("tier1" in configs or "tier2" in configs) and not os.path.exists(runner.lib):
            sys.exit("run.py: %s not found" % runner.lib)
        emit(machine_line())
        emit()
        emit("tools: %s; %d runs per configuration, alternating; MALLOC_PERTURB_ unset" %
             (tool_versions(runner), args.reps))
        emit()
        emit("bench: %s" % os.path.relpath(runner.bench))
        emit()

        # results[mode][cfg] = list of (ns, rss) or None per rep, index-aligned with plain
        results = {m: {c: [] for c in configs} for m in modes}
        errors = []
        for mode in modes:
            for rep in range(args.reps):
                for cfg in configs:
                    if not runner.available(cfg):
                        results[mode][cfg].append(None)
                        continue
                    try:
                        r = runner.run(cfg, mode)
                    except RuntimeError as e:
                        errors.append(str(e))
                        r = None
                    results[mode][cfg].append(r)
                    print("  %-8s %-10s rep %d: %s" % (mode, cfg, rep + 1,
                          "n/a" if r is None else "%.2f ns/call, %d KiB" % r), file=sys.stderr, flush=True)

        def ratios(mode, cfg, idx):
            out = []
            for p, c in zip(results[mode]["plain"], results[mode][cfg]):
                if p is not None and c is not None:
                    out.append(c[idx] / p[idx])
            return out

        def cell(mode, cfg, key=None, idx=0):
            runs = [r for r in results[mode][cfg] if r is not None]
            if not runs:
                return "n/a"
            med = statistics.median(r[idx] for r in runs)
            shown = fmt_ns(med) if idx == 0 else "%.1f MB" % (med / 1024.0)
            if cfg == "plain":
                return "1.00x (%s)" % shown
            rs = ratios(mode, cfg, idx)
            if not rs:
                return "n/a"
            ratio = statistics.median(rs)
            text = "%.2fx (%s)" % (ratio, shown)
            target = TARGETS.get(cfg, {}).get(key or mode)
            if target is not None and ratio > target:
                text += " **MISS**"
            return text

        def target_text(cfg, key):
            t = TARGETS[cfg].get(key)
            return "<= %gx" % t if t is not None else ""

        emit("ns per allocator call (%s): median over runs of (config / plain glibc, same rep), "
             "cell = ratio (median ns/call)" % ("CLOCK_MONOTONIC" if args.clock == "wall" else
                                                 "process CPU time, --clock cpu"))
        emit()
        head = ["mode"] + [TITLES[c] for c in configs] + ["T1 target", "T2 target"]
        emit("| " + " | ".join(head) + " |")
        emit("|" + "---|" * len(head))
        for mode in modes:
            row = [mode] + [cell(mode, c) for c in configs] + [target_text("tier1", mode), target_text("tier2", mode)]
            emit("| " + " | ".join(row) + " |")
        if "pool" in modes:
            row = ["pool peak RSS"] + [cell("pool", c, key="rss", idx=1) for c in configs] + \
                  [target_text("tier1", "rss"), target_text("tier2", "rss")]
            emit("| " + " | ".join(row) + " |")
        emit()
        notes = []
        if "heaptrack" in configs:
            notes.append("heaptrack runs 1/%d of the operations (its per-call cost is ~30x); its RSS is the "
                         "program's own, heaptrack_interpret (a separate process) not included." % args.heaptrack_scale)
            for m, div in HEAPTRACK_EXTRA_DIV.items():
                if m in modes:
                    notes.append("heaptrack on %s: 1/%d of the operations (heaptrack 1.4.0 aborts with "
                                 "std::bad_alloc with more there)." % (m, args.heaptrack_scale * div))
        if "tier2" in configs and runner.tier2_on is False:
            notes.append("Tier 2: n/a, the report says config.backtraces false (this build captures no stacks).")
        if "threads" in modes:
            notes.append("threads: ns per call as seen by one of the 2 threads (wall time x 2 / calls)."
                         if args.clock == "wall" else
                         "threads: CPU time of both threads / calls (includes waiting for the other thread).")
        notes.append("**MISS** = ratio above the design target.")
        notes.append("load average (1 min) at the end: %.2f (2 cores; above ~1 the 2-thread rows are unreliable)."
                     % os.getloadavg()[0])
        for n in notes:
            emit("- " + n)
        for e in sorted(set(errors)):
            emit("- error: " + e)

        if not args.no_micro:
            build_bench = os.path.dirname(runner.bench)
            for prog in ("contention", "bookkeeping"):
                path = os.path.join(build_bench, prog)
                if not os.path.exists(path):
                    emit()
                    emit("(%s not built)" % prog)
                    continue
                print("  running %s" % prog, file=sys.stderr, flush=True)
                reps = str(max(3, args.reps))
                p = subprocess.run([path, "-r", reps], env=clean_env(), capture_output=True, text=True)
                emit()
                emit(p.stdout.rstrip())
                if p.returncode != 0:
                    emit("- error: %s exited %d: %s" % (prog, p.returncode, p.stderr[-300:]))

    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
