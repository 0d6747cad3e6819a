"""Interacts: the controls' JSON, updates from the browser, nesting."""

import unittest

from harness import SageTestCase, in_worker, interact_message
from salvus_worker import interact


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
            return [len(r['displays']), len(interact._interacts),
                    s.update(first, {})['status'], s.update(last, {})['status']]
        self.assertEqual(in_worker(body), [1005, 1000, 'error', 'ok'])

    def test_numbers_past_a_float_snap_to_the_ends(self):
        # Found by fuzz/interact_values_fuzz.py: 1e308 in steps of 0.25
        # overflowed to inf, and a 400-digit int was no number at all.
        def body(s):
            r = s.run('@interact\ndef f(x=(0.0, 1.0, 0.25), n=(1, 10), '
                      'r=range_slider(0, 100, 10)):\n    print(x, n, r)')
            iid = interact_message(r['displays'][0])['id']
            return [s.update(iid, {'x': 1e308, 'n': 10**400, 'r': [-10**400, 1e308]}),
                    s.update(iid, {'x': -1e308, 'n': -10**400, 'r': [5e-324, -1e308]})]
        high, low = in_worker(body)
        self.assertOk(high, '1.00000000000000 10 (0, 100)\n')
        self.assertOk(low, '0.000000000000000 1 (0, 0)\n')


if __name__ == '__main__':
    unittest.main()
