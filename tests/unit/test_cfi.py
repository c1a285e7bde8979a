#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CFI compiler (src/cfi.c) against binutils' reading of the same .eh_frame.

    test_cfi.py CFI_DUMP FILE...      every row `readelf --debug-dump=frames-interp`
                                      prints, reduced to our rule, equals the rule our
                                      table gives at that pc; every rule of ours starts
                                      at such a row or at an FDE's end
    test_cfi.py --corrupt CFI_DUMP FILE...
                                      damaged and truncated copies: no crash, and most
                                      are refused
"""
import bisect
import re
import shutil
import subprocess
import sys


class Fail(Exception):
    pass


def readelf_rows(path):
    """[(pc_lo, pc_hi, signal, [(loc, cfa, rbp, ra), ...])] per FDE."""
    out = subprocess.run(["readelf", "--debug-dump=frames-interp", path], capture_output=True, text=True).stdout
    if "FDE" not in out:  # (readelf exits 1 for some libraries it reads fine)
        raise Fail(f"readelf found no FDE in {path}")
    cies, fdes = {}, []
    cur, cols = None, None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]{8}) [0-9a-f]+ [0-9a-f]+ CIE \"([^\"]*)\"", line)
        if m:
            cur = {"aug": m.group(2), "rows": []}
            cies[int(m.group(1), 16)] = cur
            continue
        m = re.match(r"^[0-9a-f]{8} [0-9a-f]+ [0-9a-f]+ FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)", line)
        if m:
            cie = cies[int(m.group(1), 16)]
            cur = {"cie": cie, "lo": int(m.group(2), 16), "hi": int(m.group(3), 16), "rows": []}
            fdes.append(cur)
            continue
        if line.strip().startswith("LOC"):
            cols = line.split()
            continue
        m = re.match(r"^([0-9a-f]{16}) ", line)
        if m and cur is not None:
            # A register rule holds a space ("r10 (r10)") and may overflow its column.
            v = dict(zip(cols, re.findall(r"r\d+ \([^)]*\)|\S+", line)))
            cur["rows"].append((int(v["LOC"], 16), v["CFA"], v.get("rbp", "u"), v.get("ra", "u")))
    result = []
    for f in fdes:
        rows = f["rows"]
        if not rows:  # no instructions: the CIE's initial row holds over the whole FDE
            c = f["cie"]["rows"][0]
            rows = [(f["lo"],) + c[1:]]
        result.append((f["lo"], f["hi"], "S" in f["cie"]["aug"], rows))
    return result


def expected(signal, cfa, rbp, ra):
    if ra == "u":
        return ("end",)
    if signal:
        return ("signal",)
    m = re.match(r"^(rsp|rbp)\+(\d+)$", cfa)
    if not m or ra != "c-8" or int(m.group(2)) % 8 or int(m.group(2)) // 8 > 32767:
        return ("none",)  # (offsets are kept in whole words, 16 bits)
    if rbp in ("u", "s"):
        fp = 0
    else:
        mm = re.match(r"^c(-?\d+)$", rbp)
        if not mm or int(mm.group(1)) % 8:
            return ("none",)
        fp = int(mm.group(1)) // 8
    return ("sp" if m.group(1) == "rsp" else "fp", int(m.group(2)), fp)


def ours(dump, path):
    out = subprocess.run([dump, path], capture_output=True, text=True).stdout
    ranges = []
    for line in out.splitlines():
        v = line.split()
        if v[0] == "error":
            raise Fail(f"{path}: no table: {line}")
        if v[0] == "range":
            ranges.append((int(v[1], 16), int(v[2], 16), []))
        else:
            rule = (v[1],) if v[1] in ("none", "end", "signal") else (v[1], int(v[2]), int(v[3]))
            ranges[-1][2].append((int(v[0], 16), rule))
    return ranges


def check(dump, path):
    fdes = readelf_rows(path)
    ranges = ours(dump, path)
    if not ranges:
        raise Fail(f"{path}: no executable range compiled")
    starts = {lo for lo, _hi, _s, _r in fdes}
    checked = 0
    for lo, hi, rows in ranges:
        pcs = [r[0] for r in rows]
        allowed = set()

        def at(pc):
            i = bisect.bisect_right(pcs, pc)
            return rows[i - 1][1] if i else ("none",)

        for flo, fhi, signal, frows in fdes:
            if flo < lo or flo >= hi:
                continue
            for loc, cfa, rbp, ra in frows:
                if loc >= fhi:
                    continue
                want = expected(signal, cfa, rbp, ra)
                got = at(loc)
                if got != want:
                    raise Fail(f"{path}: pc {loc:#x} (FDE {flo:#x}..{fhi:#x}): readelf {cfa} rbp={rbp} ra={ra} "
                               f"-> {want}, ours {got}")
                allowed.add(loc)
                checked += 1
            if fhi not in starts and fhi < hi and at(fhi) != ("none",):
                raise Fail(f"{path}: past the FDE {flo:#x}..{fhi:#x}: ours {at(fhi)}, want none")
            allowed.add(fhi)
        stray = [hex(pc) for pc in pcs if pc not in allowed]
        if stray:
            raise Fail(f"{path}: rules of ours at no readelf row: {stray[:5]}")
    print(f"{path}: {checked} rows agree ({sum(len(r[2]) for r in ranges)} rules)")


def main():
    args = sys.argv[1:]
    corrupt = args[:1] == ["--corrupt"]
    if corrupt:
        args = args[1:]
    dump, files = args[0], []
    for a in args[1:]:
        if a.startswith("lib:"):  # a system library, by soname, when installed
            out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
            m = re.search(r"^\s+" + re.escape(a[4:]) + r" \(libc6,x86-64\) => (\S+)$", out, re.M)
            if m:
                files.append(m.group(1))
            elif a[4:] == "libc.so.6":
                print("FAIL: libc.so.6 not found")
                return 1
        else:
            files.append(a)
    if not corrupt and not shutil.which("readelf"):
        print("skip: no readelf")
        return 77
    try:
        for f in files:
            if corrupt:
                r = subprocess.run([dump, "--corrupt", f, "400", "1"], capture_output=True, text=True, timeout=600)
                if r.returncode != 0 or not r.stdout.startswith("ok "):
                    raise Fail(f"{f}: damaged copies: exit {r.returncode}: {r.stdout}{r.stderr}")
                tables, failed = map(int, r.stdout.split()[1:3])
                # Every cut copy (one in four) and most damaged ones are refused.
                if failed < 100:
                    raise Fail(f"{f}: only {failed} of 400 damaged copies refused")
                print(f"{f}: {tables} damaged copies compiled, {failed} refused, no crash")
            else:
                check(dump, f)
    except Fail as e:
        print(f"FAIL: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
