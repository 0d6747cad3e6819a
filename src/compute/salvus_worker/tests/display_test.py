"""Rich output: plots, LaTeX, HTML, pyplot, the salvus object."""

import unittest

from harness import SageTestCase, data_of, png_size, run_cells


class RichOutputTest(SageTestCase):

    def test_plot_value_is_one_png(self):
        r, left = run_cells('plot(sin(x), (x, 0, 2*pi))',
                            'sorted(os.listdir(SAGE_TMP))')
        [d] = self.assertDisplays(r, 'image/png')
        self.assertEqual((r['status'], r['out'], r['err']), ('ok', '', ''))
        data = data_of(d)
        self.assertEqual(png_size(data), (d['width'], d['height']))
        self.assertTrue(300 <= d['width'] <= 2000 and 200 <= d['height'] <= 2000, d)
        self.assertEqual((d['text'], d['name']), ('', ''))
        self.assertOk(left, '[]\n')  # Sage's temporary PNG is gone

    def test_show_graph_and_3d_give_png_and_leave_no_files(self):
        r1, r2, r3, left = run_cells(
            'show(plot(x^2))', 'graphs.PetersenGraph()',
            "var('y')\nplot3d(x*y, (x, -1, 1), (y, -1, 1))", 'sorted(os.listdir(SAGE_TMP))')
        for r in (r1, r2):
            [d] = self.assertDisplays(r, 'image/png')
            self.assertEqual(png_size(data_of(d)), (d['width'], d['height']))
        [d] = self.assertDisplays(r3, 'image/png')  # Tachyon's rendering
        self.assertEqual(r3['out'], 'y\n')
        self.assertOk(left, '[]\n')  # nor Tachyon's scene files

    def test_svg_setting(self):
        r1, r2, r3, r4 = run_cells(
            "salvus.graphics_format = 'svg'\nplot(x)",
            "from sage.repl.rich_output import get_display_manager\n"
            "get_display_manager().preferences.graphics = 'raster'\nplot(x)",
            "get_display_manager().preferences.graphics = 'vector'\nsalvus.graphics_format",
            "salvus.graphics_format = 'pdf'")
        [d] = self.assertDisplays(r1, 'image/svg+xml')
        svg = data_of(d)
        self.assertIn(b'<svg', svg)
        self.assertTrue(300 <= d['width'] <= 2000 and 200 <= d['height'] <= 2000, d)
        self.assertDisplays(r2, 'image/png')
        self.assertOk(r3, "'svg'\n")
        self.assertEqual(r4['status'], 'error')
        self.assertIn("graphics_format must be 'png' or 'svg'", r4['err'])

    def test_show_typesets_latex(self):
        r1, r2, r3 = run_cells('show(x^2/3)', 'pretty_print(matrix([[1, 2], [3, 4]]))',
                               'latex(x^2)')
        [d] = self.assertDisplays(r1, 'text/latex')
        self.assertIn('\\frac{1}{3}', d['text'])
        self.assertFalse(d['text'].startswith('$'), d)
        self.assertEqual((r1['out'], r1['err']), ('', ''))
        [d] = self.assertDisplays(r2, 'text/latex')
        self.assertIn('\\begin{array}', d['text'])
        self.assertOk(r3, 'x^{2}\n')  # Sage shows a LatexExpr as text

    def test_html(self):
        r1, r2, r3 = run_cells("html('<b>hi</b>')", "html('area $\\\\pi r^2$')",
                               'table([[1, x^2], [2, 3]])')
        [d] = self.assertDisplays(r1, 'text/html')
        self.assertEqual(d['text'], '<b>hi</b>')
        [d] = self.assertDisplays(r2, 'text/html')
        self.assertEqual(d['text'], 'area \\(\\pi r^2\\)')  # MathJax 3 delimiters
        [d] = self.assertDisplays(r3, 'text/html')
        self.assertIn('<td>\\(x^{2}\\)</td>', d['text'])
        self.assertNotIn('<script', d['text'])

    def test_salvus_object(self):
        r1, r2, r3, r4 = run_cells("salvus.html('<i>x</i>')", "salvus.md('# T')",
                                   'salvus.tex(x^2/3); salvus.tex("a^b")', 'salvus')
        self.assertEqual(self.assertDisplays(r1, 'text/html')[0]['text'], '<i>x</i>')
        self.assertEqual(self.assertDisplays(r2, 'text/markdown')[0]['text'], '# T')
        d1, d2 = self.assertDisplays(r3, 'text/latex', 'text/latex')
        self.assertEqual((d1['text'], d2['text']), ('\\frac{1}{3} \\, x^{2}', 'a^b'))
        self.assertIn('file(path)', r4['out'])

    def test_pyplot_show(self):
        r1, r2, r3, r4 = run_cells(
            'import matplotlib.pyplot as plt\n_ = plt.plot([1, 2, 3])\nplt.show()\nprint("after")',
            'len(plt.get_fignums())',
            'fig, ax = plt.subplots()\n_ = ax.plot([3, 1])\nfig',  # shown once, as the value
            '_ = plt.plot([1]); plt.show(); _ = plt.plot([2]); plt.show()')
        [d] = self.assertDisplays(r1, 'image/png')
        self.assertEqual(png_size(data_of(d)), (d['width'], d['height']))
        self.assertTrue(200 <= d['width'] <= 2000, d)
        self.assertEqual((r1['out'], d['at']), ('after\n', 0))  # in order with the text
        self.assertOk(r2, '0\n')  # nothing leaks into the next cell
        self.assertDisplays(r3, 'image/png')
        self.assertDisplays(r4, 'image/png', 'image/png')

    def test_pyplot_svg(self):
        [r] = run_cells("salvus.graphics_format = 'svg'\n"
                        'import matplotlib.pyplot as plt\nplt.plot([1, 2]);')
        [d] = self.assertDisplays(r, 'image/svg+xml')
        self.assertIn(b'<svg', data_of(d))
        self.assertGreater(d['width'], 100)

    def test_ipython_reprs(self):
        [r] = run_cells('class H:\n    def _repr_html_(self):\n        return "<i>h</i>"\n'
                        'H()\nH')
        [d] = self.assertDisplays(r, 'text/html')
        self.assertEqual(d['text'], '<i>h</i>')
        self.assertEqual(r['out'], "<class '__main__.H'>\n")  # the class itself as text

    def test_salvus_file(self):
        r1, r2, r3, r4 = run_cells(
            "with open('data.bin', 'wb') as f: _ = f.write(bytes(range(256)))\n"
            "salvus.file('data.bin')",
            "salvus.file('missing.txt')",
            "with open('big', 'wb') as f: f.truncate(17 * 2^20)\nsalvus.file('big')",
            "os.mkdir('d'); salvus.file('d')")
        [d] = self.assertDisplays(r1, 'application/x-salvus-file')
        self.assertEqual((d['name'], data_of(d)), ('data.bin', bytes(range(256))))
        self.assertEqual(r1['status'], 'ok')
        self.assertEqual(r2['status'], 'error')
        self.assertIn("salvus.file: cannot read 'missing.txt'", r2['err'])
        self.assertEqual(r3['status'], 'error')
        self.assertIn('the limit is 16 MB', r3['err'])
        self.assertNotIn('displays', r3)
        self.assertEqual(r4['status'], 'error')
        self.assertIn('not a regular file', r4['err'])


if __name__ == '__main__':
    unittest.main()
