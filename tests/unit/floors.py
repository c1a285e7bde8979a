#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""floors.py: libmodalloc's source files stand on floors (docs/design.md,
"Floors"); includes and calls only point down or sideways within a floor,
and no two modules depend on each other.

    floors.py SRC_DIR [CORE_ARCHIVE]   check; exit 1 with one line per fault
    floors.py --self-test SRC_DIR      prove the check fails on an upward
                                       include and on an include cycle

Checked: every file under SRC_DIR has a floor in FLOORS below; every
`#include "..."` names a file on the same floor or a lower one; the modules
(x.c and x.h are module x) form no include cycle.  With CORE_ARCHIVE (the
static library), every symbol an object takes from another object of the
archive is defined on the same floor or a lower one, and no two objects
take symbols from each other in a cycle.
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Bottom to top.  Patterns are paths relative to src/.
FLOORS = [
    ("vocabulary", ["internal.h", "atomic.h", "os.h", "os/*.c", "arch/*/frame.h", "fmt.h", "fmt.c"]),
    ("symbols", ["demangle.[ch]", "symbolize.[ch]"]),
    ("modules", ["modules.[ch]"]),
    ("cfi", ["cfi.[ch]"]),
    ("options", ["options.[ch]"]),
    ("paths", ["report_path.[ch]"]),
    ("global state", ["global.[ch]"]),
    ("state", ["state.[ch]"]),
    ("thread", ["thread.[ch]"]),
    ("block", ["block.h"]),
    ("real", ["real.[ch]"]),
    ("timeline", ["timeline.[ch]"]),
    ("counters", ["counters.[ch]"]),
    ("event", ["event.h"]),
    ("stack walk", ["stack_walk.[ch]"]),
    ("cfi walk", ["cfi_walk.[ch]"]),
    ("stack", ["stack.[ch]"]),
    ("site", ["site.[ch]"]),
    ("tier2", ["tier2.[ch]", "tier2_none.c", "tier2_report.h"]),
    ("init", ["init.[ch]"]),
    ("core", ["core.[ch]"]),
    ("report format", ["report_format.[ch]"]),
    ("report writers", ["report_json.c", "report_text.c", "report_dhat.c"]),
    ("report", ["report.[ch]"]),
    ("fatal", ["fatal.[ch]"]),
    ("shims", ["preload.c", "preload_cxx.c", "preload_signal.c", "api.c", "exec.c"]),
]
# Known upward ties, each to be removed: (file, what it includes or the object it calls).
# None: fatal.c joins boot through init's hook (ma_init_after_boot) instead.
KNOWN_UP = set()
OUTSIDE = {"modalloc.h", "modalloc_schema.h", "modalloc_state.h"}  # include/: public and shared headers, below everything

# Files that are one module with another (one job split over two files).
SAME_MODULE = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def floor_of(rel):
    for i, (_, pats) in enumerate(FLOORS):
        if any(fnmatch.fnmatch(rel, p) for p in pats):
            return i
    return None


def module_of(rel):
    base = os.path.splitext(rel)[0]
    return "frame" if rel.startswith("arch/") else SAME_MODULE.get(base, base)


def sources(src):
    out = []
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(root, f), src))
    return sorted(out)


def resolve(src, rel, name):
    """The src-relative path an include names, or None for outside headers."""
    if name in OUTSIDE:
        return None
    here = os.path.normpath(os.path.join(os.path.dirname(rel), name))
    if os.path.exists(os.path.join(src, here)):
        return here
    if os.path.exists(os.path.join(src, name)):
        return name
    arch = [p for p in sources(src) if p.startswith("arch/") and os.path.basename(p) == name]
    return arch[0] if arch else name  # unknown: reported by the caller


def find_cycle(edges):
    """One cycle of the graph {node: set(nodes)} as a list, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def add_dep(deps, a, b):
    if a != b:
        deps.setdefault(a, set()).add(b)


def cycle_fault(deps, what):
    cycle = find_cycle(deps)
    return [what + " -> ".join(cycle)] if cycle else []


def check_includes(src):
    faults, deps = [], {}
    files = sources(src)
    for rel in files:
        if floor_of(rel) is None:
            faults.append(f"{rel}: no floor (add it to FLOORS in tests/unit/floors.py and to docs/design.md)")
    for rel in files:
        f = floor_of(rel)
        if f is None:
            continue
        with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for name in INCLUDE.findall(text):
            target = resolve(src, rel, name)
            if target is None:
                continue
            g = floor_of(target)
            if g is None:
                faults.append(f'{rel}: includes "{name}", which is not a source file with a floor')
                continue
            if (rel, target) in KNOWN_UP:
                continue
            if g > f:
                faults.append(f'{rel} ({FLOORS[f][0]}) includes "{name}" ({FLOORS[g][0]}): up a floor')
            add_dep(deps, module_of(rel), module_of(target))
    return faults + cycle_fault(deps, "include cycle between modules: ")


def check_symbols(src, archive):
    out = subprocess.run(["nm", "-A", archive], capture_output=True, text=True, check=True).stdout
    defined, used = {}, {}
    for line in out.splitlines():
        m = re.match(r"^[^:]*:([^:]+)\.c\.o:\s*(?:[0-9a-f]+)?\s+([A-Za-z])\s+(\S+)$", line)
        if not m:
            continue
        obj, kind, sym = m.groups()
        obj = os.path.basename(obj)
        obj = obj.replace("os_", "os/", 1) if obj.startswith("os_") else obj
        if kind == "U":
            used.setdefault(obj, set()).add(sym)
        elif kind in "TDBRV":
            defined[sym] = obj
    faults, deps = [], {}
    for obj, syms in sorted(used.items()):
        f = floor_of(obj + ".c")
        for sym in sorted(syms):
            other = defined.get(sym)
            if other is None or other == obj:
                continue
            g = floor_of(other + ".c")
            if f is None or g is None or (obj + ".c", other + ".c") in KNOWN_UP:
                continue
            if g > f:
                faults.append(f"{obj}.c ({FLOORS[f][0]}) uses {sym} of {other}.c ({FLOORS[g][0]}): up a floor")
            add_dep(deps, SAME_MODULE.get(obj, obj), SAME_MODULE.get(other, other))
    return faults + cycle_fault(deps, "call cycle between objects: ")


def self_test(src):
    """The check must fail on an upward include and on a cycle."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        shutil.copytree(src, copy)
        if check_includes(copy):
            print("self-test: the tree itself does not pass")
            return False
        with open(os.path.join(copy, "thread.c"), "a") as fh:
            fh.write('\n#include "core.h"\n')  # thread includes core: up a floor
        faults = check_includes(copy)
        if not any('thread.c (thread) includes "core.h" (core): up a floor' in f for f in faults):
            print("self-test: an upward include was not reported:", faults)
            ok = False
        shutil.rmtree(copy)
        shutil.copytree(src, copy)
        with open(os.path.join(copy, "site.h"), "a") as fh:
            fh.write('\n#include "site_x.h"\n')
        with open(os.path.join(copy, "site_x.h"), "w") as fh:
            fh.write('#include "site.h"\n')
        FLOORS[[n for n, _ in FLOORS].index("site")][1].append("site_x.h")
        faults = check_includes(copy)
        if not any(f.startswith("include cycle between modules: ") and "site_x" in f for f in faults):
            print("self-test: an include cycle was not reported:", faults)
            ok = False
    print("self-test:", "ok" if ok else "FAILED")
    return ok


def main(argv):
    if len(argv) >= 2 and argv[0] == "--self-test":
        return 0 if self_test(argv[1]) else 1
    if not argv:
        print(__doc__.strip())
        return 2
    faults = check_includes(argv[0])
    if len(argv) > 1:
        faults += check_symbols(argv[0], argv[1])
    for f in faults:
        print("floors:", f)
    if not faults:
        print(f"floors: {len(sources(argv[0]))} files on {len(FLOORS)} floors, every include and call points down")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
