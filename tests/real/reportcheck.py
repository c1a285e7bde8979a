# SPDX-License-Identifier: Apache-2.0
"""Checks shared by the `real` and `stress` suites: what every modalloc JSON
report must satisfy whatever program wrote it, and helpers to run a program
with and without the library and collect the reports of all its processes.

Invariants (check_report):
  - header: format "modalloc", version 1, the documented top-level keys;
  - totals: live_bytes == bytes - freed_bytes, live_blocks == blocks - frees,
    peak_bytes >= live_bytes;
  - with call sites: the sums over sites of blocks, bytes, frees, live_bytes
    and live_blocks equal the totals; the sum of at_peak_bytes (at_peak_blocks)
    equals peak_bytes (peak_blocks) in a single-threaded program, and is
    within 2 x peak_slack_bytes x threads otherwise; every site's
    max_bytes >= at_peak_bytes and >= live_bytes, its blocks == frees +
    live_blocks, its size histogram sums to its blocks, its frames fit
    config.depth; stacks.truncated == the blocks of the truncated sites.
"""
import os
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Fail, check, load_report  # noqa: E402,F401 (stress.py and real.py take them from here)

REPORT_RE = re.compile(r"^r\.(\d+)(?:\.(\d+))?\.json$")
TOP_KEYS = ("format", "version", "pid", "cmd", "tool", "at_exit", "totals", "calls", "inherited",
            "foreign_frees", "threads", "wall_ns", "config")
TOTAL_KEYS = ("blocks", "bytes", "frees", "freed_bytes", "peak_bytes", "peak_blocks", "live_bytes",
              "live_blocks", "rss_peak_bytes", "failed")
SITE_KEYS = ("blocks", "bytes", "max_bytes", "max_blocks", "at_peak_bytes", "at_peak_blocks",
             "live_bytes", "live_blocks", "lifetime_total", "lifetime_unit", "size_hist_log2",
             "truncated", "frames")


def clean_env(extra=None):
    """The caller's environment minus anything that changes the library's or
    glibc's behaviour between the two runs of a comparison."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MOD_ALLOC_") and k not in ("LD_PRELOAD", "MALLOC_PERTURB_",
                                                            "MALLOC_CHECK_")}
    env.update(extra or {})
    return env


def preload_env(lib, outdir, backtraces=True, extra=None):
    env = clean_env()
    env.update({"LD_PRELOAD": os.path.abspath(lib),
                "MOD_ALLOC_OUT": os.path.join(outdir, "r.%p.json"),
                "MOD_ALLOC_QUIET": "1"})
    if backtraces:
        env["MOD_ALLOC_BACKTRACES"] = "1"
    env.update(extra or {})
    return env


def reports_in(d):
    """Every report in d, as a list of (name, report).  Anything else in the
    directory (a temporary file left behind) fails; reports are regular files
    of mode 0600."""
    out = []
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        check(REPORT_RE.match(name), f"unexpected file in the report directory: {path}")
        st = os.lstat(path)
        check(stat.S_ISREG(st.st_mode), f"{path}: not a regular file")
        check(stat.S_IMODE(st.st_mode) == 0o600, f"{path}: mode {oct(stat.S_IMODE(st.st_mode))}")
        out.append((name, load_report(path)))
    return out


def _sum(sites, key):
    return sum(s[key] for s in sites)


def check_report(r, name="report", max_threads=None, interrupted_bytes=None):
    """All invariants of one report.  max_threads: the most threads the
    program ever ran at once when the test knows it (the report's own
    "threads" counts only those alive at the end); 1 = exact at-peak sums.
    interrupted_bytes: the report was written by a fatal signal's handler
    that may have interrupted its own thread half-way through one update
    (a block of at most that many bytes): the sums over sites may miss it."""
    check(r.get("format") == "modalloc" and r.get("version") == 1,
          f"{name}: bad header format={r.get('format')!r} version={r.get('version')!r}")
    for k in TOP_KEYS:
        check(k in r, f"{name}: no key {k!r}")
    t = r["totals"]
    for k in TOTAL_KEYS:
        check(isinstance(t.get(k), int) and t[k] >= 0, f"{name}: totals.{k} = {t.get(k)!r}")
    check(t["live_bytes"] == t["bytes"] - t["freed_bytes"],
          f"{name}: live_bytes {t['live_bytes']} != bytes {t['bytes']} - freed_bytes {t['freed_bytes']}")
    check(t["live_blocks"] == t["blocks"] - t["frees"],
          f"{name}: live_blocks {t['live_blocks']} != blocks {t['blocks']} - frees {t['frees']}")
    check(t["peak_bytes"] >= t["live_bytes"],
          f"{name}: peak_bytes {t['peak_bytes']} < live_bytes {t['live_bytes']}")
    cfg = r["config"]
    if not cfg.get("backtraces"):
        check("sites" not in r, f"{name}: sites without call sites on")
        return
    check("sites" in r and "stacks" in r, f"{name}: call sites on but no sites/stacks")
    sites, stacks = r["sites"], r["stacks"]
    for i, s in enumerate(sites):
        where = f"{name}: site {i}"
        for k in SITE_KEYS:
            check(k in s, f"{where}: no key {k!r}")
        check(s["max_bytes"] >= s["at_peak_bytes"],
              f"{where}: max_bytes {s['max_bytes']} < at_peak_bytes {s['at_peak_bytes']}")
        check(s["max_bytes"] >= s["live_bytes"],
              f"{where}: max_bytes {s['max_bytes']} < live_bytes {s['live_bytes']}")
        check(s["blocks"] == s["frees"] + s["live_blocks"],
              f"{where}: blocks {s['blocks']} != frees {s['frees']} + live_blocks {s['live_blocks']}")
        check(s["live_bytes"] <= s["bytes"], f"{where}: live_bytes > bytes")
        check(sum(s["size_hist_log2"]) == s["blocks"],
              f"{where}: size histogram sums to {sum(s['size_hist_log2'])}, blocks {s['blocks']}")
        check(len(s["frames"]) <= cfg["depth"], f"{where}: {len(s['frames'])} frames > depth {cfg['depth']}")
        for fr in s["frames"]:
            check(set(fr) >= {"ip", "module", "offset", "function"} and fr["ip"].startswith("0x"),
                  f"{where}: bad frame {fr}")
    for k in ("blocks", "bytes", "frees", "live_bytes", "live_blocks"):
        off = abs(_sum(sites, k) - t[k])
        bound = 0 if interrupted_bytes is None else interrupted_bytes if "bytes" in k else 1
        check(off <= bound, f"{name}: sum over sites of {k} = {_sum(sites, k)}, totals.{k} = {t[k]}"
              + (f" (more than one interrupted update apart)" if bound else ""))
    order = [s["bytes"] for s in sites]
    check(order == sorted(order, reverse=True), f"{name}: sites not sorted by bytes descending")
    threads = max(r["threads"], max_threads or 1)
    slack = cfg["peak_slack_bytes"]
    ap_bytes, ap_blocks = _sum(sites, "at_peak_bytes"), _sum(sites, "at_peak_blocks")
    if threads == 1:
        check(ap_bytes == t["peak_bytes"],
              f"{name}: sum of at_peak_bytes {ap_bytes} != peak_bytes {t['peak_bytes']} (single-threaded)")
        check(ap_blocks == t["peak_blocks"],
              f"{name}: sum of at_peak_blocks {ap_blocks} != peak_blocks {t['peak_blocks']} (single-threaded)")
    else:
        bound = 2 * slack * threads
        check(abs(ap_bytes - t["peak_bytes"]) <= bound,
              f"{name}: sum of at_peak_bytes {ap_bytes} vs peak_bytes {t['peak_bytes']}: "
              f"more than 2 x {slack} x {threads} threads apart")
    if stacks.get("overflow_events", 0) == 0:
        tb = sum(s["blocks"] for s in sites if s["truncated"])
        check(stacks["truncated"] == tb,
              f"{name}: stacks.truncated {stacks['truncated']} != blocks of truncated sites {tb}")


def check_dir(d, max_threads=None):
    """Checks every report in d; returns [(name, report)]."""
    reps = reports_in(d)
    for name, r in reps:
        check_report(r, os.path.join(d, name), max_threads)
    return reps


def run(argv, env, timeout=60, **kw):
    try:
        return subprocess.run(argv, env=env, timeout=timeout, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, **kw)
    except subprocess.TimeoutExpired as e:
        raise Fail(f"timed out after {timeout}s (hang?): {' '.join(map(str, argv))}\n"
                   f"stderr so far: {e.stderr!r}")


def sites_with(r, function, innermost=False):
    """The sites whose frames name `function` (only the innermost frame if asked)."""
    out = []
    for s in r.get("sites", []):
        frames = s["frames"][:1] if innermost else s["frames"]
        if any(f["function"] == function for f in frames):
            out.append(s)
    return out


def describe(p):
    def txt(b):
        return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
    return (f"command: {' '.join(map(str, p.args))}\nexit status: {p.returncode}\n"
            f"--- stdout (first 2000) ---\n{txt(p.stdout)[:2000]}\n--- stderr (first 2000) ---\n"
            f"{txt(p.stderr)[:2000]}")
