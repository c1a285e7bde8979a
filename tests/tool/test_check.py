# SPDX-License-Identifier: Apache-2.0
"""`modalloc check`: limits, sizes, suppressions, exit codes."""
import json
import os
import unittest

from tooltest import (CXX, EXITCODE, THREADS, ToolTest, frame, main, report, reports_in, site,
                      tool, write_json)

LIBC = '/lib/x86_64-linux-gnu/libc.so.6'
STDCXX = '/lib/x86_64-linux-gnu/libstdc++.so.6'


def leaky():
    """3000 bytes leaked: 1024 by stdio's buffer, 1976 by the program itself;
    a start-up site of libstdc++ that is not live must change nothing."""
    return report(blocks=100, nbytes=10000, frees=97, freed=7000, peak=5000, peak_blocks=4,
                  live=3000, live_blocks=3, sites=[
                      site([frame('_IO_file_doallocate', module=LIBC, offset='0x7a000'),
                            frame('_IO_doallocbuf', module=LIBC, offset='0x7b000'),
                            frame('main')], blocks=1, nbytes=1024, live=1024),
                      site([frame('keep_forever', offset='0x1400'), frame('main')], blocks=2,
                           nbytes=1976, live=1976, live_blocks=2),
                      site([frame('??', module=STDCXX, offset='0x9e0a0'),
                            frame('_dl_init', module='/lib64/ld-linux-x86-64.so.2',
                                  offset='0x5000')], blocks=1, nbytes=2000, live=0),
                      site([frame('work'), frame('main')], blocks=96, nbytes=5000),
                  ])


class Check(ToolTest):
    def setUp(self):
        super().setUp()
        self.r = write_json(self.path('r.json'), leaky())

    def check(self, *args):
        return tool('check', *(list(args) + [self.r]))

    def test_ok(self):
        res = self.check()
        # No limit: still "ok" for scripts, and one line says nothing was checked.
        self.assertEqual((res.returncode, res.stdout, res.stderr),
                         (0, 'ok\n', 'modalloc: check: no limit given (--max-blocks, --max-bytes, '
                                      '--max-peak, --max-leaked): nothing was checked\n'))
        res = self.check('--max-blocks', '100', '--max-bytes', '10000', '--max-peak', '5000',
                         '--max-leaked', '3000')
        self.assertEqual((res.returncode, res.stdout), (0, 'ok\n'))

    def test_each_limit_one_line(self):
        res = self.check('--max-blocks', '99')
        self.assertEqual((res.returncode, res.stdout), (1, 'blocks: 100 > 99 [--max-blocks]\n'))
        res = self.check('--max-blocks=99', '--max-bytes', '9999', '--max-peak', '4999',
                         '--max-leaked', '2999')
        self.assertEqual(res.returncode, 1)
        self.assertEqual(res.stdout.splitlines(), [
            'blocks: 100 > 99 [--max-blocks]',
            'bytes: 9.8 KiB (10000) > 9.8 KiB (9999) [--max-bytes]',
            'peak: 4.9 KiB (5000) > 4.9 KiB (4999) [--max-peak]',
            'leaked: 2.9 KiB (3000) > 2.9 KiB (2999) [--max-leaked]',
        ])

    def test_sizes(self):
        # Each pair: a SIZE equal to the figure passes, one byte less fails.
        for opt, ok, bad in (('--max-bytes', '9.765625k', '9999B'),
                             ('--max-peak', '4.8828125KiB', '4.8818359375KiB'),
                             ('--max-leaked', '2.9296875kb', '2k')):
            self.assertEqual(self.check(opt, ok).returncode, 0, (opt, ok))
            self.assertEqual(self.check(opt, bad).returncode, 1, (opt, bad))
        big = write_json(self.path('big.json'), report(blocks=1, nbytes=1610612736,
                                                       peak=2 << 20, live=123))
        for limit, rc in (('--max-bytes=1.5GiB', 0), ('--max-bytes=1.5G', 0),
                          ('--max-bytes=1610612735', 1), ('--max-bytes=1.4GiB', 1),
                          ('--max-peak=2M', 0), ('--max-peak=2MiB', 0), ('--max-peak=2047k', 1),
                          ('--max-leaked=123', 0), ('--max-leaked=122', 1),
                          ('--max-leaked=4k', 0), ('--max-leaked=10KiB', 0)):
            self.assertEqual(tool('check', limit, big).returncode, rc, limit)
        for bad in ('', 'k', '1.2.3', '10 parsecs', '-5', '1e3', '99999999999999999999'):
            res = self.check('--max-bytes', bad)
            self.assertOneErrorLine(res, '--max-bytes')
            self.assertEqual(res.returncode, 2)

    def test_default_suppressions(self):
        res = self.check('--max-leaked', '1976')
        self.assertEqual(res.returncode, 1)
        res = self.check('--max-leaked', '1976', '--suppress', 'default')
        self.assertEqual((res.returncode, res.stdout, res.stderr), (0, 'ok\n', ''))
        res = self.check('--max-leaked', '1975', '--suppress', 'default')
        self.assertEqual(res.returncode, 1)
        self.assertEqual(res.stdout, 'leaked: 1.9 KiB (1976) > 1.9 KiB (1975) [--max-leaked] '
                                     '(1.0 KiB in 1 suppressed sites not counted)\n')

    def test_suppression_file(self):
        sup = self.path('sup.txt')
        with open(sup, 'w') as f:
            f.write('# my leaks\n\n   keep_*   # kept on purpose\n')
        res = self.check('--max-leaked', '1024', '--suppress', sup)
        self.assertEqual(res.stdout, 'ok\n')
        res = self.check('--max-leaked', '1023', '--suppress', sup)
        self.assertEqual(res.returncode, 1)
        # Any frame counts, not only the innermost: "main" is in both leaking sites.
        with open(sup, 'w') as f:
            f.write('ma?n\n')
        self.assertEqual(self.check('--max-leaked', '0', '--suppress', sup).stdout, 'ok\n')
        # Two files add up.
        with open(sup, 'w') as f:
            f.write('_IO_*\n')
        sup2 = self.path('sup2.txt')
        with open(sup2, 'w') as f:
            f.write('keep_forever\n')
        res = self.check('--max-leaked', '0', '--suppress', sup, '--suppress', sup2)
        self.assertEqual(res.stdout, 'ok\n')
        res = self.check('--max-leaked', '0', '--suppress', sup2)
        self.assertEqual(res.returncode, 1)
        # An unknown function ("??") matches as module+offset.
        unk = write_json(self.path('unk.json'), report(blocks=1, nbytes=64, live=64, sites=[
            site([frame('??', module=LIBC, offset='0x7a000'), frame('main')], blocks=1,
                 nbytes=64, live=64)]))
        with open(sup, 'w') as f:
            f.write('libc.so.6+0x7a0*\n')
        self.assertEqual(tool('check', '--max-leaked', '0', unk).returncode, 1)
        self.assertEqual(tool('check', '--max-leaked', '0', '--suppress', sup, unk).stdout, 'ok\n')
        self.assertOneErrorLine(self.check('--suppress', self.path('missing.txt')), 'missing.txt')

    def test_each_report_counts_once(self):
        """Issue 10: `check DIR DIR/modalloc.N.json` counted that process twice."""
        d = self.path('run')
        self.assertEqual(tool('-o', d, EXITCODE, '0').returncode, 0)
        (p,) = [os.path.join(d, n) for n in os.listdir(d)]
        for args in ((d, p), (d, d + '/'), (p, os.path.join(d, '..', 'run', os.path.basename(p)))):
            res = tool('check', '--max-blocks', '3', *args)
            self.assertEqual((res.returncode, res.stdout, res.stderr), (0, 'ok\n', ''), args)
            res = tool('check', '--max-blocks', '2', *args)
            self.assertEqual((res.returncode, res.stdout), (1, 'blocks: 3 > 2 [--max-blocks]\n'))
        # A copy of the report under another name is the same process image: once, said once.
        cp = self.path('copy.json')
        with open(p) as f, open(cp, 'w') as g:
            g.write(f.read())
        res = tool('check', '--max-blocks', '3', d, cp)
        self.assertEqual((res.returncode, res.stdout), (0, 'ok\n'), res.stderr)
        self.assertEqual(res.stderr, 'modalloc: %s: the same process image as %s (pid %s): '
                         'counted once\n' % (cp, p, os.path.basename(p).split('.')[1]))
        res = tool('report', '--format', 'json', d, p)
        self.assertEqual(__import__('json').loads(res.stdout)['totals']['blocks'], 3)

    def real_leaks_suppressed(self, prog, want_function):
        d = self.path('run')
        res = tool('-o', d, prog)
        self.assertEqual(res.returncode, 0, res.stderr)
        (r,) = reports_in(d).values()
        live = [s for s in r['sites'] if s['live_bytes']]
        # Without the list the start-up allocations fail the check ...
        self.assertGreater(r['totals']['live_bytes'], 0)
        res = tool('check', '--max-leaked', '0', d)
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertTrue(res.stdout.startswith('leaked: '), res.stdout)
        self.assertTrue(any(f['function'] == want_function or
                            (want_function == '??' and f['function'] == '??' and
                             'libstdc++' in f['module']) for s in live for f in s['frames']),
                        live)
        # ... and with it the leaked figure is exactly 0.
        res = tool('check', '--max-leaked', '0', '--suppress', 'default', d)
        self.assertEqual((res.returncode, res.stdout, res.stderr), (0, 'ok\n', ''))

    def test_default_list_on_a_real_cxx_program(self):
        """Issue 10: every C++ program failed `check --max-leaked 0 --suppress default`
        with libstdc++'s 72,704-byte pool (module libstdc++.so.6.0.30, not .so.6)."""
        if not CXX:
            raise unittest.SkipTest('no C++ compiler')
        self.real_leaks_suppressed(CXX, '??')

    def test_default_list_on_a_real_threaded_program(self):
        """Issue 10: every threaded program failed with ld.so's allocate_dtv blocks."""
        self.real_leaks_suppressed(THREADS, 'allocate_dtv')

    def test_modules_match_across_versions(self):
        cxx = '/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30'
        ld = '/lib64/ld-linux-x86-64.so.2'
        r = write_json(self.path('v.json'), report(blocks=4, nbytes=1600, live=1600,
                                                   live_blocks=4, sites=[
            site([frame('??', module=cxx, offset='0xa57ba')], blocks=1, nbytes=100, live=100),
            site([frame('??', module=cxx, offset='0x12345'), frame('??', module=cxx,
                  offset='0x2000')], blocks=1, nbytes=200, live=200),
            site([frame('allocate_dtv', module=ld, offset='0x10cb3'),
                  frame('_dl_allocate_tls', module=ld, offset='0x11000')], blocks=1, nbytes=300,
                 live=300),
            # The program's own leak through operator new stays counted.
            site([frame('_Znwm', module=cxx, offset='0xab000'), frame('main')], blocks=1,
                 nbytes=1000, live=1000)]))
        res = tool('check', '--max-leaked', '999', '--suppress', 'default', r)
        self.assertEqual(res.stdout, 'leaked: 1000 B (1000) > 999 B (999) [--max-leaked] '
                                     '(600 B in 3 suppressed sites not counted)\n')
        res = tool('check', '--max-leaked', '1000', '--suppress', 'default', r)
        self.assertEqual((res.returncode, res.stdout), (0, 'ok\n'))
        sup = self.path('sup.txt')
        for pat, hidden in (('libstdc++.so.6+0xa57ba', 100), ('libstdc++.so+0xa57ba', 100),
                            ('libstdc++.so.6.0.30+0xa57ba', 100), ('libstdc++.so.7+0xa57ba', 0),
                            ('??@libstdc++.so.6', 300), ('allocate_dtv@ld-linux*', 300),
                            ('allocate_dtv@libc.so*', 0), ('_Znwm@libstdc++.so', 1000)):
            with open(sup, 'w') as f:
                f.write(pat + '\n')
            res = tool('check', '--max-leaked', str(1600 - hidden if hidden else 1599), '--suppress', sup, r)
            self.assertEqual((res.returncode, res.stdout), (0, 'ok\n') if hidden else
                             (1, 'leaked: 1.6 KiB (1600) > 1.6 KiB (1599) [--max-leaked]\n'), pat)

    def test_suppressions_without_sites(self):
        r = write_json(self.path('plain.json'), report(blocks=1, nbytes=10, live=10))
        res = tool('check', '--max-leaked', '10', '--suppress', 'default', r)
        self.assertEqual(res.returncode, 0)
        self.assertIn('no call sites in the report: suppressions cannot apply', res.stderr)

    def test_real_run(self):
        d = self.path('out')
        self.assertEqual(tool('-o', d, '--counters-only', EXITCODE, '0').returncode, 0)
        self.assertEqual(tool('check', '--max-leaked', '2000', '--max-blocks', '3', d).stdout,
                         'ok\n')
        res = tool('check', '--max-leaked', '1999', d)
        self.assertEqual((res.returncode, res.stdout),
                         (1, 'leaked: 2.0 KiB (2000) > 2.0 KiB (1999) [--max-leaked]\n'))

    def test_options_before_or_after_files(self):
        for args in (('--max-blocks', '99', self.r), (self.r, '--max-blocks', '99'),
                     (self.r, '--max-blocks=99'), ('--max-blocks', '99', '--', self.r)):
            res = tool('check', *args)
            self.assertEqual((res.returncode, res.stdout), (1, 'blocks: 100 > 99 [--max-blocks]\n'),
                             args)
        # After "--" an argument is a file, whatever it looks like.
        self.assertOneErrorLine(tool('check', '--max-blocks', '1', '--', '--max-bytes'),
                                '--max-bytes', 'No such file')
        self.assertOneErrorLine(tool('check', self.r, '--max-blocks'), 'option --max-blocks needs a value')

    def test_usage(self):
        self.assertOneErrorLine(tool('check'), 'no FILE')
        self.assertOneErrorLine(tool('check', '--max-blocks', '1k', self.r), '--max-blocks')
        self.assertOneErrorLine(tool('check', '--max-volume', '1', self.r), "'--max-volume'")

    def test_shipped_list_is_documented(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, '..', '..', 'tools', 'suppressions.txt')) as f:
            pats = [ln.split('#')[0].strip() for ln in f]
        pats = [p for p in pats if p]
        for want in ('_IO_file_doallocate', '__gnu_cxx::__freeres', '_dl_*',
                     '(anonymous namespace)::pool::pool'):
            self.assertIn(want, pats)


if __name__ == '__main__':
    main()
