# SPDX-License-Identifier: Apache-2.0
"""`modalloc diff OLD NEW`: totals and call sites matched by symbolized stack."""
import os
import re
import shutil

from tooltest import SITES_1, SITES_2, ToolTest, frame, main, report, site, tool, write_json


def changed_sites(out):
    """[(bytes change, percent, blocks change, stack)] from the site table."""
    rows, on = [], False
    for line in out.splitlines():
        if 'site (callers to the right)' in line:
            on = True
            continue
        m = re.match(r'^\s+([+-]\S+ \S+)\s+(\(\S+\))?\s+([+-]?[\d,]+)\s{2}(.*)$', line)
        if on and m:
            rows.append((m.group(1), m.group(2) or '', m.group(3), m.group(4)))
    return rows


def totals_row(out, name):
    """(old, new, change, percent) of a totals row, cut at the printf columns."""
    for line in out.splitlines():
        if line[2:19].rstrip() == name:
            return (line[19:33].strip(), line[34:48].strip(), line[49:63].strip(),
                    line[63:].strip())
    return None


class Diff(ToolTest):
    def crafted(self):
        main_old = frame('main', offset='0x1300')
        main_new = frame('main', offset='0x1340')  # the new build moved main
        old = report(pid=1, blocks=115, nbytes=16900, frees=115, freed=16900, peak=1000, sites=[
            site([frame('alloc_big', offset='0x1100'), main_old], blocks=10, nbytes=10000),
            site([frame('alloc_small', offset='0x1200'), main_old], blocks=100, nbytes=6400),
            site([frame('old_only', offset='0x1280'), main_old], blocks=5, nbytes=500),
        ])
        new = report(pid=2, blocks=123, nbytes=29400, frees=123, freed=29400, peak=1000, sites=[
            site([frame('alloc_big', offset='0x1120'), main_new], blocks=20, nbytes=20000),
            site([frame('alloc_small', offset='0x1220'), main_new], blocks=100, nbytes=6400),
            site([frame('new_only', offset='0x12a0'), main_new], blocks=3, nbytes=3000),
        ])
        return (write_json(self.path('old.json'), old), write_json(self.path('new.json'), new))

    def test_crafted_sites(self):
        old, new = self.crafted()
        res = tool('diff', old, new)
        self.assertEqual(res.returncode, 0, res.stderr)
        out = res.stdout
        self.assertEqual(totals_row(out, 'allocated bytes'),
                         ('16.5 KiB', '28.7 KiB', '+12.2 KiB', '(+74%)'))
        self.assertEqual(totals_row(out, 'allocated blocks'), ('115', '123', '+8', '(+7%)'))
        self.assertEqual(totals_row(out, 'peak bytes'), ('1000 B', '1000 B', '0 B', ''))
        self.assertIn('3 call sites changed, 1 unchanged; by change in bytes:', out)
        self.assertEqual(changed_sites(out), [
            ('+9.8 KiB', '(+100%)', '+10', 'alloc_big < main'),
            ('+2.9 KiB', '(new)', '+3', 'new_only < main'),
            ('-500 B', '(gone)', '-5', 'old_only < main'),
        ])
        # Reversed, every sign flips and the order stays.
        back = changed_sites(tool('diff', new, old).stdout)
        self.assertEqual([(b, s) for b, _, _, s in back], [
            ('-9.8 KiB', 'alloc_big < main'), ('-2.9 KiB', 'new_only < main'),
            ('+500 B', 'old_only < main')])
        self.assertEqual(back[0][1], '(-50%)')
        res = tool('diff', '--top', '1', old, new)
        self.assertEqual(len(changed_sites(res.stdout)), 1)
        self.assertIn('  ... 2 more (--top 0 lists all)', res.stdout)
        for line in out.splitlines():
            self.assertLessEqual(len(line), 100, line)

    def test_two_builds(self):
        # Same program name in two build directories, as two builds would be.
        for sub, exe in (('old', SITES_1), ('new', SITES_2)):
            os.mkdir(self.path(sub))
            shutil.copy(exe, self.path(sub, 'sites'))
            res = tool('-o', self.path(sub + '-out'), self.path(sub, 'sites'))
            self.assertEqual(res.returncode, 0, res.stderr)
        res = tool('diff', self.path('old-out'), self.path('new-out'))
        self.assertEqual(res.returncode, 0, res.stderr)
        out = res.stdout
        self.assertEqual(totals_row(out, 'allocated blocks')[:3], ('110', '120', '+10'))
        self.assertEqual(totals_row(out, 'allocated bytes')[2], '+9.8 KiB')
        self.assertEqual(totals_row(out, 'frees')[2], '+10')
        self.assertEqual(totals_row(out, 'leaked bytes')[:3], ('0 B', '0 B', '0 B'))
        rows = changed_sites(out)
        self.assertEqual(len(rows), 1, out)
        self.assertEqual(rows[0][:3], ('+9.8 KiB', '(+100%)', '+10'))
        self.assertTrue(rows[0][3].startswith('alloc_big < main'), rows[0])
        self.assertIn('1 call site changed, 1 unchanged', out)

    def test_without_sites(self):
        a = write_json(self.path('a.json'), report(blocks=2, nbytes=100))
        b = write_json(self.path('b.json'), report(blocks=4, nbytes=300))
        res = tool('diff', a, b)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(totals_row(res.stdout, 'allocated bytes'), ('100 B', '300 B', '+200 B',
                                                                     '(+200%)'))
        self.assertIn('No call-site comparison: neither report has call sites.', res.stdout)

    def test_no_change_and_options_after_files(self):
        old, new = self.crafted()
        res = tool('diff', old, old)
        self.assertEqual(res.returncode, 0, res.stderr)
        # No dangling heading: one closing line.
        self.assertTrue(res.stdout.endswith('\n\nNo call site changed (3 unchanged).\n'), res.stdout)
        self.assertNotIn('by change in bytes', res.stdout)
        # getopt_long: options after the files too; "--" ends them.
        res = tool('diff', old, new, '--top', '1')
        self.assertEqual(len(changed_sites(res.stdout)), 1, res.stdout + res.stderr)
        self.assertEqual(tool('diff', '--top=1', '--', old, new).stdout, res.stdout)

    def test_same_program_under_two_names_shows_the_module(self):
        """Issue 10: every site is new in one and gone in the other: say which module."""
        outs = []
        for name in ('alpha', 'beta'):
            shutil.copy(SITES_1, self.path(name))
            outs.append(self.path(name + '-out'))
            self.assertEqual(tool('-o', outs[-1], self.path(name)).returncode, 0)
        rows = changed_sites(tool('diff', *outs).stdout)
        # (by call-frame information stacks reach _start: issue 12)
        big = [r for r in rows if r[3].startswith('alloc_big < main < _start (')]
        big = {r[1]: r for r in big}
        self.assertEqual(sorted(big), ['(gone)', '(new)'], rows)
        self.assertEqual(big['(new)'][::2], ('+9.8 KiB', '+10'))
        self.assertEqual(big['(gone)'][::2], ('-9.8 KiB', '-10'))
        self.assertRegex(big['(new)'][3], r'^alloc_big < main < _start \(beta\+0x[0-9a-f]+\)$')
        self.assertRegex(big['(gone)'][3], r'^alloc_big < main < _start \(alpha\+0x[0-9a-f]+\)$')

    def test_stack_ends_at_a_frame_outside_any_module(self):
        """Issue 10: a walk through code without frame pointers took stack words for return
        addresses (no module, raw address: other in every run); two identical runs must diff
        to no change, and the text must not show such frames."""
        def run(pid, junk):
            bogus = {'ip': junk, 'module': '', 'offset': junk, 'function': '??'}
            return report(pid=pid, blocks=3, nbytes=300, sites=[
                site([frame('xmalloc', offset='0x4000'), frame('parse', offset='0x4100'),
                      bogus, frame('main', offset='0x1300')], blocks=2, nbytes=200),
                site([frame('xmalloc', offset='0x4000'), bogus], blocks=1, nbytes=100)])
        a = write_json(self.path('a.json'), run(1, '0x7ffcc64169d8'))
        b = write_json(self.path('b.json'), run(2, '0x7ffceb1e39d8'))
        res = tool('diff', a, b)
        self.assertIn('\nNo call site changed (2 unchanged).\n', res.stdout)
        out = tool('report', b).stdout
        self.assertIn('#1   200 B in 2 blocks; at peak 0 B; leaked 0 B\n'
                      '     at xmalloc (app)\n     <- parse (app)\n#2 ', out)
        self.assertNotIn('0x7ff', out)
        folded = tool('report', '--format', 'collapsed', b).stdout
        self.assertEqual(folded, 'parse;xmalloc 200\nxmalloc 100\n')

    def test_usage(self):
        old, new = self.crafted()
        self.assertOneErrorLine(tool('diff', old), 'exactly two')
        self.assertOneErrorLine(tool('diff', old, new, old), 'exactly two')
        self.assertOneErrorLine(tool('diff', '--bogus', old, new), "'--bogus'")


if __name__ == '__main__':
    main()
