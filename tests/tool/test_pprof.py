# SPDX-License-Identifier: Apache-2.0
"""`modalloc report --format pprof`, read back by the real reader, `go tool pprof`.

progs/pprof_sites.c has known sites: alloc_small 100 x 64 B (freed), alloc_big
10 x 1000 B (3 live at exit), leaf_alloc 200 B through caller_a (2, freed) and
caller_b (4, live).  Skips (exit 77) when `go` is missing (Debian: golang-go).
"""
import gzip
import os
import re
import subprocess
import sys
import unittest

from tooltest import (GO, speedscope_rows, HAS_LINES, GoTest, ToolTest, frame, main, report, reports_in, site, tool,
                      write_json)

PROG = os.environ.get('TOOL_PPROF_SITES', '')

# What the program allocates, per site (innermost function, caller):
# (alloc_objects, alloc_space, inuse_objects, inuse_space).
TRUTH = {
    ('alloc_big', 'main'): (10, 10000, 3, 3000),
    ('alloc_small', 'main'): (100, 6400, 0, 0),
    ('leaf_alloc', 'caller_a'): (2, 400, 0, 0),
    ('leaf_alloc', 'caller_b'): (4, 800, 4, 800),
}
INDEX = {'alloc_objects': 0, 'alloc_space': 1, 'inuse_objects': 2, 'inuse_space': 3}


def human(n):
    """Bytes as `modalloc report` shows them (tools/util.c, mt_human)."""
    if n < 1024:
        return '%d B' % n
    v, u = float(n), 0
    while v >= 1024 and u < 6:
        v, u = v / 1024, u + 1
    if v >= 1023.95 and u < 6:
        v, u = v / 1024, u + 1
    return '%.1f %s' % (v, ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB')[u])


class PprofTest(GoTest):

    def top(self, profile, index=None, *extra):
        """{name: (flat, cum)} of `-top` (values as integers: bytes or counts)."""
        args = ['-top', '-nodecount=1000', '-unit=B'] + list(extra)
        if index:
            args.append('-sample_index=' + index)
        out = self.pprof(*args, profile)
        rows, seen = {}, False
        for line in out.splitlines():
            if re.match(r'^\s+flat\s+flat%', line):
                seen = True
                continue
            m = re.match(r'^\s*(\d+)B?\s+\S+%\s+\S+%\s+(\d+)B?\s+\S+%\s+(.+)$', line)
            if seen and m:
                rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        self.assertTrue(seen, out)
        return out, rows

    def traces(self, profile, index, *extra):
        """[(value, (innermost, ..., outermost))] of `-traces` (one per sample, in sample
        order), zero values left out, sorted by value, largest first (a stable sort)."""
        out = self.pprof('-traces', '-unit=B', '-sample_index=' + index, *extra, profile)
        blocks = out.split('-----------+-------------------------------------------------------\n')
        result = []
        for b in blocks[1:]:
            lines = [line for line in b.splitlines() if line.strip()]
            if not lines:
                continue
            m = re.match(r'^\s*(\d+)B?\s+(.+)$', lines[0])
            self.assertIsNotNone(m, b)
            result.append((int(m.group(1)),
                           (m.group(2).strip(),) + tuple(x.strip() for x in lines[1:])))
        return sorted((t for t in result if t[0]), key=lambda t: -t[0])

    def run_prog(self, name):
        d = self.path(name)
        res = tool('-o', d, PROG)
        self.assertEqual(res.returncode, 0, res.stderr)
        return d

    def convert(self, *inputs, out='p.pb.gz'):
        res = tool('report', '--format', 'pprof', *inputs, '-o', self.path(out))
        self.assertEqual((res.returncode, res.stderr), (0, ''))
        return self.path(out)

    def test_top_shows_each_sample_type(self):
        """-top -sample_index=X: exactly the program's numbers for its functions; the default
        sample type is inuse_space (live at exit), as in a Go heap profile."""
        p = self.convert(self.run_prog('out'))
        for index, k in INDEX.items():
            out, rows = self.top(p, index, '-symbolize=none')
            self.assertIn('Type: %s\n' % index, out)
            want = {}
            for (fn, caller), v in TRUTH.items():
                want[fn] = want.get(fn, 0) + v[k]
            flat = {name: fc[0] for name, fc in rows.items() if fc[0]}
            self.assertEqual(flat, {fn: v for fn, v in want.items() if v}, out)
            total = sum(v[k] for v in TRUTH.values())
            self.assertEqual(rows['main'][1], total, out)
            self.assertEqual(rows['caller_b'], (0, TRUTH[('leaf_alloc', 'caller_b')][k]), out)
            if TRUTH[('leaf_alloc', 'caller_a')][k]:
                self.assertEqual(rows['caller_a'], (0, TRUTH[('leaf_alloc', 'caller_a')][k]))
        out, _ = self.top(p, None, '-symbolize=none')
        self.assertIn('Type: inuse_space\n', out)
        raw = self.pprof('-raw', '-symbolize=none', p)
        self.assertIn('PeriodType: space bytes\n', raw)
        self.assertIn('alloc_objects/count alloc_space/bytes inuse_objects/count '
                      'inuse_space/bytes[dflt]\n', raw)
        self.assertIn('Comment: inuse: live at exit\n', raw)
        # The mapping names the program and its GNU build id (readelf's).
        ids = re.findall(r'Build ID: ([0-9a-f]+)', subprocess.run(
            ['readelf', '-n', PROG], capture_output=True, text=True).stdout)
        self.assertEqual(len(ids), 1)
        self.assertRegex(raw, r'\n1: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ %s %s'
                         % (re.escape(PROG), ids[0]))

    def test_traces_and_report_sort_bytes(self):
        """-traces shows each site's call chain with its bytes, in the order and with the
        bytes of `modalloc report --sort bytes`."""
        d = self.run_prog('out')
        p = self.convert(d)
        got = [(v, stack[:2]) for v, stack in self.traces(p, 'alloc_space', '-symbolize=none')]
        self.assertEqual(got, sorted(((v[1], k) for k, v in TRUTH.items()), reverse=True))
        for v, stack in self.traces(p, 'alloc_space', '-symbolize=none'):
            self.assertEqual(stack[:3] if stack[0] == 'leaf_alloc' else stack[:2],
                             (stack[0], stack[1], 'main') if stack[0] == 'leaf_alloc'
                             else (stack[0], 'main'))
        text = tool('report', '--sort', 'bytes', '--top', '0', d).stdout
        ranked = re.findall(r'\n#\d+ .*\n     at (\S+) .*\n     <- (\S+) ', text)
        self.assertEqual(ranked, [k for _, k in got])
        # The must-hold: the same sites with the same bytes, as the text shows them.
        shown = re.findall(r'\n#\d+ +(\d+ B|[\d.]+ [KMG]iB) in ', text)
        self.assertEqual(shown, [human(v) for v, _ in got])
        (r,) = reports_in(d).values()
        sites = sorted(r['sites'], key=lambda s: -s['bytes'])
        self.assertEqual([s['bytes'] for s in sites], [v for v, _ in got])
        # -top: each function's flat bytes are the bytes of the report's sites it heads.
        per_fn = {}
        for (fn, _), s in zip(ranked, sites):
            per_fn[fn] = per_fn.get(fn, 0) + s['bytes']
        _, rows = self.top(p, 'alloc_space', '-symbolize=none')
        self.assertEqual({k: v[0] for k, v in rows.items() if v[0]}, per_fn)
        # inuse: only what is live at exit.
        got = [(v, stack[:2]) for v, stack in self.traces(p, 'inuse_space', '-symbolize=none')]
        self.assertEqual(got, [(3000, ('alloc_big', 'main')), (800, ('leaf_alloc', 'caller_b'))])

    def test_merged_tree(self):
        """Two processes (two runs, other load addresses) merged: every figure doubled,
        the same four call chains."""
        p = self.convert(self.run_prog('a'), self.run_prog('b'))
        got = [(v, stack[:2]) for v, stack in self.traces(p, 'alloc_objects', '-symbolize=none')]
        self.assertEqual(got, sorted(((2 * v[0], k) for k, v in TRUTH.items()), reverse=True))
        _, rows = self.top(p, 'inuse_space', '-symbolize=none')
        self.assertEqual(rows['alloc_big'], (6000, 6000))
        self.assertEqual(rows['leaf_alloc'], (1600, 1600))
        self.assertIn('Comment: modalloc: 2 reports merged\n', self.pprof('-raw', p))

    def test_pprof_symbolizes_unnamed_frames(self):
        """Frames without a name ("??") carry no function: pprof finds the names itself
        from the program through the mappings, so their addresses and bounds are right."""
        d = self.run_prog('out')
        (path, r), = reports_in(d).items()
        for s in r['sites']:
            for f in s['frames']:
                f['function'] = '??'
        write_json(path, r)
        _, rows = self.top(self.convert(d), 'alloc_space')
        for fn in ('alloc_big', 'alloc_small', 'leaf_alloc'):
            self.assertEqual(rows[fn][0], sum(v[1] for k, v in TRUTH.items() if k[0] == fn), rows)
        self.assertEqual(rows['caller_b'], (0, 800), rows)

    def test_program_is_the_first_mapping(self):
        """The program's mapping comes first, whatever module the first site starts in:
        pprof names the first mapping's file as the profile's binary ("File:")."""
        d = self.run_prog('out')
        (path, r), = reports_in(d).items()
        libc = [f for s in r['sites'] for f in s['frames'] if '/libc.so' in f['module']]
        self.assertTrue(libc, r['sites'])
        r['sites'].insert(0, dict(r['sites'][0], frames=[libc[0]]))
        write_json(path, r)
        out, _ = self.top(self.convert(d), 'alloc_space', '-symbolize=none')
        self.assertIn('\nFile: tool-pprof-sites\n', '\n' + out)

    def test_file_and_line(self):
        """After `modalloc lines`, functions carry their source file and each location the
        line of its call."""
        if not HAS_LINES:
            raise unittest.SkipTest('modalloc lines is not built (no libdw)')
        d = self.run_prog('out')
        (path,) = reports_in(d)
        self.assertEqual(tool('lines', path).returncode, 0)
        _, rows = self.top(self.convert(d), 'alloc_space', '-symbolize=none', '-lines')
        flat = {re.sub(r' \S*/', ' ', k): v[0] for k, v in rows.items() if v[0]}
        self.assertEqual(flat, {'alloc_big pprof_sites.c:33': 10000,
                                'alloc_small pprof_sites.c:24': 6400,
                                'leaf_alloc pprof_sites.c:44': 1200}, rows)

    def test_hand_made_report(self):
        """Inlined frames become lines of their caller's location; what no site accounts
        for is one [unattributed] sample, so each sample type sums to the totals; modules
        that cannot be read still get a mapping."""
        main_f = frame('main', offset='0x1300')
        sites = [
            site([dict(frame('inner', offset='0x1100'), inlined=True, file='/src/a.c', line=5),
                  dict(frame('outer', offset='0x1100'), file='/src/a.c', line=9), main_f],
                 blocks=3, nbytes=300, live=100, live_blocks=1),
            site([frame('??', offset='0x2000'), main_f], blocks=2, nbytes=50),
            # The profiler's own frames are left out.
            site([frame('malloc', module='/usr/lib/libmodalloc.so', offset='0x500'),
                  frame('outer', offset='0x1180'), main_f], blocks=1, nbytes=7),
        ]
        path = write_json(self.path('modalloc.7.json'),
                          report(pid=7, blocks=10, nbytes=1000, live=400, live_blocks=2,
                                 sites=sites))
        p = self.convert(path)
        got = self.traces(p, 'alloc_space', '-symbolize=none')
        self.assertEqual(got[0], (643, ('[unattributed]',)))
        self.assertEqual(got[1], (300, ('inner (inline)', 'outer', 'main')))
        # A frame without a name: pprof shows its module.
        self.assertEqual(got[2], (50, ('[app]', 'main')))
        self.assertEqual(got[3], (7, ('outer', 'main')))
        got = self.traces(p, 'inuse_objects', '-symbolize=none')
        self.assertEqual(got, [(1, ('inner (inline)', 'outer', 'main')), (1, ('[unattributed]',))])
        raw = self.pprof('-raw', '-symbolize=none', p)
        # One location for inner and outer: two lines at one address (0x550000000000 + 0x10ff).
        self.assertRegex(raw, r'\n +\d+: 0x5500000010ff M=1 inner /src/a.c:5 s=0\n'
                              r' +outer /src/a.c:9 s=0\n')
        self.assertNotIn('libmodalloc', raw)
        self.assertIn('/opt/app/bin/app', raw)
        # The stream is gzip: the raw protobuf starts with field 1 (sample_type), length-delimited.
        with open(p, 'rb') as f:
            self.assertEqual(gzip.decompress(f.read())[:1], b'\x0a')

    def test_speedscope(self):
        """speedscope (the npm package's app, headless Chromium) imports the file: its
        Sandwich view shows inuse_space, the default sample type, per function."""
        p = self.convert(self.run_prog('out'))
        rows = speedscope_rows(self, p)
        # 3000 B and 800 B of 3800 B: speedscope's own rounding.
        self.assertEqual(rows['alloc_big'], ('2.93 KB (79%)', '2.93 KB (79%)'), rows)
        self.assertEqual(rows['leaf_alloc'], ('800 B (21%)', '800 B (21%)'), rows)
        self.assertEqual(rows['caller_b'], ('800 B (21%)', '0 B (<0.01%)'), rows)
        self.assertEqual(rows['main'], ('3.71 KB (100%)', '0 B (<0.01%)'), rows)
        self.assertNotIn('alloc_small', rows)  # nothing of it is live at exit

    def test_output_option_for_every_format(self):
        """-o writes any format to a file: the same bytes as standard output."""
        path = write_json(self.path('modalloc.7.json'),
                          report(pid=7, blocks=1, nbytes=8,
                                 sites=[site([frame('f')], blocks=1, nbytes=8)]))
        for fmt in ('text', 'json', 'collapsed', 'dhat'):
            res = tool('report', '--format', fmt, path, '--output', self.path('out'))
            self.assertEqual((res.returncode, res.stdout, res.stderr), (0, '', ''))
            with open(self.path('out')) as f:
                self.assertEqual(f.read(), tool('report', '--format', fmt, path).stdout, fmt)

    def test_bad_output_and_input(self):
        """A bad -o path, an input that cannot be read, a report without call sites: one
        error line, exit 2, and nothing written."""
        path = write_json(self.path('modalloc.7.json'),
                          report(pid=7, blocks=1, nbytes=8,
                                 sites=[site([frame('f')], blocks=1, nbytes=8)]))
        for out, why in ((self.path('no', 'such', 'p.pb.gz'), 'No such file or directory'),
                         (self.tmp, 'Is a directory')):
            res = tool('report', '--format', 'pprof', path, '-o', out)
            self.assertEqual(res.returncode, 2)
            self.assertOneErrorLine(res, out, 'cannot write', why)
        bad = self.path('modalloc.8.json')
        with open(bad, 'w') as f:
            f.write('{"format": "modalloc", "version": 1, "tot')
        out = self.path('x.pb.gz')
        res = tool('report', '--format', 'pprof', bad, '-o', out)
        self.assertEqual(res.returncode, 2)
        self.assertOneErrorLine(res, bad)
        self.assertFalse(os.path.exists(out))
        nosites = write_json(self.path('c', 'modalloc.9.json') if os.mkdir(self.path('c')) is None
                             else None, report(pid=9, blocks=1, nbytes=8))
        res = tool('report', '--format', 'pprof', nosites, '-o', out)
        self.assertEqual(res.returncode, 2)
        self.assertOneErrorLine(res, 'no call sites')
        self.assertFalse(os.path.exists(out))
        self.assertOneErrorLine(tool('report', '--format', 'pprof', path, '-o'),
                                'option -o needs a value')
        self.assertOneErrorLine(tool('report', '--format', 'bogus', path), 'pprof')


if __name__ == '__main__':
    if not GO:
        print('SKIP: go is not installed (Debian: golang-go)')
        sys.exit(77)
    main()
