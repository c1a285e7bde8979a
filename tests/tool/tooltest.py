# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the `modalloc` command's tests (Python 3 stdlib only).

Meson passes the paths: MODALLOC_TOOL (the command), TOOL_EXITCODE,
TOOL_FORKEXEC, TOOL_SITES_1 and TOOL_SITES_2 (the test programs), and for
`modalloc lines` TOOL_LINES_G, TOOL_LINES_NOG (progs/lines_inline.c built -g
and -g0) and TOOL_LINES_SRC (its source).
"""
import copy
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import unittest

TOOL = os.environ.get('MODALLOC_TOOL', '')
EXITCODE = os.environ.get('TOOL_EXITCODE', '')
FORKEXEC = os.environ.get('TOOL_FORKEXEC', '')
SITES_1 = os.environ.get('TOOL_SITES_1', '')
SITES_2 = os.environ.get('TOOL_SITES_2', '')
TWO_SITES = os.environ.get('TOOL_TWO_SITES', '')
THREADS = os.environ.get('TOOL_THREADS', '')
CXX = os.environ.get('TOOL_CXX', '')
HAS_LINES = os.environ.get('TOOL_HAS_LINES', '0') == '1'
CHECKER = os.environ.get('TOOL_DHAT_CHECKER', '')
LINES_G = os.environ.get('TOOL_LINES_G', '')
LINES_NOG = os.environ.get('TOOL_LINES_NOG', '')
LINES_SRC = os.environ.get('TOOL_LINES_SRC', '')


def line_markers():
    """{name: line number} of the /* LINE:name */ markers in LINES_SRC."""
    out = {}
    with open(LINES_SRC) as f:
        for n, line in enumerate(f, 1):
            m = re.search(r'/\* LINE:(\w+) \*/', line)
            if m:
                out[m.group(1)] = n
    return out


def load_checker():
    """tests/dhat/check_dhat.py's structure rules, when that checker is there."""
    if not CHECKER or not os.path.exists(CHECKER):
        return None
    spec = importlib.util.spec_from_file_location('check_dhat', CHECKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, 'check_structure', None)


def no_core():
    """Programs killed on purpose must not leave core files behind."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def clean_env(**extra):
    env = dict(os.environ)
    # A profile of the tests' own environment must not leak into the runs.
    for k in list(env):
        if k.startswith('MOD_ALLOC_') or k in ('LD_PRELOAD', 'MODALLOC_LIB'):
            del env[k]
    env.update(extra)
    return env


def tool(*args, cwd=None, env=None, timeout=30):
    """Runs the command; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, env=env if env is not None else clean_env(),
                          preexec_fn=no_core, timeout=timeout)


def reports_in(d):
    """{path: parsed JSON} of the modalloc.*.json files in directory d."""
    out = {}
    for name in sorted(os.listdir(d)):
        if name.startswith('modalloc.') and name.endswith('.json'):
            with open(os.path.join(d, name)) as f:
                out[os.path.join(d, name)] = json.load(f)
    return out


ZERO_CALLS = {k: 0 for k in ('malloc', 'calloc', 'realloc', 'reallocarray', 'free', 'cfree',
                             'posix_memalign', 'aligned_alloc', 'memalign', 'valloc', 'pvalloc',
                             'malloc_usable_size')}


def frame(function, module='/opt/app/bin/app', offset='0x1000', ip=None):
    return {'ip': ip or hex(0x550000000000 + int(offset, 16)), 'module': module,
            'offset': offset, 'function': function}


def site(frames, blocks, nbytes, at_peak=0, live=0, lifetime=0, live_blocks=None, **kw):
    s = {'blocks': blocks, 'bytes': nbytes, 'frees': blocks - (live_blocks or 0),
         'max_bytes': max(at_peak, live), 'max_blocks': 1, 'at_peak_bytes': at_peak,
         'at_peak_blocks': 1 if at_peak else 0, 'live_bytes': live,
         'live_blocks': live_blocks if live_blocks is not None else (1 if live else 0),
         'lifetime_total': lifetime, 'lifetime_unit': 'bytes_allocated',
         'size_hist_log2': [0] * 10 + [blocks], 'truncated': False, 'frames': frames}
    s.update(kw)
    return s


def report(pid=1000, cmd='./app', blocks=0, nbytes=0, frees=0, freed=0, peak=0, peak_blocks=0,
           live=0, live_blocks=0, rss=1 << 20, sites=None, timeline=None, **extra):
    """A version-1 report as the library writes it, with chosen numbers."""
    r = {'format': 'modalloc', 'version': 1, 'pid': pid, 'cmd': cmd, 'tool': 'modalloc 0.1.0',
         'at_exit': True,
         'totals': {'blocks': blocks, 'bytes': nbytes, 'frees': frees, 'freed_bytes': freed,
                    'peak_bytes': peak, 'peak_blocks': peak_blocks, 'live_bytes': live,
                    'live_blocks': live_blocks, 'rss_peak_bytes': rss, 'failed': 0},
         'calls': dict(ZERO_CALLS, malloc=blocks, free=frees),
         'inherited': {'frees': 0, 'freed_bytes': 0}, 'foreign_frees': 0, 'threads': 1,
         'wall_ns': 1000,
         'config': {'backtraces': sites is not None, 'buckets': 4096, 'depth': 32,
                    'header_bytes': 16, 'peak_slack_bytes': 65536}}
    if sites is not None:
        r['sites'] = copy.deepcopy(sites)
        r['stacks'] = {'sites': len(sites), 'truncated': 0, 'overflow_events': 0,
                       'overflow_stacks': 0, 'buckets_needed': 0, 'shallow_warning': False}
    if timeline is not None:
        top = max(timeline, key=lambda p: p[1]) if timeline else [0, 0]
        r['timeline'] = {'unit': 'bytes_allocated', 'interval': 4096, 'peak': top[:2],
                         'columns': ['clock', 'live_bytes', 'rss_bytes'], 'points': timeline}
    r.update(extra)
    return r


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)
    return path


class ToolTest(unittest.TestCase):
    """Each test gets a fresh temporary directory, self.tmp."""

    def setUp(self):
        if not TOOL or not os.path.exists(TOOL):
            self.fail('MODALLOC_TOOL is not set to the built command')
        self._td = tempfile.TemporaryDirectory(prefix='modalloc-tool-')
        self.tmp = self._td.name

    def tearDown(self):
        self._td.cleanup()

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def assertOneErrorLine(self, res, *needles):
        """A failure: non-zero exit, one stderr line, "modalloc: " first."""
        self.assertNotEqual(res.returncode, 0, res.stdout + res.stderr)
        lines = res.stderr.splitlines()
        self.assertEqual(len(lines), 1, res.stderr)
        self.assertTrue(lines[0].startswith('modalloc: '), lines[0])
        for n in needles:
            self.assertIn(n, lines[0])


GO = shutil.which('go')


class GoTest(ToolTest):
    """Runs `go tool pprof`, which must not write into the user's home or caches."""

    @classmethod
    def setUpClass(cls):
        cls._gohome = tempfile.TemporaryDirectory(prefix='modalloc-go-')
        h = cls._gohome.name
        cls.goenv = dict(os.environ, HOME=h, GOCACHE=os.path.join(h, 'cache'),
                         GOPATH=os.path.join(h, 'gopath'), GOFLAGS='-mod=mod',
                         PPROF_TMPDIR=h, GOTELEMETRY='off', GOTOOLCHAIN='local')

    @classmethod
    def tearDownClass(cls):
        cls._gohome.cleanup()

    def pprof(self, *args):
        res = subprocess.run([GO, 'tool', 'pprof'] + [str(a) for a in args], capture_output=True,
                             text=True, env=self.goenv, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        return res.stdout


NODE = shutil.which('node') or shutil.which('nodejs')
SPEEDSCOPE_VIEW = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'speedscope_view.mjs')
NODE_MODULES_PARENT = os.environ.get('TOOL_DHAT_DIR', '')


def speedscope_rows(test, profile):
    """{function: (total, self)} as speedscope's Sandwich view shows a profile (headless
    Chromium); skips the test where node or the npm packages are missing."""
    if not NODE or not NODE_MODULES_PARENT:
        raise unittest.SkipTest('node is not installed')
    res = subprocess.run([NODE, SPEEDSCOPE_VIEW, NODE_MODULES_PARENT, profile], capture_output=True,
                         text=True, timeout=120)
    if res.returncode == 77:
        raise unittest.SkipTest(res.stdout.strip())
    test.assertEqual(res.returncode, 0, res.stdout + res.stderr)
    return {name: (total, self_) for total, self_, name, _ in json.loads(res.stdout)}


def main():
    unittest.main(verbosity=2)
