# SPDX-License-Identifier: Apache-2.0
"""`modalloc lines`: file:line and inlined frames from DWARF, in reports and DHAT files.

progs/lines_inline.c (built -g -O2 as TOOL_LINES_G, and -g0 as TOOL_LINES_NOG)
allocates 3 blocks of 108 bytes through level_two -> build_node -> the
always_inline make_zeroed -> the always_inline make_buffer -> malloc, and 1 block of 200 bytes through
plain_alloc -> calloc.  The expected line numbers come from the LINE:
markers in its source.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys

from tooltest import (LINES_G, LINES_NOG, LINES_SRC, ToolTest, frame, line_markers,
                      load_checker, main, report, site, tool, write_json)

COUNTERS = ('tb', 'tbk', 'tl', 'mb', 'mbk', 'gb', 'gbk', 'eb', 'ebk')


def same_file(a, b):
    return os.path.exists(a) and os.path.samefile(a, b)


class Lines(ToolTest):
    def setUp(self):
        super().setUp()
        if os.environ.get('TOOL_HAS_LINES') == '0':
            self.skipTest('modalloc built without libdw')
        self.line = line_markers()
        self.assertEqual(len(self.line), 7, self.line)

    def profile(self, prog, *opts, name='out'):
        d = self.path(name)
        res = tool('-o', d, *opts, prog)
        self.assertEqual(res.returncode, 0, res.stderr)
        reps = [n for n in os.listdir(d) if n.startswith('modalloc.')]
        self.assertEqual(len(reps), 1, os.listdir(d))
        return d, os.path.join(d, reps[0])

    def lines(self, *args):
        res = tool('lines', *args)
        self.assertEqual(res.returncode, 0, res.stderr)
        return res

    def prog_frames(self, s, prog):
        """The site's frames from the program itself."""
        return [f for f in s['frames'] if same_file(f['module'], prog)]

    def check_dhat_structure(self, d):
        self.assertEqual(d['ftbl'][0], '[root]')
        self.assertEqual(len(set(d['ftbl'])), len(d['ftbl']), 'duplicate ftbl strings')
        seen = set()
        for p in d['pps']:
            fs = tuple(p['fs'])
            self.assertTrue(fs, p)
            self.assertNotIn(fs, seen, 'duplicate fs')
            seen.add(fs)
            for ix in fs:
                self.assertTrue(1 <= ix < len(d['ftbl']), ix)
        check = load_checker()
        if check:
            self.assertEqual(check(d), [])

    # ---- JSON reports -------------------------------------------------

    def test_report_lines_and_inline_frames(self):
        _, rep = self.profile(LINES_G)
        with open(rep) as f:
            orig = json.load(f)
        out = self.path('annotated.json')
        res = self.lines('-o', out, rep)
        self.assertRegex(res.stderr, r'^modalloc: .*: \d+ of \d+ frames with file:line, '
                                     r'\d+ inlined frames added\n$')
        with open(out) as f:
            ann = json.load(f)
        L = self.line
        self.assertEqual(ann['totals'], orig['totals'])
        self.assertEqual(len(ann['sites']), len(orig['sites']))

        chain_blocks = plain_blocks = 0
        inlined = 0
        for s, o in zip(ann['sites'], orig['sites']):
            # The real frames are the original ones, with file and line added.
            real = [f for f in s['frames'] if not f.get('inlined')]
            self.assertEqual([{k: f[k] for k in ('ip', 'module', 'offset', 'function')}
                              for f in real], o['frames'])
            inlined += len(s['frames']) - len(real)
            pf = self.prog_frames(s, LINES_G)
            # By call-frame information stacks reach crt1's _start (issue 12), which has no
            # line information: the last frame, outside the source.
            if pf and pf[-1]['function'] == '_start':
                self.assertNotIn('file', pf[-1])
                pf = pf[:-1]
            for f in pf:
                self.assertTrue(same_file(f['file'], LINES_SRC), f)
            got = [(f['function'], f['line'], bool(f.get('inlined'))) for f in pf]
            if any(f['function'] == 'build_node' for f in pf):
                chain_blocks += s['blocks']
                self.assertEqual(got, [('make_buffer', L['alloc_here'], True),
                                       ('make_zeroed', L['inline_inner_call'], True),
                                       ('build_node', L['inline_call'], False),
                                       ('level_two', L['call_build'], False),
                                       ('main', L['call_level_two'], False)])
                # The inlined frames share the call's ip (Valgrind's convention).
                self.assertEqual(pf[0]['ip'], pf[2]['ip'])
                self.assertEqual(pf[1]['offset'], pf[2]['offset'])
            else:
                plain_blocks += s['blocks']
                self.assertEqual(got, [('plain_alloc', L['plain_alloc'], False),
                                       ('main', L['call_plain'], False)])
        self.assertEqual((chain_blocks, plain_blocks), (3, 1))
        nreal = sum(len(s['frames']) for s in orig['sites'])
        self.assertEqual(ann['lines']['frames'], nreal)
        self.assertEqual(ann['lines']['inlined'], inlined)
        self.assertEqual(inlined, 2 * sum(1 for s in orig['sites'] if any(
            f['function'] == 'build_node' for f in s['frames'])))
        annotated = sum(1 for s in ann['sites'] for f in s['frames']
                        if 'file' in f and not f.get('inlined'))
        self.assertEqual(ann['lines']['annotated'], annotated)
        self.assertGreaterEqual(annotated, 6)

        # Still a version-1 report for every subcommand; the text shows file:line.
        res = tool('report', out)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn('make_buffer (%s, lines_inline.c:%d, inlined)'
                      % (os.path.basename(LINES_G), L['alloc_here']), res.stdout)
        self.assertIn('<- build_node (%s, lines_inline.c:%d)'
                      % (os.path.basename(LINES_G), L['inline_call']), res.stdout)
        res = tool('report', '--format', 'json', out)
        self.assertEqual(res.returncode, 0, res.stderr)
        merged = json.loads(res.stdout)
        fr = [f for s in merged['sites'] for f in s['frames'] if f.get('inlined')]
        self.assertTrue(fr and fr[0]['line'] == L['alloc_here'], fr)
        # Inlined frames stay out of the site keys: the plain report matches site by site.
        res = tool('diff', rep, out)
        self.assertEqual(res.returncode, 0, res.stderr)
        # Sites key by module + offset of every frame (issue 10: two call sites in one
        # function stay apart), so every site of the plain report is one of its own.
        self.assertIn('\nNo call site changed (%d unchanged).\n'
                      % len({tuple((f['module'], f['offset']) for f in s['frames'])
                             for s in orig['sites']}), res.stdout)

        # A second run changes nothing.
        again = self.path('again.json')
        self.lines('-o', again, out)
        with open(again) as f:
            self.assertEqual(json.load(f), ann)

    def test_in_place_and_stdout(self):
        _, rep = self.profile(LINES_G)
        os.chmod(rep, 0o640)
        res = self.lines('-o', '-', rep)
        from_stdout = json.loads(res.stdout)
        self.lines(rep)
        with open(rep) as f:
            self.assertEqual(json.load(f), from_stdout)
        self.assertIn('lines', from_stdout)
        self.assertEqual([n for n in os.listdir(os.path.dirname(rep)) if '.tmp.' in n], [])
        # In place keeps the file's mode.
        self.assertEqual(stat.S_IMODE(os.stat(rep).st_mode), 0o640)
        # A FIFO (like /dev/null) is written to, never renamed over.
        fifo = self.path('fifo')
        os.mkfifo(fifo)
        reader = subprocess.Popen(['cat', fifo], stdout=subprocess.PIPE)
        self.lines('-o', fifo, rep)
        got = reader.communicate(timeout=20)[0]
        self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode))
        self.assertEqual(json.loads(got), from_stdout)

    def test_no_debug_info_keeps_frames(self):
        _, rep = self.profile(LINES_NOG)
        with open(rep) as f:
            orig = json.load(f)
        out = self.path('annotated.json')
        self.lines('-o', out, rep)
        with open(out) as f:
            ann = json.load(f)
        pf = [f for s in ann['sites'] for f in self.prog_frames(s, LINES_NOG)]
        self.assertGreaterEqual(len(pf), 6)
        for f in pf:
            self.assertNotIn('file', f)
            self.assertNotIn('line', f)
            self.assertNotIn('inlined', f)
        self.assertEqual([len(s['frames']) for s in ann['sites']],
                         [len(s['frames']) for s in orig['sites']])

    def test_missing_module_keeps_frame(self):
        fr = [frame('gone', module='/nonexistent/lib/libgone.so', offset='0x1234'),
              frame('main', module='[vdso]', offset='0x10')]
        p = write_json(self.path('r.json'),
                       report(blocks=1, nbytes=10, sites=[site(fr, blocks=1, nbytes=10)]))
        self.lines(p)
        with open(p) as f:
            ann = json.load(f)
        self.assertEqual(ann['sites'][0]['frames'], fr)
        self.assertEqual(ann['lines'], {'annotated': 0, 'frames': 2, 'inlined': 0})

    def test_separate_debug_file(self):
        """Lines from a debug file found through .gnu_debuglink, not from the binary."""
        if not shutil.which('objcopy'):
            self.skipTest('objcopy not found')
        prog = self.path('split')
        shutil.copy(LINES_G, prog)
        for args in (['--only-keep-debug', prog, prog + '.debug'], ['--strip-debug', prog],
                     ['--add-gnu-debuglink=' + prog + '.debug', prog]):
            subprocess.run(['objcopy'] + args, check=True, cwd=self.tmp)
        _, rep = self.profile(prog)
        out = self.path('annotated.json')
        self.lines('-o', out, rep)
        with open(out) as f:
            ann = json.load(f)
        got = sorted((f['function'], f.get('line')) for s in ann['sites']
                     for f in self.prog_frames(s, prog))
        self.assertIn(('make_buffer', self.line['alloc_here']), got)
        self.assertIn(('plain_alloc', self.line['plain_alloc']), got)
        # Without the debug file the stripped binary has no lines: they came from it.
        os.rename(prog + '.debug', prog + '.moved')
        self.lines('-o', out, rep)
        with open(out) as f:
            ann = json.load(f)
        self.assertEqual([f for s in ann['sites'] for f in self.prog_frames(s, prog)
                          if 'line' in f], [])

    # ---- DHAT files ---------------------------------------------------

    def dhat_of(self, d):
        names = [n for n in os.listdir(d) if n.startswith('dhat.') and n.endswith('.json')]
        self.assertEqual(len(names), 1, os.listdir(d))
        return os.path.join(d, names[0])

    def test_run_dhat_gets_lines(self):
        d, rep = self.profile(LINES_G, '--dhat')
        with open(rep) as f:
            r = json.load(f)
        with open(self.dhat_of(d)) as f:
            dh = json.load(f)
        self.check_dhat_structure(dh)
        self.assertEqual(sum(p['tb'] for p in dh['pps']), r['totals']['bytes'])
        self.assertEqual(sum(p['tbk'] for p in dh['pps']), r['totals']['blocks'])
        L = self.line
        ftbl = dh['ftbl']
        chains = 0
        inl = [i for i, s in enumerate(ftbl)
               if re.fullmatch(r'0x[0-9A-F]+: make_buffer \(lines_inline\.c:%d\)' % L['alloc_here'], s)]
        self.assertTrue(inl, ftbl)
        for p in dh['pps']:
            fs = p['fs']
            if fs[0] in inl:
                addr = ftbl[fs[0]].split(':')[0]
                self.assertEqual(ftbl[fs[1]], '%s: make_zeroed (lines_inline.c:%d)'
                                 % (addr, L['inline_inner_call']))
                self.assertEqual(ftbl[fs[2]], '%s: build_node (lines_inline.c:%d)'
                                 % (addr, L['inline_call']))
                self.assertRegex(ftbl[fs[3]], r': level_two \(lines_inline\.c:%d\)$' % L['call_build'])
                chains += 1
        self.assertGreaterEqual(chains, 1)
        self.assertTrue(any(re.search(r': plain_alloc \(lines_inline\.c:%d\)$' % L['plain_alloc'], s)
                            for s in ftbl), ftbl)

    def test_dhat_without_report_and_merge(self):
        d, rep = self.profile(LINES_G, '--dhat', '--no-lines')
        plain = self.dhat_of(d)
        with open(plain) as f:
            orig = json.load(f)
        self.assertFalse(any('lines_inline.c' in s for s in orig['ftbl']), orig['ftbl'])
        # Offsets from the report beside the file, or inferred from the function names alone.
        exact = self.path('exact.json')
        self.lines('-o', exact, plain)
        lone = self.path('lone', 'dhat.1.json')
        os.mkdir(self.path('lone'))
        shutil.copy(plain, lone)
        self.lines(lone)
        with open(exact) as f:
            ex = json.load(f)
        with open(lone) as f:
            self.assertEqual(json.load(f), ex)
        self.check_dhat_structure(ex)
        for k in COUNTERS:
            self.assertEqual(sum(p[k] for p in ex['pps']), sum(p[k] for p in orig['pps']), k)

        # Two points that only differ by how a module path is spelled become
        # one after annotation: the viewer rejects duplicate frame lists.
        target = next(p for p in orig['pps'] if any('plain_alloc' in orig['ftbl'][i] for i in p['fs']))
        twin = dict(target)
        i0 = target['fs'][0]
        prog_dir, prog_name = os.path.split(LINES_G)
        alias = orig['ftbl'][i0].replace(LINES_G, os.path.join(prog_dir, '.', prog_name))
        self.assertNotEqual(alias, orig['ftbl'][i0])
        orig['ftbl'].append(alias)
        twin['fs'] = [len(orig['ftbl']) - 1] + target['fs'][1:]
        orig['pps'].append(twin)
        dup = write_json(self.path('dup.json'), orig)
        self.lines('--report', rep, dup)
        with open(dup) as f:
            merged = json.load(f)
        self.check_dhat_structure(merged)
        self.assertEqual(len(merged['pps']), len(ex['pps']))
        for k in COUNTERS:
            self.assertEqual(sum(p[k] for p in merged['pps']),
                             sum(p[k] for p in ex['pps']) + target[k], k)

    def test_dhat_no_debug_info(self):
        d, _ = self.profile(LINES_NOG, '--dhat')
        with open(self.dhat_of(d)) as f:
            dh = json.load(f)
        self.check_dhat_structure(dh)
        mine = [s for s in dh['ftbl'][1:] if LINES_NOG in s]
        self.assertGreaterEqual(len(mine), 4, dh['ftbl'])
        for s in mine:
            self.assertRegex(s, r'^0x[0-9A-F]+: \w+ \(in %s\)$' % re.escape(LINES_NOG))

    # ---- bad input ----------------------------------------------------

    def test_bad_input(self):
        cases = {
            'missing.json': (None, 'No such file or directory'),
            'foreign.json': ('{"name": "x"}', 'not a modalloc report'),
            'garbage.json': ('\x7fELF', 'invalid JSON'),
            'empty.json': ('', 'empty file'),
            'trailing.json': ('{"dhatFileVersion": 2} x', 'extra data'),
            'no-ftbl.json': ('{"dhatFileVersion": 2, "pps": []}', '"ftbl" is missing'),
            'no-root.json': ('{"dhatFileVersion": 2, "pps": [], "ftbl": ["x"]}', '"[root]"'),
            'bad-fs.json': ('{"dhatFileVersion": 2, "pps": [{"tb": 1, "fs": [1, 5]}], '
                            '"ftbl": ["[root]", "0x1: f (in /x)"]}', 'pps[0].fs[1]'),
            'bad-report.json': (json.dumps({'format': 'modalloc', 'version': 1}),
                                '"totals" is missing'),
        }
        for name, (content, needle) in cases.items():
            with self.subTest(name):
                p = self.path(name)
                if content is not None:
                    with open(p, 'w') as f:
                        f.write(content)
                res = tool('lines', p)
                self.assertOneErrorLine(res, name, needle)
                if content is not None:
                    with open(p) as f:
                        self.assertEqual(f.read(), content, 'input changed')
        self.assertOneErrorLine(tool('lines'), 'no FILE')
        self.assertOneErrorLine(tool('lines', '--bogus', 'x'), "unknown option '--bogus'")
        self.assertOneErrorLine(tool('lines', 'x', '--bogus'), "unknown option '--bogus'")
        self.assertOneErrorLine(tool('lines', 'x', '-o'), 'option -o needs a value')
        self.assertOneErrorLine(tool('lines', self.tmp), 'is a directory')
        res = tool('lines', '--help')
        self.assertEqual(res.returncode, 0)
        self.assertIn('usage: modalloc lines', res.stdout)


if __name__ == '__main__':
    if not LINES_G or not LINES_SRC:
        sys.exit('TOOL_LINES_G and TOOL_LINES_SRC must be set (run through meson test)')
    main()
