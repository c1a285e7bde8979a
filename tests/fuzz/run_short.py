#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A short libFuzzer run for CI: run_short.py FUZZER SECONDS SEED_CORPUS [extra libFuzzer args].

New inputs go to a temporary directory (the committed seeds stay as they are).
Fails on any crash, leak or sanitizer report; prints the executions.
"""
import os
import re
import subprocess
import sys
import tempfile


def main():
    exe, secs, seeds = sys.argv[1], sys.argv[2], sys.argv[3]
    with tempfile.TemporaryDirectory(prefix="modalloc-fuzz-") as new:
        r = subprocess.run([exe, f"-max_total_time={secs}", "-print_final_stats=1", "-close_fd_mask=2",
                            f"-artifact_prefix={new}/crash-", new, seeds] + sys.argv[4:],
                           capture_output=True, text=True, env=dict(os.environ, MOD_ALLOC_REPORT="0"))
        runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
        print(f"{os.path.basename(exe)}: exit {r.returncode}, {runs.group(1) if runs else '?'} executions in {secs} s")
        if r.returncode != 0:
            print(r.stderr[-4000:])
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
