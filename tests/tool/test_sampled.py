# SPDX-License-Identifier: Apache-2.0
"""Sampled reports (issue 14: MOD_ALLOC_SAMPLE): every subcommand says where a figure is an
estimate.

A sampled report has config.sample_bytes (the mean bytes between samples) and
config.sample_seed, sites[].samples (the sampled blocks behind each site's estimates),
stacks.samples; its site numbers are the library's unbiased estimates, its totals and calls
exact.  The reports here are made by hand with chosen numbers; one case edits a real report of
progs/pprof_sites.c into a sampled one, and one (when the library samples) runs it sampled.
The pprof cases read the output with `go tool pprof` and skip without `go`.
"""
import json
import math
import os
import random
import re
import unittest
import xml.etree.ElementTree as ET

from tooltest import (GO, speedscope_rows, GoTest, ToolTest, clean_env, frame, main, report, reports_in, site, tool,
                      write_json)

PROG = os.environ.get('TOOL_PPROF_SITES', '')
KIB, MIB = 1024, 1024 * 1024
RATE = 512 * KIB

MAIN = frame('main', offset='0x1900')


def big():
    return site([frame('alloc_big', offset='0x1100'), MAIN], blocks=40, nbytes=20 * MIB,
                at_peak=10 * MIB, live=5 * MIB, live_blocks=10, samples=25)


def small():
    return site([frame('alloc_small', offset='0x1200'), MAIN], blocks=2048, nbytes=MIB,
                samples=2)


def leaf():
    return site([frame('leaf_alloc', offset='0x1300'), frame('caller_b', offset='0x1400'), MAIN],
                blocks=100, nbytes=512 * KIB, live=512 * KIB, live_blocks=100, samples=1)


def sampled(sites, pid=1000, rate=RATE, seed=11, **kw):
    """A sampled report: totals exact (chosen apart from the sites' estimates)."""
    args = dict(pid=pid, blocks=2500, nbytes=23000000, frees=2400, freed=16000000,
                peak=12 * MIB, peak_blocks=300, live=6 * MIB, live_blocks=100)
    args.update(kw)
    r = report(sites=sites, **args)
    r['config'].update(sample_bytes=rate, sample_seed=seed)
    r['stacks']['samples'] = sum(s['samples'] for s in sites)
    return r


def exact(sites, pid=1000, **kw):
    """The same shape unsampled: no sample keys at all."""
    r = sampled(sites, pid=pid, **kw)
    del r['config']['sample_bytes'], r['config']['sample_seed'], r['stacks']['samples']
    for s in r['sites']:
        del s['samples']
    return r


class Sampled(ToolTest):

    def write(self, name, r):
        return write_json(self.path(name), r)

    def test_report_text(self):
        """A header line says the site figures are estimates, with the rate and the samples;
        each estimate is marked "~" with its samples; totals stay as they are; --sort ranks
        by the estimates."""
        p = self.write('modalloc.1000.json', sampled([big(), small(), leaf()]))
        res = tool('report', p)
        self.assertEqual((res.returncode, res.stderr), (0, ''))
        self.assertIn('  allocated  21.9 MiB in 2,500 blocks\n', res.stdout)
        self.assertIn('  sampled    per-site figures are estimates (sampled every 512 KiB, '
                      '28 samples)\n', res.stdout)
        self.assertIn('#1   ~20.0 MiB in ~40 blocks; at peak ~10.0 MiB; leaked ~5.0 MiB; '
                      '25 samples\n     at alloc_big (app)\n', res.stdout)
        self.assertIn('#2   ~1.0 MiB in ~2,048 blocks; at peak ~0 B; leaked ~0 B; 2 samples\n',
                      res.stdout)
        self.assertIn('#3   ~512.0 KiB in ~100 blocks; at peak ~0 B; leaked ~512.0 KiB; '
                      '1 sample\n', res.stdout)
        for key, order in (('blocks', ['alloc_small', 'leaf_alloc', 'alloc_big']),
                           ('leaked', ['alloc_big', 'leaf_alloc', 'alloc_small']),
                           ('peak', ['alloc_big', 'alloc_small', 'leaf_alloc'])):
            out = tool('report', '--sort', key, p).stdout
            self.assertEqual(re.findall(r'\n#\d.*\n     at (\S+)', out), order, key)
        # An exact report has neither the line nor the marks.
        out = tool('report', self.write('e.json', exact([big(), small(), leaf()]))).stdout
        self.assertNotIn('sampled', out)
        self.assertNotIn('~', out)
        self.assertIn('#1   20.0 MiB in 40 blocks; at peak 10.0 MiB; leaked 5.0 MiB\n', out)

    def test_json_keeps_the_sampling_keys(self):
        """--format json writes config.sample_bytes/sample_seed, sites[].samples and
        stacks.samples back as read; an exact report gets none of them."""
        src = sampled([big(), small(), leaf()])
        m = json.loads(tool('report', '--format', 'json',
                            self.write('modalloc.1000.json', src)).stdout)
        self.assertEqual((m['config']['sample_bytes'], m['config']['sample_seed']), (RATE, 11))
        self.assertEqual([(s['bytes'], s['samples']) for s in m['sites']],
                         [(20 * MIB, 25), (MIB, 2), (512 * KIB, 1)])
        self.assertEqual(m['stacks']['samples'], 28)
        self.assertNotIn('merged', m)
        e = json.loads(tool('report', '--format', 'json',
                            self.write('e.json', exact([big()]))).stdout)
        self.assertNotIn('sample_bytes', e['config'])
        self.assertNotIn('samples', e['sites'][0])

    def test_merge_sampled_exact_and_other_rates(self):
        """Sampled (512 KiB), exact and sampled (64 KiB) reports merge: estimates and samples
        add, the merged report says it is sampled (the largest rate, the first sampled
        report's seed) and lists the rates, 0 for the exact one; read back, it is the same."""
        e = self.write('modalloc.2.json', exact([big()], pid=2))
        a = self.write('modalloc.1.json', sampled([big(), small()], pid=1, seed=11))
        c = self.write('modalloc.3.json', sampled([dict(small(), samples=20), leaf()], pid=3,
                                                   rate=64 * KIB, seed=5))
        m = json.loads(tool('report', '--format', 'json', e, a, c).stdout)
        self.assertEqual((m['config']['sample_bytes'], m['config']['sample_seed']), (RATE, 11))
        self.assertEqual(m['merged']['sample_bytes'], [0, 64 * KIB, RATE])
        self.assertEqual(m['stacks']['samples'], 27 + 21)
        got = {s['frames'][0]['function']: (s['blocks'], s['bytes'], s['samples'])
               for s in m['sites']}
        self.assertEqual(got, {'alloc_big': (80, 40 * MIB, 25),
                               'alloc_small': (4096, 2 * MIB, 22),
                               'leaf_alloc': (100, 512 * KIB, 1)})
        self.assertEqual(m['totals']['bytes'], 3 * 23000000)
        again = self.write('merged.json', m)
        self.assertEqual(json.loads(tool('report', '--format', 'json', again).stdout), m)
        out = tool('report', e, a, c).stdout
        self.assertIn('  sampled    per-site figures are estimates (sampled every 64 KiB or '
                      '512 KiB, some reports exact, 48 samples)\n', out)
        self.assertIn('#1   ~40.0 MiB in ~80 blocks; at peak ~20.0 MiB; leaked ~10.0 MiB; '
                      '25 samples\n', out)

    def test_collapsed_and_dhat_carry_the_estimates(self):
        """Folded stacks and DHAT carry the estimates as given; a sampled report gets no
        [unattributed] remainder (the gap to the exact totals is sampling noise)."""
        p = self.write('modalloc.1000.json', sampled([big(), small(), leaf()]))
        out = tool('report', '--format', 'collapsed', p).stdout
        self.assertEqual(out, 'main;alloc_big %d\nmain;alloc_small %d\n'
                              'main;caller_b;leaf_alloc %d\n' % (20 * MIB, MIB, 512 * KIB))
        out = tool('report', '--format', 'collapsed',
                   self.write('e.json', exact([big(), small(), leaf()]))).stdout
        self.assertTrue(out.endswith('\n[unattributed] %d\n'
                                     % (23000000 - 20 * MIB - MIB - 512 * KIB)), out)
        d = json.loads(tool('report', '--format', 'dhat', p).stdout)
        self.assertEqual(d['cmd'], './app [modalloc: per-site figures estimated, sampled every '
                                   '512 KiB (unbiased estimates); totals exact]')
        self.assertEqual(sorted((pp['tb'], pp['tbk'], pp['eb'], pp['gb']) for pp in d['pps']),
                         [(512 * KIB, 100, 512 * KIB, 0), (MIB, 2048, 0, 0),
                          (20 * MIB, 40, 5 * MIB, 10 * MIB)])

    def diff(self, old, new):
        res = tool('diff', '--top', '0', self.write('old.json', old), self.write('new.json', new))
        self.assertEqual((res.returncode, res.stderr), (0, ''))
        return res.stdout

    def test_diff_ignores_changes_within_the_noise(self):
        """Between sampled reports a change within 2 standard deviations of the estimates
        (from their samples; a site absent from a sampled report may have drawn no sample)
        is not a change, and the output says so."""
        new_big = dict(big(), bytes=21 * MIB, blocks=42)       # sd ~3.6 MiB: noise
        new_small = dict(small(), bytes=8 * MIB, blocks=16384, samples=16)  # beyond
        other = site([frame('other', offset='0x1500'), MAIN], blocks=8, nbytes=4 * MIB,
                     samples=6)                                # new, beyond the noise
        # leaf (512 KiB, 1 sample) gone: noise.
        out = self.diff(sampled([big(), small(), leaf()]),
                        sampled([new_big, new_small, other], seed=12))
        self.assertIn('\nCall sites are sampled: their figures are estimates (~), the totals '
                      'exact.\n  OLD: sampled every 512 KiB (28 samples)\n'
                      '  NEW: sampled every 512 KiB (47 samples)\n'
                      '\n2 call sites changed beyond sampling noise, 0 unchanged; by change in '
                      'bytes:\n'
                      '(2 more within sampling noise, 2 standard deviations of the estimates\n'
                      'from the samples behind them: not listed)\n'
                      '        bytes             blocks  site (callers to the right)\n'
                      '    ~+7.0 MiB (+700%)   ~+14,336  alloc_small < main\n'
                      '    ~+4.0 MiB   (new)        ~+8  other < main\n', out)
        self.assertTrue(out.endswith('other < main\n'), out)
        # Everything within the noise.
        out = self.diff(sampled([big(), small(), leaf()]), sampled([new_big, small()]))
        self.assertTrue(out.endswith('\nNo call site changed beyond sampling noise (1 '
                                     'unchanged).\n(2 more within sampling noise, 2 standard '
                                     'deviations of the estimates\nfrom the samples behind them: '
                                     'not listed)\n'), out)

    def test_diff_noise_threshold_is_calibrated(self):
        """Simulated sampled runs (each block sampled with probability 1 - exp(-size/rate),
        scaled by its inverse, as the library estimates): between two runs of the same
        program about 5% of the sites are listed as changed (2 standard deviations), and
        a site that allocates 3 times as much is listed in nearly every pair."""
        rng = random.Random(14)
        sites = [('tiny', 64, 100000), ('page', 4096, 5000), ('huge', MIB, 20),
                 ('rare', 100, 1000), ('mid', 20000, 300)]

        def run(scale_page=1):
            out = []
            for i, (name, size, n) in enumerate(sites):
                n = n * scale_page if name == 'page' else n
                p = 1 - math.exp(-size / RATE)
                k = sum(1 for _ in range(n) if rng.random() < p)
                if k:
                    out.append(site([frame(name, offset=hex(0x1000 + 16 * i)), MAIN],
                                    blocks=round(k / p), nbytes=round(k * size / p), samples=k))
            return sampled(out)

        def listed(old, new):
            return re.findall(r'^ +~.*  (\w+) < main$', self.diff(old, new), re.M)

        false = [x for _ in range(40) for x in listed(run(), run())]
        found = [x for _ in range(40) for x in listed(run(), run(scale_page=3))]
        # 8 of 200 comparisons (4%; 2 standard deviations would give about 5%).
        self.assertEqual((len(false), found.count('page')), (8, 40), (false, found))

    def test_diff_exact_against_sampled(self):
        """Exact against sampled says which is which; the exact side adds no noise, so a
        small change of a well-sampled site is noise, a large one is not."""
        out = self.diff(exact([big(), small()]),
                        sampled([dict(big(), bytes=22 * MIB), dict(small(), bytes=9 * MIB, samples=40)]))
        self.assertIn('\nCall sites are sampled: their figures are estimates (~), the totals '
                      'exact.\n  OLD: exact\n  NEW: sampled every 512 KiB (65 samples)\n\n'
                      '1 call site changed beyond sampling noise, 0 unchanged; by change in '
                      'bytes:\n(1 more within sampling noise, ', out)
        self.assertIn('    ~+8.0 MiB (+800%)         ~0  alloc_small < main\n', out)
        # Two exact reports: no word of sampling, every change listed.
        out = self.diff(exact([big(), small()]),
                        exact([dict(big(), bytes=22 * MIB), dict(small(), bytes=9 * MIB)]))
        self.assertNotIn('sampl', out)
        self.assertIn('\n2 call sites changed, 0 unchanged; by change in bytes:\n', out)

    def test_check_says_estimated(self):
        """Limits on totals are checked exactly; the leaked figure less suppressed sites of
        a sampled report is an estimate, and the message says so."""
        p = self.write('modalloc.1000.json', sampled([big(), small(), leaf()]))
        sup = self.path('sup.txt')
        with open(sup, 'w') as f:
            f.write('leaf_alloc\n')
        res = tool('check', '--max-leaked', '1M', '--max-bytes', '1M', '--suppress', sup, p)
        self.assertEqual((res.returncode, res.stderr), (1, ''))
        self.assertEqual(res.stdout,
                         'bytes: 21.9 MiB (23000000) > 1.0 MiB (1048576) [--max-bytes]\n'
                         'leaked (estimated): 5.5 MiB (5767168) > 1.0 MiB (1048576) '
                         '[--max-leaked] (an estimated 512.0 KiB in 1 suppressed sites not '
                         'counted)\n')
        # Without suppressions the leaked figure is the exact total.
        res = tool('check', '--max-leaked', '1M', p)
        self.assertEqual(res.stdout, 'leaked: 6.0 MiB (6291456) > 1.0 MiB (1048576) '
                                     '[--max-leaked]\n')

    def test_plot_labels_estimates(self):
        """The call-site bar of a sampled report is titled "estimated", with the rate."""
        tl = [[0, 0, 0], [8 * MIB, 12 * MIB, 0], [23000000, 6 * MIB, 0]]
        p = self.write('modalloc.1000.json', sampled([big(), small(), leaf()], timeline=tl))
        out = self.path('p.svg')
        res = tool('plot', p, '-o', out)
        self.assertEqual(res.returncode, 0, res.stderr)
        root = ET.parse(out).getroot()
        g = [e for e in root.iter() if e.get('id') == 'sites-at-peak'][0]
        self.assertEqual(g.get('data-estimated'), 'true')
        texts = [''.join(t.itertext()) for t in g.iter('{http://www.w3.org/2000/svg}text')]
        self.assertEqual(texts[0], 'Heap at the peak by call site, estimated (sampled every '
                                   '512 KiB) (~10.0 MiB)')
        self.assertEqual(texts[1], '100.0%  ~10.0 MiB  alloc_big')
        res = tool('plot', self.write('e.json', exact([big()], timeline=tl)), '-o', out)
        g = [e for e in ET.parse(out).getroot().iter() if e.get('id') == 'sites-at-peak'][0]
        self.assertIsNone(g.get('data-estimated'))
        self.assertEqual(''.join(next(g.iter('{http://www.w3.org/2000/svg}text')).itertext()),
                         'Heap at the peak by call site (10.0 MiB)')


class SampledPprof(GoTest):
    """`report --format pprof` of a sampled report, read by `go tool pprof`."""

    def setUp(self):
        if not GO:
            raise unittest.SkipTest('go is not installed (Debian: golang-go)')
        super().setUp()

    def top(self, profile, index):
        """{name: flat} of -top (integers), the output."""
        out = self.pprof('-top', '-nodecount=1000', '-unit=B', '-symbolize=none',
                         '-sample_index=' + index, profile)
        rows = {}
        for line in out.splitlines():
            m = re.match(r'^\s*(\d+)B?\s+\S+%\s+\S+%\s+(\d+)B?\s+\S+%\s+(.+)$', line)
            if m and int(m.group(1)):
                rows[m.group(3)] = int(m.group(1))
        return rows, out

    def convert(self, path):
        out = self.path('p.pb.gz')
        res = tool('report', '--format', 'pprof', path, '-o', out)
        self.assertEqual((res.returncode, res.stderr), (0, ''))
        return out

    def test_values_are_the_estimates(self):
        """go tool pprof shows the estimates as written (no rescaling by the period), the
        period is the sampling rate as in a Go heap profile, a comment says the values are
        estimates, and no [unattributed] sample is made."""
        p = self.convert(self.write_report(sampled([big(), small(), leaf()])))
        rows, out = self.top(p, 'alloc_space')
        self.assertEqual(rows, {'alloc_big': 20 * MIB, 'alloc_small': MIB,
                                'leaf_alloc': 512 * KIB}, out)
        rows, out = self.top(p, 'inuse_objects')
        self.assertEqual(rows, {'alloc_big': 10, 'leaf_alloc': 100}, out)
        raw = self.pprof('-raw', '-symbolize=none', p)
        self.assertIn('PeriodType: space bytes\nPeriod: %d\n' % RATE, raw)
        self.assertIn('Comment: modalloc: sampled every 524288 bytes; values are estimates\n', raw)
        self.assertNotIn('unattributed', raw)
        # Exact: period 1, no such comment.
        raw = self.pprof('-raw', '-symbolize=none',
                         self.convert(self.write_report(exact([big()]))))
        self.assertIn('Period: 1\n', raw)
        self.assertNotIn('estimates', raw)

    def test_real_report_edited_into_a_sampled_one(self):
        """A real report of progs/pprof_sites.c, edited as the library would write it sampled
        at 4 KiB: -top -sample_index=alloc_space lists the estimates of `report --sort
        bytes`, site by site and in order."""
        d = self.path('out')
        res = tool('-o', d, PROG)
        self.assertEqual(res.returncode, 0, res.stderr)
        (path, r), = reports_in(d).items()
        r['config'].update(sample_bytes=4096, sample_seed=3)
        # By the allocating function and its caller.
        est = {('alloc_big', 'main'): (14, 13845, 3), ('alloc_small', 'main'): (64, 4096, 1),
               ('leaf_alloc', 'caller_b'): (21, 4198, 1)}
        kept = []
        for s in r['sites']:
            e = est.get((s['frames'][0]['function'], s['frames'][1]['function']))
            if e:
                s.update(blocks=e[0], bytes=e[1], samples=e[2])
                kept.append(s)
        r['sites'] = kept  # caller_a's 400 bytes drew no sample
        r['stacks']['samples'] = 5
        write_json(path, r)
        text = tool('report', '--sort', 'bytes', d).stdout
        self.assertIn('(sampled every 4 KiB, 5 samples)', text)
        ranked = re.findall(r'\n#\d+ +~(\S+ \S+) in .*\n     at (\S+) ', text)
        self.assertEqual(ranked, [('13.5 KiB', 'alloc_big'), ('4.1 KiB', 'leaf_alloc'),
                                  ('4.0 KiB', 'alloc_small')])
        rows, out = self.top(self.convert(d), 'alloc_space')
        self.assertEqual(rows, {'alloc_big': 13845, 'leaf_alloc': 4198, 'alloc_small': 4096}, out)
        self.assertEqual([k for k, _ in sorted(rows.items(), key=lambda kv: -kv[1])],
                         [fn for _, fn in ranked])

    def test_real_sampled_run(self):
        """End to end: progs/pprof_sites.c run sampled by the library.  At a mean of 1 byte
        every block is sampled (p = 1 - exp(-size) = 1): the estimates are the truth, marked
        as estimates everywhere; at 4 KiB with a seed two runs give the same sites, and
        go tool pprof -top lists the report's estimates, site by site."""
        def run(name, **env):
            d = self.path(name)
            res = tool('-o', d, PROG, env=clean_env(**env))
            self.assertEqual(res.returncode, 0, res.stderr)
            (r,) = reports_in(d).values()
            self.summary = res.stderr
            return d, r
        d, r = run('one', MOD_ALLOC_SAMPLE='1', MOD_ALLOC_SAMPLE_SEED='9')
        if 'sample_bytes' not in r['config']:
            raise unittest.SkipTest('the library does not sample (MOD_ALLOC_SAMPLE ignored)')
        self.assertIn('\ntop call sites of the tree, by bytes, estimated (sampled every 1 B; '
                      'callers to the right):\n   ~9.8 KiB         ~10 blocks  alloc_big < main',
                      self.summary)
        self.assertEqual((r['config']['sample_bytes'], r['config']['sample_seed']), (1, 9))
        got = sorted((s['frames'][0]['function'], s['blocks'], s['bytes'], s['live_bytes'],
                      s['samples']) for s in r['sites'])
        self.assertEqual(got, [('alloc_big', 10, 10000, 3000, 10),
                               ('alloc_small', 100, 6400, 0, 100),
                               ('leaf_alloc', 2, 400, 0, 2), ('leaf_alloc', 4, 800, 800, 4)])
        self.assertEqual(r['stacks']['samples'], 116)
        text = tool('report', d).stdout
        self.assertIn('  sampled    per-site figures are estimates (sampled every 1 B, '
                      '116 samples)\n', text)
        self.assertIn('#1   ~9.8 KiB in ~10 blocks; at peak ~3.9 KiB; leaked ~2.9 KiB; '
                      '10 samples\n', text)
        rows, out = self.top(self.convert(d), 'alloc_space')
        self.assertEqual(rows, {'alloc_big': 10000, 'alloc_small': 6400, 'leaf_alloc': 1200}, out)
        # Sampled at 4 KiB: estimates, reproducible with a seed.
        d1, r1 = run('a', MOD_ALLOC_SAMPLE='4K', MOD_ALLOC_SAMPLE_SEED='5')
        d2, r2 = run('b', MOD_ALLOC_SAMPLE='4K', MOD_ALLOC_SAMPLE_SEED='5')
        key = lambda r: sorted((s['frames'][0]['function'], s['frames'][1]['function'],
                                s['blocks'], s['bytes'], s['samples']) for s in r['sites'])
        self.assertEqual(key(r1), key(r2))
        self.assertEqual(r1['config']['sample_bytes'], 4096)
        self.assertEqual(r1['stacks']['samples'], sum(s['samples'] for s in r1['sites']))
        self.assertEqual(r1['totals']['bytes'], 17600)  # totals stay exact
        rows, out = self.top(self.convert(d1), 'alloc_space')
        want = {}
        for s in r1['sites']:
            fn = s['frames'][0]['function']
            want[fn] = want.get(fn, 0) + s['bytes']
        self.assertEqual(rows, {k: v for k, v in want.items() if v}, out)
        self.assertIn('Period: 4096\n', self.pprof('-raw', '-symbolize=none', self.convert(d1)))

    def test_speedscope(self):
        """speedscope imports a sampled profile and shows the estimates (inuse_space, the
        default sample type) as they are."""
        p = self.convert(self.write_report(sampled([big(), small(), leaf()])))
        rows = speedscope_rows(self, p)
        # 5 MiB and 512 KiB of 5.5 MiB, in speedscope's own units and rounding.
        self.assertEqual(rows['alloc_big'], ('5.00 MB (91%)', '5.00 MB (91%)'), rows)
        self.assertEqual(rows['leaf_alloc'], ('512.00 KB (9.1%)', '512.00 KB (9.1%)'), rows)
        self.assertNotIn('alloc_small', rows)

    def write_report(self, r):
        return write_json(self.path('modalloc.%d.json' % r['pid']), r)


if __name__ == '__main__':
    main()
