#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""check_dhat.py: structural checker for DHAT files (dhatFileVersion 2).

Every rule of the emitter checklist in shared docs/dhat-format.md section 9,
as errors, plus, with --report, agreement with modalloc's JSON report:

  sum tb/tbk == totals.bytes/blocks, sum gb/gbk == totals.peak_bytes/
  peak_blocks, sum eb/ebk == totals.live_bytes/live_blocks, same cmd and
  pid, te == the allocation clock (total bytes, at least 1), and every
  JSON site found in exactly one program point whose counters are the sums
  of the sites with that frame list (the writer merges sites whose frames
  are identical) and whose frame strings carry the site's function and
  module names.

--valgrind relaxes the rules valgrind's own files break (its "Max" quirk,
mb < gb, docs section 6) and skips the modalloc-only ones.

Usage: check_dhat.py FILE.dhat [--report REPORT.json] [--valgrind]
Exit 0 when clean, 1 with one line per problem.  As a module: check().
"""
import argparse
import json
import sys

COUNTERS_ALWAYS = ("tb", "tbk")
COUNTERS_BKLT = ("tl", "mb", "mbk", "gb", "gbk", "eb", "ebk")
COUNTERS_BKACC = ("rb", "wb")
TOP_REQUIRED = ("dhatFileVersion", "mode", "verb", "bklt", "bkacc", "tu", "Mtu", "cmd", "pid",
                "te", "pps", "ftbl")


def _reject_constant(name):
    raise ValueError(f"non-JSON number {name}")


def _no_duplicate_keys(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def load_strict(path):
    """Strict JSON: UTF-8 only, no NaN/Infinity, no duplicate keys."""
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # raises on invalid UTF-8
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_counter(v):
    return is_int(v) and 0 <= v < 2**53  # the viewer adds in doubles


def decode_acc(acc):
    """The RLE of section 3; returns the decoded list or raises ValueError."""
    out = []
    i = 0
    while i < len(acc):
        v = acc[i]
        if not is_int(v):
            raise ValueError(f"acc[{i}] is not an integer")
        if v < 0:
            if i + 1 >= len(acc):
                raise ValueError("acc ends with a repeat count")
            r = acc[i + 1]
            if not is_int(r) or r < 0:
                raise ValueError(f"acc[{i + 1}] is not a non-negative integer")
            out.extend([r] * -v)
            i += 2
        else:
            out.append(v)
            i += 1
    for v in out:
        if v > 65535:
            raise ValueError("acc value above 65535 (the viewer throws 'too-large access value')")
    return out


def check_structure(d, valgrind=False):
    """Returns a list of problems with the document itself."""
    errs = []
    if not isinstance(d, dict):
        return ["top level is not an object"]
    for k in TOP_REQUIRED:
        if k not in d:
            errs.append(f"missing top-level field {k}")
    if errs:
        return errs
    # 1. types
    if not is_int(d["dhatFileVersion"]) or d["dhatFileVersion"] != 2:
        errs.append(f"dhatFileVersion is {d['dhatFileVersion']!r}, must be the integer 2")
    for k in ("mode", "verb", "tu", "Mtu", "cmd"):
        if not isinstance(d[k], str):
            errs.append(f"{k} is not a string")
    if not is_int(d["pid"]):
        errs.append("pid is not an integer")
    for k in ("bklt", "bkacc"):
        if not isinstance(d[k], bool):
            errs.append(f"{k} is not a boolean (the viewer tests truthiness: \"false\" is true)")
    bklt = d["bklt"] is True
    bkacc = d["bkacc"] is True
    # 2. bklt fields at top level
    if bklt:
        for k in ("tg", "tuth"):
            if k not in d:
                errs.append(f"bklt is true but {k} is missing")
            elif not is_counter(d[k]):
                errs.append(f"{k} is not a non-negative integer")
    # 7. te > 0, tg <= te, bu needs bsu
    if not is_counter(d["te"]) or d["te"] <= 0:
        errs.append(f"te is {d['te']!r}, must be an integer > 0 (else the viewer shows ∞ rates)")
    elif bklt and is_counter(d.get("tg")) and d["tg"] > d["te"]:
        errs.append(f"tg {d['tg']} > te {d['te']}")
    if "bu" in d and "bsu" not in d:
        errs.append("bu without bsu (the viewer prints 'undefined')")
    for k in ("bu", "bsu", "bksu"):
        if k in d and not isinstance(d[k], str):
            errs.append(f"{k} is not a string")
    # 5. frame table
    ftbl = d["ftbl"]
    if not isinstance(ftbl, list) or not ftbl:
        errs.append("ftbl is not a non-empty array")
        return errs
    if ftbl[0] != "[root]":
        errs.append(f"ftbl[0] is {ftbl[0]!r}, must be \"[root]\"")
    for i, s in enumerate(ftbl):
        if not isinstance(s, str):
            errs.append(f"ftbl[{i}] is not a string")
    if not valgrind and len(set(ftbl)) != len(ftbl):
        dup = sorted({s for s in ftbl if ftbl.count(s) > 1})
        errs.append(f"ftbl strings are not interned: {dup[:3]!r} repeated")
    pps = d["pps"]
    if not isinstance(pps, list):
        errs.append("pps is not an array")
        return errs
    seen = {}
    used = set()
    te = d["te"] if is_counter(d["te"]) else 0
    for n, pp in enumerate(pps):
        where = f"pps[{n}]"
        if not isinstance(pp, dict):
            errs.append(f"{where} is not an object")
            continue
        need = COUNTERS_ALWAYS + (COUNTERS_BKLT if bklt else ()) + (COUNTERS_BKACC if bkacc else ())
        bad = False
        for k in need + ("fs",):
            if k not in pp:
                errs.append(f"{where} is missing {k}")
                bad = True
        # 4. counters are non-negative integers (also the ones the flags do not call for)
        for k in COUNTERS_ALWAYS + COUNTERS_BKLT + COUNTERS_BKACC:
            if k in pp and not is_counter(pp[k]):
                errs.append(f"{where}.{k} is {pp[k]!r}, not a non-negative integer")
                bad = True
        # 3. acc: the viewer decodes it even when bkacc is false
        if "acc" in pp:
            try:
                acc = decode_acc(pp["acc"]) if isinstance(pp["acc"], list) else None
                if acc is None:
                    errs.append(f"{where}.acc is not an array")
                elif is_counter(pp.get("tbk")) and pp["tbk"] and len(acc) * pp["tbk"] != pp.get("tb"):
                    errs.append(f"{where}.acc decodes to {len(acc)} entries, block size is "
                                f"{pp.get('tb')}/{pp['tbk']}")
            except ValueError as e:
                errs.append(f"{where}.acc: {e}")
        fs = pp.get("fs")
        if not isinstance(fs, list):
            errs.append(f"{where}.fs is not an array")
            continue
        for i in fs:
            if not is_int(i) or not 1 <= i < len(ftbl):
                errs.append(f"{where}.fs has index {i!r}, outside 1..{len(ftbl) - 1} (shown as 'undefined')")
            else:
                used.add(i)
        if not valgrind and not fs:
            errs.append(f"{where}.fs is empty: its frames were lost")
        # 6. no two pps with the same fs
        key = tuple(fs) if all(is_int(i) for i in fs) else None
        if key is not None:
            if key in seen:
                errs.append(f"{where} repeats the frames of pps[{seen[key]}] "
                            "(the viewer throws 'repeated location')")
            else:
                seen[key] = n
        if bad:
            continue
        # 8. sanity; errors here: they hold for any correct writer
        if bklt:
            for a, b in (("mb", "tb"), ("gb", "tb"), ("eb", "tb"), ("mbk", "tbk"), ("gbk", "tbk"),
                         ("ebk", "tbk")):
                if pp[a] > pp[b]:
                    errs.append(f"{where}: {a} {pp[a]} > {b} {pp[b]}")
            if pp["tl"] > pp["tbk"] * te:
                errs.append(f"{where}: tl {pp['tl']} > tbk*te {pp['tbk'] * te}")
            if not valgrind:
                # A true per-point maximum (valgrind's is not, docs section 6).
                for a in ("gb", "eb"):
                    if pp["mb"] < pp[a]:
                        errs.append(f"{where}: mb {pp['mb']} < {a} {pp[a]}")
                if pp["tbk"] == 0:
                    errs.append(f"{where}: a program point without blocks")
    if not valgrind:
        unused = set(range(1, len(ftbl))) - used
        if unused:
            errs.append(f"ftbl entries never referenced: {sorted(unused)[:5]}")
    return errs


def sums(d):
    s = {k: 0 for k in COUNTERS_ALWAYS + COUNTERS_BKLT}
    for pp in d["pps"]:
        for k in s:
            s[k] += pp.get(k, 0)
    return s


def check_against_report(d, r):
    """Problems in how the DHAT file d matches modalloc's JSON report r."""
    errs = []
    t = r["totals"]
    s = sums(d)
    for dk, rk in (("tb", "bytes"), ("tbk", "blocks"), ("gb", "peak_bytes"), ("gbk", "peak_blocks"),
                   ("eb", "live_bytes"), ("ebk", "live_blocks")):
        if s[dk] != t[rk]:
            errs.append(f"sum of {dk} over pps is {s[dk]}, JSON totals.{rk} is {t[rk]}")
    if d["cmd"] != r["cmd"]:
        errs.append(f"cmd {d['cmd']!r} != JSON cmd {r['cmd']!r}")
    if d["pid"] != r["pid"]:
        errs.append(f"pid {d['pid']} != JSON pid {r['pid']}")
    # The time unit is "bytes allocated": te is the allocation clock at exit.
    if d["te"] != max(1, t["bytes"]):
        errs.append(f"te {d['te']} != total bytes allocated {t['bytes']} (at least 1)")
    if "sites" not in r:
        return errs
    # Group the JSON sites by frame list, as the writer must have merged them.
    ftbl = d["ftbl"]
    by_frames = {}
    for site in r["sites"]:
        if site.get("overflow"):
            key = ("overflow",)
        elif not site["frames"]:
            key = ("noframes",)
        else:
            key = tuple(int(f["ip"], 16) for f in site["frames"])
        by_frames.setdefault(key, []).append(site)
    # Each pp's key: its frame addresses (the "0x<hex>:" prefix), or its placeholder.
    pp_by_key = {}
    for n, pp in enumerate(d["pps"]):
        strs = [ftbl[i] for i in pp["fs"] if is_int(i) and 0 < i < len(ftbl)]
        if len(strs) == 1 and "[overflow" in strs[0]:
            key = ("overflow",)
        elif len(strs) == 1 and "[no frames" in strs[0]:
            key = ("noframes",)
        else:
            try:
                key = tuple(int(x.split(":", 1)[0], 16) for x in strs)
            except ValueError:
                errs.append(f"pps[{n}] has a frame without a 0x address: {strs!r}")
                continue
        if key in pp_by_key:
            errs.append(f"pps[{n}] and pps[{pp_by_key[key][0]}] have the same frame addresses")
        pp_by_key[key] = (n, pp, strs)
    pairs = (("tb", "bytes"), ("tbk", "blocks"), ("tl", "lifetime_total"), ("gb", "at_peak_bytes"),
             ("gbk", "at_peak_blocks"), ("eb", "live_bytes"), ("ebk", "live_blocks"))
    for key, group in by_frames.items():
        if key not in pp_by_key:
            errs.append(f"no program point for the JSON site(s) with frames {key_text(key)}")
            continue
        n, pp, strs = pp_by_key.pop(key)
        for dk, rk in pairs:
            want = sum(site[rk] for site in group)
            if pp[dk] != want:
                errs.append(f"pps[{n}].{dk} is {pp[dk]}, the JSON site(s) {key_text(key)} sum to {want}")
        if len(group) == 1:
            for dk, rk in (("mb", "max_bytes"), ("mbk", "max_blocks")):
                if pp[dk] != group[0][rk]:
                    errs.append(f"pps[{n}].{dk} is {pp[dk]}, JSON site has {rk} {group[0][rk]}")
        if key[0] in ("overflow", "noframes"):
            continue
        for s, f in zip(strs, group[0]["frames"]):
            for part in (f["function"], f["module"]):
                if part and len(s) < 1900 and part not in s:
                    errs.append(f"pps[{n}] frame {s!r} lacks {part!r} (JSON report's frame)")
    for key, (n, _, _) in pp_by_key.items():
        errs.append(f"pps[{n}] ({key_text(key)}) matches no JSON site")
    return errs


def key_text(key):
    if key and isinstance(key[0], str):
        return f"[{key[0]}]"
    return "[" + ",".join(f"0x{a:x}" for a in key) + "]"


def check(dhat_path, report_path=None, valgrind=False):
    """All problems of one DHAT file, as a list of strings."""
    try:
        d = load_strict(dhat_path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return [f"{dhat_path}: not a strict UTF-8 JSON document: {e}"]
    errs = check_structure(d, valgrind)
    if report_path and not errs:
        errs += check_against_report(d, load_strict(report_path))
    return errs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dhat")
    ap.add_argument("--report", help="modalloc JSON report of the same run")
    ap.add_argument("--valgrind", action="store_true", help="the file was written by valgrind")
    a = ap.parse_args()
    errs = check(a.dhat, a.report, a.valgrind)
    for e in errs:
        print(f"FAIL: {e}")
    if not errs:
        print(f"OK: {a.dhat}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
