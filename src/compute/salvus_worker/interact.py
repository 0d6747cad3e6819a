"""Interacts: @interact, and interact_update(id, values) from the browser.

@interact on a function f displays application/x-salvus-interact (name =
the interact's id, text = JSON of its controls, each made by its class's
message()), then runs f once with the defaults; interact_update(id,
values_json) checks the values the browser sent, sets them and reruns f.
That JSON and the values are documented in docs/protocol.md, section
"Interacts" (the one description of them: change it with the code).
"""

import collections
import inspect
import json
import sys

from . import state
from .controls import (_BadValue, _Button, _Checkbox, _Control, _NO_DEFAULT, _Selector,
                       _is_number)
from .inputs import _ColorSelector, _InputBox, _InputGrid, _is_matrix
from .output import _display, _output_target
from .serve import _serve
from .slider import _Slider
from .tracebacks import _exception_line, _report

# Interacts of this session: id -> _Interact, least recently used first.
_MAX_INTERACTS = 1000
_interacts = collections.OrderedDict()
_interact_stack = []      # interacts whose function is running, innermost last


def _is_abbreviation(v):
    """Can v be the second member of a (default, abbreviation) pair?"""
    return (isinstance(v, (_Control, tuple, list, dict, range))
            or isinstance(v, collections.abc.Iterator))


def _automatic_control(spec):
    """The control for a parameter's default value, as Sage maps them."""
    import copy
    if isinstance(spec, _Control):
        return spec
    if spec is _NO_DEFAULT:
        return _InputBox()
    if isinstance(spec, bool):
        return _Checkbox(spec)
    if isinstance(spec, tuple):
        if len(spec) == 2 and isinstance(spec[0], str):  # ('label', spec)
            c = copy.copy(_automatic_control(spec[1]))
            c.label = spec[0]
            return c
        if len(spec) == 2 and _is_abbreviation(spec[1]):  # (default, spec)
            c = copy.copy(_automatic_control(spec[1]))
            c.set_default(spec[0])
            return c
        if len(spec) in (2, 3) and all(_is_number(v) for v in spec):
            return _Slider(*spec, _middle=True)  # (min, max[, step])
        return _Slider(list(spec))
    if isinstance(spec, (list, dict)):
        return _Selector(spec)
    if isinstance(spec, str):
        return _InputBox(spec, type=str)
    if isinstance(spec, (collections.abc.Iterator, range)):
        return _Slider(list(spec))
    if state.kernel == 'sage':
        from sage.plot.colors import Color
        if isinstance(spec, Color):
            return _ColorSelector(spec)
        if _is_matrix(spec):
            return _InputGrid(spec.nrows(), spec.ncols(), default=spec, to_value=spec.parent())
    return _InputBox(spec, _value=spec)


class _Interact:
    __slots__ = ('id', 'function', 'controls', 'positional', 'values', 'children')

    def __init__(self, function, controls, positional, values):
        import uuid
        self.id = uuid.uuid4().hex
        self.function = function
        self.controls = controls      # name -> _Control, in the function's order
        self.positional = positional  # names of positional-only parameters
        self.values = values          # name -> the value f gets
        self.children = []            # ids of interacts made by f's last run


def interact(f=None, *, auto_update=True, layout=None, **controls):
    """Makes ``f`` interactive: one control per parameter, from its default
    value as in Sage (a control; (a, b) or (a, b, step) -> slider; a list ->
    selector; a bool -> checkbox; a str -> text box; a Color -> color
    selector; a matrix -> input grid; ('label', x) -> x's control labelled;
    (default, x) -> x's control with that default; anything else -> a box
    whose text is evaluated).  Keyword arguments give or override controls
    by name.  auto_update=False (or a parameter auto_update=False) reruns f
    only when the user asks.  Shows the controls, runs f once with the
    defaults, and returns f.

        @interact
        def f(n=(1..10), name='world', square=True):
            print(n^2 if square else n, name)
    """
    if f is None:
        return lambda g: interact(g, auto_update=auto_update, layout=layout, **controls)
    if not callable(f):
        raise TypeError('interact needs a function, not %r' % (f,))
    specs = collections.OrderedDict()
    positional = []
    for p in inspect.signature(f).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == 'auto_update' and isinstance(p.default, bool):
            auto_update = p.default  # SageNB's way of saying it
            continue
        specs[p.name] = _NO_DEFAULT if p.default is p.empty else p.default
        if p.kind == p.POSITIONAL_ONLY:
            positional.append(p.name)
    specs.update(controls)
    made = collections.OrderedDict((name, _automatic_control(spec))
                                   for name, spec in specs.items())
    values = {name: c.initial() for name, c in made.items()}
    it = _Interact(f, made, positional, values)
    message = {'id': it.id, 'auto_update': bool(auto_update),
               'controls': [c.message(name) for name, c in made.items()]}
    if layout is not None:
        try:
            json.dumps(layout)
            message['layout'] = layout
        except (TypeError, ValueError):
            pass
    text = json.dumps(message)
    _register_interact(it)
    _display('application/x-salvus-interact', text, None, it.id)
    with _output_target(it.id):
        try:
            _run_interact(it)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # shown; the interact stays usable
            _report(e)
    return f


def _register_interact(it):
    if _interact_stack:
        _interact_stack[-1].children.append(it.id)
    _interacts[it.id] = it
    while len(_interacts) > _MAX_INTERACTS:
        _interacts.popitem(last=False)


def _run_interact(it):
    # Interacts made by the previous run of f are gone from the page.
    stack, it.children = it.children, []
    while stack:
        child = _interacts.pop(stack.pop(), None)
        if child is not None:
            stack.extend(child.children)
    args = [it.values[name] for name in it.positional]
    kwargs = {name: v for name, v in it.values.items() if name not in it.positional}
    _interact_stack.append(it)
    try:
        result = it.function(*args, **kwargs)
    finally:
        _interact_stack.pop()
        for name, c in it.controls.items():
            if isinstance(c, _Button):
                it.values[name] = c.initial()  # a click lasts one run
    if result is not None:
        sys.displayhook(result)


def interact_update(interact_id, values_json):
    """Sets controls of the interact ``interact_id`` from the JSON object
    ``values_json`` ({name: value}) and reruns its function; returns 'ok',
    'error' or 'interrupted'."""
    return _serve(_interact_update, interact_id, values_json)


def _interact_update(interact_id, values_json):
    it = _interacts.get(interact_id) if isinstance(interact_id, str) else None
    if it is None:
        sys.stderr.write('interact_update: there is no interact %s in this session '
                         '(it may have expired: run its cell again)\n' % json.dumps(interact_id))
        return 'error'
    try:
        values = json.loads(values_json)
    except (TypeError, ValueError) as e:
        sys.stderr.write('interact_update: the values are not JSON: %s\n' % e)
        return 'error'
    if not isinstance(values, dict):
        sys.stderr.write('interact_update: the values must be a JSON object {name: value}\n')
        return 'error'
    new = {}
    for name, raw in values.items():
        c = it.controls.get(name)
        if c is None:
            sys.stderr.write('interact_update: the interact has no control %s (its controls: %s)\n'
                             % (json.dumps(name), ', '.join(it.controls) or 'none'))
            return 'error'
        try:
            new[name] = c.adapt(raw)
        except KeyboardInterrupt:
            raise
        except Exception as e:
            message = str(e) if isinstance(e, _BadValue) else _exception_line(e)
            sys.stderr.write('interact_update: bad value for %s (%s): %s\n'
                             % (json.dumps(name), c.type, message))
            return 'error'
    it.values.update(new)
    _interacts.move_to_end(it.id)
    with _output_target(it.id):
        _run_interact(it)
    return 'ok'
