# SPDX-License-Identifier: Apache-2.0
"""`modalloc plot`: the SVG is well-formed and its peak marker sits on the timeline's max."""
import shutil
import subprocess
import xml.etree.ElementTree as ET

from tooltest import SITES_1, ToolTest, frame, main, report, reports_in, site, tool, write_json

SVG = '{http://www.w3.org/2000/svg}'


def timeline_report(points, sites=None):
    live = max(p[1] for p in points)
    return report(pid=4242, cmd='./app <input> & more', blocks=50, nbytes=points[-1][0],
                  peak=live, live=points[-1][1], timeline=points, sites=sites)


def polyline(root, ident):
    el = root.find('.//%spolyline[@id="%s"]' % (SVG, ident))
    if el is None:
        return None
    return [tuple(float(v) for v in p.split(',')) for p in el.get('points').split()]


class Plot(ToolTest):
    def plot(self, rep, name='r'):
        src = write_json(self.path(name + '.json'), rep)
        out = self.path(name + '.svg')
        res = tool('plot', src, '-o', out)
        self.assertEqual(res.returncode, 0, res.stderr)
        return res, ET.parse(out).getroot(), out

    def check_peak(self, root, points):
        """The marker carries the first maximal sample and sits on its heap vertex."""
        best = max(range(len(points)), key=lambda i: (points[i][1], -i))
        peak = root.find('.//%scircle[@id="peak"]' % SVG)
        self.assertIsNotNone(peak)
        self.assertEqual((int(peak.get('data-t')), int(peak.get('data-bytes'))),
                         (points[best][0], points[best][1]))
        heap = polyline(root, 'heap')
        top = min(heap, key=lambda xy: xy[1])  # SVG y grows downwards
        self.assertEqual((float(peak.get('cx')), float(peak.get('cy'))), top)
        # The peak label is drawn with the value.
        labels = [t.text for t in root.iter(SVG + 'text') if t.text and t.text.startswith('peak ')]
        self.assertEqual(len(labels), 1)
        return heap

    def test_timeline(self):
        pts = [[0, 0, 1 << 20], [1000, 800, 1 << 20], [2000, 3000, 2 << 20], [2500, 5000, 3 << 20],
               [4000, 1200, 3 << 20], [6000, 5000, 3 << 20], [8000, 200, 3 << 20]]
        sites = [site([frame('make_node'), frame('main')], blocks=10, nbytes=6000, at_peak=3000),
                 site([frame('??', offset='0x2000'), frame('main')], blocks=5, nbytes=1500,
                      at_peak=1500),
                 site([frame('idle'), frame('main')], blocks=1, nbytes=500, at_peak=0),
                 site([frame('tiny'), frame('main')], blocks=1, nbytes=500, at_peak=500)]
        res, root, out = self.plot(timeline_report(pts, sites))
        self.assertEqual(res.stderr, '')
        self.assertEqual(root.tag, SVG + 'svg')
        heap = self.check_peak(root, pts)
        self.assertEqual(len(heap), len(pts))
        # x grows with t; the RSS line is there too.
        self.assertEqual(heap, sorted(heap))
        self.assertEqual(len(polyline(root, 'rss')), len(pts))
        # The call sites at the peak: one bar segment per site with bytes there, largest first.
        bar = root.find('.//%sg[@id="sites-at-peak"]' % SVG)
        segs = [int(r.get('data-bytes')) for r in bar.iter(SVG + 'rect') if r.get('data-bytes')]
        self.assertEqual(segs, [3000, 1500, 500])
        texts = ' '.join(t.text or '' for t in bar.iter(SVG + 'text'))
        self.assertIn('60.0%', texts)
        self.assertIn('make_node', texts)
        self.assertIn('app+0x2000', texts)
        # Text is escaped: the command holds '<' and '&'.
        title = ''.join(next(root.iter(SVG + 'text')).itertext())
        self.assertEqual(title, 'modalloc: ./app <input> & more (pid 4242)')
        self.to_png(out)

    def test_many_points_keep_the_peak(self):
        n = 20000
        pts = [[i * 64, (i * 7919) % 100000, 0] for i in range(n)]
        pts[12345][1] = 250000
        res, root, _ = self.plot(timeline_report(pts))
        heap = self.check_peak(root, pts)
        self.assertLess(len(heap), 2000)  # thinned to about two samples per pixel column
        self.assertIsNone(polyline(root, 'rss'))  # no RSS samples, no RSS line

    def test_flat_and_single_point(self):
        _, root, _ = self.plot(timeline_report([[0, 0, 0], [10, 0, 0]]), 'flat')
        self.check_peak(root, [[0, 0, 0], [10, 0, 0]])
        _, root, _ = self.plot(timeline_report([[5, 77, 0]]), 'one')
        self.check_peak(root, [[5, 77, 0]])

    def test_without_timeline(self):
        rep = report(blocks=5, nbytes=5000, frees=4, freed=4000, peak=3000, live=1000, rss=8000)
        res, root, out = self.plot(rep)
        self.assertEqual(res.stderr.count('\n'), 1)
        self.assertIn('modalloc: %s: no timeline in the report: plotting its totals only'
                      % self.path('r.json'), res.stderr)
        bars = root.find('.//%sg[@id="totals"]' % SVG)
        titles = [r.find(SVG + 'title').text for r in bars.iter(SVG + 'rect')]
        self.assertEqual(titles, ['allocated: 5000 bytes', 'freed: 4000 bytes',
                                  'peak: 3000 bytes', 'leaked: 1000 bytes',
                                  'RSS peak: 8000 bytes'])
        self.to_png(out)

    def test_real_run(self):
        d = self.path('out')
        res = tool('-o', d, SITES_1)
        self.assertEqual(res.returncode, 0, res.stderr)
        (path, rep), = reports_in(d).items()
        pts = rep['timeline']['points']
        out = self.path('real.svg')
        res = tool('plot', path, '-o', out)
        self.assertEqual((res.returncode, res.stderr), (0, ''))
        root = ET.parse(out).getroot()
        self.check_peak(root, pts)
        # The library puts the exact peak among the points: alloc_big's 1000-byte block.
        self.assertEqual(max(p[1] for p in pts), rep['totals']['peak_bytes'])
        self.assertEqual(rep['totals']['peak_bytes'], 1000)
        bar = root.find('.//%sg[@id="sites-at-peak"]' % SVG)
        self.assertIn('alloc_big', ' '.join(t.text or '' for t in bar.iter(SVG + 'text')))
        self.to_png(out)

    def test_stdout_and_usage(self):
        src = write_json(self.path('r.json'), timeline_report([[0, 1, 2], [1, 3, 4]]))
        res = tool('plot', src)
        self.assertEqual(res.returncode, 0, res.stderr)
        ET.fromstring(res.stdout)
        self.assertOneErrorLine(tool('plot'), 'no FILE')
        self.assertOneErrorLine(tool('plot', src, src), 'one FILE')
        self.assertOneErrorLine(tool('plot', src, '-o', self.path('no', 'such', 'x.svg')),
                                'x.svg')
        bad = write_json(self.path('bad.json'), dict(timeline_report([[5, 1, 0]]),
                                                     timeline={'points': [[5, 1, 0], [4, 1, 0]]}))
        self.assertOneErrorLine(tool('plot', bad), 'bad.json', 'backwards')

    def test_directory_and_options_after_file(self):
        """Issue 10: plot DIR refused a directory that report/diff/check take."""
        import os
        d = self.path('runs')
        os.mkdir(d)
        small = timeline_report([[0, 1, 0], [1, 5, 0]])
        small['pid'] = 7
        small['totals']['peak_bytes'] = 5
        big = timeline_report([[0, 1, 0], [1, 9, 0]])
        big['pid'] = 8
        big['totals']['peak_bytes'] = 9
        write_json(os.path.join(d, 'modalloc.7.json'), small)
        res = tool('plot', d, '-o', self.path('one.svg'))
        self.assertEqual((res.returncode, res.stderr), (0, ''))
        self.assertIn('(pid 7)', open(self.path('one.svg')).read())
        write_json(os.path.join(d, 'modalloc.8.json'), big)
        res = tool('plot', '-o', self.path('two.svg'), d)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stderr, 'modalloc: %s holds 2 reports: plotting modalloc.8.json '
                                     '(pid 8), the largest peak; name a file to choose\n' % d)
        self.assertIn('(pid 8)', open(self.path('two.svg')).read())
        # A command with a newline: the title stays one line, escaped.
        nl = write_json(self.path('nl.json'), dict(small, cmd='./a\nb'))
        res = tool('plot', nl)
        self.assertIn('modalloc: ./a\\nb (pid 7)</text>', res.stdout)

    def to_png(self, svg):
        """Where rsvg-convert exists, the picture must also render."""
        exe = shutil.which('rsvg-convert')
        if exe:
            res = subprocess.run([exe, svg, '-o', svg + '.png'], capture_output=True, timeout=30)
            self.assertEqual(res.returncode, 0, res.stderr)


if __name__ == '__main__':
    main()
