"""Tests for salvus_worker.py, run with Debian's Python (it has Sage):

    /usr/bin/python3 src/compute/salvus_worker_test.py

This process plays the zygote: setUpClass calls init_zygote('sage') once, and
each test forks workers the way the C++ zygote does (fresh 0700 home as cwd,
HOME/DOT_SAGE/MPLCONFIGDIR/TMPDIR set, sys.stdout/sys.stderr replaced by
objects with only write/flush), runs cells in them and gets the results back
as JSON through a pipe.  A fake C++ module `_salvus` records the rich output
(_salvus.display calls) of each request.

    /usr/bin/python3 src/compute/salvus_worker_test.py --bench

prints timings and memory instead of testing.
"""

import base64
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import salvus_worker  # noqa: E402

WORKER_TIMEOUT = 60  # seconds; a hung worker fails its test instead of the run


class Capture:
    """Like the C++ stream objects as far as this module may rely on them:
    write() and flush(), nothing else."""

    def __init__(self):
        self.parts = []

    def write(self, s):
        self.parts.append(s)
        return len(s)

    def flush(self):
        pass

    def take(self):
        s = ''.join(self.parts)
        self.parts = []
        return s


DISPLAYS = []  # the _salvus.display calls of the current request


def _fake_display(mime, text='', data=None, name='', width=0, height=0):
    """Stands in for the C++ _salvus.display (with its argument types)."""
    if not (isinstance(mime, str) and isinstance(text, str) and isinstance(name, str)
            and (data is None or type(data) is bytes)
            and type(width) is int and type(height) is int):
        raise TypeError('display(%r, %r, %r, %r, %r, %r): bad argument types'
                        % (mime, text[:50], type(data), name, width, height))
    DISPLAYS.append({
        'mime': mime, 'text': text, 'name': name, 'width': width, 'height': height,
        'data': None if data is None else base64.b64encode(data).decode(),
        'at': sum(len(p) for p in getattr(sys.stdout, 'parts', ())),  # stdout so far
    })


_salvus = types.ModuleType('_salvus')
_salvus.display = _fake_display
sys.modules['_salvus'] = _salvus


def data_of(display):
    return base64.b64decode(display['data'])


class Session:
    """Inside a forked worker: runs cells and records what they printed (and
    displayed: the key 'displays' when there is rich output)."""

    def __init__(self, home):
        self.home = home

    def run(self, code):
        return self._request(salvus_worker.execute, code)

    def update(self, interact_id, values):
        if not isinstance(values, str):
            values = json.dumps(values)
        return self._request(salvus_worker.interact_update, interact_id, values)

    def _request(self, fn, *args):
        sys.stdout.take()
        sys.stderr.take()
        DISPLAYS.clear()
        status = fn(*args)
        r = {'status': status, 'out': sys.stdout.take(), 'err': sys.stderr.take()}
        if DISPLAYS:
            r['displays'] = list(DISPLAYS)
        return r


class Worker:
    """A forked worker running ``body(session)``; result() returns what body
    returned (it must be JSON-serialisable) or raises with the child's error."""

    def __init__(self, body, seed=1):
        self.base = tempfile.mkdtemp(prefix='salvus-worker-test-')
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                os.close(read_fd)
                result = self._child(body, seed)
                data = json.dumps(result).encode()
                while data:
                    data = data[os.write(write_fd, data):]
            finally:
                os._exit(0)
        os.close(write_fd)
        self.pid = pid
        self.fd = read_fd
        self.home = os.path.join(self.base, 'home')

    def _child(self, body, seed):
        try:
            home = os.path.join(self.base, 'home')
            os.mkdir(home, 0o700)
            os.chdir(home)
            os.environ['HOME'] = home
            os.environ['DOT_SAGE'] = os.path.join(home, '.sage')
            os.environ['MPLCONFIGDIR'] = os.path.join(home, '.config', 'matplotlib')
            os.environ['TMPDIR'] = home
            sys.stdout = Capture()
            sys.stderr = Capture()
            salvus_worker.init_worker(home, seed)
            return {'value': body(Session(home))}
        except BaseException:
            return {'failure': traceback.format_exc()}

    def result(self):
        deadline = time.monotonic() + WORKER_TIMEOUT
        chunks = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    os.kill(self.pid, signal.SIGKILL)
                    raise AssertionError('worker timed out')
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self.fd)
            os.waitpid(self.pid, 0)
            shutil.rmtree(self.base, ignore_errors=True)
        if not chunks:
            raise AssertionError('worker died without a result')
        result = json.loads(b''.join(chunks))
        if 'failure' in result:
            raise AssertionError('in the worker:\n' + result['failure'])
        return result['value']


def in_worker(body, seed=1):
    return Worker(body, seed).result()


def run_cells(*cells, seed=1):
    """Runs the cells in order in one fresh worker; returns their results."""
    return in_worker(lambda s: [s.run(c) for c in cells], seed)


class SageWorkerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        salvus_worker.init_zygote('sage')
        import sage.env
        cls.zygote_dot_sage = sage.env.DOT_SAGE

    def assertOk(self, r, out):
        self.assertEqual(r, {'status': 'ok', 'out': out, 'err': ''})

    def test_zygote_is_single_threaded(self):
        # fork() keeps only the calling thread; OpenBLAS must not have started any.
        self.assertEqual(len(os.listdir('/proc/self/task')), 1)
        self.assertEqual(os.environ.get('OPENBLAS_NUM_THREADS'), '1')
        self.assertEqual(os.environ.get('MPLBACKEND'), 'agg')

    def test_warm_up_leaves_no_trace(self):
        def body(s):
            names = list(salvus_worker._ns)
            salvus_worker.warm_worker()
            return [list(salvus_worker._ns) == names, s.run('_'), s.run('1/0')]
        same_names, underscore, error = in_worker(body)
        self.assertTrue(same_names)
        self.assertIn('NameError', underscore['err'])
        self.assertIn('File "<cell-2>"', error['err'])  # the session's cells count from 1

    def test_factor(self):
        [r] = run_cells('factor(2^64+1)')
        self.assertOk(r, '274177 * 67280421310721\n')

    def test_preparsed_power(self):
        [r] = run_cells('2^10')
        self.assertOk(r, '1024\n')

    def test_state_persists_between_cells(self):
        r1, r2 = run_cells('x = 5', 'x + 1')
        self.assertOk(r1, '')
        self.assertOk(r2, '6\n')

    def test_every_top_level_expression_is_shown(self):
        r1, r2, r3 = run_cells('1+1\n2+2', 'a = 7; a', 'for i in range(3): i\nprint("p")')
        self.assertOk(r1, '2\n4\n')
        self.assertOk(r2, '7\n')
        self.assertOk(r3, 'p\n')  # only top-level expressions are shown

    def test_trailing_semicolon_hides_last_value(self):
        r1, r2, r3, r4 = run_cells('3+3;', '1+1\n2+2;', '5+5;  \n\n', 'y = 3+3;\ny')
        self.assertOk(r1, '')
        self.assertOk(r2, '2\n')
        self.assertOk(r3, '')
        self.assertOk(r4, '6\n')

    def test_plain_values_shortcut_shows_what_the_display_manager_shows(self):
        cells = ('1', '-7', '2^100', '10^2000', '3/4', '-1/3', '1.5', 'RR(pi)', 'RDF(2)/3',
                 'CDF(1, 2)', 'CC(I) + 1/3', 'int(5)', '0.1r', 'True', 'complex(1, 2)', 'QQ(0)',
                 'RealField(200)(2).sqrt()', 'float("inf")')
        self.assertIn('Integer', [t.__name__ for t in salvus_worker._PLAIN_TYPES])
        fast = run_cells(*cells)
        saved = salvus_worker._PLAIN_TYPES
        salvus_worker._PLAIN_TYPES = frozenset()
        try:
            slow = run_cells(*cells)
        finally:
            salvus_worker._PLAIN_TYPES = saved
        for cell, f, s in zip(cells, fast, slow):
            self.assertEqual((f['status'], f['out'], f['err']), (s['status'], s['out'], s['err']),
                             cell)
        # Another text preference: the display manager decides again.
        r, = run_cells('from sage.repl.rich_output import get_display_manager\n'
                       'get_display_manager().preferences.text = "latex"\n3/4')
        self.assertEqual(r['out'], '')
        self.assertEqual([d['mime'] for d in r.get('displays', [])], ['text/latex'], r)
        self.assertIn('\\frac{3}{4}', r['displays'][0]['text'])

    def test_underscore_is_last_value(self):
        _, r = run_cells('2+3', '_ * 2')
        self.assertOk(r, '10\n')

    def test_name_error_traceback(self):
        cell = 'a = 1\nb = 2^3\nc = undefined_name + a\nd = 4'
        first, r, after_a, after_d, ok = run_cells('1', cell, 'a', 'd', '1+1')
        self.assertEqual(r['status'], 'error')
        self.assertEqual(r['out'], '')
        err = r['err']
        self.assertIn('Traceback (most recent call last):', err)
        self.assertIn('File "<cell-2>", line 3, in <module>', err)
        self.assertIn('    c = undefined_name + a\n', err)  # the line as typed
        self.assertTrue(err.endswith("NameError: name 'undefined_name' is not defined\n"), err)
        self.assertNotIn('salvus_worker', err)
        self.assertEqual(err.count('File '), 1)  # none of the worker's own frames
        self.assertOk(after_a, '1\n')  # statements before the error ran
        self.assertEqual(after_d['status'], 'error')  # the ones after did not
        self.assertOk(ok, '2\n')

    def test_traceback_through_a_function(self):
        [r] = run_cells('def f(n):\n    return 1/(n-n)\n\nf(3)')
        self.assertEqual(r['status'], 'error')
        self.assertIn('File "<cell-1>", line 4, in <module>\n    f(3)\n', r['err'])
        self.assertIn('File "<cell-1>", line 2, in f\n    return 1/(n-n)\n', r['err'])
        self.assertIn('ZeroDivisionError', r['err'])
        self.assertNotIn('^', r['err'])  # columns of preparsed lines would be wrong

    def test_simple_cells_are_preparsed_as_sage_does(self):
        # The worker's shortcut for simple cells must give exactly what
        # Sage's preparser gives, on cells made of the pieces it accepts and
        # the ones it must leave to the preparser.
        from sage.repl.preparse import preparse
        import random as rnd
        pieces = ['2', '10', '0', '07', '123456789012345678901234567890', 'x', 'foo', 'x2',
                  '_1', 'E', 'gcd', 'factor', 'time', 'timeit', 'Integer', ' ', '  ', '+', '-',
                  '*', '/', '%', '(', ')', ',', '^', '^^', '**', '//', '2x', '1e5', '3r', '4j',
                  '1_000']
        rng = rnd.Random(12)
        cells = ['', ' ', '2+2', 'factor(2^64+1)', 'x^^3', 'x^^^2', '2****3', '**^^', '2^-1',
                 '2 ^ 3', '% 3', ' 2']
        cells += [''.join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
                  for _ in range(6000)]
        shortcut = 0
        for cell in cells:
            py = salvus_worker._preparse_simple(cell)
            if py is not None:
                shortcut += 1
                self.assertEqual(py, preparse(cell, reset=True, do_time=True), repr(cell))
        self.assertGreater(shortcut, 1500)  # the comparison is not vacuous
        for cell in ('2x', '007', 'time 2+2', '1e5', '3r', 'a = 2', '2.5', '[1..3]',
                     'f(x) = x', '"a"', 'x # c', '1\n2', '%python', '2?'):
            self.assertIsNone(salvus_worker._preparse_simple(cell), cell)

    def test_simple_cells_compile_as_the_tree_path_compiles_them(self):
        # A simple cell is compiled from its text; the general path compiles
        # its syntax tree statement by statement.  Same code, same errors,
        # same warnings.
        import dis
        import random as rnd
        pieces = ['2', '10', 'x', 'foo', '_1', 'gcd', 'print', 'import', 'math', 'del', 'pass',
                  'global', 'raise', 'assert', 'return', 'yield', 'not', 'if', 'else', 'and',
                  'lambda', ' ', '+', '-', '*', '/', '%', '(', ')', ',', '^', '**', '//', '()']
        rng = rnd.Random(5)
        cells = ['import math', 'del x', 'pass', 'print(1)', '()()', 'x if 1 else 2', ' 2',
                 'return 1', 'yield 2', 'global x', 'raise E', 'assert x, 2']
        cells += [''.join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
                  for _ in range(3000)]

        def outcome(fn):
            import warnings
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always')
                try:
                    codes = fn()
                except SyntaxError as e:
                    return ('error', type(e), e.msg, e.lineno, e.offset, e.end_offset)
            return ([[(i.opname, repr(i.argval)) for i in dis.get_instructions(c)]
                     for c in codes], [str(x.message) for x in w])

        compiled = 0
        for cell in cells:
            if not salvus_worker._is_simple_cell(cell):
                continue
            py = salvus_worker._preparse_simple(cell)
            tree = outcome(lambda: salvus_worker._parse_and_compile(py, '<c>', None, False)[0])
            text = outcome(lambda: salvus_worker._parse_and_compile(py, '<c>', None, False,
                                                                   True)[0])
            self.assertEqual(text, tree, repr(cell))
            compiled += tree[0] != 'error'
        self.assertGreater(compiled, 300)  # not only errors

    def test_a_cell_run_again_is_named_and_numbered_as_run(self):
        # The second run reuses the first's compiled code (the code cache):
        # its traceback still names the run it is, through nested functions,
        # with the lines as typed.
        cell = 'def f(n):\n    return 1/(n-n)\n\nx = 2^3\nf(x)'
        first, other, again = run_cells(cell, '1', cell)
        for r, name in ((first, '<cell-1>'), (again, '<cell-3>')):
            self.assertEqual(r['status'], 'error')
            self.assertIn('File "%s", line 5, in <module>\n    f(x)\n' % name, r['err'])
            self.assertIn('File "%s", line 2, in f\n    return 1/(n-n)\n' % name, r['err'])
            self.assertNotIn('^', r['err'])
        self.assertNotIn('<cell-1>', again['err'])

    def test_a_cell_that_warns_warns_each_time(self):
        cell = 'x = "a"\nx is "a"'
        first, again = run_cells(cell, cell)
        for r in (first, again):
            self.assertEqual((r['status'], r['out']), ('ok', 'True\n'))
            self.assertIn('SyntaxWarning: "is" with a literal', r['err'])

    def test_line_numbers_after_backslash_continuation(self):
        # preparse joins continued lines; tracebacks still count typed lines.
        cell = 'a = 1 + \\\n    2\ns = "x\\\ny"\nb = a + \\\n  a\nundefined_z\n'
        r, b = run_cells(cell, 'b, s')
        self.assertEqual(r['status'], 'error')
        self.assertIn('File "<cell-1>", line 7, in <module>\n    undefined_z\n', r['err'])
        self.assertOk(b, "(6, 'xy')\n")

    def test_syntax_error(self):
        r, x, ok = run_cells('qq = 99\ny = 1\nz = (1 +\n', 'qq', '2+2')
        self.assertEqual(r['status'], 'error')
        self.assertIn('File "<cell-1>", line 3', r['err'])
        self.assertIn('SyntaxError', r['err'])
        self.assertNotIn('Traceback', r['err'])
        self.assertEqual(x['status'], 'error')  # nothing in the cell ran
        self.assertOk(ok, '4\n')

    def test_syntax_error_shows_typed_line(self):
        [r] = run_cells('a = 1\nb = 2^2 +* 3')
        self.assertEqual(r['status'], 'error')
        self.assertIn('line 2\n    b = 2^2 +* 3\n', r['err'])

    def test_preparser_syntax_error(self):
        r, ok = run_cells('R.<x> = QQ)', '1+2')
        self.assertEqual(r['status'], 'error')
        self.assertEqual(r['out'], '')
        self.assertIn("SyntaxError: Mismatched ')'", r['err'])
        self.assertNotIn('Traceback', r['err'])
        self.assertOk(ok, '3\n')

    def test_system_exit_does_not_end_the_session(self):
        r, ok = run_cells('raise SystemExit(3)', '1+1')
        self.assertEqual(r['status'], 'error')
        self.assertIn('SystemExit: 3', r['err'])
        self.assertOk(ok, '2\n')

    def test_polynomial_ring_generators(self):
        r1, r2 = run_cells('R.<t> = QQ[]', '(t+1)^2')
        self.assertOk(r1, '')
        self.assertOk(r2, 't^2 + 2*t + 1\n')

    def test_time_prefix(self):
        [r] = run_cells('time 2+2')
        self.assertEqual(r['status'], 'ok')
        self.assertTrue(r['out'].startswith('4\nTime: CPU '), r['out'])

    def test_var_injects_into_the_session(self):
        r1, r2 = run_cells("var('zz')", 'zz^2')
        self.assertOk(r1, 'zz\n')
        self.assertOk(r2, 'zz^2\n')

    def test_cell_classes_pickle(self):
        [r] = run_cells('import pickle\nclass A: pass\n'
                        'type(pickle.loads(pickle.dumps(A()))) is A')
        self.assertOk(r, 'True\n')

    def test_interact_is_available(self):
        [r] = run_cells('callable(interact), callable(slider)')
        self.assertOk(r, '(True, True)\n')

    def test_sigint_interrupts_a_loop(self):
        def body(s):
            import threading
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            r = s.run('while True: pass')
            timer.join()
            return [r, s.run('2+2')]
        r, ok = in_worker(body)
        self.assertEqual(r['status'], 'interrupted')
        self.assertIn('KeyboardInterrupt', r['err'])
        self.assertOk(ok, '4\n')

    def test_sigint_interrupts_sleep(self):
        def body(s):
            import threading
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            start = time.monotonic()
            r = s.run('import time\ntime.sleep(30)')
            r['seconds'] = time.monotonic() - start
            timer.join()
            return [r, s.run('3')]
        r, ok = in_worker(body)
        self.assertEqual(r['status'], 'interrupted')
        self.assertLess(r['seconds'], 10)
        self.assertOk(ok, '3\n')

    def test_alarm_interrupts(self):
        # cysignals turns SIGALRM into AlarmInterrupt, a KeyboardInterrupt.
        def body(s):
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            r = s.run('while True: pass')
            return [r, s.run('2+2')]
        r, ok = in_worker(body)
        self.assertEqual(r['status'], 'interrupted')
        self.assertIn('AlarmInterrupt', r['err'])
        self.assertOk(ok, '4\n')

    def test_workers_get_different_random_streams(self):
        cell = ('import random as pyrandom, numpy\n'
                '[random(), ZZ.random_element(10^20), pari.random(10^20),'
                ' pyrandom.random(), numpy.random.random()]')
        w1, w2, w3 = (Worker(lambda s: [s.run(cell)], seed) for seed in (1, 2, 1))
        [r1], [r2], [r3] = w1.result(), w2.result(), w3.result()
        self.assertEqual(r1['status'], 'ok')
        v1, v2 = eval(r1['out']), eval(r2['out'])
        for a, b in zip(v1, v2):
            self.assertNotEqual(a, b)
        self.assertEqual(r1, r3)  # the seed decides the stream

    def test_libgap_started_in_a_worker_gets_seeded(self):
        # The first cell starts libgap (1-2 s); later cells must differ.
        cells = ('libgap.Random(1, 10^9)', 'libgap.Random(1, 10^9)')
        w1, w2 = (Worker(lambda s: [s.run(c) for c in cells], seed) for seed in (1, 2))
        (_, r1), (_, r2) = w1.result(), w2.result()
        self.assertEqual(r1['status'], 'ok')
        self.assertNotEqual(r1['out'], r2['out'])

    def test_temp_files_go_to_the_session_home(self):
        zygote_dot_sage = self.zygote_dot_sage

        def body(s):
            r = s.run('from sage.misc.misc import SAGE_TMP\n'
                      'import tempfile\n'
                      'p = plot(sin(x), (x, 0, 1))\n'
                      'f = tmp_filename(ext=".png")\n'
                      'p.save(f)\n'
                      'print(f); print(SAGE_TMP); print(tempfile.gettempdir())\n'
                      'print(DOT_SAGE)')
            f, sage_tmp, tmp, dot_sage = r['out'].split()
            host = __import__('sage.env').env.HOSTNAME
            zygote_tmp = os.path.join(zygote_dot_sage, 'temp', host, str(os.getpid()))
            facts = {'r': r, 'f': f, 'sage_tmp': sage_tmp, 'tmp': tmp, 'dot_sage': dot_sage,
                     'png': os.path.getsize(f),
                     'zygote_tmp_exists': os.path.exists(zygote_tmp)}
            salvus_worker.finish_worker()
            facts['f_after_finish'] = os.path.exists(f)
            facts['sage_tmp_after_finish'] = os.path.exists(sage_tmp)
            return facts

        w = Worker(body)
        home = w.home
        facts = w.result()
        self.assertEqual(facts['r']['status'], 'ok', facts['r'])
        self.assertTrue(facts['f'].startswith(os.path.join(home, '.sage', 'temp') + '/'), facts)
        self.assertTrue(facts['sage_tmp'].startswith(os.path.join(home, '.sage') + '/'), facts)
        self.assertEqual(facts['tmp'], home)
        self.assertEqual(facts['dot_sage'], os.path.join(home, '.sage'))
        self.assertGreater(facts['png'], 1000)
        self.assertFalse(facts['zygote_tmp_exists'])
        self.assertFalse(facts['f_after_finish'])
        self.assertFalse(facts['sage_tmp_after_finish'])

    def test_gp_runs_in_the_worker_and_stops_with_it(self):
        def body(s):
            r1 = s.run("gp('factor(2^64+1)')")
            r2 = s.run('gp._expect.pid, gp._Expect__logfilename')
            pid, log = eval(r2['out'])
            salvus_worker.finish_worker()
            salvus_worker.finish_worker()  # harmless twice
            try:
                with open('/proc/%d/stat' % pid) as f:
                    state = f.read().split()[2]
            except FileNotFoundError:
                state = 'gone'
            return {'r1': r1, 'log': log, 'state': state}

        w = Worker(body)
        home = w.home
        facts = w.result()
        self.assertEqual(facts['r1'], {'status': 'ok', 'err': '',
                                       'out': '[274177, 1; 67280421310721, 1]\n'})
        self.assertEqual(facts['log'], os.path.join(home, '.sage', 'gp-expect.log'))
        self.assertIn(facts['state'], ('gone', 'Z'))  # exited (a zombie until we exit)

    def test_pyplot_figures_do_not_pile_up(self):
        # A figure drawn and not shown is shown at the end of the cell.
        r1, r2 = run_cells('import matplotlib.pyplot as plt\nplt.plot([1, 2]);',
                           'len(plt.get_fignums())')
        self.assertEqual([d['mime'] for d in r1.pop('displays')], ['image/png'])
        self.assertOk(r1, '')
        self.assertOk(r2, '0\n')

    def test_output_goes_to_the_streams_of_the_moment(self):
        r, = run_cells('import sys\nprint("a")\n_ = sys.stderr.write("b\\n")\npari("1+1")')
        self.assertEqual(r, {'status': 'ok', 'out': 'a\n2\n', 'err': 'b\n'})


def png_size(data):
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR', data[:16]
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


class SageTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        salvus_worker.init_zygote('sage')  # once per process; later calls return

    def assertOk(self, r, out):
        self.assertEqual(r, {'status': 'ok', 'out': out, 'err': ''})

    def assertDisplays(self, r, *mimes):
        """r's displays have these MIME types; returns them."""
        displays = r.get('displays', [])
        self.assertEqual([d['mime'] for d in displays], list(mimes), r)
        return displays


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


class CompletionAndHelpTest(SageTestCase):

    def test_completion(self):
        def body(s):
            c = salvus_worker.complete
            s.run('my_variable_q = 1\nα = 2')
            return {
                'facto': c('facto', 5),
                'middle': c('facto(12)', 5),
                'attr': c('ZZ.ran', 6),
                'all_attrs': c('ZZ.', 3),
                'mine': c('y = my_var', 10),
                'unicode': c('α + facto', 9),
                'private': c('ZZ._', 4),
                'number': c('2.fa', 4),
                'call': c('sin(x).fa', 9),
                'empty': c('', 0),
                'bad_cursor': c('facto', 99),
                'bad_code': c(None, 3),
                'missing': c('no_such_thing.a', 15),
            }
        r = in_worker(body)
        self.assertIn('factor', r['facto'][0])
        self.assertEqual(r['facto'][1:], [0, 5])
        for m in r['facto'][0]:
            self.assertTrue(m.startswith('facto') and not m.endswith('('), m)
        self.assertEqual(r['middle'], r['facto'])
        self.assertIn('random_element', r['attr'][0])
        self.assertEqual(r['attr'][1:], [3, 6])  # only the attribute is replaced
        self.assertLessEqual(len(r['all_attrs'][0]), 200)
        self.assertGreater(len(r['all_attrs'][0]), 20)
        self.assertTrue(all(not m.startswith('_') for m in r['all_attrs'][0]))
        self.assertEqual(r['mine'], [['my_variable_q'], 4, 10])
        self.assertIn('factor', r['unicode'][0])
        self.assertEqual(r['unicode'][1:], [4, 9])  # code points
        self.assertTrue(r['private'][0])
        self.assertTrue(all(m.startswith('_') for m in r['private'][0]))
        for key in ('number', 'call', 'empty'):
            self.assertEqual(r[key][0], [], key)
        self.assertEqual(r['bad_cursor'], [[], 99, 99])
        self.assertEqual(r['bad_code'], [[], 3, 3])
        self.assertEqual(r['missing'], [[], 15, 15])

    def test_help_and_source(self):
        r1, r2, r3, r4, r5 = run_cells('factor?', 'factor??', 'no_such_name_q?',
                                       'ZZ.random_element?', '1 # is this help?')
        [d] = self.assertDisplays(r1, 'application/x-salvus-help')
        self.assertEqual(d['name'], 'factor')
        self.assertIn('Return the factorization of', d['text'])
        self.assertIn('Signature: factor(n, proof=None', d['text'])
        self.assertEqual((r1['status'], r1['out'], r1['err']), ('ok', '', ''))
        [d] = self.assertDisplays(r2, 'application/x-salvus-help')
        self.assertIn('def factor(n, proof=None', d['text'])
        self.assertIn('arith/misc.py', d['text'])
        self.assertEqual(r3['status'], 'error')
        self.assertIn('Object `no_such_name_q` not found.', r3['err'])
        self.assertNotIn('displays', r3)
        [d] = self.assertDisplays(r4, 'application/x-salvus-help')
        self.assertEqual(d['name'], 'ZZ.random_element')
        self.assertIn('random_element(x=None', d['text'])
        self.assertOk(r5, '1\n')  # a comment, not a question


class ModesTest(SageTestCase):

    def test_gp(self):
        def body(s):
            import threading
            results = [s.run(c) for c in ('%gp\nfactor(2^64+1)', '%gp 2 + 3', '%gp\n1/0')]
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            results.append(s.run('%gp\nwhile(1, 1)'))
            timer.join()
            results.append(s.run('%gp\na = 6;\na^2'))
            return results
        r1, r2, r3, r4, r5 = in_worker(body)
        # gp's own output (its matrix layout), as in a gp session
        self.assertOk(r1, '[        274177 1]\n\n[67280421310721 1]\n')
        self.assertOk(r2, '5\n')
        self.assertEqual(r3['status'], 'error')
        self.assertIn('impossible inverse', r3['err'])
        self.assertEqual(r4['status'], 'interrupted')
        self.assertIn('KeyboardInterrupt', r4['err'])
        self.assertNotIn('expect.py', r4['err'])  # not Sage's pexpect plumbing
        self.assertOk(r5, '36\n')  # gp still works

    def test_sh(self):
        def body(s):
            import threading
            results = [s.run('%sh\necho hello; echo oops >&2\npwd'),
                       s.run('%sh exit 3'),
                       s.run('%sh\nsleep 30 &\necho $!'),  # does not wait for it
                       s.run('%%sh\nprintf "\\xff\\xfeok"')]
            os.kill(int(results[2]['out']), signal.SIGKILL)  # left running: ours to end
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            results.append(s.run('%sh\necho start; sleep 30; echo never'))
            timer.join()
            results.append(s.run('%sh echo still here'))
            return results

        w = Worker(body)
        home = w.home
        r1, r2, r3, r4, r5, r6 = w.result()
        self.assertEqual(r1, {'status': 'ok', 'out': 'hello\n%s\n' % home, 'err': 'oops\n'})
        self.assertEqual(r2, {'status': 'error', 'out': '', 'err': '(exit code 3)\n'})
        self.assertEqual((r3['status'], r3['err']), ('ok', ''))
        self.assertOk(r4, '\ufffd\ufffdok')
        self.assertEqual(r5['status'], 'interrupted')
        self.assertEqual(r5['out'], 'start\n')
        self.assertIn('KeyboardInterrupt', r5['err'])
        self.assertOk(r6, 'still here\n')

    def test_display_modes(self):
        r1, r2, r3, r4 = run_cells('%md\n# Title\n\n*x*\n', '%html <b>x</b> $y$',
                                   '%latex\n\\frac{1}{2}', '%%md\nok')
        self.assertEqual(self.assertDisplays(r1, 'text/markdown')[0]['text'], '# Title\n\n*x*')
        self.assertEqual(self.assertDisplays(r2, 'text/html')[0]['text'], '<b>x</b> $y$')
        self.assertEqual(self.assertDisplays(r3, 'text/latex')[0]['text'], '\\frac{1}{2}')
        self.assertEqual(self.assertDisplays(r4, 'text/markdown')[0]['text'], 'ok')
        for r in (r1, r2, r3, r4):
            self.assertEqual((r['status'], r['out'], r['err']), ('ok', '', ''))

    def test_unknown_mode(self):
        r, ok = run_cells('%fortran\nprint *, 1', '1+1')
        self.assertEqual(r['status'], 'error')
        self.assertEqual(r['out'], '')
        self.assertIn('Unknown mode %fortran', r['err'])
        for mode in ('%gp', '%sh', '%python', '%md', '%html', '%gap', '%maxima'):
            self.assertIn(mode, r['err'])
        self.assertOk(ok, '2\n')

    def test_python_mode(self):
        r1, r2, r3 = run_cells('%python\n2^3', '%python\na = 1\nundefined_w\n', '2^3')
        self.assertOk(r1, '1\n')  # no preparsing: xor
        self.assertEqual(r2['status'], 'error')
        self.assertIn('File "<cell-2>", line 3, in <module>\n    undefined_w\n', r2['err'])
        self.assertOk(r3, '8\n')


def interact_message(display):
    """The JSON of an interact display, checked against its name."""
    assert display['mime'] == 'application/x-salvus-interact', display
    message = json.loads(display['text'])
    assert message['id'] == display['name'], display
    return message


ALL_CONTROLS = '''@interact
def demo(a=(1, 10), b=(0.0, 1.0, 0.25), c=slider([2, 3, 5, 7], default=5),
         d=range_slider(0, 100, 10, default=(20, 60)), e=x^2, f=input_box('1/2', type=QQ),
         g=input_box('hi', type=str), h='text', i=True, j=['one', 'two', 'three'],
         k=selector([(1, 'first'), (2, 'second')], buttons=True), l=Color('red'),
         m=matrix(ZZ, [[1, 2], [3, 4]]), n=input_grid(1, 2, default=[5, 6]),
         o=button('Go'), p=text_control('<b>note</b>')):
    print(repr((a, b, c, d, e, f, g, h, i, j, k, l, m.list(), n, o, p)))
    print([type(v).__name__ for v in (a, b, c, d[0], f, l, m)])
'''


class InteractTest(SageTestCase):

    def test_slider_interact(self):
        def body(s):
            r = s.run('@interact\ndef f(n=(1, 10)):\n    print("n =", n, type(n).__name__)')
            iid = interact_message(r['displays'][0])['id']
            return [r, s.update(iid, {'n': 8}), s.update(iid, {'n': 3.4}), s.update(iid, {}),
                    s.run('f(2)')]
        r, u1, u2, u3, call = in_worker(body)
        [d] = self.assertDisplays(r, 'application/x-salvus-interact')
        message = interact_message(d)
        self.assertEqual(message['controls'], [
            {'name': 'n', 'type': 'slider', 'label': 'n', 'min': 1, 'max': 10, 'step': 1,
             'default': 5, 'display_value': True}])
        self.assertEqual(message['auto_update'], True)
        self.assertEqual(d['at'], 0)  # the controls come before the output
        self.assertEqual((r['status'], r['out'], r['err']), ('ok', 'n = 5 Integer\n', ''))
        self.assertOk(u1, 'n = 8 Integer\n')
        self.assertOk(u2, 'n = 3 Integer\n')  # snapped to the steps
        self.assertOk(u3, 'n = 3 Integer\n')
        self.assertOk(call, 'n = 2 Integer\n')  # interact returns the function

    def test_unknown_interact(self):
        [r] = in_worker(lambda s: [s.update('0' * 32, {'n': 1})])
        self.assertEqual(r['status'], 'error')
        self.assertIn('interact_update: there is no interact "%s"' % ('0' * 32), r['err'])

    def test_bad_values_keep_previous_values(self):
        def body(s):
            r = s.run('@interact\ndef f(n=(1, 10), s="a"):\n    print(n, s)')
            iid = interact_message(r['displays'][0])['id']
            return [s.update(iid, {'n': 3}),
                    s.update(iid, {'s': 'b', 'n': 'oops'}),  # nothing is set
                    s.update(iid, {'nn': 1}),
                    s.update(iid, 'not json'),
                    s.update(iid, '[1, 2]'),
                    s.update(iid, {})]
        ok, bad, unknown, not_json, not_object, after = in_worker(body)
        self.assertOk(ok, '3 a\n')
        self.assertEqual(bad['status'], 'error')
        self.assertEqual(bad['out'], '')
        self.assertIn('interact_update: bad value for "n" (slider): the value must be a number',
                      bad['err'])
        self.assertEqual(unknown['status'], 'error')
        self.assertIn('has no control "nn" (its controls: n, s)', unknown['err'])
        self.assertEqual(not_json['status'], 'error')
        self.assertIn('not JSON', not_json['err'])
        self.assertEqual(not_object['status'], 'error')
        self.assertOk(after, '3 a\n')

    def test_nested_interacts(self):
        def body(s):
            r = s.run('@interact\ndef outer(k=(1, 3)):\n    print("outer", k)\n'
                      '    @interact\n    def inner(j=(1, k)):\n        print("inner", j, k)')
            outer, inner = (interact_message(d)['id'] for d in r['displays'])
            u1 = s.update(inner, {'j': 2})
            u2 = s.update(outer, {'k': 3})
            inner2 = interact_message(u2['displays'][0])
            return [r, u1, u2, inner2, s.update(inner, {'j': 1}),
                    s.update(inner2['id'], {'j': 3})]
        r, u1, u2, inner2, stale, u3 = in_worker(body)
        d1, d2 = self.assertDisplays(r, 'application/x-salvus-interact',
                                     'application/x-salvus-interact')
        self.assertEqual((d1['at'], d2['at']), (0, len('outer 2\n')))
        self.assertEqual(r['out'], 'outer 2\ninner 1 2\n')
        self.assertEqual(interact_message(d2)['controls'][0]['max'], 2)
        self.assertOk(u1, 'inner 2 2\n')
        self.assertEqual(u2['out'], 'outer 3\ninner 2 3\n')
        self.assertEqual(inner2['controls'][0]['max'], 3)
        self.assertEqual(stale['status'], 'error')  # the old inner interact is gone
        self.assertOk(u3, 'inner 3 3\n')

    def test_two_interacts_in_one_cell(self):
        def body(s):
            r = s.run('@interact\ndef a(n=(1, 3)):\n    print("a", n)\n\n'
                      "@interact\ndef b(m=['x', 'y']):\n    print('b', m)")
            ia, ib = (interact_message(d)['id'] for d in r['displays'])
            return [r, s.update(ib, {'m': 1}), s.update(ia, {'n': 1}), s.update(ib, {'m': 'x'})]
        r, u1, u2, u3 = in_worker(body)
        self.assertEqual(len(r['displays']), 2)
        self.assertEqual(r['out'], 'a 2\nb x\n')
        self.assertOk(u1, 'b y\n')
        self.assertOk(u2, 'a 1\n')
        self.assertOk(u3, 'b x\n')

    def test_every_control(self):
        updated = {'a': 7.6, 'b': 0.3, 'c': 0, 'd': [94, 12], 'e': 'x^3 + 1', 'f': '2/3',
                   'g': 'abc', 'h': 'z', 'i': False, 'j': 2, 'k': 'second', 'l': '#00ff00',
                   'm': [['5', '6'], ['7', '8']], 'n': [['1+1', 3]], 'o': True, 'p': 'ignored'}
        bad = [('a', 'x'), ('b', None), ('c', 9), ('d', [1]), ('e', '1 +'), ('f', 'x'),
               ('g', 3), ('i', 1), ('j', 'four'), ('k', -1), ('l', 'red'), ('m', [['1']]),
               ('n', [['a_undefined', '1']]), ('o', 'yes')]

        def body(s):
            r = s.run(ALL_CONTROLS)
            iid = interact_message(r['displays'][0])['id']
            return [r, s.update(iid, updated), [s.update(iid, {k: v}) for k, v in bad],
                    s.update(iid, {})]
        r, u, errors, after = in_worker(body)
        [d] = self.assertDisplays(r, 'application/x-salvus-interact')
        controls = {c['name']: c for c in interact_message(d)['controls']}
        self.assertEqual(list(controls), list('abcdefghijklmnop'))
        expected = {
            'a': {'type': 'slider', 'min': 1, 'max': 10, 'step': 1, 'default': 5,
                  'display_value': True},
            'b': {'type': 'slider', 'min': 0.0, 'max': 1.0, 'step': 0.25, 'default': 0.5,
                  'display_value': True},
            'c': {'type': 'slider', 'values': [2, 3, 5, 7], 'default_index': 2,
                  'display_value': True},
            'd': {'type': 'range_slider', 'min': 0, 'max': 100, 'step': 10,
                  'default': [20, 60], 'display_value': True},
            'e': {'type': 'input_box', 'default': 'x^2', 'kind': 'expression', 'width': 80,
                  'height': 1},
            'f': {'type': 'input_box', 'default': '1/2', 'kind': 'number', 'width': 80,
                  'height': 1},
            'g': {'type': 'input_box', 'default': 'hi', 'kind': 'string', 'width': 80,
                  'height': 1},
            'h': {'type': 'input_box', 'default': 'text', 'kind': 'string', 'width': 80,
                  'height': 1},
            'i': {'type': 'checkbox', 'default': True},
            'j': {'type': 'selector', 'values': ['one', 'two', 'three'], 'default_index': 0,
                  'buttons': False, 'nrows': None, 'ncols': None},
            'k': {'type': 'selector', 'values': ['first', 'second'], 'default_index': 0,
                  'buttons': True, 'nrows': None, 'ncols': None},
            'l': {'type': 'color', 'default': '#ff0000', 'hide_box': False},
            'm': {'type': 'input_grid', 'rows': 2, 'cols': 2, 'width': 4,
                  'default': [['1', '2'], ['3', '4']]},
            'n': {'type': 'input_grid', 'rows': 1, 'cols': 2, 'width': 4,
                  'default': [['5', '6']]},
            'o': {'type': 'button', 'text': 'Go', 'width': None},
            'p': {'type': 'text_control', 'text': '<b>note</b>'},
        }
        for name, fields in expected.items():
            label = '' if name in 'op' else name
            self.assertEqual(controls[name], dict(name=name, label=label, **fields))
        types_line = ("['Integer', 'RealNumber', 'Integer', 'Integer', 'Rational', 'Color', "
                      "'Matrix_integer_dense']\n")
        self.assertEqual(r['status'], 'ok', r)
        self.assertEqual(r['out'], "(5, 0.500000000000000, 5, (20, 60), x^2, 1/2, 'hi', 'text', "
                         "True, 'one', 1, RGB color (1.0, 0.0, 0.0), [1, 2, 3, 4], [[5, 6]], "
                         "False, '<b>note</b>')\n" + types_line)
        new_values = ("(8, 0.250000000000000, 2, (10, 90), x^3 + 1, 2/3, 'abc', 'z', False, "
                      "'three', 2, RGB color (0.0, 1.0, 0.0), [5, 6, 7, 8], [[2, 3]], %s, "
                      "'<b>note</b>')\n")
        self.assertOk(u, new_values % 'True' + types_line)
        for (name, value), e in zip(bad, errors):
            self.assertEqual(e['status'], 'error', (name, value, e))
            self.assertEqual(e['out'], '', (name, value))
            self.assertTrue(e['err'].startswith('interact_update: bad value for "%s"' % name), e)
        self.assertIn("cannot evaluate '1 +': SyntaxError", errors[4]['err'])
        self.assertOk(after, new_values % 'False' + types_line)  # a click lasts one run

    def test_interact_forms(self):
        def body(s):
            r1 = s.run("@interact(auto_update=False, layout={'top': [['n']]})\n"
                       "def f(n=('Number', 5), w=(3, [1, 3, 5]), c=color_selector('green')):\n"
                       "    print(n, w, c.html_color())")
            r2 = s.run('def g(a, auto_update=False):\n    print(a)\ng2 = interact(g, a=(0, 4, 2))')
            r3 = s.run('@interact\ndef h(q=(1/2, 2)):\n    print(q, parent(q))')
            return [r1, r2, r3]
        r1, r2, r3 = in_worker(body)
        m = interact_message(r1['displays'][0])
        self.assertEqual((m['auto_update'], m['layout']), (False, {'top': [['n']]}))
        n, w, c = m['controls']
        self.assertEqual((n['type'], n['label'], n['default']), ('input_box', 'Number', '5'))
        self.assertEqual((w['type'], w['values'], w['default_index']),
                         ('selector', ['1', '3', '5'], 1))
        self.assertEqual(c['default'], '#008000')
        self.assertOkIgnoringDisplays(r1, '5 3 #008000\n')
        m = interact_message(r2['displays'][0])
        self.assertEqual(m['auto_update'], False)
        self.assertEqual([(c['name'], c['min'], c['max'], c['step'], c['default'])
                          for c in m['controls']], [('a', 0, 4, 2, 2)])
        self.assertOkIgnoringDisplays(r2, '2\n')
        m = interact_message(r3['displays'][0])  # rationals: a slider over their values
        self.assertEqual((m['controls'][0]['values'], m['controls'][0]['default_index']),
                         (['1/2', '3/2'], 1))  # the one closest to the middle
        self.assertOkIgnoringDisplays(r3, '3/2 Rational Field\n')

    def assertOkIgnoringDisplays(self, r, out):
        r = dict(r)
        r.pop('displays', None)
        self.assertOk(r, out)

    def test_errors_in_the_function(self):
        def body(s):
            r = s.run('@interact\ndef f(n=(0, 2)):\n    print(1/(n-1))\nprint("cell goes on")')
            iid = interact_message(r['displays'][0])['id']
            return [r, s.update(iid, {'n': 2}), s.update(iid, {'n': 1})]
        r, ok, error = in_worker(body)
        self.assertEqual(r['status'], 'ok')
        self.assertEqual(r['out'], 'cell goes on\n')
        self.assertIn('ZeroDivisionError', r['err'])
        self.assertIn('File "<cell-1>", line 3, in f', r['err'])
        self.assertOk(ok, '1\n')
        self.assertEqual(error['status'], 'error')
        self.assertIn('ZeroDivisionError', error['err'])
        self.assertNotIn('salvus_worker', error['err'])

    def test_registry_is_bounded(self):
        def body(s):
            r = s.run('for i in range(1005):\n    _ = interact(lambda n=(1, 2): None)')
            first = interact_message(r['displays'][0])['id']
            last = interact_message(r['displays'][-1])['id']
            return [len(r['displays']), len(salvus_worker._interacts),
                    s.update(first, {})['status'], s.update(last, {})['status']]
        self.assertEqual(in_worker(body), [1005, 1000, 'error', 'ok'])


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
                      % os.path.dirname(os.path.abspath(__file__)))
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


# ---------------------------------------------------------------------------
# --bench
# ---------------------------------------------------------------------------

def bench():
    t = time.perf_counter()
    salvus_worker.init_zygote('sage')
    print('init_zygote(sage)              %8.2f s' % (time.perf_counter() - t))
    print('zygote RSS                     %8.1f MB' % (_smaps(os.getpid())['Rss'] / 1024))

    def measure(s):
        t = time.perf_counter()
        s.run('2+2')
        facts = {'first 2+2 us': (time.perf_counter() - t) * 1e6}

        def median_us(code, n):
            times = []
            for _ in range(n):
                t = time.perf_counter()
                salvus_worker.execute(code)
                times.append(time.perf_counter() - t)
            sys.stdout.take()
            return statistics.median(times) * 1e6

        facts['execute 2+2 us (median of 1000)'] = median_us('2+2', 1000)
        facts['execute 2+N us, distinct cells (median of 1000)'] = statistics.median(
            _timed(lambda i: salvus_worker.execute('2+%d' % (i + 3)), 1000)) * 1e6
        sys.stdout.take()
        facts['print loop 10^4 ms (median of 50)'] = median_us(
            'for i in range(10^4): print(i)', 50) / 1000
        t = time.perf_counter()
        s.run('plot(sin(x), (x, 0, 2*pi)).save(tmp_filename(ext=".png"))')
        facts['first plot save s'] = time.perf_counter() - t
        return facts

    t = time.perf_counter()
    w = Worker(lambda s: {'init_worker ms': 0})
    w.result()
    print('fork + init_worker + exit       %8.1f ms (incl. test harness)' %
          ((time.perf_counter() - t) * 1000))
    print('worker USS after 2+2            %8.1f MB' % in_worker(_uss_body))
    for k, v in in_worker(measure).items():
        print('%-45s %10.2f' % (k, v))


def _uss_body(s):
    s.run('2+2')
    with open('/proc/self/smaps_rollup') as f:
        m = {}
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith(':'):
                m[parts[0][:-1]] = int(parts[1])
    return (m['Private_Clean'] + m['Private_Dirty']) / 1024


def _timed(fn, n):
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return times


def _smaps(pid):
    m = {}
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith(':'):
                m[parts[0][:-1]] = int(parts[1])
    return m


if __name__ == '__main__':
    if PYTHON_KERNEL_CHILD in sys.argv:
        python_kernel_child()
    elif '--bench' in sys.argv:
        bench()
    else:
        unittest.main()
