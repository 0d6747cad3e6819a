"""Completion, help (obj? and obj??) and the %modes."""

import os
import signal
import unittest

from harness import SageTestCase, Worker, in_worker, run_cells, salvus_worker


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


if __name__ == '__main__':
    unittest.main()
