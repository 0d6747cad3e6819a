"""What a cell's values look like: the displayhooks of the two kernels,
IPython-style _repr_*_ methods, matplotlib figures, the graphics format."""

import builtins
import sys

from . import state
from .output import _display, _display_image
from .sage_backend import _make_sage_backend, _sage_render

_sage_dm = None           # Sage's display manager (sage kernel)
# Types whose value the display manager shows as its repr in plain text
# (set for the sage kernel; _sage_displayhook's shortcut).
_PLAIN_TYPES = frozenset()
_SageObject = None        # sage.structure.sage_object.SageObject (sage kernel)
_python_graphics_format = 'png'  # salvus.graphics_format of the python kernel


def _graphics_format():
    """'png' or 'svg': how plots and figures are rendered."""
    if state.kernel == 'sage':
        return 'svg' if _sage_dm.preferences.graphics == 'vector' else 'png'
    return _python_graphics_format


def _is_sage_object(value):
    return _SageObject is not None and isinstance(value, _SageObject)


_IPYTHON_REPRS = (('_repr_html_', 'text/html'), ('_repr_markdown_', 'text/markdown'),
                  ('_repr_svg_', 'image/svg+xml'), ('_repr_png_', 'image/png'),
                  ('_repr_latex_', 'text/latex'))


def _display_special(value):
    """Shows a matplotlib figure, or an object with IPython's _repr_*_
    methods (pandas, sympy, PIL ...), as rich output; False if it is
    neither (or its _repr_*_ methods fail)."""
    if _is_figure(value):
        _display_figure(value)
        plt = sys.modules.get('matplotlib.pyplot')
        if plt is not None:
            plt.close(value)  # shown: not again at the end of the cell
        return True
    if isinstance(value, type):
        return False
    cls = type(value)
    for method, mime in _IPYTHON_REPRS:
        if getattr(cls, method, None) is None:
            continue
        try:
            out = getattr(value, method)()
        except KeyboardInterrupt:
            raise
        except Exception:
            continue
        if isinstance(out, tuple) and out:
            out = out[0]  # (data, metadata)
        if out is None:
            continue
        if mime == 'image/png':
            if isinstance(out, (bytes, bytearray)):
                _display_image('png', bytes(out))
                return True
        elif mime == 'image/svg+xml':
            if isinstance(out, str):
                out = out.encode()
            if isinstance(out, (bytes, bytearray)):
                _display_image('svg', bytes(out))
                return True
        elif isinstance(out, str):
            if mime == 'text/latex':
                out = _strip_math_delimiters(out)
            _display(mime, out)
            return True
    return False


def _strip_math_delimiters(s):
    s = s.strip()
    for left, right in (('$$', '$$'), ('\\[', '\\]'), ('$', '$'), ('\\(', '\\)')):
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            return s[len(left):len(s) - len(right)].strip()
    return s


def _is_figure(value):
    mod = sys.modules.get('matplotlib.figure')
    return mod is not None and isinstance(value, mod.Figure)


def _display_figure(fig):
    import io
    fmt = _graphics_format()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches='tight')
    _display_image(fmt, buf.getvalue())


def _python_displayhook(value):
    """sys.displayhook for the python kernel: repr() to sys.stdout (or rich
    output for matplotlib figures and objects with IPython's _repr_*_
    methods), sets _."""
    if value is None:
        return
    builtins._ = None  # so repr() cannot see the previous value as _
    if not _display_special(value):
        sys.stdout.write(repr(value) + '\n')
    builtins._ = value


def _sage_displayhook(value):
    """sys.displayhook for the sage kernel: Sage's display manager (with the
    Salvus backend), except for matplotlib figures and non-Sage objects with
    IPython's _repr_*_ methods."""
    if value is None:
        return
    if type(value) in _PLAIN_TYPES and _sage_dm.preferences.text in (None, 'plain'):
        # What the display manager shows for these (its repr, as plain
        # text), without its machinery: most of the cost of a cell like `2+2`.
        builtins._ = value
        sys.stdout.write(repr(value) + '\n')
        return
    if not _is_sage_object(value):
        builtins._ = None
        if _display_special(value):
            builtins._ = value
            return
    _sage_render(_sage_dm.displayhook, value)


def _init_python_display():
    sys.displayhook = _python_displayhook


def _init_sage_display(ns):
    """Finds the display manager (not yet switched to the Salvus backend:
    _install_sage_display does that) and the types of the shortcut."""
    global _sage_dm, _SageObject, _PLAIN_TYPES
    from sage.repl.rich_output import get_display_manager
    from sage.structure.sage_object import SageObject
    _SageObject = SageObject
    _PLAIN_TYPES = frozenset(type(v) for v in (
        0, 0.5, True, 1j, ns['Integer'](0), ns['QQ'](1) / 2, ns['RR'](1), ns['RDF'](1),
        ns['CDF'](1), ns['CC'](1)))
    _sage_dm = get_display_manager()
    return _sage_dm


def _install_sage_display():
    """Rich output through the Salvus backend, from the displayhook and from
    show(), Graphics.show() and pretty_print()."""
    dm = _sage_dm
    dm.switch_backend(_make_sage_backend())
    display_immediately = dm.display_immediately

    def show(obj, **kwds):  # what show(), Graphics.show(), pretty_print() call
        if _is_sage_object(obj) or not _display_special(obj):
            _sage_render(display_immediately, obj, **kwds)
    dm.display_immediately = show
    sys.displayhook = _sage_displayhook
