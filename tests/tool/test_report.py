# SPDX-License-Identifier: Apache-2.0
"""`modalloc report`: text, JSON and collapsed output; merging; sort keys."""
import json
import re

import unittest

from tooltest import (SITES_1, EXITCODE, HAS_LINES, TWO_SITES, ToolTest, frame, load_checker,
                      main, report, reports_in, site, tool, write_json)

MAIN = frame('main', offset='0x1300')
LIBC = '/lib/x86_64-linux-gnu/libc.so.6'
STDCXX = '/lib/x86_64-linux-gnu/libstdc++.so.6'


def sites_a():
    # Numbers chosen so that every sort key gives a different order (see test_sort_keys).
    return [
        site([frame('make_node', offset='0x1100'), frame('parse', offset='0x1200'), MAIN],
             blocks=10, nbytes=5000, at_peak=1000, lifetime=50000),
        site([frame('??', offset='0x2000'), MAIN], blocks=100, nbytes=1600, at_peak=16,
             lifetime=1600),
        site([frame('_Znwm', module=STDCXX, offset='0xa0000'), frame('load_table', offset='0x1400'),
              MAIN], blocks=2, nbytes=3000, at_peak=3000, live=3000, live_blocks=2, lifetime=6000),
        site([frame('strdup', module=LIBC, offset='0x9000'), MAIN], blocks=1, nbytes=200,
             live=200, lifetime=0),
    ]


def report_a():
    # The sites account for 9800 bytes in 113 blocks of 10100 bytes in 120 blocks.
    return report(pid=100, cmd='./app --fast', blocks=120, nbytes=10100, frees=117, freed=6900,
                  peak=4500, peak_blocks=7, live=3200, live_blocks=3, rss=3 << 20,
                  sites=sites_a())


def report_b():
    # Another process of the same program: other addresses, some sites in common.
    other = '/elsewhere/app'
    return report(pid=101, cmd='./app --slow', blocks=31, nbytes=4000, frees=31, freed=4000,
                  peak=2000, peak_blocks=2, live=0, live_blocks=0, rss=2 << 20, sites=[
                      # The same binary elsewhere: same offsets, other addresses.
                      site([frame('make_node', module=other, offset='0x1100', ip='0x7f001100'),
                            frame('parse', module=other, offset='0x1200'),
                            frame('main', module=other, offset='0x1300')],
                           blocks=5, nbytes=2500, at_peak=500, lifetime=1000),
                      # Another call in make_node: its own site (issue 10).
                      site([frame('make_node', module=other, offset='0x1180'),
                            frame('parse', module=other, offset='0x1200'),
                            frame('main', module=other, offset='0x1300')],
                           blocks=1, nbytes=0, lifetime=0),
                      site([frame('??', module=other, offset='0x2000', ip='0x7777'),
                            frame('main', module=other, offset='0x1300')],
                           blocks=20, nbytes=320, lifetime=320),
                      site([frame('??', module=other, offset='0x2004'),
                            frame('main', module=other, offset='0x1300')],
                           blocks=5, nbytes=1180, lifetime=100),
                  ])


def ranked(text):
    """The call sites of a text report in order: [(rank, innermost label)]."""
    out, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^#(\d+) ', line)
        if m:
            at = re.match(r'^     at (\S+) \(', lines[i + 1])
            out.append((int(m.group(1)), at.group(1)))
    return out


def parse_collapsed(text):
    """Folded stacks back into {stack tuple (outermost first): weight}."""
    out = {}
    for line in text.splitlines():
        stack, weight = line.rsplit(' ', 1)
        key = tuple(stack.split(';'))
        out[key] = out.get(key, 0) + int(weight)
    return out


class Report(ToolTest):
    def test_text_totals_and_top_sites(self):
        a = write_json(self.path('a.json'), report_a())
        res = tool('report', a)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stderr, '')
        out = res.stdout
        self.assertIn('  pid 100: ./app --fast\n', out)
        self.assertIn('  allocated  9.9 KiB in 120 blocks\n', out)
        self.assertIn('  freed      6.7 KiB in 117 blocks\n', out)
        self.assertIn('  peak       4.4 KiB in 7 blocks\n', out)
        self.assertIn('  leaked     3.1 KiB in 3 blocks\n', out)
        self.assertIn('  calls      malloc 120, free 117\n', out)
        self.assertIn('Top 4 of 4 call sites by bytes:', out)
        # Innermost meaningful frame: operator new (_Znwm) is skipped for load_table's site.
        self.assertEqual(ranked(out), [(1, 'make_node'), (2, 'load_table'), (3, 'app+0x2000'),
                                       (4, 'strdup')])
        self.assertIn('#1   4.9 KiB in 10 blocks; at peak 1000 B; leaked 0 B\n'
                      '     at make_node (app)\n     <- parse (app)\n     <- main (app)\n', out)
        for line in out.splitlines():
            self.assertLessEqual(len(line), 100, line)

    def test_top(self):
        a = write_json(self.path('a.json'), report_a())
        res = tool('report', '--top', '2', a)
        self.assertIn('Top 2 of 4 call sites by bytes:', res.stdout)
        self.assertEqual(ranked(res.stdout), [(1, 'make_node'), (2, 'load_table')])
        res = tool('report', '--top=0', a)
        self.assertEqual(len(ranked(res.stdout)), 4)

    def test_sort_keys(self):
        a = write_json(self.path('a.json'), report_a())
        want = {
            'bytes': ['make_node', 'load_table', 'app+0x2000', 'strdup'],
            'blocks': ['app+0x2000', 'make_node', 'load_table', 'strdup'],
            'peak': ['load_table', 'make_node', 'app+0x2000', 'strdup'],
            'leaked': ['load_table', 'strdup', 'make_node', 'app+0x2000'],
            # blocks * 4096 / (4096 + lifetime_total / blocks): 99.6, 4.5, 1.15, 1.0
            'short': ['app+0x2000', 'make_node', 'load_table', 'strdup'],
        }
        for key, order in want.items():
            res = tool('report', '--sort', key, a)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertEqual([label for _, label in ranked(res.stdout)], order, key)
        res = tool('report', '--sort', 'short', a)
        self.assertIn('; mean life 16 B\n     at app+0x2000 (app)', res.stdout)

    def test_collapsed(self):
        a = write_json(self.path('a.json'), report_a())
        res = tool('report', '--format', 'collapsed', a)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(parse_collapsed(res.stdout), {
            ('main', 'parse', 'make_node'): 5000,
            ('main', 'app+0x2000'): 1600,
            ('main', 'load_table', '_Znwm'): 3000,
            ('main', 'strdup'): 200,
            ('[unattributed]',): 300,
        })
        self.assertEqual(sum(parse_collapsed(res.stdout).values()), report_a()['totals']['bytes'])
        res = tool('report', '--format=collapsed', '--weight', 'blocks', a)
        folded = parse_collapsed(res.stdout)
        self.assertEqual(folded[('main', 'app+0x2000')], 100)
        self.assertEqual(folded[('[unattributed]',)], 7)
        self.assertEqual(sum(folded.values()), 120)

    def test_merge_by_symbolized_stack(self):
        a = write_json(self.path('a.json'), report_a())
        b = write_json(self.path('b.json'), report_b())
        res = tool('report', '--format', 'json', a, b)
        self.assertEqual(res.returncode, 0, res.stderr)
        m = json.loads(res.stdout)
        ta, tb = report_a()['totals'], report_b()['totals']
        self.assertEqual(m['totals'], {k: ta[k] + tb[k] for k in ta})
        self.assertEqual(m['calls']['malloc'], 151)
        self.assertEqual(m['merged'], {'reports': 2, 'pids': [100, 101],
                                       'peaks': "sum of each process's peak"})
        by_first = {}
        for s in m['sites']:
            f = s['frames'][0]
            by_first.setdefault(f['function'] if f['function'] != '??' else f['offset'], []).append(s)
        # make_node: same module and offsets in another path of "app": one site; another
        # offset in make_node (another call in the function) stays apart.
        self.assertEqual([(s['blocks'], s['bytes'], s['at_peak_bytes']) for s in by_first['make_node']],
                         [(15, 7500, 1500), (1, 0, 0)])
        # Unknown functions fall back to module+offset: 0x2000 merges, 0x2004 stays apart.
        self.assertEqual([(s['blocks'], s['bytes'], s['lifetime_total']) for s in by_first['0x2000']],
                         [(120, 1920, 1920)])
        self.assertEqual([s['bytes'] for s in by_first['0x2004']], [1180])
        self.assertEqual(len(m['sites']), 6)
        self.assertEqual([s['bytes'] for s in m['sites']], sorted((s['bytes'] for s in m['sites']),
                                                                 reverse=True))
        # The merged report is a report: it reads back unchanged.
        again = tool('report', '--format', 'json', write_json(self.path('m.json'), m))
        self.assertEqual(json.loads(again.stdout), m)
        # Text of the merge names the processes.
        res = tool('report', a, b)
        self.assertIn('modalloc report: 2 reports merged (pids 100 101)\n', res.stdout)
        self.assertIn('  allocated  13.8 KiB in 151 blocks\n', res.stdout)
        folded = parse_collapsed(tool('report', '--format', 'collapsed', a, b).stdout)
        self.assertEqual(sum(folded.values()), 14100)

    def test_directory_argument(self):
        d = self.path('runs')
        import os
        os.mkdir(d)
        write_json(self.path('runs', 'modalloc.100.json'), report_a())
        write_json(self.path('runs', 'modalloc.101.json'), report_b())
        write_json(self.path('runs', 'dhat.100.json'), {'dhatFileVersion': 2})
        res = tool('report', '--format', 'json', d)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(json.loads(res.stdout)['merged']['pids'], [100, 101])

    def test_json_of_one_report_keeps_its_timeline(self):
        r = report_a()
        r['timeline'] = {'unit': 'bytes_allocated', 'interval': 65536, 'peak': [300, 4500],
                         'columns': ['clock', 'live_bytes', 'rss_bytes'],
                         'points': [[100, 100, 0], [300, 4500, 0], [10100, 3200, 123]]}
        res = tool('report', '--format', 'json', write_json(self.path('t.json'), r))
        self.assertEqual(res.returncode, 0, res.stderr)
        m = json.loads(res.stdout)
        self.assertEqual(m['timeline'], r['timeline'])
        self.assertEqual(m['totals'], r['totals'])
        self.assertNotIn('merged', m)
        # Merged with another process, one clock per process means nothing: dropped.
        b = write_json(self.path('b.json'), report_b())
        m = json.loads(tool('report', '--format', 'json', self.path('t.json'), b).stdout)
        self.assertNotIn('timeline', m)

    def test_report_without_sites(self):
        r = report(blocks=4, nbytes=400, frees=4, freed=400, peak=200, peak_blocks=2)
        p = write_json(self.path('r.json'), r)
        res = tool('report', p)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn('  allocated  400 B in 4 blocks\n', res.stdout)
        self.assertIn('No call sites in this report (it was made with call sites off', res.stdout)
        res = tool('report', '--format', 'collapsed', p)
        self.assertEqual(res.stdout, '[unattributed] 400\n')
        res = tool('report', '--format', 'json', p)
        self.assertNotIn('sites', json.loads(res.stdout))

    def test_real_run(self):
        d = self.path('out')
        self.assertEqual(tool('-o', d, SITES_1).returncode, 0)
        r = next(iter(reports_in(d).values()))
        folded = parse_collapsed(tool('report', '--format', 'collapsed', d).stdout)
        self.assertEqual(sum(folded.values()), r['totals']['bytes'])
        big = {k: v for k, v in folded.items() if k[-2:] == ('main', 'alloc_big')}
        self.assertEqual(list(big.values()), [10000], folded)
        folded = parse_collapsed(tool('report', '--format', 'collapsed', '--weight', 'blocks',
                                      d).stdout)
        self.assertEqual(sum(folded.values()), r['totals']['blocks'])
        res = tool('report', d)
        self.assertIn('     at alloc_big (tool-sites-1)\n     <- main (tool-sites-1)\n', res.stdout)
        # Totals only: a run with --counters-only still renders.
        d2 = self.path('c')
        self.assertEqual(tool('-o', d2, '--counters-only', EXITCODE, '0').returncode, 0)
        res = tool('report', d2)
        self.assertIn('  allocated  2.9 KiB in 3 blocks\n', res.stdout)

    def test_dhat_format(self):
        """--format dhat: a DHAT v2 file whose sums equal the report's totals, and the same
        program points as the library's own MOD_ALLOC_DHAT file of the same run."""
        d = self.path('dh')
        self.assertEqual(tool('-o', d, '--dhat', '--no-lines', SITES_1).returncode, 0)
        r = next(iter(reports_in(d).values()))
        out = tool('report', '--format', 'dhat', d)
        self.assertEqual(out.returncode, 0, out.stderr)
        dh = json.loads(out.stdout)
        self.assertEqual(dh['dhatFileVersion'], 2)
        self.assertEqual(dh['ftbl'][0], '[root]')
        self.assertEqual((dh['bklt'], dh['bkacc']), (True, False))
        pps, t = dh['pps'], r['totals']
        for k, want in (('tb', t['bytes']), ('tbk', t['blocks']), ('gb', t['peak_bytes']),
                        ('gbk', t['peak_blocks']), ('eb', t['live_bytes']), ('ebk', t['live_blocks'])):
            self.assertEqual(sum(p[k] for p in pps), want, k)
        fss = [tuple(p['fs']) for p in pps]
        self.assertEqual(len(fss), len(set(fss)), 'repeated program point')
        self.assertTrue(all(0 < i < len(dh['ftbl']) for f in fss for i in f))
        self.assertEqual(dh['te'], t['bytes'])
        self.assertEqual(dh['tg'], r['timeline']['peak'][0])
        lib = [f for f in __import__('os').listdir(d) if f.startswith('dhat.')]
        self.assertEqual(len(lib), 1, lib)
        with open(__import__('os').path.join(d, lib[0])) as fh:
            libdh = json.load(fh)
        def points(doc):
            return sorted((tuple(doc['ftbl'][i] for i in p['fs']),
                           tuple(p[k] for k in ('tb', 'tbk', 'tl', 'mb', 'mbk', 'gb', 'gbk', 'eb', 'ebk')))
                          for p in doc['pps'])
        self.assertEqual(points(dh), points(libdh))
        # The rules tests/dhat holds the library's files to (src/report_dhat.c), on this writer's.
        check = load_checker()
        if check:
            self.assertEqual(check(dh), [])
            self.assertEqual(check(libdh), [])
        # Without call sites there is nothing to draw: one error line, exit 2.
        d2 = self.path('c2')
        self.assertEqual(tool('-o', d2, '--counters-only', EXITCODE, '0').returncode, 0)
        res = tool('report', '--format', 'dhat', d2)
        self.assertEqual(res.returncode, 2)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)

    def test_two_sites_in_one_function_stay_apart(self):
        """Issue 10: a 1000-byte leak on line 13 and 50 x 10 bytes on line 15 of main are two
        call sites in report text, collapsed, json, diff and check, with and without lines."""
        d = self.path('out')
        self.assertEqual(tool('-o', d, TWO_SITES).returncode, 0)
        (path, r), = reports_in(d).items()
        self.assertEqual(len(r['sites']), 2, r['sites'])

        def check_all(annotated):
            res = tool('report', path)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn('Top 2 of 2 call sites by bytes:\n', res.stdout)
            self.assertIn('#1   1000 B in 1 block; at peak 1000 B; leaked 1000 B\n'
                          '     at main (tool-two-sites%s)\n'
                          % (', two_sites.c:13' if annotated else ''), res.stdout)
            self.assertIn('#2   500 B in 50 blocks; at peak 10 B; leaked 0 B\n'
                          '     at main (tool-two-sites%s)\n'
                          % (', two_sites.c:15' if annotated else ''), res.stdout)
            m = json.loads(tool('report', '--format', 'json', path).stdout)
            self.assertEqual([(s['blocks'], s['bytes']) for s in m['sites']],
                             [(1, 1000), (50, 500)])
            # Two processes of the same binary: the same two sites, each doubled.
            m = json.loads(tool('report', '--format', 'json', path, copy).stdout)
            self.assertEqual([(s['blocks'], s['bytes']) for s in m['sites']],
                             [(2, 2000), (100, 1000)])
            folded = tool('report', '--format', 'collapsed', path).stdout.splitlines()
            weights = sorted(int(line.rsplit(' ', 1)[1]) for line in folded)
            self.assertEqual(weights, [500, 1000], folded)
            if annotated:
                self.assertTrue(folded[0].endswith(';main (two_sites.c:13) 1000'), folded)
                self.assertTrue(folded[1].endswith(';main (two_sites.c:15) 500'), folded)
            res = tool('diff', path, copy)
            self.assertIn('\nNo call site changed (2 unchanged).\n', res.stdout)
            # Only the leak is suppressed by its line's site: check counts the churn apart.
            res = tool('check', '--max-blocks', '50', path)
            self.assertEqual((res.returncode, res.stdout), (1, 'blocks: 51 > 50 [--max-blocks]\n'))

        copy = self.path('copy', 'modalloc.%d.json' % (r['pid'] + 1))
        __import__('os').mkdir(self.path('copy'))
        other = dict(r, pid=r['pid'] + 1)
        for s in other['sites']:  # another process: other load address, same offsets
            for f in s['frames']:
                f['ip'] = hex(int(f['ip'], 16) + 0x10000000)
        write_json(copy, other)
        check_all(False)
        if not HAS_LINES:
            raise unittest.SkipTest('modalloc lines is not built (no libdw)')
        for p in (path, copy):
            res = tool('lines', p)
            self.assertEqual(res.returncode, 0, res.stderr)
        check_all(True)

    def test_shallow_warning_and_plurals(self):
        """Issue 10: stacks.shallow_warning is said in the text; "1 block", not "1 blocks"."""
        r = report(blocks=1, nbytes=10, live=10, live_blocks=1, peak=10, peak_blocks=1,
                   sites=[site([frame('main')], blocks=1, nbytes=10, live=10)])
        p = write_json(self.path('r.json'), r)
        out = tool('report', p).stdout
        self.assertIn('  allocated  10 B in 1 block\n', out)
        self.assertIn('#1   10 B in 1 block; at peak 0 B; leaked 10 B\n', out)
        self.assertNotIn('warning', out)
        r['stacks']['shallow_warning'] = True
        out = tool('report', write_json(p, r)).stdout
        self.assertIn('  warning    call stacks end early in code without frame pointers: '
                      'rebuild\n             with -fno-omit-frame-pointer for whole call sites\n',
                      out)

    def test_options_after_files_and_escaped_commands(self):
        """Issue 10: `report FILE --top 1` took --top for a file (getopt_long now); a command
        with a newline stays on one line."""
        a = write_json(self.path('a.json'), report_a())
        want = tool('report', '--top', '1', a)
        self.assertEqual(want.returncode, 0, want.stderr)
        self.assertIn('Top 1 of 4 call sites by bytes:\n', want.stdout)
        for args in ((a, '--top', '1'), (a, '--top=1'), ('--top', '1', '--', a)):
            res = tool('report', *args)
            self.assertEqual((res.returncode, res.stdout, res.stderr), (0, want.stdout, ''), args)
        dash = write_json(self.path('--top'), report_a())
        res = tool('report', '--', dash)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertOneErrorLine(tool('report', a, '--top'), 'option --top needs a value')
        self.assertOneErrorLine(tool('report', a, '-x'), "report: unknown option '-x'")
        nl = write_json(self.path('nl.json'), dict(report_a(), cmd='./app\n--evil\tx'))
        out = tool('report', nl).stdout
        self.assertIn('  pid 100: ./app\\n--evil\\tx\n', out)

    def test_bad_options(self):
        a = write_json(self.path('a.json'), report_a())
        self.assertOneErrorLine(tool('report', '--sort', 'size', a), "'size'")
        self.assertOneErrorLine(tool('report', '--format', 'xml', a), "'xml'")
        self.assertOneErrorLine(tool('report', '--weight', 'kg', a), "'kg'")
        self.assertOneErrorLine(tool('report', '--top', '-1', a), '--top')
        self.assertOneErrorLine(tool('report'), 'no FILE')


if __name__ == '__main__':
    main()
