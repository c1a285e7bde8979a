# SPDX-License-Identifier: Apache-2.0
"""`modalloc lines` on stripped binaries: debug files from a debuginfod server
(DEBUGINFOD_URLS, elfutils' libdebuginfod) and function names from
MiniDebugInfo (.gnu_debugdata, as Fedora ships it).

The server is Debian's `debuginfod -F DIR` on 127.0.0.1, serving a directory
the test fills; each test starts and stops its own, bounded in time.  The
program is progs/lines_inline.c (see test_lines.py): 3 blocks through
level_two -> build_node -> the inlined make_zeroed -> the inlined make_buffer
-> malloc, 1 block through the static plain_alloc -> calloc.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tooltest import (EXITCODE, LINES_G, LINES_NOG, LINES_SRC, ToolTest, clean_env, frame,
                      line_markers, main, report, site, tool, write_json)


def build_id(path):
    res = subprocess.run(['readelf', '-n', path], capture_output=True, text=True, check=True)
    m = re.search(r'Build ID: ([0-9a-f]+)', res.stdout)
    return m.group(1) if m else None


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Debuginfod(ToolTest):
    def setUp(self):
        super().setUp()
        if os.environ.get('TOOL_HAS_LINES') == '0':
            self.skipTest('modalloc built without libdw')
        for t in ('objcopy', 'readelf'):
            if not shutil.which(t):
                self.skipTest(t + ' not found (Debian: binutils)')
        self.line = line_markers()
        self.cache = self.path('cache')

    # ---- helpers ------------------------------------------------------

    def env(self, urls=None, **extra):
        """The tests' environment with a private cache; urls None: DEBUGINFOD_URLS unset."""
        env = clean_env(DEBUGINFOD_CACHE_PATH=self.cache, **extra)
        env.pop('DEBUGINFOD_URLS', None)
        if urls is not None:
            env['DEBUGINFOD_URLS'] = urls
        return env

    def serve(self, directory):
        """debuginfod -F directory on a free 127.0.0.1 port: (its URL, the process)."""
        if os.environ.get('TOOL_HAS_DEBUGINFOD') != '1':
            self.skipTest('modalloc built without libdebuginfod')
        if not shutil.which('debuginfod'):
            self.skipTest('debuginfod not found (Debian: debuginfod)')
        port = free_port()
        log = open(self.path('debuginfod.log'), 'w')
        self.addCleanup(log.close)
        proc = subprocess.Popen(['debuginfod', '-F', directory, '-p', str(port), '-d', ':memory:',
                                 '-L'], stdout=log, stderr=subprocess.STDOUT,
                                env=clean_env(DEBUGINFOD_URLS=''))

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.addCleanup(stop)
        self.stop_server = stop
        return 'http://127.0.0.1:%d' % port, proc

    def wait_ok(self, proc, url, what):
        """Until the server (proc) answers url with 200, at most 30 s; fails saying
        'debuginfod did not <what> in 30 s' after that."""
        deadline = time.monotonic() + 30
        while True:
            self.assertIsNone(proc.poll(), 'debuginfod exited')
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            self.assertLess(time.monotonic(), deadline, 'debuginfod did not %s in 30 s' % what)
            time.sleep(0.2)

    def wait_served(self, url, proc, bid):
        """Until the server has indexed the debug file of build id `bid` (at most 30 s)."""
        self.wait_ok(proc, '%s/buildid/%s/debuginfo' % (url, bid), 'serve the file')

    def split(self, prog, name):
        """A stripped copy of prog (no .symtab, no DWARF, build id kept); its debug file in srv/."""
        out, srv = self.path(name), self.path('srv')
        os.makedirs(srv, exist_ok=True)
        shutil.copy(prog, out)
        subprocess.run(['objcopy', '--only-keep-debug', out, os.path.join(srv, name + '.debug')],
                       check=True)
        subprocess.run(['objcopy', '--strip-all', out], check=True)
        bid = build_id(out)
        self.assertTrue(bid, 'no build id in ' + prog)
        self.assertEqual(build_id(os.path.join(srv, name + '.debug')), bid)
        return out, srv, bid

    def profile(self, prog, *opts, name='out'):
        d = self.path(name)
        # These tests are about naming frames; their expected stacks end at main, as the
        # frame-pointer walk leaves them (by call-frame information they reach _start).
        res = tool('-o', d, *opts, prog, env=self.env(MOD_ALLOC_UNWIND='fp'))
        self.assertEqual(res.returncode, 0, res.stderr)
        reps = [n for n in os.listdir(d) if n.startswith('modalloc.')]
        self.assertEqual(len(reps), 1, os.listdir(d))
        return d, os.path.join(d, reps[0])

    def lines(self, rep, env, out):
        res = tool('lines', '-o', out, rep, env=env, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(out) as f:
            return json.load(f), res.stderr

    def prog_frames(self, s, prog):
        return [f for f in s['frames'] if os.path.exists(f['module'])
                and os.path.samefile(f['module'], prog)]

    def debuginfod_lines(self, stderr):
        return [ln for ln in stderr.splitlines() if ln.startswith('modalloc: debuginfod: ')]

    # ---- debug files from the server ---------------------------------

    def test_lines_from_debuginfod(self):
        prog, srv, bid = self.split(LINES_G, 'prog')
        url, proc = self.serve(srv)
        _, rep = self.profile(prog)
        with open(rep) as f:
            orig = json.load(f)
        # The stripped program's frames have no names in the report.
        self.assertEqual({f['function'] for s in orig['sites'] for f in self.prog_frames(s, prog)},
                         {'??'})
        self.wait_served(url, proc, bid)

        # Without DEBUGINFOD_URLS (unset or empty): no lines, no names, no query (as before).
        for urls in (None, '', '  '):
            ann, err = self.lines(rep, self.env(urls), self.path('plain.json'))
            pf = [f for s in ann['sites'] for f in self.prog_frames(s, prog)]
            self.assertEqual(len(pf), sum(len(self.prog_frames(s, prog)) for s in orig['sites']))
            self.assertEqual([f for f in pf if 'line' in f or f['function'] != '??'], [])
            self.assertEqual(self.debuginfod_lines(err), [], err)
            self.assertFalse(os.path.exists(os.path.join(self.cache, bid)))

        L = self.line
        want_chain = [('make_buffer', L['alloc_here'], True),
                      ('make_zeroed', L['inline_inner_call'], True),
                      ('build_node', L['inline_call'], False),
                      ('level_two', L['call_build'], False),
                      ('main', L['call_level_two'], False)]
        want_plain = [('plain_alloc', L['plain_alloc'], False), ('main', L['call_plain'], False)]

        def check(ann):
            blocks = {'chain': 0, 'plain': 0}
            for s in ann['sites']:
                got = [(f['function'], f.get('line'), bool(f.get('inlined')))
                       for f in self.prog_frames(s, prog)]
                kind = 'chain' if got == want_chain else 'plain'
                self.assertEqual(got, want_chain if kind == 'chain' else want_plain)
                blocks[kind] += s['blocks']
                for f in self.prog_frames(s, prog):
                    self.assertTrue(os.path.samefile(f['file'], LINES_SRC), f)
            self.assertEqual(blocks, {'chain': 3, 'plain': 1})

        ann, err = self.lines(rep, self.env(url), self.path('ann.json'))
        check(ann)
        # The program's build id was found; other modules may be missing on the server
        # (libc without its -dbg package), each named once.
        dl = self.debuginfod_lines(err)
        self.assertEqual([ln for ln in dl if bid in ln], [], err)
        self.assertEqual(len(dl), len(set(dl)), err)
        for ln in dl:
            self.assertRegex(ln, r'^modalloc: debuginfod: no debug file for /\S+ '
                                 r'\(build id [0-9a-f]+\)$')
        self.assertRegex(err, r'functions named\n$')
        # libdebuginfod's cache, where DEBUGINFOD_CACHE_PATH says.
        cached = os.path.join(self.cache, bid, 'debuginfo')
        with open(cached, 'rb') as a, open(os.path.join(srv, 'prog.debug'), 'rb') as b:
            self.assertEqual(a.read(), b.read())

        # `run --dhat` annotates its DHAT file the same way.
        d, _ = self.profile(prog, '--dhat', name='dhat')
        dh = [n for n in os.listdir(d) if n.startswith('dhat.')]
        with open(os.path.join(d, dh[0])) as f:
            ftbl = json.load(f)['ftbl']
        res = tool('-o', self.path('dhat2'), '--dhat', prog, env=self.env(url))
        self.assertEqual(res.returncode, 0, res.stderr)
        d2 = self.path('dhat2')
        with open(os.path.join(d2, [n for n in os.listdir(d2) if n.startswith('dhat.')][0])) as f:
            ftbl2 = json.load(f)['ftbl']
        self.assertFalse([s for s in ftbl if 'lines_inline.c' in s], ftbl)
        self.assertTrue([s for s in ftbl2 if re.fullmatch(
            r'0x[0-9A-F]+: make_buffer \(lines_inline\.c:%d\)' % L['alloc_here'], s)], ftbl2)
        self.assertTrue([s for s in ftbl2 if re.fullmatch(
            r'0x[0-9A-F]+: plain_alloc \(lines_inline\.c:%d\)' % L['plain_alloc'], s)], ftbl2)

        # The server gone, the cache answers.
        self.stop_server()
        ann, err = self.lines(rep, self.env(url), self.path('cached.json'))
        check(ann)
        self.assertEqual([ln for ln in self.debuginfod_lines(err) if bid in ln], [], err)

    def test_dwz_file_from_debuginfod(self):
        """A debug file whose DIEs dwz moved to a shared file (.gnu_debugaltlink, as in
        Debian's dbgsym packages): the shared file comes from the server by its build id."""
        if not shutil.which('dwz'):
            self.skipTest('dwz not found (Debian: dwz)')
        prog, other = self.path('prog'), self.path('other')
        shutil.copy(LINES_G, prog)
        shutil.copy(LINES_G, other)
        # Two identical programs: all of their DIEs go to the shared file, named by a
        # path that exists nowhere, so that only the server can supply it.
        subprocess.run(['dwz', '-m', self.path('common'), '-M', '/nonexistent/.dwz/common',
                        prog, other], check=True)
        srv = self.path('srv')
        os.mkdir(srv)
        subprocess.run(['objcopy', '--only-keep-debug', prog, os.path.join(srv, 'prog.debug')],
                       check=True)
        subprocess.run(['objcopy', '--strip-all', prog], check=True)
        os.rename(self.path('common'), os.path.join(srv, 'common.dwz'))
        bid, alt = build_id(prog), build_id(os.path.join(srv, 'common.dwz'))
        self.assertTrue(bid and alt and bid != alt)
        url, proc = self.serve(srv)
        _, rep = self.profile(prog)
        self.wait_served(url, proc, bid)
        self.wait_served(url, proc, alt)
        ann, err = self.lines(rep, self.env(url), self.path('ann.json'))
        L = self.line
        chains = 0
        for s in ann['sites']:
            got = [(f['function'], f.get('line')) for f in self.prog_frames(s, prog)]
            if got[0][0] != 'plain_alloc':
                chains += s['blocks']
                # The inlined functions' names live in the shared file.
                self.assertEqual(got, [('make_buffer', L['alloc_here']),
                                       ('make_zeroed', L['inline_inner_call']),
                                       ('build_node', L['inline_call']),
                                       ('level_two', L['call_build']),
                                       ('main', L['call_level_two'])])
        self.assertEqual(chains, 3)
        self.assertEqual([ln for ln in self.debuginfod_lines(err) if bid in ln or alt in ln], [],
                         err)
        self.assertTrue(os.path.exists(os.path.join(self.cache, alt, 'debuginfo')))

    def test_failures_one_line_per_build_id(self):
        # Two names of one stripped file (one build id) and another stripped file.
        a = self.path('a')
        shutil.copy(LINES_NOG, a)
        subprocess.run(['objcopy', '--strip-all', a], check=True)
        a2 = self.path('a2')
        os.link(a, a2)
        b = self.path('b')
        shutil.copy(EXITCODE, b)
        subprocess.run(['objcopy', '--strip-all', b], check=True)
        ida, idb = build_id(a), build_id(b)
        self.assertTrue(ida and idb and ida != idb)
        fr = [frame('??', module=a, offset='0x1010'), frame('??', module=a, offset='0x1020'),
              frame('??', module=a2, offset='0x1030'), frame('??', module=b, offset='0x1040'),
              frame('??', module=b, offset='0x1050')]
        sites = [site(fr[:3], blocks=1, nbytes=10), site(fr[2:], blocks=1, nbytes=10),
                 site(fr[::-1], blocks=1, nbytes=10)]
        rep = write_json(self.path('r.json'), report(blocks=3, nbytes=30, sites=sites))

        # A server without them: one line per build id, however many frames and names.
        os.mkdir(self.path('empty'))
        url, proc = self.serve(self.path('empty'))
        self.wait_ok(proc, url + '/metrics', 'start')
        ann, err = self.lines(rep, self.env(url), self.path('o.json'))
        self.assertEqual(sorted(self.debuginfod_lines(err)), sorted([
            'modalloc: debuginfod: no debug file for %s (build id %s)' % (a, ida),
            'modalloc: debuginfod: no debug file for %s (build id %s)' % (b, idb)]), err)
        self.assertEqual(ann['lines'], {'annotated': 0, 'frames': 11, 'inlined': 0})
        self.stop_server()
        # libdebuginfod remembers a failed query for a while (cache_miss_s): the
        # server is not asked again, nor is there another line.
        _, err = self.lines(rep, self.env('http://127.0.0.1:%d' % free_port()), self.path('o.json'))
        self.assertEqual(len(self.debuginfod_lines(err)), 2, err)

        # A server that never answers: one line, then no more queries, within the timeout.
        with socket.socket() as hole:
            hole.bind(('127.0.0.1', 0))
            hole.listen(16)
            t0 = time.monotonic()
            self.cache = self.path('cache-hole')
            _, err = self.lines(rep, self.env('http://127.0.0.1:%d' % hole.getsockname()[1],
                                              DEBUGINFOD_TIMEOUT='1'), self.path('o.json'))
            self.assertLess(time.monotonic() - t0, 20)
        dl = self.debuginfod_lines(err)
        self.assertEqual(len(dl), 1, err)
        self.assertRegex(dl[0], r'^modalloc: debuginfod: %s \(build id %s\): no answer within '
                                r'DEBUGINFOD_TIMEOUT \(1 s\); not asking debuginfod for other '
                                r'modules$' % (re.escape(a), ida) + '|' +
                         r'^modalloc: debuginfod: %s \(build id %s\): no answer within '
                         r'DEBUGINFOD_TIMEOUT \(1 s\); not asking debuginfod for other '
                         r'modules$' % (re.escape(b), idb))

        # Nothing listening: one line.
        self.cache = self.path('cache-refused')
        _, err = self.lines(rep, self.env('http://127.0.0.1:%d' % free_port()),
                            self.path('o.json'))
        dl = self.debuginfod_lines(err)
        self.assertEqual(len(dl), 1, err)
        self.assertIn('Connection refused; not asking debuginfod for other modules', dl[0])

    def test_built_without_libdebuginfod(self):
        """Without libdebuginfod: lines as before, and one line saying debuginfod is not asked."""
        if os.environ.get('TOOL_HAS_DEBUGINFOD') != '0':
            self.skipTest('modalloc built with libdebuginfod')
        a, b = self.path('a'), self.path('b')
        for src, dst in ((LINES_NOG, a), (EXITCODE, b)):
            shutil.copy(src, dst)
            subprocess.run(['objcopy', '--strip-all', dst], check=True)
        fr = [frame('??', module=a, offset='0x1010'), frame('??', module=b, offset='0x1020')]
        rep = write_json(self.path('r.json'),
                         report(blocks=1, nbytes=10, sites=[site(fr, blocks=1, nbytes=10)]))
        ann, err = self.lines(rep, self.env('http://127.0.0.1:%d' % free_port()),
                              self.path('o.json'))
        self.assertEqual([ln for ln in err.splitlines() if 'debuginfod' in ln.lower()],
                         ['modalloc: DEBUGINFOD_URLS is set, but this modalloc was built without '
                          'libdebuginfod (Debian: libdebuginfod-dev): debug files are looked up '
                          'locally only'], err)
        self.assertEqual(ann['sites'][0]['frames'], fr)
        _, err = self.lines(rep, self.env(''), self.path('o.json'))
        self.assertNotIn('debuginfod', err.lower())

    # ---- MiniDebugInfo --------------------------------------------------

    def minidebuginfo(self, prog, name):
        """prog stripped of .symtab, with a .gnu_debugdata as Fedora's find-debuginfo makes it."""
        if not shutil.which('xz'):
            self.skipTest('xz not found (Debian: xz-utils)')
        out = self.path(name)
        full, mini = self.path(name + '.full'), self.path(name + '.mini')
        shutil.copy(prog, out)
        subprocess.run(['objcopy', '--only-keep-debug', out, full], check=True)
        # The function symbols only: .symtab without DWARF, xz-compressed.
        subprocess.run(['objcopy', '--strip-debug', '--remove-section', '.comment',
                        '--remove-section', '.gdb_index', full, mini], check=True)
        subprocess.run(['xz', '-k', mini], check=True)
        subprocess.run(['objcopy', '--strip-all', out], check=True)
        plain = self.path(name + '.plain')
        shutil.copy(out, plain)
        subprocess.run(['objcopy', '--add-section', '.gnu_debugdata=' + mini + '.xz', out],
                       check=True)
        res = subprocess.run(['readelf', '-S', '-W', out], capture_output=True, text=True,
                             check=True)
        self.assertIn('.gnu_debugdata', res.stdout)
        self.assertNotIn('.symtab', res.stdout)
        return out, plain

    def test_minidebuginfo_names(self):
        prog, plain = self.minidebuginfo(LINES_NOG, 'mini')
        want = {('build_node', 'level_two', 'main'): 3, ('plain_alloc', 'main'): 1}
        for p, named in ((prog, True), (plain, False)):
            _, rep = self.profile(p, name='out-' + os.path.basename(p))
            with open(rep) as f:
                orig = json.load(f)
            # The library reads no .gnu_debugdata: the static functions are unnamed.
            self.assertEqual({f['function'] for s in orig['sites'] for f in self.prog_frames(s, p)},
                             {'??'})
            ann, err = self.lines(rep, self.env(), self.path('ann.json'))
            got = {}
            for s in ann['sites']:
                fns = tuple(f['function'] for f in self.prog_frames(s, p))
                got[fns] = got.get(fns, 0) + s['blocks']
                for f in self.prog_frames(s, p):
                    self.assertNotIn('line', f)
            if named:
                self.assertEqual(got, want)
                n = sum(len(self.prog_frames(s, p)) for s in ann['sites'])
                self.assertRegex(err, r', %d functions named\n$' % n)
                res = tool('report', self.path('ann.json'), env=self.env())
                self.assertIn('at plain_alloc (mini)\n     <- main (mini)\n', res.stdout)
            else:
                self.assertEqual(got, {('??', '??', '??'): 3, ('??', '??'): 1})
                self.assertNotIn('functions named', err)

        # A DHAT file names them too (`run --dhat`, offsets from the report).
        d = self.path('dhat')
        res = tool('-o', d, '--dhat', prog, env=self.env(MOD_ALLOC_UNWIND='fp'))  # (as in profile)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(d, [n for n in os.listdir(d) if n.startswith('dhat.')][0])) as f:
            ftbl = json.load(f)['ftbl']
        mine = [s for s in ftbl if s.endswith('(in %s)' % prog)]
        self.assertEqual(sorted({s.split(': ', 1)[1].split(' ')[0] for s in mine}),
                         ['build_node', 'level_two', 'main', 'plain_alloc'], ftbl)


if __name__ == '__main__':
    if not LINES_G or not LINES_NOG or not LINES_SRC:
        sys.exit('TOOL_LINES_G, TOOL_LINES_NOG and TOOL_LINES_SRC must be set '
                 '(run through meson test)')
    main()
