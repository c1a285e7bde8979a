#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_check_dhat.py: the checker must accept the reference documents and
reject every broken variant that dhat-format.md lists (sections 7 and 9),
or the DHAT tests could pass on a broken file."""
import copy
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_dhat  # noqa: E402

# The minimal valid document of dhat-format.md section 8.
DOC = {
    "dhatFileVersion": 2, "mode": "heap", "verb": "Allocated", "bklt": True, "bkacc": True,
    "tu": "instrs", "Mtu": "Minstr", "tuth": 500, "cmd": "./demo --fast", "pid": 4242,
    "te": 1000000, "tg": 600000,
    "pps": [
        {"tb": 64, "tbk": 4, "tl": 1400000, "mb": 64, "mbk": 4, "gb": 64, "gbk": 4, "eb": 32, "ebk": 2,
         "rb": 128, "wb": 64, "acc": [-8, 24, -8, 0], "fs": [1, 2, 3]},
        {"tb": 300, "tbk": 2, "tl": 200000, "mb": 200, "mbk": 1, "gb": 200, "gbk": 1, "eb": 0, "ebk": 0,
         "rb": 100, "wb": 300, "fs": [4, 5, 3]},
        {"tb": 10, "tbk": 1, "tl": 50, "mb": 10, "mbk": 1, "gb": 0, "gbk": 0, "eb": 0, "ebk": 0,
         "rb": 0, "wb": 10, "acc": [-10, 1], "fs": [4, 6, 3]},
    ],
    "ftbl": ["[root]", "0x401136: make_table (demo.c:10)", "0x4011F0: setup (demo.c:40)",
             "0x401250: main (demo.c:55)", "0x401180: read_config (demo.c:22)",
             "0x401208: setup (demo.c:42)", "0x401215: setup (demo.c:43)"],
}


def no_access(d):
    d = copy.deepcopy(d)
    d["bkacc"] = False
    for pp in d["pps"]:
        for k in ("rb", "wb", "acc"):
            pp.pop(k, None)
    return d


def mutate(fn):
    d = copy.deepcopy(DOC)
    fn(d)
    return d


def setitem(path, value):
    def f(d):
        o = d
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = value
    return f


def delitem(path):
    def f(d):
        o = d
        for k in path[:-1]:
            o = o[k]
        del o[path[-1]]
    return f


# (name, mutation, substring of the expected problem)
BROKEN = [
    ("version 1", setitem(["dhatFileVersion"], 1), "dhatFileVersion"),
    ("version string", setitem(["dhatFileVersion"], "2"), "dhatFileVersion"),
    ("version true", setitem(["dhatFileVersion"], True), "dhatFileVersion"),
    ("no te", delitem(["te"]), "missing top-level field te"),
    ("no tg with bklt", delitem(["tg"]), "tg is missing"),
    ("no tuth with bklt", delitem(["tuth"]), "tuth is missing"),
    ("bklt string", setitem(["bklt"], "false"), "bklt is not a boolean"),
    ("mode number", setitem(["mode"], 3), "mode is not a string"),
    ("pid string", setitem(["pid"], "4242"), "pid is not an integer"),
    ("te zero", setitem(["te"], 0), "te is 0"),
    ("tg after te", setitem(["tg"], 2000000), "tg 2000000 > te"),
    ("bu without bsu", setitem(["bu"], "unit"), "bu without bsu"),
    ("ftbl[0]", setitem(["ftbl", 0], "root"), "ftbl[0]"),
    ("fs out of range", setitem(["pps", 0, "fs"], [1, 2, 7]), "outside 1..6"),
    ("fs points at root", setitem(["pps", 0, "fs"], [0, 2, 3]), "outside 1..6"),
    ("fs negative", setitem(["pps", 0, "fs"], [-1]), "outside 1..6"),
    ("fs not a list", setitem(["pps", 0, "fs"], 1), "fs is not an array"),
    ("repeated fs", setitem(["pps", 2, "fs"], [4, 5, 3]), "repeats the frames"),
    ("tl missing", delitem(["pps", 1, "tl"]), "missing tl"),
    ("tbk missing", delitem(["pps", 1, "tbk"]), "missing tbk"),
    ("rb missing with bkacc", delitem(["pps", 1, "rb"]), "missing rb"),
    ("counter as string", setitem(["pps", 0, "tb"], "64"), "tb is '64'"),
    ("counter negative", setitem(["pps", 1, "eb"], -1), "eb is -1"),
    ("counter float", setitem(["pps", 1, "gb"], 200.5), "gb is 200.5"),
    ("counter too big", setitem(["pps", 1, "tb"], 2**53), "tb is"),
    ("acc too large", setitem(["pps", 2, "acc"], [-10, 65536]), "above 65535"),
    ("acc wrong length", setitem(["pps", 2, "acc"], [-9, 1]), "decodes to 9"),
    ("acc dangling repeat", setitem(["pps", 2, "acc"], [1, 1, 1, 1, 1, 1, 1, 1, 1, -1]), "repeat count"),
    ("eb above tb", setitem(["pps", 2, "eb"], 11), "eb 11 > tb 10"),
    ("tl above tbk*te", setitem(["pps", 2, "tl"], 1000001), "tl 1000001 > tbk*te"),
    ("pps not a list", setitem(["pps"], {}), "pps is not an array"),
]

# Rules only for modalloc's own files (valgrind breaks some, docs section 6).
BROKEN_OURS = [
    ("duplicate frame strings", setitem(["ftbl", 6], "0x401208: setup (demo.c:42)"), "not interned"),
    ("unreferenced frame", lambda d: d["ftbl"].append("0x1: spare"), "never referenced"),
    ("empty fs", setitem(["pps", 2, "fs"], []), "fs is empty"),
    ("mb below gb", setitem(["pps", 1, "mb"], 100), "mb 100 < gb 200"),
    ("point without blocks", lambda d: d["pps"].append(
        {"tb": 0, "tbk": 0, "tl": 0, "mb": 0, "mbk": 0, "gb": 0, "gbk": 0, "eb": 0, "ebk": 0, "rb": 0, "wb": 0, "fs": [6]}),
     "without blocks"),
]


def problems(doc, valgrind, text=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        f.write(text if text is not None else json.dumps(doc))
        path = f.name
    try:
        return check_dhat.check(path, valgrind=valgrind)
    finally:
        os.unlink(path)


def main():
    fails = []
    for name, doc in (("reference", DOC), ("reference without accesses", no_access(DOC))):
        for vg in (False, True):
            p = problems(doc, vg)
            if p:
                fails.append(f"{name} (valgrind={vg}) rejected: {p}")
    for name, fn, want in BROKEN:
        for vg in (False, True):
            p = problems(mutate(fn), vg)
            if not any(want in x for x in p):
                fails.append(f"{name} (valgrind={vg}): expected a problem with {want!r}, got {p}")
    for name, fn, want in BROKEN_OURS:
        p = problems(mutate(fn), False)
        if not any(want in x for x in p):
            fails.append(f"{name}: expected a problem with {want!r}, got {p}")
    # Not strict JSON at all.
    for name, text, want in (("truncated", json.dumps(DOC)[:-5], "not a strict"),
                             ("NaN", json.dumps(DOC).replace('"tb": 10,', '"tb": NaN,'), "not a strict"),
                             ("duplicate key", json.dumps(DOC).replace('"tb": 10,', '"tb": 10, "tb": 10,'),
                              "duplicate key"),
                             ("top-level array", "[]", "top level is not an object")):
        p = problems(None, False, text)
        if not any(want in x for x in p):
            fails.append(f"{name}: expected {want!r}, got {p}")
    # Invalid UTF-8.
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(json.dumps(DOC).replace("./demo", "./d\udcffemo").encode("utf-8", "surrogateescape"))
        path = f.name
    p = check_dhat.check(path)
    os.unlink(path)
    if not any("UTF-8" in x for x in p):
        fails.append(f"invalid UTF-8 accepted: {p}")
    # Sums against a JSON report.
    d = no_access(DOC)
    report = {"cmd": d["cmd"], "pid": d["pid"],
              "totals": {"bytes": 374, "blocks": 7, "peak_bytes": 264, "peak_blocks": 5,
                         "live_bytes": 32, "live_blocks": 2}}
    d["te"] = 374
    d["tg"] = 300
    for pp in d["pps"]:
        pp["tl"] = min(pp["tl"], pp["tbk"] * 374)
    if check_dhat.check_against_report(d, report):
        fails.append(f"sums rejected: {check_dhat.check_against_report(d, report)}")
    for key, val, want in (("bytes", 375, "sum of tb"), ("peak_blocks", 4, "sum of gbk"),
                           ("live_bytes", 33, "sum of eb")):
        r = copy.deepcopy(report)
        r["totals"][key] = val
        p = check_dhat.check_against_report(d, r)
        if not any(want in x for x in p):
            fails.append(f"totals.{key} off by one not caught: {p}")
    for f in fails:
        print(f"FAIL: {f}")
    n = 4 + 2 * len(BROKEN) + len(BROKEN_OURS) + 8
    print(f"{n} checker cases, {len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
