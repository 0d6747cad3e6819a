"""Running cells: values shown, tracebacks, preparsing, the caches."""

import unittest

from harness import SageTestCase, run_cells
from salvus_worker import cell_code, display


class CellsTest(SageTestCase):

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
        self.assertIn('Integer', [t.__name__ for t in display._PLAIN_TYPES])
        fast = run_cells(*cells)
        saved = display._PLAIN_TYPES
        display._PLAIN_TYPES = frozenset()
        try:
            slow = run_cells(*cells)
        finally:
            display._PLAIN_TYPES = saved
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
            py = cell_code._preparse_simple(cell)
            if py is not None:
                shortcut += 1
                self.assertEqual(py, preparse(cell, reset=True, do_time=True), repr(cell))
        self.assertGreater(shortcut, 1500)  # the comparison is not vacuous
        for cell in ('2x', '007', 'time 2+2', '1e5', '3r', 'a = 2', '2.5', '[1..3]',
                     'f(x) = x', '"a"', 'x # c', '1\n2', '%python', '2?'):
            self.assertIsNone(cell_code._preparse_simple(cell), cell)

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
            if not cell_code._is_simple_cell(cell):
                continue
            py = cell_code._preparse_simple(cell)
            tree = outcome(lambda: cell_code._parse_and_compile(py, '<c>', None, False)[0])
            text = outcome(lambda: cell_code._parse_and_compile(py, '<c>', None, False,
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


if __name__ == '__main__':
    unittest.main()
