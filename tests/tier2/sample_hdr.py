#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sampling at counter cost (issue 14) over tests/tier2/sample_hdr.c.

    sample_hdr.py LIB PROG

With MOD_ALLOC_SAMPLE only the sampled blocks get the 32-byte call-site
header; every other block keeps Tier 1's 16 bytes, so its free passes the
fast free's one compare (the tag holds the header offset) and never reaches
the slow path.  The program reports each block's header offset; here:
  - sampled (512K, fixed seed): blocks with 32 bytes == the site's samples
    in the report, exactly, for malloc, calloc and realloc; the rest have
    16; 8 MiB blocks (16 means: sampled but with probability e^-16) have 32;
    config.header_bytes is 16; totals exact;
  - exact call sites: every block has 32 bytes, header_bytes 32, each
    site's samples = its blocks.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import Fail, expect, run_one_report  # noqa: E402

SMALL = 10000
BIG = 4


def run(lib, prog, env_extra):
    d, r = run_one_report(lib, prog, env_extra, "modalloc-samplehdr-")
    counts = dict(kv.split("=") for kv in r.stdout.split())
    return d, {k: int(v) for k, v in counts.items()}


def samples(d, fn):
    """samples and blocks of the site whose first frame is fn (0, 0 when no site)."""
    found = [s for s in d["sites"] if s["frames"] and s["frames"][0].get("function") == fn]
    if len(found) > 1:
        raise Fail(f"two sites for {fn}")
    if not found:
        return (0, 0)
    # exact call sites: no samples key (each block is its own sample)
    return (found[0].get("samples", found[0]["blocks"]), found[0]["blocks"])


def check_totals(d, what):
    t = d["totals"]
    # the program's blocks, and stdout's buffer (one live block at exit)
    expect(f"{what}: totals.blocks", t["blocks"], 2 * SMALL + BIG + 1 + 1)
    expect(f"{what}: calls.malloc", d["calls"]["malloc"], SMALL + BIG + 1)
    expect(f"{what}: calls.calloc", d["calls"]["calloc"], SMALL)
    expect(f"{what}: totals.frees", t["frees"], 2 * SMALL + BIG + 1)  # realloc: the old block died
    expect(f"{what}: totals.live_blocks", t["live_blocks"], 1)


def main():
    lib, prog = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    try:
        for seed in ("7", "11"):
            what = f"sampled, seed {seed}"
            d, n = run(lib, prog, {"MOD_ALLOC_SAMPLE": "512K", "MOD_ALLOC_SAMPLE_SEED": seed})
            check_totals(d, what)
            for kind, site, count in (("small", "site_small", SMALL), ("calloc", "site_calloc", SMALL)):
                k, _ = samples(d, site)
                # 240,000 bytes at a mean of 512 KiB: ~0.46 samples expected, a few at most
                if k > 8:
                    raise Fail(f"{what}: {site} has {k} samples for 240,000 bytes")
                expect(f"{what}: {kind} blocks with the 32-byte header (= {site}'s samples)", n[kind + "32"], k)
                expect(f"{what}: {kind} blocks with the 16-byte header", n[kind + "16"], count - k)
            expect(f"{what}: 8 MiB blocks with the 32-byte header", (n["big16"], n["big32"]), (0, BIG))
            expect(f"{what}: site_big samples", samples(d, "site_big")[0], BIG)
            expect(f"{what}: the 16 MiB realloc's header", (n["realloc16"], n["realloc32"]), (0, 1))
            expect(f"{what}: site_realloc samples", samples(d, "site_realloc")[0], 1)
            expect(f"{what}: config.header_bytes", d["config"]["header_bytes"], 16)
        what = "exact call sites"
        d, n = run(lib, prog, {"MOD_ALLOC_BACKTRACES": "1"})
        check_totals(d, what)
        expect(f"{what}: config.header_bytes", d["config"]["header_bytes"], 32)
        expect(f"{what}: headers", n, {"small16": 0, "small32": SMALL, "big16": 0, "big32": BIG,
                                       "calloc16": 0, "calloc32": SMALL, "realloc16": 0, "realloc32": 1})
        # the realloc took small[0]: its site has one block less alive, not one less born
        expect(f"{what}: site_small", samples(d, "site_small"), (SMALL, SMALL))
        expect(f"{what}: site_calloc", samples(d, "site_calloc"), (SMALL, SMALL))
        expect(f"{what}: site_big", samples(d, "site_big"), (BIG, BIG))
    except Fail as e:
        print(f"FAIL: {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
