# SPDX-License-Identifier: Apache-2.0
"""Bad input for every reading subcommand: one clear line naming the file, non-zero exit."""
import json
import os

from tooltest import ToolTest, frame, main, report, site, tool, write_json


class BadInput(ToolTest):
    def setUp(self):
        super().setUp()
        good = report(blocks=3, nbytes=300, sites=[site([frame('f')], blocks=3, nbytes=300)])
        self.good = write_json(self.path('good.json'), good)
        text = json.dumps(good)
        self.cases = {}

        def add(name, content, *needles):
            p = self.path(name)
            with open(p, 'wb') as f:
                f.write(content if isinstance(content, bytes) else content.encode())
            self.cases[name] = (p, needles)

        add('truncated.json', text[:len(text) // 2], 'truncated JSON')
        add('garbage.json', b'\x7fELF\x02\x01\x01\x00', 'invalid JSON')
        add('trailing.json', text + ' {}', 'extra data')
        add('empty.json', '', 'empty file')
        add('foreign.json', json.dumps({'name': 'not ours', 'version': 1}),
            'not a modalloc report')
        add('array.json', '[1, 2, 3]', 'not a modalloc report')
        add('dhat.json', json.dumps({'dhatFileVersion': 2, 'mode': 'heap'}), 'not a modalloc report')
        add('v2.json', json.dumps(dict(good, version=2)),
            'report version 2 is not supported (this modalloc reads version 1)')
        add('v-string.json', json.dumps(dict(good, version='1')), 'no integer "version"')
        add('no-totals.json', json.dumps({k: v for k, v in good.items() if k != 'totals'}),
            '"totals" is missing')
        bad_totals = dict(good, totals=dict(good['totals'], bytes=-5))
        add('negative.json', json.dumps(bad_totals), 'totals.bytes is negative')
        bad_totals = dict(good, totals=dict(good['totals'], blocks='3'))
        add('string-count.json', json.dumps(bad_totals), 'totals.blocks is not an integer')
        add('bad-sites.json', json.dumps(dict(good, sites={'a': 1})), '"sites" is not an array')
        add('bad-frames.json', json.dumps(dict(good, sites=[dict(good['sites'][0], frames=[1])])),
            'sites[0].frames[0] is not an object')

    def test_every_case_every_command(self):
        for name, (path, needles) in self.cases.items():
            for args in (['report', path], ['report', '--format', 'json', path],
                         ['report', self.good, path], ['diff', self.good, path],
                         ['diff', path, self.good], ['check', path], ['plot', path]):
                res = tool(*args)
                with self.subTest(name=name, args=args[:-1]):
                    self.assertOneErrorLine(res, 'modalloc: %s: ' % path, *needles)
                    self.assertEqual(res.returncode, 2)
                    self.assertEqual(res.stdout, '')

    def test_missing_file(self):
        missing = self.path('nope.json')
        for args in (['report', missing], ['diff', self.good, missing], ['check', missing],
                     ['plot', missing]):
            res = tool(*args)
            self.assertOneErrorLine(res, missing, 'No such file or directory')

    def test_directories(self):
        empty = self.path('empty-dir')
        os.mkdir(empty)
        self.assertOneErrorLine(tool('report', empty), empty, 'no modalloc.*.json reports')
        self.assertOneErrorLine(tool('check', empty), empty)
        # plot takes a directory as report/diff/check do (issue 10).
        self.assertOneErrorLine(tool('plot', empty), empty, 'no modalloc.*.json reports')
        # A bad report among good ones in a run directory is named.
        os.rename(self.cases['v2.json'][0], self.path('empty-dir', 'modalloc.7.json'))
        res = tool('report', empty)
        self.assertOneErrorLine(res, 'modalloc.7.json', 'version 2')

    def test_unreadable(self):
        if os.geteuid() == 0:
            # root reads anything: a directory named like a report stands in for EACCES.
            p = self.path('dir.json')
            os.mkdir(p)
            self.assertOneErrorLine(tool('plot', p), p)
            return
        os.chmod(self.good, 0)
        self.assertOneErrorLine(tool('report', self.good), self.good, 'Permission denied')


if __name__ == '__main__':
    main()
