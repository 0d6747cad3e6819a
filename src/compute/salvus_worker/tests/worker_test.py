"""A worker's life: the zygote, warm-up, interrupts, seeds, its files and
subprocesses."""

import os
import signal
import time
import unittest

from harness import SageTestCase, Worker, in_worker, run_cells, salvus_worker
from salvus_worker import cells


class WorkerTest(SageTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import sage.env
        cls.zygote_dot_sage = sage.env.DOT_SAGE

    def test_zygote_is_single_threaded(self):
        # fork() keeps only the calling thread; OpenBLAS must not have started any.
        self.assertEqual(len(os.listdir('/proc/self/task')), 1)
        self.assertEqual(os.environ.get('OPENBLAS_NUM_THREADS'), '1')
        self.assertEqual(os.environ.get('MPLBACKEND'), 'agg')

    def test_warm_up_leaves_no_trace(self):
        def body(s):
            names = list(cells._ns)
            salvus_worker.warm_worker()
            return [list(cells._ns) == names, s.run('_'), s.run('1/0')]
        same_names, underscore, error = in_worker(body)
        self.assertTrue(same_names)
        self.assertIn('NameError', underscore['err'])
        self.assertIn('File "<cell-2>"', error['err'])  # the session's cells count from 1

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


if __name__ == '__main__':
    unittest.main()
