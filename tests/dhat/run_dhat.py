#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""run_dhat.py: one DHAT test case: run a program from progs/ under the
preloaded library with MOD_ALLOC_DHAT set, then check what it wrote.

  run_dhat.py --lib LIB --prog EXE --case CASE --artifacts DIR
              [--view NODE] [--valgrind VALGRIND]

Every case checks:
  * the JSON report's totals equal the program's own model ("E" lines);
  * the DHAT file passes check_dhat.py, including its agreement with the
    JSON report (sums of tb/tbk, gb/gbk, eb/ebk; per-site counters);
  * whatever the case adds (below).
--view NODE additionally loads the file into Valgrind's dh_view.html in
headless Chromium (view.mjs); exit 77 when node, Chromium or
node_modules/playwright-core is missing.  --valgrind runs the same program
under valgrind --tool=dhat and compares (exit 77 without valgrind).

Cases:
  plain      nothing more.
  many       every site is its own program point, all in many_sites.
  overflow   MOD_ALLOC_BUCKETS=64 (and _MAX=64: no growth) with 80 sites: the overflow point exists and
             holds exactly what the JSON overflow site holds.
  merge      MOD_ALLOC_DEPTH=2: two JSON sites with one frame list make one
             program point with their sums.
  names      the program copied into a directory whose name has quotes, a
             backslash, UTF-8, invalid UTF-8 and control characters, run with
             such arguments: cmd is argv joined by spaces in both files, and
             the module names in the frame strings survive.
  empty      no allocation: no program points, all zeros.
  longnames  eight stacks of three distinct functions with 1000-character
             names (think C++ templates): every frame survives, one program
             point per site.
  longpath   the program copied into a directory 1500 characters deep, so
             that every frame string is long: every frame survives.
Screenshots and the files of each run are kept in --artifacts.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_dhat  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import SKIP, Fail, check as expect  # noqa: E402

ODD_DIR = 'we"ird\\dir pr\u00f6g \u20ac\U0001F600\t\x01\x1b[31m\x7f'.encode() + b'\xff'
ODD_ARGV = ['a b', 'quote"d',
            'back\\slash', '\u00fc\u20ac\U0001F600', 'tab\there', 'nl\nline', 'esc\x1b[0m', 'del\x7f']
# Invalid UTF-8 in an argument: one lone byte, written as U+FFFD.
ODD_BAD = b'bad\xffbyte'


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MOD_ALLOC_") and k not in ("LD_PRELOAD", "MALLOC_PERTURB_")}
    return env


def parse_lines(out):
    exp, vg, misc = {}, {}, {}
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("E", "V"):
            (exp if parts[0] == "E" else vg)[parts[1]] = int(parts[2])
        elif len(parts) == 2 and parts[0] in ("ZERO", "ZERO_LIVE"):
            misc[parts[0]] = int(parts[1])
    return exp, vg, misc


def dotted(d, key):
    for k in key.split("."):
        d = d[k]
    return d


def place_program(prog, work, dirs):
    """A copy of prog inside work/dirs...; the frames name the copy's path."""
    d = os.fsencode(work)
    for name in dirs:
        d = os.path.join(d, name)
        os.mkdir(d)
    dst = os.path.join(d, os.path.basename(os.fsencode(prog)))
    shutil.copy2(os.fsencode(prog), dst)
    return dst


def run_profiled(a, work, extra_env=None, argv=None, prog=None):
    env = clean_env()
    env.update({
        "LD_PRELOAD": os.path.abspath(a.lib),
        "MOD_ALLOC_BACKTRACES": "1",
        "MOD_ALLOC_QUIET": "1",
        "MOD_ALLOC_OUT": os.path.join(work, "report.json"),
        "MOD_ALLOC_DHAT": os.path.join(work, "dhat.json"),
    })
    env.update(extra_env or {})
    prog = prog or os.path.abspath(a.prog)
    p = subprocess.run([prog] + (argv or []), env=env, cwd=work,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode == SKIP:
        print(p.stdout.decode(errors="replace"))
        sys.exit(SKIP)
    if p.returncode != 0:
        raise Fail(f"{prog} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    for f in ("report.json", "dhat.json"):
        if not os.path.exists(os.path.join(work, f)):
            raise Fail(f"no {f} written; stderr: {p.stderr.decode(errors='replace')}")
    exp, vg, misc = parse_lines(p.stdout)
    if not exp:
        raise Fail(f"{prog} printed no expectations: {p.stdout!r}")
    return exp, vg, misc


def check_common(work, exp):
    rpath, dpath = os.path.join(work, "report.json"), os.path.join(work, "dhat.json")
    report = check_dhat.load_strict(rpath)
    errs = []
    for k, v in exp.items():
        if dotted(report, k) != v:
            errs.append(f"JSON {k} is {dotted(report, k)}, the program expects {v}")
    errs += check_dhat.check(dpath, rpath)
    if errs:
        raise Fail("\n".join(errs))
    dhat = check_dhat.load_strict(dpath)
    print(f"checked: {len(dhat['pps'])} program points, {len(dhat['ftbl'])} frames; totals "
          f"{report['totals']['bytes']} bytes in {report['totals']['blocks']} blocks, peak "
          f"{report['totals']['peak_bytes']}/{report['totals']['peak_blocks']}, at exit "
          f"{report['totals']['live_bytes']}/{report['totals']['live_blocks']}")
    return report, dhat


def case_many(report, dhat):
    pps, ftbl = dhat["pps"], dhat["ftbl"]
    expect(len(pps) == 80, f"{len(pps)} program points, expected one per site (80)")
    sizes = sorted(pp["tb"] for pp in pps)
    expect(sizes == [8 * (i + 1) for i in range(80)], f"per-point sizes {sizes}")
    inner = [ftbl[pp["fs"][0]] for pp in pps]
    # many_sites is exported (-rdynamic), so even dladdr names it.
    bad = [s for s in inner if "many_sites" not in s]
    expect(not bad, f"innermost frames not in many_sites: {bad[:3]}")
    expect(len(set(inner)) == 80, "innermost frame strings are not distinct")


def case_overflow(report, dhat):
    st = report["stacks"]
    expect(st["overflow_events"] > 0, f"MOD_ALLOC_BUCKETS=64 with 80 sites but no overflow: {st}")
    ov = [s for s in report["sites"] if s.get("overflow")]
    expect(len(ov) == 1, f"{len(ov)} overflow sites in the JSON report")
    pts = [pp for pp in dhat["pps"] if any("[overflow" in dhat["ftbl"][i] for i in pp["fs"])]
    expect(len(pts) == 1, f"{len(pts)} overflow program points")
    expect(pts[0]["tbk"] == ov[0]["blocks"] == st["overflow_events"],
           f"overflow point has {pts[0]['tbk']} blocks, JSON site {ov[0]['blocks']}, "
           f"overflow_events {st['overflow_events']}")
    expect(len(dhat["pps"]) == len(report["sites"]), "program points != JSON sites")
    expect(len(dhat["pps"]) < 80, f"{len(dhat['pps'])} program points with a 64-bucket table")


def case_merge(report, dhat):
    groups = {}
    for s in report["sites"]:
        groups.setdefault(tuple(f["ip"] for f in s["frames"]), []).append(s)
    twins = [g for g in groups.values() if len(g) > 1]
    # The premise: the site table keyed the two stacks apart (truncated or not).
    expect(len(twins) == 1 and len(twins[0]) == 2 and
           sorted(s["truncated"] for s in twins[0]) == [False, True],
           f"expected one pair of JSON sites with the same frames (one truncated): "
           f"{[[(s['bytes'], s['truncated']) for s in g] for g in twins]}")
    expect(len(dhat["pps"]) == len(report["sites"]) - 1,
           f"{len(dhat['pps'])} program points for {len(report['sites'])} sites with one pair merged")
    merged = [pp for pp in dhat["pps"] if pp["tbk"] == 3]
    expect(len(merged) == 1 and (merged[0]["tb"], merged[0]["eb"], merged[0]["ebk"],
                                 merged[0]["gb"], merged[0]["gbk"]) == (600, 400, 2, 600, 3),
           f"merged point: {merged}")


def case_ties(report, dhat):
    """The latest instant of a tie with the peak holds (progs/ties.c)."""
    got = {}
    for pp in dhat["pps"]:
        inner = dhat["ftbl"][pp["fs"][0]]
        for f in ("from_a", "from_b"):
            if f in inner:
                got[f] = (pp["tb"], pp["tbk"], pp["gb"], pp["gbk"])
    expect(got == {"from_a": (100, 1, 0, 0), "from_b": (200, 2, 200, 2)},
           f"program points (tb, tbk, gb, gbk): {got}, expected from_a (100, 1, 0, 0), from_b (200, 2, 200, 2)")
    expect(dhat["tg"] == 300, f"t-gmax {dhat['tg']}, expected 300 (the clock after the second from_b block)")


def odd_cmd(prog):
    """Arguments as bytes, and the cmd the reports must show for prog + them."""
    args = [s.encode() for s in ODD_ARGV] + [ODD_BAD]
    cmd = b" ".join([prog] + args).decode("utf-8", "replace")
    return args, cmd


def case_names(report, dhat, cmd):
    expect(report["cmd"] == cmd, f"JSON cmd {report['cmd']!r}, expected {cmd!r}")
    expect(dhat["cmd"] == cmd, f"DHAT cmd {dhat['cmd']!r}, expected {cmd!r}")


def case_empty(report, dhat):
    expect(dhat["pps"] == [] and dhat["ftbl"] == ["[root]"], f"pps {dhat['pps']}, ftbl {dhat['ftbl']}")
    expect(dhat["te"] >= 1 and dhat["tg"] == 0, f"te {dhat['te']}, tg {dhat['tg']}")


def case_longnames(report, dhat):
    expect(len(dhat["pps"]) == 8, f"{len(dhat['pps'])} program points for 8 sites")
    # [root], 3 frames of each site, then shared: main and the C library's two start
    # frames and _start (walked by call-frame information, issue 12).
    expect(len(dhat["ftbl"]) == 1 + 8 * 3 + 4, f"{len(dhat['ftbl'])} frame strings, expected 29")
    for pp in dhat["pps"]:
        names = [dhat["ftbl"][i] for i in pp["fs"][:3]]
        expect(len(pp["fs"]) >= 4 and all(len(s) > 1000 for s in names),
               f"frames lost or cut: {[s[:40] for s in names]}")


def run_view(a, work, cmd=None):
    node = a.view
    if not node or not shutil.which(node):
        print(f"SKIP: node not found ({node})")
        sys.exit(SKIP)
    os.makedirs(a.artifacts, exist_ok=True)
    shot = os.path.join(a.artifacts, f"dhat-{a.name}.png")
    args = [node, os.path.join(HERE, "view.mjs"), "--dhat", os.path.join(work, "dhat.json"),
            "--json", os.path.join(work, "report.json"), "--screenshot", shot,
            "--text", os.path.join(a.artifacts, f"dhat-{a.name}.txt")]
    if cmd is not None:
        with open(os.path.join(work, "cmd.txt"), "w", encoding="utf-8") as f:
            f.write(cmd)
        args += ["--expect-cmd-file", os.path.join(work, "cmd.txt")]
    dhat = check_dhat.load_strict(os.path.join(work, "dhat.json"))
    # Every frame of every program point must be printed (no point is
    # insignificant in these small profiles: each has >= 1% of the blocks).
    for s in dhat["ftbl"][1:]:
        args += ["--expect-frame", s]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=100)
    out = p.stdout.decode(errors="replace")
    print(out, end="")
    if p.returncode == SKIP:
        sys.exit(SKIP)
    if p.returncode != 0:
        raise Fail(f"view.mjs exited {p.returncode}")


def vg_sums(d):
    s = check_dhat.sums(d)
    return {"totals.bytes": s["tb"], "totals.blocks": s["tbk"], "totals.live_bytes": s["eb"],
            "totals.live_blocks": s["ebk"], "totals.peak_bytes": s["gb"], "totals.peak_blocks": s["gbk"]}


def run_valgrind(a, work, exp, vexp, misc, report, dhat):
    vg = a.valgrind
    if not vg or not shutil.which(vg):
        print(f"SKIP: valgrind not found ({vg})")
        sys.exit(SKIP)
    out = os.path.join(work, "valgrind.dhat")
    prog = os.path.abspath(a.prog)
    p = subprocess.run([vg, "--tool=dhat", f"--dhat-out-file={out}", "--run-libc-freeres=no", prog],
                       env=clean_env(), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=100)
    if p.returncode != 0:
        raise Fail(f"valgrind exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    shutil.copy(out, os.path.join(a.artifacts, f"dhat-{a.name}.valgrind.json"))
    errs = check_dhat.check(out, valgrind=True)
    v = check_dhat.load_strict(out)
    vs = vg_sums(v)
    t = report["totals"]
    zero, zero_live = misc["ZERO"], misc["ZERO_LIVE"]
    # Valgrind counts a zero-byte request as 1 byte, we count 0.
    pairs = [("bytes", vs["totals.bytes"], t["bytes"] + zero),
             ("blocks", vs["totals.blocks"], t["blocks"]),
             ("at-exit bytes", vs["totals.live_bytes"], t["live_bytes"] + zero_live),
             ("at-exit blocks", vs["totals.live_blocks"], t["live_blocks"])]
    for what, theirs, ours in pairs:
        if theirs != ours:
            errs.append(f"valgrind {what} {theirs} != ours adjusted for {zero} zero-byte requests: {ours}")
    # And both against the program's model of Valgrind's rules.
    for k, want in vexp.items():
        if k in vs and vs[k] != want:
            errs.append(f"valgrind's sum for {k} is {vs[k]}, the program's model says {want}")
    print(f"valgrind: {vs['totals.bytes']} bytes in {vs['totals.blocks']} blocks, at t-gmax "
          f"{vs['totals.peak_bytes']}/{vs['totals.peak_blocks']}, at t-end "
          f"{vs['totals.live_bytes']}/{vs['totals.live_blocks']} ({zero} zero-byte requests, "
          f"{zero_live} live)")
    if a.case in ("many", "ties"):
        errs += compare_points(dhat, v)
    if errs:
        raise Fail("\n".join(errs))


def compare_points(ours, theirs):
    """Per program point, keyed by the innermost frame of the program (no
    realloc in the program, so both tools attribute blocks alike).  The
    executable is built without PIE, so addresses agree; valgrind prints
    return address - 1."""
    def inner(d, pp, shift):
        for i in pp["fs"]:
            s = d["ftbl"][i]
            if "vgpreload" in s or "vg_replace_malloc" in s:
                continue
            return int(s.split(":", 1)[0], 16) + shift
        return None
    errs = []
    mine = {inner(ours, pp, 0): pp for pp in ours["pps"]}
    vgs = {inner(theirs, pp, 1): pp for pp in theirs["pps"]}
    if set(mine) != set(vgs):
        errs.append(f"program points differ: ours only {sorted(set(mine) - set(vgs))[:5]}, "
                    f"valgrind only {sorted(set(vgs) - set(mine))[:5]}")
    for k in set(mine) & set(vgs):
        for f in ("tb", "tbk", "gb", "gbk", "eb", "ebk"):
            if mine[k][f] != vgs[k][f]:
                errs.append(f"point 0x{k:x}: {f} ours {mine[k][f]}, valgrind {vgs[k][f]}")
    if not errs:
        print(f"valgrind: all {len(mine)} program points agree (tb, tbk, gb, gbk, eb, ebk)")
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--prog", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--name", help="artifact file prefix (default: the case)")
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--view", metavar="NODE")
    ap.add_argument("--valgrind", metavar="VALGRIND")
    a = ap.parse_args()
    a.name = a.name or a.case
    os.makedirs(a.artifacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"modalloc-dhat-{a.name}-")
    try:
        env, argv, cmd, prog = {}, None, None, None
        kind = a.case
        if kind == "overflow":
            env["MOD_ALLOC_BUCKETS"] = "64"
            env["MOD_ALLOC_BUCKETS_MAX"] = "64"
        elif kind == "merge":
            env["MOD_ALLOC_DEPTH"] = "2"
        elif kind == "names":
            prog = place_program(a.prog, work, [ODD_DIR])
            argv, cmd = odd_cmd(prog)
        elif kind == "longpath":
            prog = place_program(a.prog, work, [b"P" * 250] * 6)
        exp, vexp, misc = run_profiled(a, work, env, argv, prog)
        for f in ("report.json", "dhat.json"):
            shutil.copy(os.path.join(work, f), os.path.join(a.artifacts, f"dhat-{a.name}.{f}"))
        report, dhat = check_common(work, exp)
        if kind == "many":
            case_many(report, dhat)
        elif kind == "overflow":
            case_overflow(report, dhat)
        elif kind == "merge":
            case_merge(report, dhat)
        elif kind == "names":
            case_names(report, dhat, cmd)
        elif kind == "empty":
            case_empty(report, dhat)
        elif kind == "longnames":
            case_longnames(report, dhat)
        elif kind == "ties":
            case_ties(report, dhat)
        elif kind not in ("plain", "longpath"):
            raise Fail(f"unknown case {a.case}")
        if a.valgrind:
            run_valgrind(a, work, exp, vexp, misc, report, dhat)
        if a.view:
            run_view(a, work, cmd)
    except Fail as e:
        print(f"FAIL ({a.case}): {e}")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"PASS ({a.case})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
