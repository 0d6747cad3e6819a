"""The python kernel: no Sage, no preparsing; rich output without the C++ module."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

from harness import Worker, data_of, png_size, salvus_worker


PYTHON_KERNEL_CHILD = '--python-kernel-child'


def python_kernel_child():
    """Run in a separate process: a python-kernel zygote and one worker."""
    salvus_worker.init_zygote('python')

    def body(s):
        cells = [s.run(c) for c in (
            '2**10', '2^10', 'x = 5', 'x + 1', '1+1\n2+2', '3;', '_',
            'a = 1\nb = 2\nc = undefined_name\n', '1/0', 'def', 'raise SystemExit',
            "import sys\n'sage' in sys.modules")]
        rich = [s.run(c) for c in (
            'import matplotlib.pyplot as plt\n_ = plt.plot([1, 2])\nplt.show()',
            'len(plt.get_fignums())',
            "salvus.graphics_format = 'svg'\nfig = plt.figure()\n"
            "_ = fig.add_subplot().plot([1])\nfig",
            "salvus.html('<b>h</b>')",
            'class H:\n    def _repr_html_(self):\n        return "<i>h</i>"\nH()',
            'len?', 'no_such_q?', '%sh echo hi', '%python\n2**3', '%gp 1')]
        r = s.run('def f(n=(1, 5), x=(0.0, 1.0), c=salvus.color_selector()):\n'
                  '    print(n, x, c)\nsalvus.interact(f);')
        iid = json.loads(r['displays'][0]['text'])['id']
        interact = [r, s.update(iid, {'n': 4.6, 'x': 0.37, 'c': '#00FF00'})]
        return {'cells': cells, 'rich': rich, 'interact': interact,
                'complete': salvus_worker.complete('x = pri', 7),
                'sage_loaded': 'sage' in sys.modules}

    result = Worker(body).result()
    os.write(1, json.dumps(result).encode())


class PythonKernelTest(unittest.TestCase):
    _result = None

    def test_module_loads_without_salvus(self):
        # Without the C++ module (an old binary), rich output becomes text.
        with tempfile.TemporaryDirectory() as home:
            with open(os.path.join(home, 'f.txt'), 'w') as f:
                f.write('hello')
            script = ('import sys; sys.path.insert(0, %r)\n'
                      'import salvus_worker as w\n'
                      'assert "_salvus" not in sys.modules\n'
                      'w.init_zygote("python"); w.init_worker(".", 1)\n'
                      'w.execute("salvus.html(\'<b>x</b>\')")\n'
                      'w.execute("salvus.file(\'f.txt\')")\n'
                      % os.path.dirname(os.path.dirname(os.path.dirname(
                          os.path.abspath(__file__)))))
            proc = subprocess.run([sys.executable, '-c', script], capture_output=True,
                                  timeout=60, cwd=home)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, b'<b>x</b>\n[application/x-salvus-file f.txt 5 bytes]\n')

    @classmethod
    def result(cls):
        """What python_kernel_child reports (it runs once for both tests)."""
        if cls._result is None:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__),
                                   PYTHON_KERNEL_CHILD], capture_output=True, timeout=90)
            assert proc.returncode == 0, proc.stderr
            cls._result = json.loads(proc.stdout)
        return cls._result

    def test_python_kernel(self):
        cells = self.result()['cells']
        (power, xor, assign, use, two, quiet, under, name_error, zero, syntax, exit_,
         no_sage) = cells
        self.assertEqual(power, {'status': 'ok', 'out': '1024\n', 'err': ''})
        self.assertEqual(xor['out'], '8\n')  # no preparsing
        self.assertEqual(use['out'], '6\n')
        self.assertEqual(two['out'], '2\n4\n')
        self.assertEqual(quiet['out'], '')
        self.assertEqual(under['out'], '4\n')
        self.assertEqual(name_error['status'], 'error')
        self.assertIn('File "<cell-8>", line 3, in <module>\n    c = undefined_name\n',
                      name_error['err'])
        self.assertIn('    1/0\n    ~^~\n', zero['err'])  # unchanged lines keep their columns
        self.assertEqual(syntax['status'], 'error')
        self.assertIn('SyntaxError', syntax['err'])
        self.assertEqual(exit_['status'], 'error')
        self.assertEqual(no_sage, {'status': 'ok', 'out': 'False\n', 'err': ''})

    def test_python_kernel_rich_output(self):
        result = self.result()
        (show, figs, svg_value, html, repr_html, help_, no_help, sh, python, gp) = result['rich']
        [d] = show['displays']
        self.assertEqual(d['mime'], 'image/png')
        self.assertEqual(png_size(data_of(d)), (d['width'], d['height']))
        self.assertEqual(figs['out'], '0\n')
        self.assertEqual([d['mime'] for d in svg_value['displays']], ['image/svg+xml'])
        self.assertEqual(html['displays'][0]['text'], '<b>h</b>')
        self.assertEqual(repr_html['displays'][0]['text'], '<i>h</i>')
        [d] = help_['displays']
        self.assertEqual((d['mime'], d['name']), ('application/x-salvus-help', 'len'))
        self.assertIn('Return the number of items in a container.', d['text'])
        self.assertIn('Object `no_such_q` not found.', no_help['err'])
        self.assertEqual(sh['out'], 'hi\n')
        self.assertEqual(python['out'], '8\n')
        self.assertEqual(gp['status'], 'error')
        self.assertIn('Mode %gp needs the sage kernel', gp['err'])
        r, u = result['interact']
        controls = json.loads(r['displays'][0]['text'])['controls']
        self.assertEqual([(c['type'], c['default']) for c in controls],
                         [('slider', 3), ('slider', 0.5), ('color', '#0000ff')])
        self.assertEqual(controls[1]['step'], 0.01)
        self.assertEqual(r['out'], '3 0.5 #0000ff\n')
        self.assertEqual(u, {'status': 'ok', 'out': '5 0.37 #00ff00\n', 'err': ''})
        matches, start, end = result['complete']
        self.assertIn('print', matches)
        self.assertEqual((start, end), (4, 7))
        self.assertFalse(result['sage_loaded'])


if __name__ == '__main__':
    if PYTHON_KERNEL_CHILD in sys.argv:
        python_kernel_child()
    else:
        unittest.main()
