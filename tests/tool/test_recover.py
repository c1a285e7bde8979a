#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""State files and `modalloc recover` (issue 13, "SIGKILL, the OOM killer").

A program that allocates a known amount and dies of SIGKILL leaves its state
file; `modalloc recover` rebuilds its report where the process would have
written it, with totals exact (up to the allocations in flight at death:
none here).  Each run gets its own MOD_ALLOC_STATE_DIR, so the tests never
touch the user's real state directory.
"""
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tooltest import TOOL, clean_env, no_core, reports_in  # noqa: E402

KILLED = os.environ.get('TOOL_KILLED', '')
LIB = os.environ.get('TOOL_LIB', '')
TOTALS = ('blocks', 'bytes', 'frees', 'freed_bytes', 'peak_bytes', 'peak_blocks', 'live_bytes',
          'live_blocks', 'failed')


class Recover(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='modalloc-recover-')
        self.state = os.path.join(self.tmp.name, 'state')
        self.out = os.path.join(self.tmp.name, 'out')
        os.mkdir(self.out)

    def tearDown(self):
        self.tmp.cleanup()

    def env(self, **extra):
        e = clean_env(LD_PRELOAD=LIB, MOD_ALLOC_STATE_DIR=self.state, MOD_ALLOC_QUIET='1',
                      MOD_ALLOC_OUT=os.path.join(self.out, 'modalloc.%p.json'))
        e.update(extra)
        return e

    def run_prog(self, *args, rc=-signal.SIGKILL, **extra):
        p = subprocess.run([KILLED] + list(args), env=self.env(**extra), capture_output=True,
                           text=True, preexec_fn=no_core, timeout=30)
        self.assertEqual(p.returncode, rc, p.stderr)
        return p

    def recover(self, *args, rc=0, **extra):
        env = clean_env(MOD_ALLOC_STATE_DIR=self.state)
        env.update(extra)
        p = subprocess.run([TOOL, 'recover'] + [str(a) for a in args], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, rc, p.stdout + p.stderr)
        return p

    def states(self):
        return sorted(os.listdir(self.state)) if os.path.isdir(self.state) else []

    def test_single(self):
        self.run_prog('single')
        files = self.states()
        self.assertEqual(len(files), 1)
        st = os.lstat(os.path.join(self.state, files[0]))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.lstat(self.state).st_mode), 0o700)
        self.assertEqual(reports_in(self.out), {})
        p = self.recover()
        self.assertIn('recovered pid', p.stderr)
        reps = reports_in(self.out)
        self.assertEqual(len(reps), 1)
        r = next(iter(reps.values()))
        t = r['totals']
        got = {k: t[k] for k in TOTALS}
        want = {'blocks': 1000, 'bytes': 100000, 'frees': 300, 'freed_bytes': 30000,
                'peak_bytes': 100000, 'peak_blocks': 1000, 'live_bytes': 70000,
                'live_blocks': 700, 'failed': 0}
        print('single: recovered', got, '; expected', want)
        self.assertEqual(got, want)
        self.assertEqual(r['calls']['malloc'], 1000)
        self.assertEqual(r['calls']['free'], 300)
        self.assertIs(r['recovered'], True)
        self.assertNotIn('live', r)
        self.assertNotIn('ended_by', r)
        self.assertEqual(r['threads'], 1)
        self.assertTrue(r['cmd'].endswith('tool-killed single'), r['cmd'])
        self.assertEqual(self.states(), [])  # deleted once recovered
        # The report is readable by the other commands.
        p = subprocess.run([TOOL, 'report', next(iter(reps))], capture_output=True, text=True,
                           env=clean_env(), timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_by_pid_and_path_and_no_replace(self):
        self.run_prog('single')
        [name] = self.states()
        pid = int(name.split('-')[1])
        # A report already there is never replaced: the recovered one is .1.
        with open(os.path.join(self.out, f'modalloc.{pid}.json'), 'w') as f:
            f.write('{}')
        self.recover(pid)
        self.assertTrue(os.path.exists(os.path.join(self.out, f'modalloc.{pid}.1.json')))
        self.run_prog('single')
        [name] = self.states()
        self.recover(os.path.join(self.state, name))
        self.assertEqual(self.states(), [])
        p = self.recover(pid, rc=1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_threads(self):
        # The oracle: the report the same run writes itself at exit.
        self.run_prog('threads', 'exit', rc=0)
        [oracle] = reports_in(self.out).values()
        self.assertEqual(self.states(), [])  # a normal exit leaves no state file
        for f in os.listdir(self.out):
            os.unlink(os.path.join(self.out, f))
        self.run_prog('threads')
        self.recover()
        [r] = reports_in(self.out).values()
        got = {k: r['totals'][k] for k in TOTALS}
        want = {k: oracle['totals'][k] for k in TOTALS}
        print('threads: recovered', got, '; the exit report of the same run', want)
        self.assertEqual(got, want)
        self.assertEqual(r['calls'], oracle['calls'])
        self.assertEqual(r['threads'], 5)
        # The program's frees, exactly: 4 x 75 of 100 B (pthread_create's
        # own blocks, one per thread, stay live).
        self.assertEqual((r['totals']['frees'], r['totals']['freed_bytes']), (300, 30000))
        self.assertGreaterEqual(r['totals']['blocks'], 1000)

    def test_sites_killed(self):
        """Tier 2: the call sites come back with the totals, frames named."""
        self.run_prog('sites', MOD_ALLOC_BACKTRACES='1')
        self.recover()
        [r] = reports_in(self.out).values()
        got = {k: r['totals'][k] for k in TOTALS}
        want = {'blocks': 1000, 'bytes': 130000, 'frees': 100, 'freed_bytes': 20000,
                'peak_bytes': 130000, 'peak_blocks': 1000, 'live_bytes': 110000,
                'live_blocks': 900, 'failed': 0}
        self.assertEqual(got, want)
        self.assertIs(r['recovered'], True)
        self.assertEqual(r['stacks']['sites'], 2)
        nums = ('blocks', 'bytes', 'frees', 'live_blocks', 'live_bytes', 'at_peak_blocks',
                'at_peak_bytes', 'max_blocks', 'max_bytes')
        sites = [{k: s[k] for k in nums} for s in r['sites']]
        print('sites: recovered', sites)
        # By bytes allocated: alloc_f's 70000, then alloc_g's 60000.
        self.assertEqual(sites, [
            {'blocks': 700, 'bytes': 70000, 'frees': 0, 'live_blocks': 700, 'live_bytes': 70000,
             'at_peak_blocks': 700, 'at_peak_bytes': 70000, 'max_blocks': 700, 'max_bytes': 70000},
            {'blocks': 300, 'bytes': 60000, 'frees': 100, 'live_blocks': 200, 'live_bytes': 40000,
             'at_peak_blocks': 300, 'at_peak_bytes': 60000, 'max_blocks': 300, 'max_bytes': 60000}])
        self.assertEqual([s['size_hist_log2'] for s in r['sites']],
                         [[0] * 7 + [700], [0] * 8 + [300]])
        # Lifetimes in bytes allocated: f's blocks live from their birth to the end (130000).
        self.assertEqual(r['sites'][0]['lifetime_total'], 700 * 130000 - 100 * sum(range(700)))
        for s, fn in zip(r['sites'], ('alloc_f', 'alloc_g')):
            f0 = s['frames'][0]
            self.assertEqual(f0['module'], os.path.realpath(KILLED))
            self.assertEqual(int(f0['ip'], 16) - int(f0['offset'], 16) & 0xfff, 0)
            want_fn = fn if os.environ.get('TOOL_HAS_LINES') == '1' else '??'
            self.assertEqual(f0['function'], want_fn)
            self.assertEqual(s['frames'][1]['function'],
                             'two_sites' if want_fn != '??' else '??')
        # The same sites as the process's own report at exit would have (a run that exits).
        p = subprocess.run([TOOL, 'report', next(iter(reports_in(self.out)))],
                           capture_output=True, text=True, env=clean_env(), timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_sites_threads_equal_exit_report(self):
        """4 threads (their counts pending in per-thread caches): every site as at exit."""
        self.run_prog('threads', 'exit', rc=0, MOD_ALLOC_BACKTRACES='1')
        [oracle] = reports_in(self.out).values()
        for f in os.listdir(self.out):
            os.unlink(os.path.join(self.out, f))
        self.run_prog('threads', MOD_ALLOC_BACKTRACES='1')
        self.recover()
        [r] = reports_in(self.out).values()

        def keyed(rep):
            out = {}
            for s in rep['sites']:
                k = tuple((os.path.basename(f['module']), f['offset']) for f in s['frames'])
                out[k] = (s['blocks'], s['bytes'], s['frees'], s['live_blocks'], s['live_bytes'])
            return out
        got, want = keyed(r), keyed(oracle)
        print('threads sites: recovered', sorted(got.values()), '; exit report', sorted(want.values()))
        self.assertEqual(got, want)
        # The workers' site: 4 x 250 blocks of 100 B, 4 x 75 freed.
        self.assertIn((1000, 100000, 300, 700, 70000), got.values())

    def test_many_threads_tier2_totals_exact(self):
        """300 threads starting at once with call sites on: every thread record stays in the
        file (the call sites' pieces leave room), so the totals equal the exit report's."""
        self.run_prog('many', 'exit', rc=0, MOD_ALLOC_BACKTRACES='1')
        [oracle] = reports_in(self.out).values()
        for f in os.listdir(self.out):
            os.unlink(os.path.join(self.out, f))
        self.run_prog('many', MOD_ALLOC_BACKTRACES='1')
        self.recover()
        [r] = reports_in(self.out).values()
        got = {k: r['totals'][k] for k in TOTALS}
        want = {k: oracle['totals'][k] for k in TOTALS}
        print('many threads: recovered', got, '; exit report', want, '; threads', r['threads'])
        self.assertEqual(got, want)
        self.assertEqual(r['threads'], 301)
        self.assertEqual(r['calls'], oracle['calls'])
        self.assertGreaterEqual(got['blocks'], 3000)

    def test_sampled_killed(self):
        """MOD_ALLOC_SAMPLE: a recovered report says it is sampled (rate, seed, samples), its
        sites equal the exit report's of the same run (same seed), its totals stay exact."""
        samp = dict(MOD_ALLOC_SAMPLE='64K', MOD_ALLOC_SAMPLE_SEED='3')
        self.run_prog('sampled', 'exit', rc=0, **samp)
        [oracle] = reports_in(self.out).values()
        for f in os.listdir(self.out):
            os.unlink(os.path.join(self.out, f))
        self.run_prog('sampled', **samp)
        self.recover()
        [r] = reports_in(self.out).values()
        self.assertIs(r['recovered'], True)
        self.assertEqual(r['config']['sample_bytes'], 65536)
        self.assertEqual(r['config']['sample_seed'], 3)
        self.assertEqual(r['config']['backtraces'], True)
        got = {k: r['totals'][k] for k in TOTALS}
        want = {'blocks': 6000, 'bytes': 10000000, 'frees': 1000, 'freed_bytes': 1000000,
                'peak_bytes': 10000000, 'peak_blocks': 6000, 'live_bytes': 9000000,
                'live_blocks': 5000, 'failed': 0}
        self.assertEqual(got, want)

        def keyed(rep):
            return {tuple((os.path.basename(f['module']), f['offset']) for f in s['frames']):
                    (s['blocks'], s['bytes'], s['frees'], s['live_bytes'], s['samples'])
                    for s in rep['sites']}
        print('sampled sites: recovered', sorted(keyed(r).values()), '; exit report',
              sorted(keyed(oracle).values()), '; samples', r['stacks'].get('samples'),
              oracle['stacks']['samples'])
        self.assertEqual(keyed(r), keyed(oracle))
        self.assertEqual(len(r['sites']), 2)
        self.assertEqual(r['stacks']['samples'], oracle['stacks']['samples'])
        self.assertEqual(r['stacks']['samples'], sum(s['samples'] for s in r['sites']))
        self.assertGreater(r['stacks']['samples'], 0)

    def test_build_id_changed(self):
        """A binary replaced after the kill (another build id) names none of its frames: "??"
        and one line on stderr; the same binary unchanged names them as before."""
        prog = os.path.join(self.tmp.name, 'killed-copy')
        with open(KILLED, 'rb') as src, open(prog, 'wb') as dst:
            dst.write(src.read())
        os.chmod(prog, 0o755)
        has_lines = os.environ.get('TOOL_HAS_LINES') == '1'

        def killed_run():
            p = subprocess.run([prog, 'sites'], env=self.env(MOD_ALLOC_BACKTRACES='1'),
                               capture_output=True, text=True, preexec_fn=no_core, timeout=30)
            self.assertEqual(p.returncode, -signal.SIGKILL, p.stderr)

        def own_frames(rep):
            return [f for s in rep['sites'] for f in s['frames'] if f['module'] == prog]

        killed_run()
        p = self.recover()
        self.assertNotIn('build id', p.stderr)
        [r] = reports_in(self.out).values()
        fns = [f['function'] for f in own_frames(r)]
        self.assertEqual(len(fns), 8, r['sites'])  # alloc_f or alloc_g, two_sites, main, _start
        if has_lines:
            self.assertEqual(fns, ['alloc_f', 'two_sites', 'main', '_start',
                                   'alloc_g', 'two_sites', 'main', '_start'])
        for f in os.listdir(self.out):
            os.unlink(os.path.join(self.out, f))

        killed_run()
        # Rebuilt: the same code under another build id, put in its place.
        with open(prog, 'rb') as f:
            elf = bytearray(f.read())
        self.assertEqual(elf[:4], b'\x7fELF')
        phoff, = struct.unpack_from('<Q', elf, 0x20)
        phentsize, phnum = struct.unpack_from('<HH', elf, 0x36)
        patched = 0
        for i in range(phnum):
            ptype, = struct.unpack_from('<I', elf, phoff + i * phentsize)
            off, = struct.unpack_from('<Q', elf, phoff + i * phentsize + 8)
            size, = struct.unpack_from('<Q', elf, phoff + i * phentsize + 32)
            align, = struct.unpack_from('<Q', elf, phoff + i * phentsize + 48)
            if ptype != 4:  # PT_NOTE
                continue
            a = 8 if align == 8 else 4
            at = off
            while at + 12 <= off + size:
                namesz, descsz, ntype = struct.unpack_from('<III', elf, at)
                name = (namesz + a - 1) // a * a
                desc = (descsz + a - 1) // a * a
                if ntype == 3 and elf[at + 12:at + 16] == b'GNU\0':  # NT_GNU_BUILD_ID
                    d = at + 12 + name
                    elf[d:d + descsz] = bytes(b ^ 0xff for b in elf[d:d + descsz])
                    patched += 1
                at += 12 + name + desc
        self.assertGreaterEqual(patched, 1, 'the test program has no GNU build id')
        with open(prog + '.new', 'wb') as f:
            f.write(elf)
        os.chmod(prog + '.new', 0o755)
        os.rename(prog + '.new', prog)
        p = self.recover()
        print('build id changed: recover said', p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if 'build id' in ln]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(f'modalloc: {prog} is not the file the process loaded'),
                        lines[0])
        self.assertIn('its frames are not named', lines[0])
        [r] = reports_in(self.out).values()
        self.assertEqual([f['function'] for f in own_frames(r)], ['??'] * 8)
        # Only that module: libc, unchanged, is named as before.
        libc = [f['function'] for s in r['sites'] for f in s['frames'] if 'libc.so' in f['module']]
        self.assertEqual(len(libc), 4)
        if has_lines:
            self.assertNotIn('??', libc)
        # Still the numbers and the module/offset of each frame.
        self.assertEqual(r['stacks']['sites'], 2)
        self.assertEqual(r['totals']['bytes'], 130000)

    def test_fork_child_killed(self):
        p = self.run_prog('fork', rc=0)
        child = int(p.stdout.strip())
        reps = reports_in(self.out)
        self.assertEqual(len(reps), 1)  # the parent's own
        [parent] = reps.values()
        self.assertNotIn('recovered', parent)
        self.assertEqual(parent['totals']['blocks'], 200)
        self.assertEqual(parent['totals']['frees'], 200)
        self.assertEqual(parent['totals']['live_bytes'], 0)
        self.assertEqual(parent['totals']['peak_bytes'], 10000)
        files = self.states()
        self.assertEqual(len(files), 1)  # the child's; the parent's went at its exit
        self.assertTrue(files[0].startswith(f'modalloc-{child}-'), files)
        self.recover()
        with open(os.path.join(self.out, f'modalloc.{child}.json')) as f:
            r = json.load(f)
        got = {k: r['totals'][k] for k in TOTALS}
        want = {'blocks': 500, 'bytes': 50000, 'frees': 100, 'freed_bytes': 10000,
                'peak_bytes': 50000, 'peak_blocks': 500, 'live_bytes': 40000,
                'live_blocks': 400, 'failed': 0}
        print('fork child: recovered', got, '; expected', want)
        self.assertEqual(got, want)
        self.assertEqual(r['inherited'], {'frees': 0, 'freed_bytes': 0})
        self.assertIs(r['recovered'], True)
        self.assertEqual(self.states(), [])

    def test_normal_exit_and_off(self):
        self.run_prog('exit', rc=0)
        self.assertEqual(self.states(), [])
        self.assertEqual(len(reports_in(self.out)), 1)
        self.run_prog('single', MOD_ALLOC_STATE='0')
        self.assertEqual(self.states(), [])
        self.run_prog('single', MOD_ALLOC_REPORT='0')
        self.assertEqual(self.states(), [])

    def test_exec(self):
        # The image that execs removes its file (its report written); the new
        # image (/bin/true, preloaded too) exits normally: nothing is left.
        self.run_prog('exec', rc=0)
        self.assertEqual(self.states(), [])
        reps = list(reports_in(self.out).values())
        self.assertEqual(sorted(r['at_exec'] for r in reps), [False, True])
        for f in os.listdir(self.out):
            os.unlink(os.path.join(self.out, f))
        # An exec that fails gives the file its name back: a later SIGKILL is recoverable.
        self.run_prog('execfail')
        self.assertEqual(len(self.states()), 1)
        self.assertEqual(reports_in(self.out), {})
        self.recover()
        [r] = reports_in(self.out).values()
        got = {k: r['totals'][k] for k in TOTALS}
        print('execfail: recovered', got)
        self.assertEqual((got['blocks'], got['frees'], got['live_bytes'], got['peak_bytes']),
                         (1000, 300, 70000, 100000))

    def test_live_refused(self):
        env = self.env()
        proc = subprocess.Popen([KILLED, 'wait'], env=env, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(proc.stdout.readline(), 'ready\n')
            p = self.recover(proc.pid, rc=1)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn('still running', lines[0])
            self.assertIn('snapshot', lines[0])
            self.recover(rc=0)  # without arguments a running process is left alone
            self.assertEqual(len(self.states()), 1)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        self.recover()
        [r] = reports_in(self.out).values()
        self.assertEqual((r['totals']['blocks'], r['totals']['live_bytes']), (1000, 70000))

    def corrupt_cases(self, data):
        """(name, bytes) of broken copies of a real state file."""
        hdr_magic, off_version, off_nchunks = 0, 16, None
        yield 'empty', b''
        yield 'short', data[:100]
        yield 'header-1', data[:6 * 4096 - 1]
        yield 'truncated-used', data[:6 * 4096 + 4096 + 10]
        yield 'magic', b'X' + data[1:]
        yield 'version', data[:16] + struct.pack('<I', 99) + data[20:]
        # pid, start_ns, start_ticks, mono, base, root_addr, root_off, arena_off, used
        fields = 16 + 16
        off_used = fields + 8 * 8
        yield 'used-huge', data[:off_used] + struct.pack('<Q', 1 << 62) + data[off_used + 8:]
        off_root = fields + 6 * 8
        yield 'root-huge', data[:off_root] + struct.pack('<Q', (1 << 64) - 4096) + data[off_root + 8:]
        off_nch = off_used + 8 + 16
        yield 'nchunks', data[:off_nch] + struct.pack('<I', 100000) + data[off_nch + 4:]
        off_layout = off_nch + 8
        yield 'layout', data[:off_layout] + struct.pack('<Q', 0) + data[off_layout + 8:]
        yield 'layout-field', (data[:off_layout + 8] + struct.pack('<Q', 1 << 40) +
                               data[off_layout + 16:])
        layout_bytes = 15 * 8
        off_strings = off_layout + layout_bytes
        yield 'string', data[:off_strings] + b'A' * 4096 + data[off_strings + 4096:]
        off_chunks = off_strings + 4 * 4096
        yield 'chunk-off', (data[:off_chunks + 8] + struct.pack('<Q', (1 << 64) - 1) +
                            data[off_chunks + 16:])
        yield 'chunk-bytes', (data[:off_chunks + 16] + struct.pack('<Q', 1 << 63) +
                              data[off_chunks + 24:])

    def test_corrupt_and_truncated(self):
        self.run_prog('single')
        [name] = self.states()
        with open(os.path.join(self.state, name), 'rb') as f:
            data = f.read()
        bad = os.path.join(self.tmp.name, 'bad')
        os.mkdir(bad)
        for what, blob in self.corrupt_cases(data):
            path = os.path.join(bad, f'modalloc-1-{len(blob)}.state')
            with open(path, 'wb') as f:
                f.write(blob)
            p = self.recover(path, rc=1)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, f'{what}: {p.stderr}')
            self.assertTrue(lines[0].startswith('modalloc: ' + path + ': '), f'{what}: {lines[0]}')
            self.assertTrue(os.path.exists(path), what)  # kept: nothing recovered
            os.unlink(path)
            print(f'{what}: {lines[0]}')
        self.assertEqual(reports_in(self.out), {})
        # A symlink is not followed.
        os.symlink(os.path.join(self.state, name), os.path.join(bad, 'link.state'))
        p = self.recover(os.path.join(bad, 'link.state'), rc=1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_directory_rules(self):
        xdg = os.path.join(self.tmp.name, 'xdg')
        os.mkdir(xdg, 0o700)
        target = os.path.join(self.tmp.name, 'elsewhere')
        os.mkdir(target, 0o700)
        # $XDG_RUNTIME_DIR/modalloc as a symlink: refused with one line, program unaffected.
        os.symlink(target, os.path.join(xdg, 'modalloc'))
        for case in ('symlink', 'mode'):
            e = self.env(XDG_RUNTIME_DIR=xdg, MOD_ALLOC_QUIET='1')
            del e['MOD_ALLOC_STATE_DIR']
            p = subprocess.run([KILLED, 'exit'], env=e, capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = [l for l in p.stderr.splitlines() if 'state directory' in l]
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn('refusing the state directory ' + os.path.join(xdg, 'modalloc'), lines[0])
            self.assertEqual(os.listdir(target), [])
            reps = reports_in(self.out)
            self.assertEqual([r['totals']['blocks'] for r in reps.values()], [1000])
            for f in reps:
                os.unlink(f)
            os.unlink(os.path.join(xdg, 'modalloc')) if case == 'symlink' else None
            if case == 'symlink':
                os.mkdir(os.path.join(xdg, 'modalloc'), 0o755)
                os.chmod(os.path.join(xdg, 'modalloc'), 0o755)
                target = os.path.join(xdg, 'modalloc')
        # MOD_ALLOC_STATE_DIR as a symlink: no state file, one line.
        link = os.path.join(self.tmp.name, 'statelink')
        os.symlink(self.out, link)
        p = subprocess.run([KILLED, 'exit'], env=self.env(MOD_ALLOC_STATE_DIR=link),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(len([l for l in p.stderr.splitlines() if 'MOD_ALLOC_STATE_DIR' in l]), 1,
                         p.stderr)


if __name__ == '__main__':
    if not (TOOL and KILLED and LIB):
        print('SKIP: MODALLOC_TOOL, TOOL_KILLED and TOOL_LIB are set by meson')
        sys.exit(77)
    unittest.main(verbosity=2)
