"""Fuzz loop over the interact value adapters (src/compute/salvus_worker,
python kernel: no Sage, no atheris): values a browser might send — JSON of
every shape, extreme numbers, odd strings, and byte-mutated JSON texts — go
through interact_update exactly as a browser's interactUpdate does.

Checks: each update ends in 'ok' or 'error' (never an exception out of
interact_update); a value the control must take (generated to fit) gives
'ok'; after 'ok' each value the function got is of its control's kind
(a slider's on its grid and within its bounds, a selector's one of its
values, ...). Expressions in text boxes are evaluated by the session's own
code; here a literal reader stands in for it, so the loop tests the
adapters, not Python's eval.

    fuzz/interact_values_fuzz.py [--iterations N] [--seconds S] [--seed N]

It prints the seed first: `--seed` with it replays a failure.
"""

import argparse
import ast
import io
import json
import math
import os
import random
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src',
                                'compute'))

from salvus_worker import cells, controls, inputs, interact, slider, state  # noqa: E402

state.kernel = 'python'
cells._ns = {}


def _literal(text):
    if len(text) > 60:
        raise ValueError('too long for the stand-in evaluator')
    return ast.literal_eval(text)


inputs._eval_expression = _literal

_COLOR = re.compile(r'#[0-9a-f]{6}\Z')


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


# name -> (control, a function that makes a fitting raw value, a check of the
# value the function then gets)
def make_controls():
    int_slider = slider._Slider(-5, 20, 3)
    float_slider = slider._Slider(0.0, 1.0, 0.125)
    range_int = slider._Slider(0, 100, 5, _range=True)
    list_slider = slider._Slider(['a', 'b', 3, None])
    range_list = slider._Slider([1, 2, 4, 8], _range=True)
    sel = controls._Selector([1, 'two', (3, 4)])
    sel_dict = controls._Selector({'x': 10, 'y': 20})
    grid = inputs._InputGrid(2, 3, default=0)

    def on_grid(c, v):
        return (isinstance(v, (int, float)) and not isinstance(v, bool)
                and c.min <= v <= c.max and abs((v - c.min) / c.step - round((v - c.min) / c.step))
                < 1e-6)

    # Any finite number fits a numeric slider: it snaps to the nearest step.
    return {
        'n': (int_slider, finite_number,
              lambda v: isinstance(v, int) and on_grid(int_slider, v)),
        'x': (float_slider, finite_number,
              lambda v: on_grid(float_slider, v)),
        'span': (range_int, lambda r: [finite_number(r), finite_number(r)],
                 lambda v: isinstance(v, tuple) and len(v) == 2 and v[0] <= v[1]
                 and all(on_grid(range_int, e) for e in v)),
        'item': (list_slider, lambda r: r.randrange(4),
                 lambda v: any(v is e for e in list_slider.values)),
        'pair': (range_list, lambda r: [r.randrange(4), r.randrange(4)],
                 lambda v: isinstance(v, tuple) and len(v) == 2
                 and range_list.values.index(v[0]) <= range_list.values.index(v[1])),
        'choice': (sel, lambda r: r.choice([r.randrange(3), r.choice(sel.labels)]),
                   lambda v: any(v is e for e in sel.values)),
        'named': (sel_dict, lambda r: r.choice(['x', 'y', 0, 1]),
                  lambda v: v in (10, 20)),
        'flag': (controls._Checkbox(False), lambda r: r.random() < 0.5,
                 lambda v: isinstance(v, bool)),
        'go': (controls._Button('Go', value='clicked', default='idle'),
               lambda r: r.random() < 0.5, lambda v: v in ('clicked', 'idle')),
        'note': (controls._TextControl('<b>hi</b>'), lambda r: rand_value(r),
                 lambda v: v == '<b>hi</b>'),
        'name': (inputs._InputBox('x', type=str), lambda r: rand_string(r),
                 lambda v: isinstance(v, str)),
        'count': (inputs._InputBox(1, type=int), lambda r: r.randint(-10**6, 10**6),
                  lambda v: v is None or isinstance(v, int)),
        'expr': (inputs._InputBox('[1, 2]'), lambda r: repr(r.randint(0, 9)),
                 lambda v: True),
        'color': (inputs._ColorSelector((1, 0, 0)),
                  lambda r: '#%06x' % r.randrange(1 << 24) if r.random() < 0.5
                  else '#%06X' % r.randrange(1 << 24),
                  lambda v: isinstance(v, str) and _COLOR.match(v)),
        'grid': (grid, lambda r: [[repr(r.randint(0, 9)) for _ in range(3)] for _ in range(2)],
                 lambda v: isinstance(v, list) and len(v) == 2
                 and all(isinstance(row, list) and len(row) == 3 for row in v)),
    }


_ODD_STRINGS = ['', ' ', '\x00', '\ud800', '\U0010ffff', '#ff00ff', '#FF00FF', '#ff00f',
                'NaN', 'Infinity', '1e309', '-0', '0x10', '1_000', '(1, 2)', '[1, 2]',
                '"quoted"', 'a' * 5000, 'two', 'x', 'y', '__import__', '\n\t\r']


def rand_string(r):
    k = r.random()
    if k < 0.3:
        return r.choice(_ODD_STRINGS)
    if k < 0.6:
        return ''.join(r.choice('0123456789.-+eE#abcdefABCDEF[](), ') for _ in
                       range(r.randrange(12)))
    return ''.join(chr(r.choice([r.randrange(32, 127), r.randrange(0x110000)]))
                   for _ in range(r.randrange(8)))


def rand_number(r):
    return r.choice([
        r.randint(-3, 3), r.randint(-10**6, 10**6), 10**r.randrange(400) * r.choice([1, -1]),
        2**63, -2**63 - 1, 2**64, r.uniform(-1e3, 1e3), 1e308, -1e308, 5e-324, -0.0,
        float('nan'), float('inf'), float('-inf'), 0.1 + 0.2, r.random(),
    ])


def finite_number(r):
    while True:
        v = rand_number(r)
        if isinstance(v, int) or math.isfinite(v):
            return v


def rand_value(r, depth=0):
    k = r.random()
    if k < 0.12:
        return r.choice([None, True, False])
    if k < 0.45:
        return rand_number(r)
    if k < 0.7:
        return rand_string(r)
    if depth > 3:
        return None
    if k < 0.88:
        if r.random() < 0.3:
            return [rand_number(r), rand_number(r)]
        return [rand_value(r, depth + 1) for _ in range(r.randrange(5))]
    return {rand_string(r): rand_value(r, depth + 1) for _ in range(r.randrange(4))}


def mutate(r, text):
    b = bytearray(text.encode('utf-8', 'surrogatepass'))
    for _ in range(r.randrange(1, 4)):
        op = r.randrange(4)
        i = r.randrange(len(b) + 1)
        if op == 0 and b:
            del b[min(i, len(b) - 1)]
        elif op == 1:
            b[i:i] = bytes([r.randrange(256)])
        elif op == 2:
            b[i:i] = r.choice([b'[', b']', b'{', b'"', b',', b'\\', b'\\u', b'1e999', b'-'])
        else:
            b[i:i] = b'[' * r.randrange(1, 3000)
    return b.decode('utf-8', 'surrogateescape')


def one(r, table, made):
    """One update: returns 'ok' or 'error'; raises Fail."""
    names = list(table)
    chosen = r.sample(names, r.randrange(1, 4))
    fitting = r.random() < 0.4
    values = {n: table[n][1](r) if fitting else rand_value(r) for n in chosen}
    if r.random() < 0.05:
        values['no_such_control'] = 1
        fitting = False
    text = json.dumps(values)
    k = r.random()
    if k < 0.1:
        text = mutate(r, text)
        fitting = False
    elif k < 0.13:
        text = json.dumps(rand_value(r))
        fitting = False
    it_id = made.id if r.random() < 0.97 else r.choice([None, 7, 'nope', ['x']])
    before = dict(made.values)
    seen = []
    made.function = lambda **kw: seen.append(kw)
    err, sys.stderr = sys.stderr, io.StringIO()
    try:
        status = interact.interact_update(it_id, text)
    finally:
        sys.stderr, err = err, sys.stderr
    check(status in ('ok', 'error'), 'status %r' % (status,))
    if it_id is not made.id:
        check(status == 'error', 'an unknown interact was updated')
        return status
    if fitting:
        check(status == 'ok', 'fitting values refused: %s' % err.getvalue()[-500:])
    if status == 'ok':
        check(len(seen) == 1, 'the function ran %d times' % len(seen))
        for name, v in seen[0].items():
            if name in values or before[name] is not v:
                check(table[name][2](v), '%s got %r' % (name, v))
    else:
        check(not seen, 'the function ran after an error')
        check(made.values == before or any(
            isinstance(v, float) and math.isnan(v) for v in before.values()),
            'values changed after an error')
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iterations', type=int, default=0, help='0: until --seconds')
    ap.add_argument('--seconds', type=float, default=0, help='0: until --iterations')
    ap.add_argument('--seed', type=int, default=None)
    a = ap.parse_args()
    if not a.iterations and not a.seconds:
        a.iterations = 10000
    seed = a.seed if a.seed is not None else random.randrange(1 << 32)
    print('interact_values: seed %d' % seed, flush=True)
    r = random.Random(seed)
    table = make_controls()
    controls_ = {n: c for n, (c, _, _) in table.items()}
    made = interact._Interact(None, controls_, [], {n: c.initial() for n, c in controls_.items()})
    interact._register_interact(made)
    counts = {'ok': 0, 'error': 0}
    start = time.monotonic()
    i = 0
    while True:
        if a.iterations and i >= a.iterations:
            break
        if a.seconds and time.monotonic() - start >= a.seconds:
            break
        state_before = r.getstate()
        try:
            counts[one(r, table, made)] += 1
        except BaseException as e:
            r.setstate(state_before)
            print('interact_values: FAILED at iteration %d (seed %d): %s'
                  % (i, seed, e if isinstance(e, Fail) else ''), flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
            return 1
        i += 1
    print('interact_values: %d updates (%d ok, %d error) in %.1f s, no failure'
          % (i, counts['ok'], counts['error'], time.monotonic() - start), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
