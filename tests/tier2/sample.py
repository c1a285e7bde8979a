#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sampling (issue 14, MOD_ALLOC_SAMPLE) over tests/tier2/sample.c.

    sample.py LIB PROG

Exact assertions about statistics, no timing.  The seeds are fixed (1..20),
so the outcome is reproducible; the bounds are what the theory allows.

Theory.  Bytes are a Poisson process with one sample per B bytes on
average; a block of s bytes is sampled with probability p = 1 - exp(-s/B)
and then stands for k blocks, k the weight w = 1/p rounded stochastically
(k = floor(w) + Bernoulli(frac(w)) =: floor(w) + f...).  Its contribution X
to a site's bytes has E[X] = s (unbiased) and
    Var[X] = s^2 (p E[k^2] - 1) = s^2 (w - 1 + p f (1 - f)),   f = frac(w),
independently across blocks (the process is memoryless).  A site's
estimate has variance the sum of those; the mean of 20 runs has 1/20 of it.
Criteria:
  - every site: |mean of 20 runs - truth| <= 4.5 sigma_mean;
  - sites where theory expects 2%, i.e. 2% >= 2.5 sigma_mean (99% of such
    means are within it): the mean is within 2% of the truth.  For blocks
    much smaller than B, sigma_run / truth ~ sqrt(B / bytes), so at B =
    512 KiB that takes about 400 MiB a site of small blocks (less for large
    blocks, whose weights are near 1): every site here (and the live
    site's live_bytes) but site_tiny (5 KB: sigma of the mean 230% of its
    bytes), which the 4.5 sigma rule checks;
  - the z-scores (estimate - truth) / sigma of the sites with at least 20
    expected samples a run, 20 runs each, have variance in [0.6, 1.5]
    (140 values: the sample variance's standard deviation is about 0.12),
    and mean within 3 / sqrt(140) of 0 (no bias);
  - totals exact in every run; sites that free all they allocate have
    live_bytes exactly 0 (the free is scaled by the block's own weight);
  - the same seed twice gives identical per-site figures;
  - the summary on stderr and the DHAT file say the per-site figures are
    estimates, and the DHAT figures are the JSON's.
"""
import json
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Fail, expect, run_one_report  # noqa: E402

MEAN = 512 * 1024
RUNS = 20

# The table of sample.c: name -> list of (block size, count); `live`: blocks never freed.
SITES = {
    "site_tiny": [(1000, 5)],
    "site_8": [(8, 56000000)],
    "site_100": [(100, 8000000)],
    "site_4k": [(4096, 100000)],
    "site_64k": [(65536, 6000)],
    "site_3m": [(3 << 20, 100)],
    "site_mixed": [(8 << k, 50) for k in range(19)],
    "site_live": [(1 << 20, 256)],
}
LIVE = {"site_live"}


def truth_bytes(name):
    return sum(s * n for s, n in SITES[name])


def truth_blocks(name):
    return sum(n for _, n in SITES[name])


def variance(name):
    v = 0.0
    for s, n in SITES[name]:
        p = -math.expm1(-s / MEAN)
        w = 1 / p
        f = w - math.floor(w)
        v += n * s * s * (w - 1 + p * f * (1 - f))
    return v


def expected_samples(name):
    return sum(n * -math.expm1(-s / MEAN) for s, n in SITES[name])



def run(lib, prog, env_extra):
    d, r = run_one_report(lib, prog, env_extra, "modalloc-sample-")
    return d, r.stderr


def by_name(d):
    """Our sites by the function that called malloc (each must appear once); others ignored."""
    m = {}
    for s in d["sites"]:
        fn = s["frames"][0].get("function") if s["frames"] else None
        if fn in SITES:
            if fn in m:
                raise Fail(f"two sites for {fn}")
            m[fn] = s
    missing = set(SITES) - set(m)
    return m, missing


def check_totals(d, what):
    t = d["totals"]
    blocks = sum(truth_blocks(n) for n in SITES)
    nbytes = sum(truth_bytes(n) for n in SITES)
    live = sum(truth_bytes(n) for n in LIVE)
    expect(f"{what}: totals.blocks", t["blocks"], blocks)
    expect(f"{what}: totals.bytes", t["bytes"], nbytes)
    expect(f"{what}: totals.frees", t["frees"], blocks - sum(truth_blocks(n) for n in LIVE))
    expect(f"{what}: totals.live_bytes", t["live_bytes"], live)
    expect(f"{what}: calls.malloc", d["calls"]["malloc"], blocks)


def figures(s):
    return {k: v for k, v in s.items() if k != "frames"}


def main():
    lib, prog = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    try:
        # The table matches the program: an exact run (call sites, no sampling).
        d, _ = run(lib, prog, {"MOD_ALLOC_BACKTRACES": "1"})
        expect("exact: config.sample_bytes", d["config"]["sample_bytes"], 0)
        expect("exact: no sample_seed", "sample_seed" in d["config"], False)
        check_totals(d, "exact")
        sites, missing = by_name(d)
        if missing:
            raise Fail(f"exact run: no site for {sorted(missing)}")
        for n in SITES:
            expect(f"exact {n} bytes", sites[n]["bytes"], truth_bytes(n))
            expect(f"exact {n} has no samples key", "samples" in sites[n], False)

        est = {n: [] for n in SITES}
        live_est = []
        first = None
        for seed in range(1, RUNS + 1):
            # MOD_ALLOC_SAMPLE alone turns call sites on; the suffix K is 1024.
            d, _ = run(lib, prog, {"MOD_ALLOC_SAMPLE": "512K", "MOD_ALLOC_SAMPLE_SEED": str(seed)})
            what = f"seed {seed}"
            expect(f"{what}: config.sample_bytes", d["config"]["sample_bytes"], MEAN)
            expect(f"{what}: config.sample_seed", d["config"]["sample_seed"], seed)
            expect(f"{what}: config.backtraces", d["config"]["backtraces"], True)
            check_totals(d, what)
            sites, missing = by_name(d)
            # A site with no sample is absent: its estimate is 0.
            for n in missing:
                if n not in ("site_tiny",):
                    raise Fail(f"{what}: no site for {n} (expected {expected_samples(n):.1f} samples)")
            expect(f"{what}: stacks.samples", d["stacks"]["samples"], sum(s["samples"] for s in d["sites"]))
            for n in SITES:
                s = sites.get(n)
                est[n].append(s["bytes"] if s else 0)
                if not s:
                    continue
                if n in LIVE:
                    expect(f"{what}: {n} frees", s["frees"], 0)
                    expect(f"{what}: {n} live_bytes = bytes", s["live_bytes"], s["bytes"])
                    live_est.append(s["live_bytes"])
                else:
                    expect(f"{what}: {n} live_bytes", s["live_bytes"], 0)
                    expect(f"{what}: {n} frees = blocks", s["frees"], s["blocks"])
                if s["samples"] < 1 or s["samples"] > truth_blocks(n):
                    raise Fail(f"{what}: {n} samples {s['samples']}")
            if seed == 1:
                first = {n: figures(s) for n, s in sites.items()}

        # The same seed twice: identical per-site figures.
        d, _ = run(lib, prog, {"MOD_ALLOC_SAMPLE": "524288", "MOD_ALLOC_SAMPLE_SEED": "1"})
        again = {n: figures(s) for n, s in by_name(d)[0].items()}
        expect("seed 1 twice: per-site figures", again, first)

        zs = []
        print(f"{'site':12} {'truth':>12} {'mean of 20':>14} {'error':>8} {'sigma(mean)':>11} {'samples/run':>11}")
        for n in SITES:
            t = truth_bytes(n)
            sd = math.sqrt(variance(n))
            sd_mean = sd / math.sqrt(RUNS)
            mean = sum(est[n]) / RUNS
            err = (mean - t) / t
            print(f"{n:12} {t:12d} {mean:14.0f} {100 * err:7.2f}% {100 * sd_mean / t:10.2f}% "
                  f"{expected_samples(n):11.1f}")
            if abs(mean - t) > 4.5 * sd_mean:
                raise Fail(f"{n}: mean {mean:.0f} is {abs(mean - t) / sd_mean:.1f} sigma from {t}")
            if 2.5 * sd_mean <= 0.02 * t and abs(err) > 0.02:
                raise Fail(f"{n}: mean {mean:.0f} is {100 * err:.2f}% from {t} (theory: within 2%)")
            if n != "site_tiny" and 2.5 * sd_mean > 0.02 * t:
                raise Fail(f"{n}: the table should make 2% expected (sigma of the mean {sd_mean / t:.4f})")
            if expected_samples(n) >= 20:
                zs += [(e - t) / sd for e in est[n]]
        zm = sum(zs) / len(zs)
        zvar = sum((z - zm) ** 2 for z in zs) / (len(zs) - 1)
        print(f"z-scores: {len(zs)}, mean {zm:.3f}, variance {zvar:.3f} (theory 0, 1)")
        # Unbiased: the mean z of 140 independent ones has sigma 1/sqrt(140) = 0.085.
        if abs(zm) > 3 / math.sqrt(len(zs)):
            raise Fail(f"z-score mean {zm:.3f}: a bias (|mean| > {3 / math.sqrt(len(zs)):.3f})")
        if not 0.6 <= zvar <= 1.5:
            raise Fail(f"z-score variance {zvar:.3f} outside [0.6, 1.5]")
        # The live site's live bytes: the same estimate as its bytes (never freed).
        lt = truth_bytes("site_live")
        lmean = sum(live_est) / len(live_est)
        if abs(lmean - lt) > 0.02 * lt:
            raise Fail(f"site_live live_bytes mean {lmean:.0f}, truth {lt}")

        # The summary and the DHAT file say the per-site figures are estimates; DHAT's are the JSON's.
        dhat_dir = tempfile.mkdtemp(prefix="modalloc-sample-dhat-")
        dpath = os.path.join(dhat_dir, "dhat.json")
        d, err = run(lib, prog, {"MOD_ALLOC_SAMPLE": "512K", "MOD_ALLOC_SAMPLE_SEED": "5", "MOD_ALLOC_QUIET": "0",
                                 "MOD_ALLOC_DHAT": dpath})
        dh = json.load(open(dpath))
        shutil.rmtree(dhat_dir)
        for title in ("bytes allocated", "bytes at the peak", "bytes leaked"):
            line = f"modalloc: top sites by {title} (estimated, sampled every 512 KiB):"
            if line not in err.splitlines():
                raise Fail(f"summary: no line {line!r} in\n{err}")
        want_cmd = f"{prog} [modalloc: per-site figures estimated, sampled every 512 KiB (unbiased estimates); totals exact]"
        expect("DHAT cmd", dh["cmd"], want_cmd)
        expect("DHAT sum of tb = sum of sites' bytes", sum(p["tb"] for p in dh["pps"]),
               sum(s["bytes"] for s in d["sites"]))
        expect("DHAT sum of tbk = sum of sites' blocks", sum(p["tbk"] for p in dh["pps"]),
               sum(s["blocks"] for s in d["sites"]))
        d, err = run(lib, prog, {"MOD_ALLOC_BACKTRACES": "1", "MOD_ALLOC_QUIET": "0"})
        if "estimated" in err or "modalloc: top sites by bytes allocated:" not in err.splitlines():
            raise Fail(f"exact summary:\n{err}")

        # No seed given: one from time and pid, reported (two runs differ).
        a, _ = run(lib, prog, {"MOD_ALLOC_SAMPLE": "1M"})
        b, _ = run(lib, prog, {"MOD_ALLOC_SAMPLE": "1M"})
        expect("1M: config.sample_bytes", a["config"]["sample_bytes"], 1 << 20)
        if not a["config"]["sample_seed"] or a["config"]["sample_seed"] == b["config"]["sample_seed"]:
            raise Fail(f"default seeds: {a['config']['sample_seed']} and {b['config']['sample_seed']}")

        # A bad value: one line on stderr, exact figures.
        d, err = run(lib, prog, {"MOD_ALLOC_SAMPLE": "12X"})
        lines = [ln for ln in err.splitlines() if "MOD_ALLOC_SAMPLE" in ln]
        expect("MOD_ALLOC_SAMPLE=12X: warning lines", len(lines), 1)
        expect("MOD_ALLOC_SAMPLE=12X: sample_bytes", d["config"]["sample_bytes"], 0)
        expect("MOD_ALLOC_SAMPLE=12X: backtraces", d["config"]["backtraces"], False)
    except Fail as e:
        print(f"FAIL sample: {e}")
        return 1
    print("ok sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
