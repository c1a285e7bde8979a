# SPDX-License-Identifier: Apache-2.0
"""A running process seen live (`modalloc snapshot`, `modalloc top`) and the
processes of a tree that `modalloc run` recovers (issue 13), on
progs/live.c's known figures."""
import json
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time

from tooltest import TOOL, ToolTest, clean_env, main, no_core, reports_in, tool

LIVE = os.environ.get('TOOL_LIVE', '')
KILLED = os.environ.get('TOOL_KILLED', '')
HAS_NAMES = os.environ.get('TOOL_HAS_LINES') == '1'  # the command names frames from ELF symbols
SITE_NUMS = ('blocks', 'bytes', 'frees', 'live_blocks', 'live_bytes', 'at_peak_blocks', 'at_peak_bytes')
LIB = os.path.realpath(os.path.join(os.path.dirname(TOOL), '..', 'src', 'libmodalloc.so'))


def wait_for(path, want, timeout=10):
    """Until the file at path holds want (the program's progress marker)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path) as f:
                if f.read() == want:
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise AssertionError('%s never held %r' % (path, want))


class LiveBase(ToolTest):
    """A state directory of the test's own; processes started are ended."""

    def setUp(self):
        super().setUp()
        self.state = self.path('state')
        self.env = clean_env(MOD_ALLOC_STATE_DIR=self.state)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        super().tearDown()

    def start_live(self, **extra):
        """progs/live.c live under the library: 800000 bytes live in 8 blocks."""
        env = dict(self.env, LD_PRELOAD=LIB, MOD_ALLOC_QUIET='1', **extra)
        p = subprocess.Popen([LIVE, 'live', self.path('ready')], env=env, cwd=self.tmp,
                             preexec_fn=no_core)
        self.procs.append(p)
        wait_for(self.path('ready'), '1')
        return p

    def start_sites(self):
        """progs/killed.c `sites wait`, call sites on: alloc_f holds 700 blocks of 100 B,
        alloc_g 200 of 200 B (300 allocated, 100 freed)."""
        env = dict(self.env, LD_PRELOAD=LIB, MOD_ALLOC_QUIET='1', MOD_ALLOC_BACKTRACES='1')
        p = subprocess.Popen([KILLED, 'sites', 'wait'], env=env, cwd=self.tmp, stdout=subprocess.PIPE,
                             text=True, preexec_fn=no_core)
        self.procs.append(p)
        self.assertEqual(p.stdout.readline(), 'ready\n')
        return p

    def check_first(self, r, pid):
        self.assertIs(r['live'], True)
        self.assertNotIn('recovered', r)
        self.assertEqual(r['pid'], pid)
        self.assertEqual(r['cmd'], '%s live %s' % (LIVE, self.path('ready')))
        t = r['totals']
        self.assertEqual((t['blocks'], t['bytes'], t['frees'], t['freed_bytes']),
                         (10, 1000000, 2, 200000))
        self.assertEqual((t['live_blocks'], t['live_bytes'], t['peak_blocks'], t['peak_bytes']),
                         (8, 800000, 10, 1000000))
        self.assertEqual((r['calls']['malloc'], r['calls']['free']), (10, 2))
        self.assertGreater(t['rss_peak_bytes'], 0)


class Live(LiveBase):
    def test_snapshot_exact_and_where(self):
        p = self.start_live()
        res = tool('snapshot', p.pid, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        want = self.path('modalloc.%d.snapshot.json' % p.pid)
        self.assertEqual(res.stderr, 'modalloc: snapshot of pid %d (%s live %s): %s\n'
                         % (p.pid, LIVE, self.path('ready'), want))
        with open(want) as f:
            self.check_first(json.load(f), p.pid)
        # The process goes on, undisturbed; it grows by 500000 bytes on SIGUSR1.
        p.send_signal(signal.SIGUSR1)
        wait_for(self.path('ready'), '2')
        res = tool('snapshot', p.pid, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        second = self.path('modalloc.%d.snapshot.1.json' % p.pid)
        self.assertIn(second, res.stderr)
        with open(second) as f:
            t = json.load(f)['totals']
        self.assertEqual((t['blocks'], t['bytes'], t['live_blocks'], t['live_bytes'], t['peak_bytes']),
                         (15, 1500000, 13, 1300000, 1300000))
        # -o -: on stdout; -o FILE: there.
        res = tool('snapshot', '-o', '-', p.pid, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(json.loads(res.stdout)['totals']['live_bytes'], 1300000)
        res = tool('snapshot', '-o', self.path('x.json'), p.pid, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(self.path('x.json')) as f:
            self.assertEqual(json.load(f)['totals']['live_bytes'], 1300000)
        self.assertEqual(os.stat(self.path('x.json')).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(second).st_mode & 0o777, 0o600)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)
        # Its own report at exit; the snapshots are not taken for reports of the run.
        with open(self.path('modalloc.%d.json' % p.pid)) as f:
            r = json.load(f)
        self.assertEqual(r['totals']['live_bytes'], 1300000)
        self.assertNotIn('live', r)
        res = tool('report', '--format', 'json', self.tmp, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_snapshot_sites_exact(self):
        """A waiting Tier 2 process: its call sites, exactly, frames named."""
        p = self.start_sites()
        res = tool('snapshot', '-o', '-', p.pid, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        r = json.loads(res.stdout)
        self.assertIs(r['live'], True)
        sites = [{k: s[k] for k in SITE_NUMS} for s in r['sites']]
        print('snapshot sites', sites)
        self.assertEqual(sites, [
            {'blocks': 700, 'bytes': 70000, 'frees': 0, 'live_blocks': 700, 'live_bytes': 70000,
             'at_peak_blocks': 700, 'at_peak_bytes': 70000},
            {'blocks': 300, 'bytes': 60000, 'frees': 100, 'live_blocks': 200, 'live_bytes': 40000,
             'at_peak_blocks': 300, 'at_peak_bytes': 60000}])
        self.assertEqual(r['stacks']['sites'], 2)
        if HAS_NAMES:
            self.assertEqual([[f['function'] for f in s['frames'][:2]] for s in r['sites']],
                             [['alloc_f', 'two_sites'], ['alloc_g', 'two_sites']])
        for s in r['sites']:
            self.assertEqual(s['frames'][0]['module'], os.path.realpath(KILLED))
        self.assertEqual(p.poll(), None, 'the process goes on')

    def test_snapshot_in_a_run_directory(self):
        """Under `modalloc run`, beside the reports, and not counted by the summary."""
        d = self.path('out')
        run = subprocess.Popen([TOOL, 'run', '-o', d, '--', LIVE, 'live', self.path('ready')],
                               env=self.env, stderr=subprocess.PIPE, text=True, preexec_fn=no_core)
        self.procs.append(run)
        wait_for(self.path('ready'), '1')
        pid = int(subprocess.check_output(['pgrep', '-P', str(run.pid)], text=True).split()[0])
        res = tool('snapshot', pid, env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(d, 'modalloc.%d.snapshot.json' % pid)) as f:
            self.check_first(json.load(f), pid)
        os.kill(pid, signal.SIGTERM)
        _, err = run.communicate(timeout=20)
        self.assertEqual(run.returncode, 0, err)
        self.assertRegex(err, r'\n\s+all  1 process\s+10\s')

    def test_snapshot_refusals(self):
        res = tool('snapshot', env=self.env)
        self.assertOneErrorLine(res, 'snapshot: no PID given')
        res = tool('snapshot', 'abc', env=self.env)
        self.assertOneErrorLine(res, 'snapshot: abc is not a process id')
        # Not profiled: this test's own process.
        res = tool('snapshot', os.getpid(), env=self.env)
        self.assertOneErrorLine(res, 'process %d has no state file in' % os.getpid(),
                                'MOD_ALLOC_STATE=0')
        # Gone.
        q = subprocess.Popen(['true'])
        q.wait()
        res = tool('snapshot', q.pid, env=self.env)
        self.assertOneErrorLine(res, 'no process %d is running' % q.pid)
        # Another user's process: pid 1 when it is not ours (tests run as root: skip then).
        if os.stat('/proc/1').st_uid != os.geteuid():
            res = tool('snapshot', 1, env=self.env)
            self.assertOneErrorLine(res, 'process 1 belongs to another user', '0600')
        # Profiled without a state file.
        p = self.start_live(MOD_ALLOC_STATE='0')
        res = tool('snapshot', p.pid, env=self.env)
        self.assertOneErrorLine(res, 'process %d has no state file' % p.pid)



class Top(LiveBase):
    """`modalloc top` in a real terminal: tmux (its own server), reading the screen."""

    def setUp(self):
        super().setUp()
        self.tmux = shutil.which('tmux')
        if not self.tmux:
            self.fail('tmux is missing: scripts/deps.sh test installs it')
        self.sock = self.path('tmux.sock')
        self.started = False

    def tearDown(self):
        if self.started:
            subprocess.run([self.tmux, '-S', self.sock, 'kill-server'], capture_output=True)
        super().tearDown()

    def start_top(self, pid, *opts):
        """top in a 160x50 terminal; the shell then prints TOP-EXITED rc=N."""
        cmd = ('trap "" INT; env MOD_ALLOC_STATE_DIR=%s %s top %s %d; echo TOP-EXITED rc=$?; '
               'sleep 60' % (shlex.quote(self.state), shlex.quote(TOOL), ' '.join(opts), pid))
        self.nsessions = getattr(self, 'nsessions', 0) + 1
        self.session = 'top%d' % self.nsessions
        subprocess.run([self.tmux, '-S', self.sock, '-f', '/dev/null', 'new-session', '-d', '-s',
                        self.session, '-x', '160', '-y', '50', 'sh -c ' + shlex.quote(cmd)],
                       check=True, env=dict(self.env, TERM='xterm'))
        self.started = True

    def screen(self):
        return subprocess.run([self.tmux, '-S', self.sock, 'capture-pane', '-p', '-t', self.session],
                              capture_output=True, text=True, check=True).stdout

    def wait_screen(self, needle, timeout=10):
        """The first screen that shows needle."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if needle in s:
                return s
            time.sleep(0.03)
        self.fail('the screen never showed %r; it shows:\n%s' % (needle, self.screen()))

    def keys(self, *k):
        subprocess.run([self.tmux, '-S', self.sock, 'send-keys', '-t', self.session] + list(k), check=True)

    def test_top_shows_exact_figures_and_growth(self):
        p = self.start_live()
        self.start_top(p.pid)
        s = self.wait_screen('live heap')
        lines = s.splitlines()
        self.assertRegex(lines[0], r'^modalloc top: pid %d \(%s live %s\)  up \d+s  refresh 1s  '
                         r'\[q quits\]$' % (p.pid, re.escape(LIVE), re.escape(self.path('ready'))))
        self.assertIn('live heap    800000 bytes (781.2 KiB) in 8 blocks\n', s)
        self.assertIn('change       +0 bytes, +0 blocks since the last refresh\n', s)
        self.assertIn('growth       +0 bytes, +0 blocks since top started\n', s)
        self.assertIn('peak         1000000 bytes (976.6 KiB) in 10 blocks\n', s)
        self.assertRegex(s, r'\nRSS          [1-9]\d* bytes \(')
        self.assertRegex(s, r'\(10 allocations, 1000000 bytes in total\)\n')
        self.assertIn('threads      1\n', s)
        # It grows by 500000 bytes: the next refresh shows it as the change.
        p.send_signal(signal.SIGUSR1)
        s = self.wait_screen('live heap    1300000 bytes')
        self.assertIn('live heap    1300000 bytes (1.2 MiB) in 13 blocks\n', s)
        self.assertIn('change       +500000 bytes, +5 blocks since the last refresh\n', s)
        self.assertIn('growth       +500000 bytes, +5 blocks since top started\n', s)
        self.assertIn('peak         1300000 bytes (1.2 MiB) in 13 blocks\n', s)
        self.assertRegex(s, r'\(15 allocations, 1500000 bytes in total\)\n')
        # Then no change until it grows again.
        s = self.wait_screen('change       +0 bytes, +0 blocks since the last refresh')
        self.assertIn('growth       +500000 bytes, +5 blocks since top started\n', s)
        # q quits and gives the terminal back (the alternate screen is gone).
        self.keys('q')
        s = self.wait_screen('TOP-EXITED rc=0')
        self.assertNotIn('live heap', s)
        self.assertEqual(p.poll(), None, 'the process goes on')

    def test_top_sites_by_name(self):
        """The call site holding the most live memory first, named."""
        p = self.start_sites()
        self.start_top(p.pid)
        s = self.wait_screen('CALL SITE')
        rows = [l for l in s.splitlines() if re.match(r'^\s+\d+\s+[+-]\d+\s+\d+  ', l)]
        self.assertEqual(len(rows), 2, s)
        # LIVE BYTES, CHANGE (none on the first screen), BLOCKS.
        self.assertRegex(rows[0], r'^\s+70000\s+\+0\s+700  ')
        self.assertRegex(rows[1], r'^\s+40000\s+\+0\s+200  ')
        if HAS_NAMES:
            self.assertIn('  alloc_f < two_sites < main', rows[0])
            self.assertIn('  alloc_g < two_sites < main', rows[1])
        self.keys('q')
        self.wait_screen('TOP-EXITED rc=0')

    def test_top_ctrl_c_and_process_end(self):
        p = self.start_live()
        self.start_top(p.pid, '--interval', '0.2')
        self.wait_screen('refresh 0.2s')
        self.keys('C-c')
        s = self.wait_screen('TOP-EXITED rc=0')
        self.assertNotIn('live heap', s)
        # The process ends: top says so in one line and exits by itself.
        self.start_top(p.pid, '--interval', '0.2')
        self.wait_screen('live heap    800000 bytes')
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)
        s = self.wait_screen('TOP-EXITED rc=0')
        self.assertIn('modalloc: top: process %d ended (its report is written at exit; modalloc '
                      'recover %d if it was killed)\nTOP-EXITED rc=0' % (p.pid, p.pid), s)
        self.assertNotIn('live heap', s)

    def test_top_refusals(self):
        self.assertOneErrorLine(tool('top', env=self.env), 'top: no PID given')
        self.assertOneErrorLine(tool('top', '--interval', '0', '1', env=self.env),
                                '--interval: 0 is not a number of seconds')
        self.assertOneErrorLine(tool('top', os.getpid(), env=self.env),
                                'process %d has no state file' % os.getpid())


def memory_cgroup(limit):
    """A new memory-limited cgroup (v2, else v1) under our own: (procs file, cleanup),
    or (None, why) when the machine does not let us make one."""
    why = []
    try:
        with open('/proc/self/cgroup') as f:
            lines = f.read().splitlines()
    except OSError as e:
        return None, 'no /proc/self/cgroup (%s)' % e
    name = 'modalloc-oom-%d' % os.getpid()
    for line in lines:
        _, ctrls, path = line.split(':', 2)
        if ctrls == '':
            base = '/sys/fs/cgroup' + path
            files = {'memory.max': str(limit), 'memory.swap.max': '0'}
        elif 'memory' in ctrls.split(','):
            base = '/sys/fs/cgroup/memory' + path
            files = {'memory.limit_in_bytes': str(limit), 'memory.memsw.limit_in_bytes': str(limit)}
        else:
            continue
        d = os.path.join(base, name)
        try:
            os.mkdir(d)
        except OSError as e:
            why.append('%s: %s' % (d, e.strerror))
            continue
        first = next(iter(files))
        try:
            for k, v in files.items():
                try:
                    with open(os.path.join(d, k), 'w') as f:
                        f.write(v)
                except OSError:
                    if k == first:
                        raise
        except OSError as e:
            os.rmdir(d)
            why.append('%s/%s: %s' % (d, first, e.strerror))
            continue
        return os.path.join(d, 'cgroup.procs'), (lambda: os.rmdir(d))

def oom_kills(procs):
    """How many processes the OOM killer ended in the cgroup of that procs file."""
    d = os.path.dirname(procs)
    for name in ('memory.events', 'memory.oom_control'):
        try:
            with open(os.path.join(d, name)) as f:
                for line in f:
                    k, _, v = line.partition(' ')
                    if k == 'oom_kill':
                        return int(v)
        except FileNotFoundError:
            pass
    return None
    return None, '; '.join(why) or 'no memory controller in /proc/self/cgroup'


class RunRecovers(ToolTest):
    """`modalloc run` reaps the tree's orphans and recovers what the killed left."""

    def setUp(self):
        super().setUp()
        self.env = clean_env(MOD_ALLOC_STATE_DIR=self.path('state'))

    def test_killed_orphan_recovered_exactly(self):
        d = self.path('out')
        res = tool('run', '-o', d, '--', LIVE, 'orphan', self.path('ready'), env=self.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(self.path('ready')) as f:
            killed = int(f.read())
        with open(os.path.join(d, 'modalloc.%d.json' % killed)) as f:
            r = json.load(f)
        self.assertIs(r['recovered'], True)
        self.assertEqual(r['ended_by'], 'SIGKILL')
        self.assertEqual(r['pid'], killed)
        t = r['totals']
        self.assertEqual((t['blocks'], t['bytes'], t['frees'], t['freed_bytes'], t['live_blocks'],
                          t['live_bytes'], t['peak_blocks'], t['peak_bytes']),
                         (5, 5000, 2, 2000, 3, 3000, 5, 5000))
        self.assertEqual((r['calls']['malloc'], r['calls']['free']), (5, 2))
        # The others wrote their own reports; nothing is left in the state directory.
        for path, other in reports_in(d).items():
            if other['pid'] != killed:
                self.assertNotIn('recovered', other, path)
        self.assertEqual(os.listdir(self.path('state')), [])
        self.assertIn('modalloc: recovered pid %d (%s orphan %s): report %s\n'
                      % (killed, LIVE, self.path('ready'), os.path.join(d, 'modalloc.%d.json' % killed)),
                      res.stderr)
        self.assertIn('(1 of these reports recovered from the state files of processes that ended '
                      'without writing one: "recovered": true)', res.stderr)

    def test_killed_program_itself(self):
        """PROGRAM SIGKILLed while it waits: its report recovered, run's status 137."""
        d = self.path('out')
        run = subprocess.Popen([TOOL, 'run', '-o', d, '--', LIVE, 'live', self.path('ready')],
                               env=self.env, stderr=subprocess.PIPE, text=True, preexec_fn=no_core)
        try:
            wait_for(self.path('ready'), '1')
            pid = int(subprocess.check_output(['pgrep', '-P', str(run.pid)], text=True).split()[0])
            os.kill(pid, signal.SIGKILL)
            _, err = run.communicate(timeout=20)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        self.assertEqual(run.returncode, 128 + 9, err)
        with open(os.path.join(d, 'modalloc.%d.json' % pid)) as f:
            r = json.load(f)
        self.assertEqual((r.get('recovered'), r.get('ended_by')), (True, 'SIGKILL'))
        t = r['totals']
        self.assertEqual((t['blocks'], t['bytes'], t['live_bytes'], t['peak_bytes']),
                         (10, 1000000, 800000, 1000000))
        self.assertNotIn('wrote no report', err)
        self.assertIn('\n           (recovered from the state file of a process that ended without '
                      'writing its report: "recovered": true)\n', err)

    def test_oom_killed_recovered_exactly(self):
        """Grows until the kernel's OOM killer ends it in a 48 MiB cgroup."""
        procs, cleanup = memory_cgroup(48 << 20)
        if procs is None:
            msg = 'OOM test NOT RUN: cannot make a memory-limited cgroup here (%s)' % cleanup
            print(msg, file=sys.stderr)
            self.skipTest(msg)
        count = self.path('count')
        with open(count, 'wb') as f:
            f.write(b'\0' * 16)

        def join():
            no_core()
            with open(procs, 'w') as f:
                f.write(str(os.getpid()))
        d = self.path('out')
        try:
            res = subprocess.run([TOOL, 'run', '-o', d, '--', LIVE, 'grow', count], env=self.env,
                                 capture_output=True, text=True, preexec_fn=join, timeout=120)
            kills = oom_kills(procs)
        finally:
            cleanup()
        with open(count, 'rb') as f:
            asked, returned = struct.unpack('=QQ', f.read(16))
        self.assertEqual(res.returncode, 128 + 9, res.stderr)
        self.assertIn(kills, (1, None), 'the OOM killer ended it')
        self.assertGreater(returned, 8)
        reps = reports_in(d)
        self.assertEqual(len(reps), 1, res.stderr)
        r = next(iter(reps.values()))
        self.assertEqual((r.get('recovered'), r.get('ended_by')), (True, 'SIGKILL'))
        t = r['totals']
        # Exact up to the allocation in flight: killed inside malloc (asked = returned + 1),
        # the library may have counted that block already or not yet.
        n = t['blocks']
        if asked == returned:
            self.assertEqual(n, returned)
        else:
            self.assertEqual(asked, returned + 1)
            self.assertIn(n, (returned, asked))
        print('OOM test: killed after malloc returned %d blocks of 1 MiB (%d asked); recovered '
              '%d blocks, %d bytes (%s)' % (returned, asked, n, t['bytes'],
                                            'the block in flight counted' if n > returned else
                                            'exact'), file=sys.stderr)
        self.assertEqual((t['blocks'], t['bytes'], t['frees'], t['live_bytes'], t['peak_bytes']),
                         (n, n << 20, 0, n << 20, n << 20))
        # calls counts each call as it starts: the one in flight too.
        self.assertEqual(r['calls']['malloc'], asked)


if __name__ == '__main__':
    main()
