"""The names every session starts with: the salvus object, and (sage kernel)
interact and its controls."""

import os

from . import display, state
from .controls import button, checkbox, selector, text_control
from .display import _graphics_format
from .inputs import color_selector, input_box, input_grid
from .interact import interact
from .output import _display
from .slider import range_slider, slider


_MAX_FILE_BYTES = 16 * 1024 * 1024


class _Salvus:
    """Rich output from cells: salvus.file(path), salvus.html(s),
    salvus.md(s), salvus.tex(obj), salvus.interact, and
    salvus.graphics_format ('png' or 'svg') for plots and figures."""

    def __repr__(self):
        return ('salvus: file(path), html(s), md(s), tex(obj), interact, '
                "graphics_format = %r" % self.graphics_format)

    @property
    def graphics_format(self):
        return _graphics_format()

    @graphics_format.setter
    def graphics_format(self, fmt):
        if fmt not in ('png', 'svg'):
            raise ValueError("graphics_format must be 'png' or 'svg', not %r" % (fmt,))
        if state.kernel == 'sage':
            display._sage_dm.preferences.graphics = 'vector' if fmt == 'svg' else 'raster'
        display._python_graphics_format = fmt

    def file(self, path, name=None):
        """Offers the file ``path`` (relative to the session's directory) for
        download, under ``name`` (default: its base name)."""
        path = os.fspath(path)
        try:
            size = os.stat(path).st_size
        except OSError as e:
            raise OSError('salvus.file: cannot read %r: %s' % (path, e.strerror)) from None
        if not os.path.isfile(path):
            raise ValueError('salvus.file: %r is not a regular file' % path)
        if size > _MAX_FILE_BYTES:
            raise ValueError('salvus.file: %r has %.1f MB; the limit is %d MB'
                             % (path, size / 2**20, _MAX_FILE_BYTES // 2**20))
        with open(path, 'rb') as f:
            data = f.read(_MAX_FILE_BYTES + 1)
        if len(data) > _MAX_FILE_BYTES:
            raise ValueError('salvus.file: %r has more than %d MB'
                             % (path, _MAX_FILE_BYTES // 2**20))
        _display('application/x-salvus-file', '', data, name or os.path.basename(path))

    def html(self, s):
        """Shows the HTML ``s`` (math in $..$, $$..$$, \\(..\\), \\[..\\] is typeset)."""
        _display('text/html', str(s))

    def md(self, s):
        """Shows the Markdown ``s``."""
        _display('text/markdown', str(s))

    def tex(self, obj):
        """Typesets ``obj`` as display math: a string is LaTeX, anything else
        goes through latex()."""
        if not isinstance(obj, str):
            if state.kernel == 'sage':
                from sage.misc.latex import latex
                obj = str(latex(obj))
            else:
                obj = str(obj)
        _display('text/latex', obj)


salvus = _Salvus()

# Interact and its controls: names of every sage session (the python
# kernel's sessions have only salvus), and attributes of salvus.
_CONTROLS = (interact, slider, range_slider, input_box, checkbox, selector, color_selector,
             input_grid, button, text_control)
for _f in _CONTROLS:
    setattr(_Salvus, _f.__name__, staticmethod(_f))
del _f


def _session_names():
    """{name: object} of the names every sage session starts with."""
    names = {'salvus': salvus}
    names.update((f.__name__, f) for f in _CONTROLS)
    return names
