"""Interact controls: the base class, the values browsers send, and the
simple controls (checkbox, selector, button, text_control).  The JSON of
each control is described in docs/protocol.md ("Interacts")."""

import json
import math

from . import cells, state


class _BadValue(ValueError):
    pass


_NO_DEFAULT = object()


def _eval_expression(text):
    if state.kernel == 'sage':
        from sage.misc.sage_eval import sage_eval
        return sage_eval(text, locals=cells._ns)
    return eval(text, cells._ns)


def _is_number(v):
    if isinstance(v, (bool, str, bytes)):
        return False
    if isinstance(v, (int, float)):
        return True
    if state.kernel != 'sage':
        return False
    try:
        return math.isfinite(float(v))  # Sage numbers, pi, sqrt(2) ...
    except Exception:
        return False


def _json_number(v):
    import numbers
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    f = float(v)
    if not math.isfinite(f):
        raise ValueError('%r is not a finite number' % (v,))
    return f


def _json_value(v):
    """A value of a discrete slider as JSON: a number, or its str."""
    import numbers
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Rational):
        f = float(v)
        if math.isfinite(f):
            return f
    return str(v)


def _browser_number(raw, what):
    # An int is finite however long (math.isfinite would overflow on it).
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (
            isinstance(raw, float) and not math.isfinite(raw)):
        raise _BadValue('%s must be a number, not %s' % (what, json.dumps(raw)))
    return raw


def _browser_index(raw, n):
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _BadValue('expected an index (an integer), not %s' % json.dumps(raw))
    if not 0 <= raw < n:
        raise _BadValue('index %d is out of range (there are %d values)' % (raw, n))
    return raw


def _closest_index(values, default):
    """The index of ``default`` in ``values`` (by identity, equality, then
    numeric distance), 0 if none fits."""
    if default is None:
        return 0
    for i, v in enumerate(values):
        if v is default:
            return i
    for i, v in enumerate(values):
        try:
            if bool(v == default):
                return i
        except Exception:
            pass
    best = None
    for i, v in enumerate(values):
        try:
            d = abs(float(v) - float(default))
        except Exception:
            continue
        if best is None or d < best[0]:
            best = (d, i)
    return best[1] if best is not None else 0


class _Control:
    """A control of an interact.  Immutable once made (the current values
    live in the _Interact), so one control can serve several interacts."""
    type = None
    default_label = None  # None: the parameter's name

    def __init__(self, label=None):
        self.label = label

    def message(self, name):
        d = {'name': name, 'type': self.type,
             'label': str(self.label if self.label is not None else
                          (name if self.default_label is None else self.default_label))}
        d.update(self.spec())
        return d

    def spec(self):
        return {}

    def initial(self):
        """The value f gets before any update."""
        raise NotImplementedError

    def adapt(self, raw):
        """The value f gets for ``raw`` sent by the browser; raises
        _BadValue (or another Exception) for a bad one."""
        raise NotImplementedError

    def set_default(self, value):
        raise TypeError('%s does not take a default this way' % type(self).__name__)

    def __repr__(self):
        return '%s(%s)' % (self.type, json.dumps(self.spec())[1:-1])


class _Checkbox(_Control):
    """checkbox(default=True, label=None): the value is True or False."""
    type = 'checkbox'

    def __init__(self, default=True, label=None):
        super().__init__(label)
        self.default = bool(default)

    def spec(self):
        return {'default': self.default}

    def initial(self):
        return self.default

    def adapt(self, raw):
        if not isinstance(raw, bool):
            raise _BadValue('expected true or false, not %s' % json.dumps(raw))
        return raw

    def set_default(self, value):
        self.default = bool(value)


def checkbox(default=True, label=None):
    return _Checkbox(default, label)


checkbox.__doc__ = _Checkbox.__doc__


class _Selector(_Control):
    """selector(values, label=None, default=None, nrows=None, ncols=None,
    width=None, buttons=False): choose one of ``values`` (a list of values or
    of (value, label) pairs, or a dict {label: value}); shown as a drop-down
    list, or as buttons if buttons=True (or nrows/ncols are given).  The
    value is the chosen object."""
    type = 'selector'

    def __init__(self, values, label=None, default=None, nrows=None, ncols=None, width=None,
                 buttons=False):
        super().__init__(label)
        if isinstance(values, dict):
            pairs = [(v, str(k)) for k, v in values.items()]
        else:
            values = list(values)
            if values and all(isinstance(v, tuple) and len(v) == 2 for v in values):
                pairs = [(v, str(lbl)) for v, lbl in values]
            else:
                pairs = [(v, str(v)) for v in values]
        if not pairs:
            raise ValueError('selector needs at least one value')
        self.values = [v for v, _ in pairs]
        self.labels = [lbl for _, lbl in pairs]
        self.index = _closest_index(self.values, default)
        self.buttons = bool(buttons) or nrows is not None or ncols is not None
        self.nrows = None if nrows is None else int(nrows)
        self.ncols = None if ncols is None else int(ncols)

    def spec(self):
        return {'values': self.labels, 'default_index': self.index, 'buttons': self.buttons,
                'nrows': self.nrows, 'ncols': self.ncols}

    def initial(self):
        return self.values[self.index]

    def adapt(self, raw):
        if isinstance(raw, str):
            try:
                return self.values[self.labels.index(raw)]
            except ValueError:
                raise _BadValue('%s is not one of the labels' % json.dumps(raw)) from None
        return self.values[_browser_index(raw, len(self.values))]

    def set_default(self, value):
        self.index = _closest_index(self.values, value)


def selector(values, label=None, default=None, nrows=None, ncols=None, width=None,
             buttons=False):
    return _Selector(values, label, default, nrows, ncols, width, buttons)


class _Button(_Control):
    """button(text='Button', value=True, default=False, label=None,
    width=None): a push button; the function gets ``value`` in the run a
    click caused and ``default`` otherwise."""
    type = 'button'
    default_label = ''

    def __init__(self, text='Button', value=True, default=False, label=None, width=None):
        super().__init__(label)
        self.text = str(text)
        self.value = value
        self.default = default
        self.width = None if width is None else int(width)

    def spec(self):
        return {'text': self.text, 'width': self.width}

    def initial(self):
        return self.default

    def adapt(self, raw):
        if not isinstance(raw, bool):
            raise _BadValue('expected true (a click) or false, not %s' % json.dumps(raw))
        return self.value if raw else self.default


def button(text='Button', value=True, default=False, label=None, width=None):
    return _Button(text, value, default, label, width)


button.__doc__ = _Button.__doc__


class _TextControl(_Control):
    """text_control(value=''): text (HTML) shown among the controls; the
    function gets the text."""
    type = 'text_control'
    default_label = ''

    def __init__(self, value='', label=None):
        super().__init__(label)
        self.text = str(value)

    def spec(self):
        return {'text': self.text}

    def initial(self):
        return self.text

    def adapt(self, raw):
        return self.text


def text_control(value='', label=None):
    return _TextControl(value, label)


text_control.__doc__ = _TextControl.__doc__
