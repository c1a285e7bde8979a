# SPDX-License-Identifier: Apache-2.0
"""`modalloc [run] PROGRAM`: exit status, process trees, environment, signals."""
import json
import os
import re
import signal
import stat
import subprocess
import time

from tooltest import (EXITCODE, FORKEXEC, SITES_1, TOOL, ToolTest, clean_env, main, no_core,
                      reports_in, tool)


def summary_rows(stderr):
    """The per-command rows of the summary, in order: [(command, processes, blocks)]."""
    rows = []
    for line in stderr.splitlines():
        m = re.match(r'^\s+(\d+)  (.{32}) +([\d,]+) ', line)
        if m:
            rows.append((m.group(2).strip(), int(m.group(1)), int(m.group(3).replace(',', ''))))
    return rows


class Run(ToolTest):
    def check_exitcode_report(self, r, argv_tail):
        """exitcode's fixed allocations: 3 blocks of 1000 bytes, one freed."""
        self.assertEqual(r['cmd'], EXITCODE + argv_tail)
        t = r['totals']
        self.assertEqual((t['blocks'], t['bytes'], t['frees'], t['freed_bytes']),
                         (3, 3000, 1, 1000))
        self.assertEqual((t['live_blocks'], t['live_bytes'], t['peak_bytes']), (2, 2000, 3000))

    def test_exit_zero(self):
        d = self.path('out')
        res = tool('-o', d, EXITCODE, '0')
        self.assertEqual(res.returncode, 0, res.stderr)
        reps = reports_in(d)
        self.assertEqual(len(reps), 1, res.stderr)
        r = next(iter(reps.values()))
        self.check_exitcode_report(r, ' 0')
        self.assertEqual(summary_rows(res.stderr), [('tool-exitcode', 1, 3)], res.stderr)
        self.assertRegex(res.stderr, r'\n\s+all  1 process\s+3\s+2\.9 KiB\s+2\.9 KiB\s+2\.0 KiB\n')
        last = res.stderr.splitlines()[-1]
        self.assertEqual(last, 'modalloc: reports in %s (modalloc report %s)'
                         % (os.path.realpath(d), os.path.realpath(d)))

    def test_exit_status_propagates(self):
        res = tool('run', '-o', self.path('out'), '--', EXITCODE, '3')
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertIn('modalloc: %s exited with status 3' % EXITCODE, res.stderr)
        self.check_exitcode_report(next(iter(reports_in(self.path('out')).values())), ' 3')

    def test_killed_by_sigsegv(self):
        res = tool('-o', self.path('out'), EXITCODE, 'segv')
        self.assertEqual(res.returncode, 139, res.stderr)
        self.assertIn('modalloc: %s killed by SIGSEGV' % EXITCODE, res.stderr)
        # Issue 13: a process that dies of a catchable signal writes its report first.
        reps = reports_in(self.path('out'))
        self.assertEqual(len(reps), 1, res.stderr)
        r = next(iter(reps.values()))
        self.assertEqual(r['signal'], 'SIGSEGV')
        self.check_exitcode_report(r, ' segv')
        self.assertNotIn('wrote no report', res.stderr)

    def test_killed_by_sigkill(self):
        # Issue 13: run recovers its report from the state file (test_live.py: exact figures).
        res = tool('-o', self.path('out'), 'sh', '-c', 'kill -KILL $$')
        self.assertEqual(res.returncode, 137, res.stderr)
        self.assertIn('modalloc: sh killed by SIGKILL', res.stderr)
        reps = reports_in(self.path('out'))
        self.assertEqual(len(reps), 1, res.stderr)
        r = next(iter(reps.values()))
        self.assertEqual((r.get('recovered'), r.get('ended_by'), r['cmd']),
                         (True, 'SIGKILL', 'sh -c kill -KILL $$'))
        self.assertNotIn('wrote no report', res.stderr)
        # Without a state file nothing can be recovered, and run says so.
        res = tool('-o', self.path('out2'), 'sh', '-c', 'kill -KILL $$',
                   env=clean_env(MOD_ALLOC_STATE='0'))
        self.assertEqual(res.returncode, 137, res.stderr)
        self.assertEqual(reports_in(self.path('out2')), {})
        self.assertRegex(res.stderr, r'modalloc: pid \d+ wrote no report: a SIGKILL leaves no time '
                         r'to write one, and it left no state file to recover it from '
                         r'\(MOD_ALLOC_STATE=0\?\)\n')

    def test_default_output_dir(self):
        res = tool(EXITCODE, '0', cwd=self.tmp)
        self.assertEqual(res.returncode, 0, res.stderr)
        dirs = [n for n in os.listdir(self.tmp) if re.fullmatch(r'modalloc\.\d+', n)]
        self.assertEqual(len(dirs), 1, os.listdir(self.tmp))
        d = self.path(dirs[0])
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        self.assertEqual(len(reports_in(d)), 1)
        self.assertIn('reports in %s ' % os.path.realpath(d), res.stderr.splitlines()[-1])

    def test_existing_output_dir_with_reports_is_refused(self):
        """Issue 10: `modalloc report DIR` must cover the new run only: a directory that
        already holds reports is refused (exit 2, one line) and the program never runs."""
        d = self.path('out')
        self.assertEqual(tool('-o', d, EXITCODE, '0').returncode, 0)
        old = reports_in(d)
        res = tool('-o', d, EXITCODE, '0')
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertOneErrorLine(res, d, 'already holds reports')
        self.assertEqual(reports_in(d), old)
        # An existing empty directory (or one with other files) is used.
        e = self.path('empty')
        os.mkdir(e)
        with open(os.path.join(e, 'notes.txt'), 'w') as f:
            f.write('x')
        self.assertEqual(tool('-o', e, EXITCODE, '0').returncode, 0)
        self.assertEqual(len(reports_in(e)), 1)

    def test_summary_groups_by_executable(self):
        """Issue 10: a tree of many processes is one row per executable (not per pid, not
        cut to 100), sorted by bytes, with the count of its processes."""
        d = self.path('out')
        script = 'for i in 1 2 3 4 5; do "$0" 0; done; "$1" "$0" 0'
        res = tool('-o', d, 'sh', '-c', script, EXITCODE, FORKEXEC)
        self.assertEqual(res.returncode, 0, res.stderr)
        rows = summary_rows(res.stderr)
        self.assertEqual(rows[0], ('tool-exitcode', 6, 18), res.stderr)
        self.assertEqual([r[0] for r in rows].count('tool-exitcode'), 1)
        self.assertEqual(len(rows), len({r[0] for r in rows}))
        self.assertIn(('tool-forkexec', 2, 2), rows)

    def test_summary_top_sites_and_shallow_warning(self):
        """Issue 10: run's summary shows the tree's top call sites and says when stacks end
        early in code without frame pointers (stacks.shallow_warning of any report)."""
        from tooltest import frame, report, site, write_json
        lib = '/lib/x86_64-linux-gnu/libz.so.1.2.13'
        crafted = report(pid=99999, cmd='/opt/bin/zipper -9', blocks=30, nbytes=11500, sites=[
            site([frame('deflate_alloc', module=lib, offset='0x2000'),
                  frame('main', module='/opt/bin/zipper')], blocks=10, nbytes=6000),
            site([frame('??', module=lib, offset='0x3000')], blocks=20, nbytes=5500)])
        crafted['stacks']['shallow_warning'] = True
        src = write_json(self.path('crafted.json'), crafted)
        d = self.path('out')
        # The "program" drops a report where the library would write one.
        res = tool('-o', d, 'sh', '-c', 'cp "$0" "${MOD_ALLOC_OUT%/*}/modalloc.99999.json"', src)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(('zipper', 1, 30), summary_rows(res.stderr))
        self.assertIn('\nmodalloc: call stacks end early in code without frame pointers: rebuild '
                      'the program (and its libraries) with -fno-omit-frame-pointer for whole '
                      'call sites\n', res.stderr)
        top = res.stderr.split('top call sites of the tree, by bytes (callers to the right):\n')[1]
        lines = top.splitlines()
        self.assertEqual(lines[0], '    5.9 KiB          10 blocks  deflate_alloc < main (libz.so.1.2.13)')
        self.assertEqual(lines[1], '    5.4 KiB          20 blocks  libz.so.1.2.13+0x3000 (libz.so.1.2.13)')

    def test_output_dir_parents_are_created(self):
        d = self.path('a', 'b', 'c')
        res = tool('-o', d, EXITCODE, '0')
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(reports_in(d)), 1)
        self.assertEqual(stat.S_IMODE(os.stat(self.path('a')).st_mode), 0o700)

    def test_fork_and_exec_tree(self):
        d = self.path('out')
        res = tool('-o', d, FORKEXEC, EXITCODE, '4')
        self.assertEqual(res.returncode, 4, res.stderr)
        reps = reports_in(d)
        self.assertEqual(len(reps), 3, res.stderr)
        by_name = {os.path.basename(p): r for p, r in reps.items()}
        parent = [r for r in reps.values() if not r['at_exec'] and r['cmd'].startswith(FORKEXEC)]
        self.assertEqual(len(parent), 1, reps)
        parent = parent[0]
        ppid, cpid = parent['pid'], next(r['pid'] for r in reps.values() if r['pid'] != parent['pid'])
        # The child wrote twice under one pid: its image before exec, then exitcode's.
        before = by_name['modalloc.%d.json' % cpid]
        after = by_name['modalloc.%d.1.json' % cpid]
        self.assertEqual(parent['cmd'], '%s %s 4' % (FORKEXEC, EXITCODE))
        self.assertEqual((parent['totals']['blocks'], parent['totals']['bytes']), (1, 4096))
        self.assertEqual((before['at_exec'], before['cmd']), (True, parent['cmd']))
        self.assertEqual((before['totals']['blocks'], before['totals']['bytes']), (1, 512))
        self.assertFalse(after['at_exec'])
        self.check_exitcode_report(after, ' 4')
        # Summary (issue 10): one row per executable, by bytes: forkexec's two images
        # (the parent, the child until exec: 4096 + 512 bytes, the larger peak 4096), then
        # exitcode; the tree's peak is the largest single-process peak, not a sum.
        self.assertEqual(summary_rows(res.stderr), [('tool-forkexec', 2, 2), ('tool-exitcode', 1, 3)],
                         res.stderr)
        self.assertRegex(res.stderr, r'\n\s+2  tool-forkexec\s+2\s+4\.5 KiB\s+4\.0 KiB\s+4\.5 KiB\n')
        self.assertRegex(res.stderr, r'\n\s+all  2 pids, 3 images\s+5\s+7\.4 KiB\s+4\.0 KiB\s+6\.5 KiB\n')
        self.assertIn("(max peak: the largest single process's peak)", res.stderr)
        self.assertNotIn('peak: sum', res.stderr)
        # The tree's top call sites: forkexec's 4 KiB first, with its module.
        top = res.stderr.split('top call sites of the tree, by bytes (callers to the right):\n')[1]
        # (by call-frame information stacks reach _start: issue 12)
        self.assertRegex(top.splitlines()[0], r'^\s+4\.0 KiB\s+1 block   main < _start \(tool-forkexec\)$')
        self.assertEqual(len([ln for ln in top.splitlines() if 'main < _start (tool-exitcode)' in ln]), 3)
        merged = tool('report', '--format', 'json', d)
        self.assertEqual(merged.returncode, 0, merged.stderr)
        m = json.loads(merged.stdout)
        self.assertEqual((m['totals']['blocks'], m['totals']['bytes']), (5, 4096 + 512 + 3000))
        self.assertEqual(m['merged']['pids'], [ppid, cpid, cpid])
        self.assertIn('modalloc report: 3 reports merged (pids %d %d)\n' % (ppid, cpid),
                      tool('report', d).stdout)

    def test_shell_pipeline_tree(self):
        d = self.path('out')
        res = tool('-o', d, 'sh', '-c', '"$0" 0; "$0" 0 | "$0" 0', EXITCODE)
        self.assertEqual(res.returncode, 0, res.stderr)
        mine = [r for r in reports_in(d).values() if r['cmd'] == EXITCODE + ' 0']
        self.assertEqual(len(mine), 3, res.stderr)
        for r in mine:
            self.check_exitcode_report(r, ' 0')
        self.assertEqual(len({r['pid'] for r in mine}), 3)

    def test_environment_of_the_program(self):
        d = self.path('out')
        script = ('printf "%s|%s|%s|%s|%s|%s|%s" "$LD_PRELOAD" "$MOD_ALLOC_OUT" "$MOD_ALLOC_QUIET" '
                  '"$MOD_ALLOC_BACKTRACES" "${MOD_ALLOC_DEPTH-unset}" "${MOD_ALLOC_BUCKETS-unset}" '
                  '"${MOD_ALLOC_DHAT-unset}|${MOD_ALLOC_BUCKETS_MAX-unset}"')
        res = tool('-o', d, '--depth', '7', '--buckets=128', '--buckets-max', '4096', '--dhat', 'sh', '-c', script,
                   env=clean_env(LD_PRELOAD='libm.so.6'))
        self.assertEqual(res.returncode, 0, res.stderr)
        pre, out, quiet, bt, depth, buckets, dhat, bmax = res.stdout.split('|')
        lib = os.path.realpath(os.path.join(os.path.dirname(TOOL), '..', 'src', 'libmodalloc.so'))
        self.assertEqual(pre, 'libm.so.6:' + lib)
        real = os.path.realpath(d)
        self.assertEqual(out, real + '/modalloc.%p.json')
        self.assertEqual((quiet, bt, depth, buckets), ('1', '1', '7', '128'))
        self.assertEqual(dhat, real + '/dhat.%p.json')
        self.assertEqual(bmax, '4096')
        res = tool('-o', self.path('out2'), '--counters-only', 'sh', '-c', script)
        pre, _, _, bt, depth, buckets, dhat, bmax = res.stdout.split('|')
        self.assertEqual((pre, bt, depth, buckets, dhat, bmax), (lib, '0', 'unset', 'unset', 'unset', 'unset'))

    def test_percent_in_output_dir_is_escaped(self):
        d = self.path('50%p')
        res = tool('-o', d, EXITCODE, '0')
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(reports_in(d)), 1)

    def test_call_sites_by_default_and_counters_only(self):
        res = tool('-o', self.path('a'), SITES_1)
        self.assertEqual(res.returncode, 0, res.stderr)
        r = next(iter(reports_in(self.path('a')).values()))
        big = [s for s in r['sites'] if s['frames'][0]['function'] == 'alloc_big']
        self.assertEqual(len(big), 1, r['sites'])
        self.assertEqual((big[0]['blocks'], big[0]['bytes']), (10, 10000))
        res = tool('-o', self.path('b'), '--counters-only', SITES_1)
        r = next(iter(reports_in(self.path('b')).values()))
        self.assertNotIn('sites', r)
        self.assertEqual((r['totals']['blocks'], r['totals']['bytes']), (110, 100 * 64 + 10000))

    def test_library_from_env(self):
        res = tool('-o', self.path('out'), EXITCODE, '0',
                   env=clean_env(MODALLOC_LIB=self.path('nope.so')))
        self.assertOneErrorLine(res, 'MODALLOC_LIB=' + self.path('nope.so'))
        self.assertEqual(res.returncode, 2)
        self.assertFalse(os.path.exists(self.path('out')))

    def test_program_not_found(self):
        res = tool('-o', self.path('out'), self.path('no-such-program'))
        self.assertOneErrorLine(res, 'cannot run', 'no-such-program')
        self.assertEqual(res.returncode, 127)
        res = tool('-o', self.path('out'), self.tmp)  # a directory: not executable
        self.assertOneErrorLine(res, 'cannot run')
        self.assertEqual(res.returncode, 126)

    def test_usage_errors(self):
        self.assertOneErrorLine(tool(), 'no PROGRAM')
        self.assertOneErrorLine(tool('run'), 'no PROGRAM')
        self.assertOneErrorLine(tool('--bogus', EXITCODE), "'--bogus'")
        self.assertOneErrorLine(tool('--depth', 'x', EXITCODE), '--depth')
        self.assertOneErrorLine(tool('-o'), '-o')

    def test_options_stop_at_the_program(self):
        """getopt_long with "+": the program's own options are its own, even ours."""
        d = self.path('out')
        res = tool('-o', d, '--depth=5', 'sh', '-c', 'printf "%s|%s" "$1" "$MOD_ALLOC_DEPTH"', 'sh',
                   '--depth', '-o')
        self.assertEqual((res.returncode, res.stdout), (0, '--depth|5'), res.stderr)
        res = tool('run', '--counters-only', '-o', self.path('o2'), '--', 'sh', '-c',
                   'printf "%s" "$MOD_ALLOC_BACKTRACES"')
        self.assertEqual((res.returncode, res.stdout), (0, '0'), res.stderr)
        res = tool('-o' + self.path('o3'), EXITCODE, '0')
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(reports_in(self.path('o3'))), 1)

    def test_command_with_a_newline_stays_on_one_row(self):
        """Issue 10: a command with a newline broke the summary table."""
        os.mkdir(self.path('bin'))
        exe = self.path('bin', 'ex\nit')
        os.symlink(EXITCODE, exe)
        res = tool('-o', self.path('out'), exe, '0')
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(summary_rows(res.stderr), [('ex\\nit', 1, 3)], res.stderr)
        self.assertNotIn('\nit ', res.stderr)

    def test_help_and_version(self):
        res = tool('--version')
        self.assertEqual((res.returncode, res.stdout), (0, 'modalloc 0.1.0\n'))
        for args in ([], ['run'], ['report'], ['diff'], ['check'], ['plot'], ['report', 'x', '-h']):
            res = tool(*(args + ['--help']))
            self.assertEqual(res.returncode, 0, args)
            self.assertTrue(res.stdout.startswith('usage: modalloc'), args)
            for line in res.stdout.splitlines():
                self.assertLessEqual(len(line), 80, line)


class Signals(ToolTest):
    def start(self, *args, **kw):
        p = subprocess.Popen([TOOL, '-o', self.path('out')] + list(args), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(),
                             preexec_fn=no_core, **kw)
        # Wait until the program runs: the tool's child has exec'd (its name is not the tool's).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = self.children(p.pid)
            if kids and all(self.comm(k) != 'modalloc' for k in kids):
                return p, kids[0]
            time.sleep(0.02)
        p.kill()
        self.fail('the program did not start')

    @staticmethod
    def children(pid):
        try:
            with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    @staticmethod
    def comm(pid):
        try:
            with open('/proc/%d/comm' % pid) as f:
                return f.read().strip()
        except OSError:
            return ''

    def test_ctrl_c_reaches_the_program_not_the_tool(self):
        # Its own session, like a shell job: SIGINT to the whole group is what Ctrl-C sends.
        p, _ = self.start('sleep', '30', start_new_session=True)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn('modalloc: sleep killed by SIGINT', err)

    def test_sigint_to_the_tool_alone_is_ignored(self):
        p, _ = self.start('sh', '-c', 'sleep 1; exit 7')
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGQUIT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 7, err)

    def test_sigterm_is_forwarded(self):
        p, _ = self.start('sleep', '30')
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        self.assertIn('modalloc: sleep killed by SIGTERM', err)


if __name__ == '__main__':
    main()
