"""Tests for salvus_worker.py, run with Debian's Python (it has Sage):

    /usr/bin/python3 src/compute/salvus_worker_test.py

This process plays the zygote: setUpClass calls init_zygote('sage') once, and
each test forks workers the way the C++ zygote does (fresh 0700 home as cwd,
HOME/DOT_SAGE/MPLCONFIGDIR/TMPDIR set, sys.stdout/sys.stderr replaced by
objects with only write/flush), runs cells in them and gets the results back
as JSON through a pipe.

    /usr/bin/python3 src/compute/salvus_worker_test.py --bench

prints timings and memory instead of testing.
"""

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


class Session:
    """Inside a forked worker: runs cells and records what they printed."""

    def __init__(self, home):
        self.home = home

    def run(self, code):
        sys.stdout.take()
        sys.stderr.take()
        status = salvus_worker.execute(code)
        return {'status': status, 'out': sys.stdout.take(), 'err': sys.stderr.take()}


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
        r1, r2 = run_cells('import matplotlib.pyplot as plt\nplt.plot([1, 2]);',
                           'len(plt.get_fignums())')
        self.assertOk(r1, '')
        self.assertOk(r2, '0\n')

    def test_output_goes_to_the_streams_of_the_moment(self):
        r, = run_cells('import sys\nprint("a")\n_ = sys.stderr.write("b\\n")\npari("1+1")')
        self.assertEqual(r, {'status': 'ok', 'out': 'a\n2\n', 'err': 'b\n'})


PYTHON_KERNEL_CHILD = '--python-kernel-child'


def python_kernel_child():
    """Run in a separate process: a python-kernel zygote and one worker."""
    salvus_worker.init_zygote('python')

    def body(s):
        return {'cells': [s.run(c) for c in (
            '2**10', '2^10', 'x = 5', 'x + 1', '1+1\n2+2', '3;', '_',
            'a = 1\nb = 2\nc = undefined_name\n', '1/0', 'def', 'raise SystemExit',
            "import sys\n'sage' in sys.modules")]}

    result = Worker(body).result()
    os.write(1, json.dumps(result).encode())


class PythonKernelTest(unittest.TestCase):

    def test_python_kernel(self):
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), PYTHON_KERNEL_CHILD],
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        cells = json.loads(proc.stdout)['cells']
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
