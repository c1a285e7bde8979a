#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Suite `real`: everyday programs run twice, bare and with libmodalloc.so
preloaded (call sites on), must behave identically; every process must
leave exactly one valid report whose invariants hold (reportcheck.py).

    real.py --lib build/src/libmodalloc.so CASE

Cases: python, gcc, cxx, clang, redis, sqlite, coreutils.
Exit status: 0 pass, 1 fail, 77 skip (a program is not installed).
"""
import argparse
import filecmp
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reportcheck import (Fail, check, check_report, clean_env, preload_env,  # noqa: E402
                         reports_in)

SKIP = 77


class Skip(Exception):
    pass


def need(*progs):
    for p in progs:
        if not shutil.which(p) and not os.access(p, os.X_OK):
            raise Skip(f"{p} is not installed")


class Run:
    """One run of a pipeline: its processes' pids, exit statuses, the last
    stage's stdout and every stage's stderr."""

    def __init__(self, stages, pids, rcs, out, errs):
        self.stages, self.pids, self.rcs, self.out, self.errs = stages, pids, rcs, out, errs

    def describe(self):
        s = [f"pipeline: {' | '.join(' '.join(a) for a in self.stages)}", f"exit statuses: {self.rcs}",
             f"--- stdout (first 1500 bytes) ---\n{self.out[:1500].decode(errors='replace')}"]
        for a, e in zip(self.stages, self.errs):
            s.append(f"--- stderr of {a[0]} ---\n{e[:1500].decode(errors='replace')}")
        return "\n".join(s)


# The one line the library writes on stderr even with MOD_ALLOC_QUIET=1: its
# warning about missing frame pointers (most of Debian is built without
# them).  Removed before comparing; any other line of the library stays and
# fails the comparison.
SHALLOW_WARNING = re.compile(rb"^modalloc: stacks end early \(frame pointers missing\) for [0-9,]+ allocations: "
                             rb"call sites are cut short; rebuild with -fno-omit-frame-pointer\n", re.M)


def strip_own(err):
    return SHALLOW_WARNING.sub(b"", err)


def run_pipeline(stages, env, cwd, stdin_path=None, timeout=90):
    """Runs stages connected by pipes, as a shell would, but without a shell:
    every process is one the test knows the pid of."""
    procs, errfiles = [], []
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    prev = stdin
    try:
        for argv in stages:
            ef = tempfile.TemporaryFile()
            errfiles.append(ef)
            p = subprocess.Popen(argv, stdin=prev, stdout=subprocess.PIPE, stderr=ef, env=env, cwd=cwd)
            if prev is not stdin:
                prev.close()  # the next stage holds it now
            prev = p.stdout
            procs.append(p)
        try:
            out, _ = procs[-1].communicate(timeout=timeout)
            deadline = time.monotonic() + timeout
            for p in procs[:-1]:
                p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
                p.wait()
            raise Fail(f"timed out after {timeout}s (hang?): {' | '.join(' '.join(a) for a in stages)}")
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    errs = []
    for ef in errfiles:
        ef.seek(0)
        errs.append(ef.read())
        ef.close()
    return Run(stages, [p.pid for p in procs], [p.returncode for p in procs], out, errs)


class Case:
    def __init__(self, lib):
        self.lib = os.path.abspath(lib)
        check(os.path.exists(self.lib), f"no library at {self.lib}")
        self.root = tempfile.mkdtemp(prefix="modalloc-real-")
        self.outdir = os.path.join(self.root, "reports")
        os.mkdir(self.outdir)
        self.bare_dir = os.path.join(self.root, "bare")
        self.pre_dir = os.path.join(self.root, "pre")
        os.mkdir(self.bare_dir)
        os.mkdir(self.pre_dir)
        self.bare_env = clean_env({"LC_ALL": "C", "TZ": "UTC"})
        self.pre_env = preload_env(self.lib, self.outdir, extra={"LC_ALL": "C", "TZ": "UTC"})

    def both(self, write):
        """Puts the same input files into both working directories."""
        for d in (self.bare_dir, self.pre_dir):
            write(d)

    def build(self, source, text, cmd, product, what):
        """Writes `source` into both working directories and runs the compiler
        command `cmd` bare then preloaded (compare), with one TMPDIR for both
        runs so that nothing differs but the preload; the `product` built must
        be byte for byte the same.  Returns compare's (bare, pre)."""
        self.both(lambda d: open(os.path.join(d, source), "w").write(text))
        for env in (self.bare_env, self.pre_env):
            env["TMPDIR"] = self.root
        bare, pre = self.compare([cmd])
        check(filecmp.cmp(os.path.join(self.bare_dir, product), os.path.join(self.pre_dir, product), shallow=False),
              f"{what}: {product} built under the preload differs from the bare build")
        return bare, pre

    def compare(self, stages, stdin=None, stderr_same=True, timeout=90, rc_ok=True):
        """Runs the pipeline bare then preloaded, each in its own working
        directory (relative paths in stages resolve there); the exit statuses,
        the stdout and (if deterministic) the stderr must be identical."""
        bare = run_pipeline(stages, self.bare_env, self.bare_dir,
                            stdin and os.path.join(self.bare_dir, stdin), timeout)
        pre = run_pipeline(stages, self.pre_env, self.pre_dir,
                           stdin and os.path.join(self.pre_dir, stdin), timeout)
        if rc_ok:
            check(all(rc == 0 for rc in bare.rcs), f"the bare run failed\n{bare.describe()}")
        check(bare.rcs == pre.rcs, f"exit statuses differ: bare {bare.rcs}, preloaded {pre.rcs}\n"
              f"bare:\n{bare.describe()}\npreloaded:\n{pre.describe()}")
        check(bare.out == pre.out, "stdout differs between the bare and the preloaded run\n"
              f"bare:\n{bare.describe()}\npreloaded:\n{pre.describe()}")
        if stderr_same:
            check(bare.errs == [strip_own(e) for e in pre.errs],
              "stderr differs between the bare and the preloaded run\n"
                  f"bare:\n{bare.describe()}\npreloaded:\n{pre.describe()}")
        return bare, pre

    def reports(self, max_threads=None):
        """{name: report} of every report written so far, all checked."""
        reps = reports_in(self.outdir)
        for name, r in reps:
            check_report(r, name, (max_threads or {}).get(r["pid"]) if isinstance(max_threads, dict)
                         else max_threads)
        return dict(reps)

    def expect_one_report_each(self, pids, max_threads=None):
        """Exactly one report per pid (r.<pid>.json), nothing else; returns them by pid."""
        reps = self.reports(max_threads)
        want = {f"r.{p}.json" for p in pids}
        check(set(reps) == want, f"reports {sorted(reps)}, expected one per process: {sorted(want)}")
        for p in pids:
            r = reps[f"r.{p}.json"]
            check(r["pid"] == p and r["at_exit"] and not r.get("at_exec"),
                  f"r.{p}.json: pid {r['pid']}, at_exit {r['at_exit']}, at_exec {r.get('at_exec')}")
            check(r["config"]["backtraces"] and r["sites"], f"r.{p}.json: no call sites")
            check(r["totals"]["blocks"] > 0, f"r.{p}.json: no allocation seen")
        return {p: reps[f"r.{p}.json"] for p in pids}

    def clear_reports(self):
        for n in os.listdir(self.outdir):
            os.unlink(os.path.join(self.outdir, n))

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def check_complete(r, what, share=0.95, no_overflow=True):
    """Issue 12: by call-frame information (the default), the stacks of at least
    `share` of the allocations reach main or a thread's start (or the depth
    cap): stacks.ended_early counts the others; nothing overflows (the table
    grows up to MOD_ALLOC_BUCKETS_MAX: cc1 and clang++ -O2 -c have more sites
    than the 3072 the default start-up table holds)."""
    blocks, early = r["totals"]["blocks"], r["stacks"]["ended_early"]
    print(f"{what}: {blocks - early} of {blocks} allocations with complete stacks "
          f"({100.0 * (blocks - early) / blocks:.2f}%); {len(r['sites'])} sites, "
          f"{r['stacks']['overflow_events']} overflow events, table {r['stacks']['table_buckets']} buckets")
    check(blocks - early >= share * blocks,
          f"{what}: stacks end early for {early} of {blocks} allocations (stacks {r['stacks']})")
    if no_overflow:
        check(r["stacks"]["overflow_events"] == 0, f"{what}: overflow events {r['stacks']}")


def modules_of(r, innermost=False):
    return {(s["frames"][0] if innermost else f)["module"]
            for s in r["sites"] for f in (s["frames"][:1] if innermost else s["frames"]) if s["frames"]}


# ---- python3: the interpreter and C extensions it dlopens -------------------

PY_SCRIPT = r"""
import json, _decimal, sqlite3, zlib, hashlib, ctypes, sys
from decimal import Decimal, getcontext
getcontext().prec = 60
doc = {"k%d" % i: [i, str(i) * (i % 7), {"x": i / 3}] for i in range(3000)}
text = json.dumps(doc, sort_keys=True)
print(len(text), hashlib.sha256(text.encode()).hexdigest())
print(json.loads(text)["k2999"])
print(Decimal(2).sqrt(), Decimal(1) / Decimal(7))
db = sqlite3.connect(":memory:")
db.execute("create table t(a integer, b text)")
db.executemany("insert into t values(?, ?)", ((i, "v%d" % (i * 7919 % 1000)) for i in range(5000)))
print(db.execute("select count(*), sum(a), max(b) from t").fetchone())
db.close()
blob = zlib.compress(text.encode() * 4, 9)
print(len(blob), zlib.crc32(zlib.decompress(blob)))
print(ctypes.c_int(42).value, sys.version_info[:2] >= (3, 7))
"""


def case_python(c):
    py = "/usr/bin/python3"
    need(py)
    c.both(lambda d: open(os.path.join(d, "s.py"), "w").write(PY_SCRIPT))
    bare, pre = c.compare([[py, "-I", "s.py"]])
    (r,) = c.expect_one_report_each(pre.pids, max_threads=1).values()
    check(r["threads"] == 1, f"python: threads {r['threads']}")
    mods = modules_of(r)
    # The extensions were dlopen'd: libsqlite3 (loaded by _sqlite3) calls malloc itself.
    check(any(re.search(r"/libsqlite3\.so[.0-9]*$", m) for m in mods),
          f"python: no call site names libsqlite3 (dlopen'd by _sqlite3); modules: {sorted(mods)}")
    check(r["totals"]["blocks"] > 1000, f"python: only {r['totals']['blocks']} blocks")
    check_complete(r, "python")


# ---- gcc: a driver that forks and execs cc1, as, collect2, ld -----------------

HELLO_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(int argc, char **argv)
{
	char *w[] = { "pear", "apple", "fig", "kiwi" };
	qsort(w, 4, sizeof w[0], cmp);
	for (int i = 0; i < 4; i++)
		printf("%s%c", w[i], i == 3 ? '\n' : ' ');
	return argc > 1 ? atoi(argv[1]) : 0;
}
"""


def case_gcc(c):
    need("gcc")
    _, pre = c.build("hello.c", HELLO_C, ["gcc", "-O2", "-Wall", "-o", "hello", "hello.c"], "hello", "gcc")
    out = subprocess.run([os.path.join(c.pre_dir, "hello"), "3"], stdout=subprocess.PIPE, env=c.bare_env)
    check(out.returncode == 3 and out.stdout == b"apple fig kiwi pear\n", f"gcc: built program: {out}")
    reps = c.reports(max_threads=1)
    images, execs = {}, {}
    for name, r in reps.items():
        (execs if r.get("at_exec") else images).setdefault(r["pid"], []).append((name, r))
    check(all(len(v) == 1 for v in list(images.values()) + list(execs.values())),
          f"gcc: two reports of one kind for one pid: {sorted(reps)}")
    progs = sorted(os.path.basename(v[0][1]["cmd"].split(" ")[0]) for v in images.values())
    check(progs == sorted(["gcc", "cc1", "as", "collect2", "ld"]),
          f"gcc: processes that wrote reports: {progs}, expected gcc cc1 as collect2 ld; files {sorted(reps)}")
    # gcc and collect2 start their children with vfork: a vfork child shares its
    # parent's memory and must write nothing, so there is no pre-exec report.
    check(not execs, f"gcc: pre-exec reports of vfork children: {sorted(execs)}")
    driver = [p for p, v in images.items() if v[0][1]["cmd"].startswith("gcc ")]
    check(driver == pre.pids, f"gcc: the driver's report is not pid {pre.pids}: {driver}")
    check(all(v[0][0] == f"r.{p}.json" for p, v in images.items()), f"gcc: report names {sorted(reps)}")
    for p, v in sorted(images.items()):
        name = os.path.basename(v[0][1]["cmd"].split(" ")[0])
        check_complete(v[0][1], "gcc: " + name)


# ---- C++: g++ compiling a libstdc++ program, and that program ---------------

TINY_CPP = r"""
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
struct Node { std::string name; std::vector<std::unique_ptr<Node>> kids; };
static std::unique_ptr<Node> tree(int depth, const std::string &name)
{
	auto n = std::make_unique<Node>();
	n->name = name;
	if (depth > 0)
		for (int i = 0; i < 3; i++)
			n->kids.push_back(tree(depth - 1, name + "." + std::to_string(i)));
	return n;
}
static size_t count(const Node &n) { size_t k = 1; for (auto &c : n.kids) k += count(*c); return k; }
int main()
{
	std::map<std::string, int> m;
	for (int i = 0; i < 20000; i++)
		m["key" + std::to_string(i * 7 % 5003)] += i;
	std::ostringstream os;
	os << m.size() << " " << m.begin()->first << " " << m.rbegin()->second;
	std::cout << os.str() << std::endl;
	auto t = tree(7, "r");
	std::cout << count(*t) << std::endl;
	int caught = 0;
	for (int i = 0; i < 1000; i++) {
		try { throw std::runtime_error("e" + std::to_string(i)); }
		catch (const std::exception &e) { caught += e.what()[0] == 'e'; }
	}
	std::vector<std::thread> th;
	std::vector<size_t> res(2);
	for (int k = 0; k < 2; k++)
		th.emplace_back([k, &res] { std::vector<std::string> v; for (int i = 0; i < 5000; i++) v.push_back(std::string(40 + k, 'x')); res[k] = v.size(); });
	for (auto &x : th) x.join();
	std::cout << caught << " " << res[0] + res[1] << std::endl;
	return 0;
}
"""


def case_cxx(c):
    need("g++")
    c.build("tiny.cpp", TINY_CPP, ["g++", "-O1", "-pthread", "-o", "tiny", "tiny.cpp"], "tiny", "g++")
    reps = c.reports(max_threads=1)
    progs = sorted(os.path.basename(r["cmd"].split(" ")[0]) for r in reps.values() if not r.get("at_exec"))
    check(progs == sorted(["g++", "cc1plus", "as", "collect2", "ld"]), f"g++: reports of {progs}")
    c.clear_reports()
    # The program built: libstdc++ (new/delete, iostream, exceptions, std::thread).
    bare, pre = c.compare([["./tiny"]])
    check(bare.out == b"5003 key0 47742\n3280\n1000 10000\n", f"tiny: {bare.out!r}")
    (r,) = c.expect_one_report_each(pre.pids, max_threads=3).values()
    mods = modules_of(r, innermost=True)
    check(any("libstdc++" in m for m in mods), f"tiny: no innermost frame in libstdc++: {sorted(mods)}")
    check(r["totals"]["blocks"] > 20000, f"tiny: only {r['totals']['blocks']} blocks")
    check_complete(r, "tiny (g++, 3 threads)")


def case_clang(c):
    need("clang++")
    bare, pre = c.compare([["clang++", "--version"]])
    check(b"clang version" in bare.out, f"clang++ --version: {bare.out!r}")
    for r in c.expect_one_report_each(pre.pids).values():
        check_complete(r, "clang++ --version")
    c.clear_reports()
    # A compilation (issue 12: with the start-up table alone, 70% of clang++'s
    # allocations went to the overflow site): ~30,000 sites, no overflow.
    _, pre = c.build("tiny.cpp", TINY_CPP, ["clang++", "-O2", "-c", "-o", "tiny.o", "tiny.cpp"], "tiny.o",
                     "clang++")
    for r in c.expect_one_report_each(pre.pids).values():
        check(len(r["sites"]) > 4096, f"clang++ -O2 -c: only {len(r['sites'])} sites")
        check_complete(r, "clang++ -O2 -c")


# ---- redis: a threaded server linked with jemalloc, under load --------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_session(c, env, workdir):
    """Starts redis-server, loads it with redis-benchmark, queries it with
    redis-cli, shuts it down.  Returns (deterministic transcript, pids,
    server exit status)."""
    port = str(free_port())
    log = open(os.path.join(workdir, "server.log"), "wb")
    server = subprocess.Popen(["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", workdir, "--daemonize", "no"],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    pids, lines = [server.pid], []

    try:
        deadline = time.monotonic() + 20
        while True:
            p = subprocess.Popen(["redis-cli", "-p", port, "ping"], env=env, cwd=workdir,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = p.communicate(timeout=20)
            pids.append(p.pid)
            if out == b"PONG\n":
                break
            check(server.poll() is None and time.monotonic() < deadline,
                  f"redis-server did not come up (exit {server.poll()}): {out!r} {err!r}\n"
                  + open(os.path.join(workdir, "server.log"), errors="replace").read()[-2000:])
            time.sleep(0.05)
        lines.append(b"PING " + out)
        b = subprocess.Popen(["redis-benchmark", "-p", port, "-n", "20000", "-c", "10", "-q", "-t", "set,get"],
                             env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        bout, berr = b.communicate(timeout=120)
        pids.append(b.pid)
        # Rates vary; the tests run and their order do not.
        names = re.findall(rb"(?:^|[\r\n])\s*([A-Z]+): [0-9.]+ requests per second", bout)
        lines.append(b"benchmark exit %d tests %s" % (b.returncode, b" ".join(names)))
        for args in (["dbsize"], ["strlen", "key:__rand_int__"], ["set", "k1", "v" * 1000],
                     ["strlen", "k1"], ["incrby", "n", "41"], ["incr", "n"],
                     ["rpush", "l", "a", "b", "c"], ["lrange", "l", "0", "-1"]):
            p = subprocess.Popen(["redis-cli", "-p", port] + args, env=env, cwd=workdir,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = p.communicate(timeout=20)
            pids.append(p.pid)
            lines.append(b" ".join(a.encode() for a in args) + b" -> %d " % p.returncode + out + strip_own(err))
        p = subprocess.Popen(["redis-cli", "-p", port, "info", "memory"], env=env, cwd=workdir,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _ = p.communicate(timeout=20)
        pids.append(p.pid)
        lines.extend(l for l in out.splitlines() if l.startswith(b"mem_allocator:"))
        p = subprocess.Popen(["redis-cli", "-p", port, "shutdown", "nosave"], env=env, cwd=workdir,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.communicate(timeout=20)
        pids.append(p.pid)
        rc = server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
    return b"\n".join(lines), pids, rc


def case_redis(c):
    need("redis-server", "redis-benchmark", "redis-cli")
    t_bare, _, rc_bare = redis_session(c, c.bare_env, c.bare_dir)
    check(rc_bare == 0, f"bare redis-server exited {rc_bare}")
    t_pre, pids, rc_pre = redis_session(c, c.pre_env, c.pre_dir)
    check(rc_pre == rc_bare, f"redis-server exit status: preloaded {rc_pre}, bare {rc_bare}\n"
          + open(os.path.join(c.pre_dir, "server.log"), errors="replace").read()[-3000:])
    check(t_bare == t_pre, f"redis transcripts differ:\n--- bare ---\n{t_bare.decode(errors='replace')}\n"
          f"--- preloaded ---\n{t_pre.decode(errors='replace')}")
    check(b"benchmark exit 0 tests SET GET" in t_pre and b"mem_allocator:jemalloc" in t_pre,
          f"redis: unexpected transcript:\n{t_pre.decode(errors='replace')}")
    server = pids[0]
    reps = c.expect_one_report_each(pids, max_threads={server: 8})
    rs = reps[server]
    # 40000 requests through jemalloc underneath: every one allocates.
    check(rs["totals"]["blocks"] >= 40000 and rs["calls"]["malloc_usable_size"] > 0,
          f"redis-server: blocks {rs['totals']['blocks']}, malloc_usable_size calls "
          f"{rs['calls']['malloc_usable_size']}")
    check(rs["foreign_frees"] == 0, f"redis-server: {rs['foreign_frees']} foreign frees")
    for p in pids:
        check_complete(reps[p], f"redis: {os.path.basename(reps[p]['cmd'].split(' ')[0])}")


# ---- sqlite3: a generated workload ------------------------------------------

def sqlite_script():
    rng = random.Random(20240601)
    out = ["CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);",
           "CREATE TABLE g(grp INTEGER PRIMARY KEY, label TEXT);", "BEGIN;"]
    for _ in range(20000):
        out.append(f"INSERT INTO t(name, grp, val) VALUES('n{rng.randrange(10**9):09d}', "
                   f"{rng.randrange(100)}, {rng.randrange(10**6) / 100});")
    out += [f"INSERT INTO g VALUES({g}, 'group-{g}');" for g in range(100)]
    out += ["COMMIT;", "CREATE INDEX t_name ON t(name);",
            "SELECT count(*), sum(val), min(name), max(name) FROM t;",
            "SELECT name FROM t WHERE name > 'n5' ORDER BY name LIMIT 5;",
            "SELECT g.label, count(*), round(avg(t.val), 2) FROM t JOIN g ON t.grp = g.grp "
            "GROUP BY g.label ORDER BY 2 DESC, 1 LIMIT 10;",
            "SELECT grp, group_concat(id, ',') FROM (SELECT grp, id FROM t WHERE val < 100 ORDER BY id) "
            "GROUP BY grp ORDER BY grp LIMIT 3;",
            "DELETE FROM t WHERE grp < 50;", "VACUUM;", "SELECT count(*) FROM t;",
            "PRAGMA integrity_check;"]
    return "\n".join(out) + "\n"


def case_sqlite(c):
    need("sqlite3")
    text = sqlite_script()
    c.both(lambda d: open(os.path.join(d, "w.sql"), "w").write(text))
    bare, pre = c.compare([["sqlite3", "db"]], stdin="w.sql")
    check(bare.out.endswith(b"\nok\n") and b"20000|" in bare.out, f"sqlite3: {bare.out[:400]!r}")
    (r,) = c.expect_one_report_each(pre.pids, max_threads=1).values()
    check(r["totals"]["blocks"] > 100000, f"sqlite3: only {r['totals']['blocks']} blocks")
    check_complete(r, "sqlite3")


# ---- coreutils ---------------------------------------------------------------

def write_text_file(d):
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    with open(os.path.join(d, "big.txt"), "w") as f:
        size = 0
        while size < 1 << 20:
            line = f"{rng.choice(words)} {rng.randrange(10**8)} {rng.random():.6f}\n"
            f.write(line)
            size += len(line)
    tree = os.path.join(d, "tree")
    for i in range(20):
        sub = os.path.join(tree, f"d{i % 4}", f"e{i}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "f.txt"), "w") as f:
            f.write(f"file {i}\n" * (i * 300 + 1))
        os.utime(os.path.join(sub, "f.txt"), (1000000000 + i, 1000000000 + i))
    # Fixed times everywhere: the two copies are made at different instants.
    for dirpath, dirnames, _ in os.walk(tree, topdown=False):
        os.utime(dirpath, (1000000000, 1000000000))


def case_coreutils(c):
    need("sort", "ls", "wc", "sha256sum", "tar")
    c.both(write_text_file)
    cpus = min(os.cpu_count() or 1, 8)
    pids, threads = [], {}
    # sort: multi-threaded by default on large input, single-threaded with --parallel=1.
    _, pre = c.compare([["sort", "big.txt"]])
    threads[pre.pids[0]] = cpus + 1
    pids += pre.pids
    _, pre = c.compare([["sort", "--parallel=1", "-k2,2n", "-S", "64M", "big.txt"]])
    threads[pre.pids[0]] = 1
    pids += pre.pids
    _, pre = c.compare([["ls", "-laR", "/usr/include"], ["wc"]])
    pids += pre.pids
    _, pre = c.compare([["sha256sum", "big.txt"]])
    pids += pre.pids
    # tar through pipes: create | hash, and create | extract elsewhere.
    tar_c = ["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", "tree", "-cf", "-", "."]
    _, pre = c.compare([tar_c, ["sha256sum"]])
    pids += pre.pids
    for d in (c.bare_dir, c.pre_dir):
        os.mkdir(os.path.join(d, "copy"))
    _, pre = c.compare([tar_c, ["tar", "-C", "copy", "-xf", "-"]])
    pids += pre.pids
    _, pre = c.compare([["tar", "-tvf", "-"]], stdin="big.txt", stderr_same=True, rc_ok=False)
    pids += pre.pids
    for d in (c.bare_dir, c.pre_dir):
        cmp = filecmp.dircmp(os.path.join(d, "tree"), os.path.join(d, "copy"))
        check(not cmp.left_only and not cmp.right_only and not cmp.diff_files,
              f"tar copy in {d} differs: {cmp.left_only} {cmp.right_only} {cmp.diff_files}")
    reps = c.expect_one_report_each(pids, max_threads={p: threads.get(p, 1) for p in pids})
    for p in pids:
        check_complete(reps[p], f"coreutils: {os.path.basename(reps[p]['cmd'].split(' ')[0])}")


CASES = {"python": case_python, "gcc": case_gcc, "cxx": case_cxx, "clang": case_clang,
         "redis": case_redis, "sqlite": case_sqlite, "coreutils": case_coreutils}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("case", choices=sorted(CASES))
    a = ap.parse_args()
    c = Case(a.lib)
    t0 = time.monotonic()
    try:
        CASES[a.case](c)
    except Skip as e:
        print(f"SKIP {a.case}: {e}")
        return SKIP
    except Fail as e:
        print(f"FAIL {a.case}: {e}")
        print(f"(files kept in {c.root})")
        return 1
    print(f"PASS {a.case} in {time.monotonic() - t0:.1f}s")
    if not a.keep:
        c.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
