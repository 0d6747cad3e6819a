"""The slider and range_slider controls of interacts."""

import collections
import json
import math

from . import state
from .controls import (_BadValue, _Control, _browser_index, _browser_number,
                       _closest_index, _is_number, _json_number, _json_value)


class _Slider(_Control):
    """slider(vmin, vmax=None, step_size=None, default=None, label=None,
    display_value=True): a slider over [vmin, vmax] in steps of step_size
    (default 1 for integers, (vmax-vmin)/100 otherwise), or, when vmin is a
    list, over its values.  The value has the type of the bounds (Integer,
    RealNumber ...; symbolic bounds give RealNumber)."""
    type = 'slider'

    def __init__(self, vmin, vmax=None, step_size=None, default=None, label=None,
                 display_value=True, _range=False, _middle=False):
        super().__init__(label)
        self.display_value = bool(display_value)
        self.range = bool(_range)
        if _range:
            self.type = 'range_slider'
        self.values = None
        if not _is_number(vmin) and isinstance(vmin, collections.abc.Iterable) \
                and not isinstance(vmin, str):
            if vmax is not None or step_size is not None:
                raise TypeError('a slider over a list of values takes no vmax or step_size')
            self._init_values(list(vmin), default)
        else:
            self._init_numeric(vmin, vmax, step_size, default, _middle)

    def _init_values(self, values, default):
        if not values:
            raise ValueError('a slider needs at least one value')
        self.values = values
        if self.range:
            if isinstance(default, (tuple, list)) and len(default) == 2:
                self.index = tuple(sorted(_closest_index(values, d) for d in default))
            else:
                self.index = (0, len(values) - 1)
        else:
            self.index = _closest_index(values, default)

    def _init_numeric(self, vmin, vmax, step, default, middle):
        if vmax is None:
            vmax = 100
        for v, what in ((vmin, 'vmin'), (vmax, 'vmax'), (step, 'step_size')):
            if v is not None and not _is_number(v):
                raise TypeError('slider: %s must be a number, not %r' % (what, v))
        integral, convert = self._number_type(vmin, vmax, step)
        if convert is None:  # rationals: a slider over srange(vmin, vmax, step)
            from sage.arith.srange import srange
            step = 1 if step is None else step
            values = srange(vmin, vmax, step, include_endpoint=True)
            self._init_values(values, default if default is not None or not middle
                              else (vmin + vmax) / 2)
            return
        vmin, vmax = convert(vmin), convert(vmax)
        if step is None:
            step = convert(1) if integral else (vmax - vmin) / 100
        step = convert(step)
        if not step > 0:
            raise ValueError('slider: step_size must be positive, not %s' % step)
        if vmax < vmin:
            raise ValueError('slider: vmax (%s) is less than vmin (%s)' % (vmax, vmin))
        self.min, self.step = vmin, step
        if integral:
            self.nsteps = int((vmax - vmin) // step)
        else:
            self.nsteps = int(math.floor(float((vmax - vmin) / step) + 1e-9))
        self.max = self.min + self.nsteps * self.step
        fmin, fmax = float(self.min), float(self.max)
        if self.range:
            if isinstance(default, (tuple, list)) and len(default) == 2:
                lo, hi = float(default[0]), float(default[1])
            else:
                lo, hi = fmin + (fmax - fmin) / 4, fmin + 3 * (fmax - fmin) / 4
            self.default = tuple(sorted((self._snap(lo), self._snap(hi))))
        elif default is not None:
            self.default = self._snap(float(default))
        elif middle:
            self.default = self._snap((fmin + fmax) / 2)
        else:
            self.default = self.min

    @staticmethod
    def _number_type(vmin, vmax, step):
        """(integral, convert): convert=None means rationals."""
        import numbers
        args = [v for v in (vmin, vmax, step) if v is not None]
        if state.kernel != 'sage':
            if all(isinstance(v, int) for v in args):
                return True, int
            return False, float
        from sage.structure.element import parent
        import sage.rings.abc
        p = parent(sum(args))
        if isinstance(p, sage.rings.abc.SymbolicRing):
            from sage.rings.real_mpfr import RR
            p = RR
        zero = p(0)
        if isinstance(zero, numbers.Integral):
            return True, p
        if isinstance(zero, numbers.Rational):
            return False, None
        if isinstance(zero, numbers.Real):
            return False, p
        raise TypeError('slider: cannot make a slider over %s' % (p,))

    def _snap(self, x):
        # Clamped to the ends before rounding: a number past a float's range
        # (or one that overflows in steps) snaps to an end like any other.
        try:
            steps = (float(x) - float(self.min)) / float(self.step)
        except OverflowError:  # an int too large for a float
            steps = math.inf if x > 0 else -math.inf
        k = int(round(max(0.0, min(steps, float(self.nsteps)))))
        return self.min + k * self.step

    def spec(self):
        d = {}
        if self.values is not None:
            d['values'] = [_json_value(v) for v in self.values]
            d['default_index'] = list(self.index) if self.range else self.index
        else:
            d['min'] = _json_number(self.min)
            d['max'] = _json_number(self.max)
            d['step'] = _json_number(self.step)
            d['default'] = ([_json_number(v) for v in self.default] if self.range
                            else _json_number(self.default))
        d['display_value'] = self.display_value
        return d

    def initial(self):
        if self.values is not None:
            if self.range:
                return tuple(self.values[i] for i in self.index)
            return self.values[self.index]
        return self.default

    def adapt(self, raw):
        if self.range:
            if not isinstance(raw, list) or len(raw) != 2:
                raise _BadValue('expected [low, high], not %s' % json.dumps(raw))
            if self.values is not None:
                i, j = sorted(_browser_index(r, len(self.values)) for r in raw)
                return (self.values[i], self.values[j])
            lo, hi = sorted(_browser_number(r, 'each end') for r in raw)
            return (self._snap(lo), self._snap(hi))
        if self.values is not None:
            return self.values[_browser_index(raw, len(self.values))]
        return self._snap(_browser_number(raw, 'the value'))

    def set_default(self, value):
        if self.values is not None:
            if self.range:
                self.index = tuple(sorted(_closest_index(self.values, v) for v in value))
            else:
                self.index = _closest_index(self.values, value)
        elif self.range:
            self.default = tuple(sorted(self._snap(float(v)) for v in value))
        else:
            self.default = self._snap(float(value))


def slider(vmin, vmax=None, step_size=None, default=None, label=None, display_value=True):
    return _Slider(vmin, vmax, step_size, default, label, display_value)


def range_slider(vmin, vmax=None, step_size=None, default=None, label=None,
                 display_value=True):
    """range_slider(vmin, vmax=None, step_size=None, default=None, label=None,
    display_value=True): like slider, but the value is a pair (low, high);
    default is a pair too."""
    return _Slider(vmin, vmax, step_size, default, label, display_value, _range=True)


slider.__doc__ = _Slider.__doc__
