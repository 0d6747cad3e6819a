"""The interact controls with text boxes: input_box, input_grid, and
color_selector."""

import json
import re

from . import state
from .controls import _BadValue, _Control, _NO_DEFAULT, _eval_expression
from .tracebacks import _exception_line


def _is_number_type(t):
    if t in (int, float):
        return True
    if state.kernel != 'sage':
        return False
    try:
        from sage.rings.all import ZZ, QQ, RR, RDF
        import sage.rings.abc
        return t in (ZZ, QQ, RR, RDF) or isinstance(t, (sage.rings.abc.RealField,
                                                         sage.rings.abc.RealDoubleField))
    except Exception:
        return False


class _InputBox(_Control):
    """input_box(default=None, label=None, type=None, width=80, height=1): a
    text box.  With type=str the value is the text; otherwise the text is
    evaluated (sage_eval, seeing the session's variables) and, if type is
    given, type is applied to the result.  height > 1 makes a text area."""
    type = 'input_box'

    def __init__(self, default=None, label=None, type=None, width=80, height=1,
                 _value=_NO_DEFAULT):
        super().__init__(label)
        self.convert = type
        if type is str:
            self.kind = 'string'
        elif _is_number_type(type):
            self.kind = 'number'
        else:
            self.kind = 'expression'
        self.text = '' if default is None else str(default)
        self.value = _value
        self.width = int(width)
        self.height = int(height)

    def spec(self):
        return {'default': self.text, 'kind': self.kind, 'width': self.width,
                'height': self.height}

    def initial(self):
        if self.value is not _NO_DEFAULT:
            return self.value
        return self.adapt(self.text)

    def adapt(self, raw):
        if self.kind == 'number' and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = repr(raw)
        if not isinstance(raw, str):
            raise _BadValue('expected a string, not %s' % json.dumps(raw))
        if self.convert is str:
            return raw
        if not raw.strip():
            return None
        try:
            value = _eval_expression(raw)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise _BadValue('cannot evaluate %r: %s' % (raw, _exception_line(e)))
        if self.convert is not None:
            try:
                value = self.convert(value)
            except KeyboardInterrupt:
                raise
            except Exception as e:
                raise _BadValue('%r: %s' % (raw, _exception_line(e)))
        return value

    def set_default(self, value):
        self.text = value if self.convert is str else str(value)
        self.value = value


def input_box(default=None, label=None, type=None, width=80, height=1):
    return _InputBox(default, label, type, width, height)


input_box.__doc__ = _InputBox.__doc__


_HEX_COLOR_RE = re.compile(r'#[0-9a-fA-F]{6}\Z')


def _hex_color(c):
    if state.kernel == 'sage':
        from sage.plot.colors import Color
        return Color(c).html_color()
    if isinstance(c, str) and _HEX_COLOR_RE.match(c):
        return c.lower()
    if isinstance(c, (tuple, list)) and len(c) == 3:
        return '#%02x%02x%02x' % tuple(max(0, min(255, int(round(float(v) * 255)))) for v in c)
    raise ValueError('not a color: %r (use "#rrggbb" or (r, g, b) in [0, 1])' % (c,))


class _ColorSelector(_Control):
    """color_selector(default=(0,0,1), label=None, widget=None, hide_box=False):
    choose a color; the value is a Sage Color (a '#rrggbb' string in the
    python kernel)."""
    type = 'color'

    def __init__(self, default=(0, 0, 1), label=None, widget=None, hide_box=False):
        super().__init__(label)
        self.hex = _hex_color(default)
        self.hide_box = bool(hide_box)

    def spec(self):
        return {'default': self.hex, 'hide_box': self.hide_box}

    def initial(self):
        return self.adapt(self.hex)

    def adapt(self, raw):
        if not isinstance(raw, str) or not _HEX_COLOR_RE.match(raw):
            raise _BadValue('expected a color "#rrggbb", not %s' % json.dumps(raw))
        if state.kernel == 'sage':
            from sage.plot.colors import Color
            return Color(raw)
        return raw.lower()

    def set_default(self, value):
        self.hex = _hex_color(value)


def color_selector(default=(0, 0, 1), label=None, widget=None, hide_box=False):
    return _ColorSelector(default, label, widget, hide_box)


color_selector.__doc__ = _ColorSelector.__doc__


def _is_matrix(v):
    if state.kernel != 'sage':
        return False
    from sage.structure.element import Matrix
    return isinstance(v, Matrix)


class _InputGrid(_Control):
    """input_grid(nrows, ncols, default=None, label=None, to_value=None,
    width=4): a grid of text boxes, each evaluated; the value is to_value
    applied to the list of rows (the list itself without to_value).
    default: a list of rows, a flat list, one value for every entry, or a
    matrix."""
    type = 'input_grid'

    def __init__(self, nrows, ncols, default=None, label=None, to_value=None, width=4):
        super().__init__(label)
        self.rows, self.cols = int(nrows), int(ncols)
        if self.rows < 1 or self.cols < 1:
            raise ValueError('input_grid needs at least one row and one column')
        self.to_value = to_value
        self.width = int(width)
        self.matrix = default if _is_matrix(default) else None
        self.grid = self._grid(default)

    def _grid(self, default):
        r, c = self.rows, self.cols
        if _is_matrix(default):
            default = [list(row) for row in default.rows()]
        if not isinstance(default, (list, tuple)):
            return [[default] * c for _ in range(r)]
        default = list(default)
        if all(isinstance(row, (list, tuple)) for row in default):
            if len(default) != r or any(len(row) != c for row in default):
                raise ValueError('input_grid: default is not %d x %d' % (r, c))
            return [list(row) for row in default]
        if len(default) != r * c:
            raise ValueError('input_grid: default has %d entries, not %d x %d'
                             % (len(default), r, c))
        return [default[i * c:(i + 1) * c] for i in range(r)]

    def spec(self):
        return {'rows': self.rows, 'cols': self.cols, 'width': self.width,
                'default': [['' if e is None else str(e) for e in row] for row in self.grid]}

    def initial(self):
        if self.matrix is not None:
            return self.matrix
        grid = [list(row) for row in self.grid]
        return self.to_value(grid) if self.to_value is not None else grid

    def adapt(self, raw):
        if (not isinstance(raw, list) or len(raw) != self.rows
                or any(not isinstance(row, list) or len(row) != self.cols for row in raw)):
            raise _BadValue('expected %d rows of %d entries, not %s'
                            % (self.rows, self.cols, json.dumps(raw)[:200]))
        grid = []
        for row in raw:
            out = []
            for e in row:
                if isinstance(e, (int, float)) and not isinstance(e, bool):
                    e = repr(e)
                if not isinstance(e, str):
                    raise _BadValue('grid entries must be strings, not %s' % json.dumps(e))
                if not e.strip():
                    raise _BadValue('an entry is empty')
                try:
                    out.append(_eval_expression(e))
                except KeyboardInterrupt:
                    raise
                except BaseException as ex:
                    raise _BadValue('cannot evaluate %r: %s' % (e, _exception_line(ex)))
            grid.append(out)
        if self.to_value is None:
            return grid
        try:
            return self.to_value(grid)
        except KeyboardInterrupt:
            raise
        except Exception as ex:
            raise _BadValue(_exception_line(ex))


def input_grid(nrows, ncols, default=None, label=None, to_value=None, width=4):
    return _InputGrid(nrows, ncols, default, label, to_value, width)


input_grid.__doc__ = _InputGrid.__doc__
