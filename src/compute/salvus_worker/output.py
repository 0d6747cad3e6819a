"""Output of a request: rich output through the C++ module ``_salvus``, the
interact whose output area gets it, flushing the streams."""

import contextlib
import re
import sys

_display_fn = None        # _salvus.display, looked up at first use in the worker
_displays_off = False     # while warm-up cells run: rich output is dropped


def _display(mime, text='', data=None, name='', width=0, height=0):
    """Sends one rich output message, in order with the text output."""
    global _display_fn
    if _displays_off:
        return
    fn = _display_fn
    if fn is None:
        try:
            import _salvus
            fn = _salvus.display
        except (ImportError, AttributeError):
            fn = _display_as_text  # a C++ side without rich output
        _display_fn = fn
    if data is not None:
        data = bytes(data)
    fn(mime, text, data, name, int(width), int(height))


_target_stack = ['']    # the interact whose output area gets the output now


@contextlib.contextmanager
def _output_target(interact_id):
    """Output inside belongs to the interact ``interact_id``: the C++ side
    stamps it on every Output and Display, so the browser puts it into that
    interact's own area (nested interacts included)."""
    _target_stack.append(interact_id)
    _set_target(interact_id)
    try:
        yield
    finally:
        _target_stack.pop()
        _set_target(_target_stack[-1])


def _set_target(interact_id):
    try:
        import _salvus
        fn = _salvus.set_target
    except (ImportError, AttributeError):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    fn(interact_id)


def _display_as_text(mime, text, data, name, width, height):
    if data is None and mime in ('text/html', 'text/latex', 'text/markdown',
                                 'application/x-salvus-help'):
        sys.stdout.write(text if text.endswith('\n') else text + '\n')
    else:
        sys.stdout.write('[%s %s%d bytes]\n' % (mime, name + ' ' if name else '',
                                                len(data or text.encode())))


def _png_size(data):
    """(width, height) from a PNG's IHDR chunk, or (0, 0)."""
    if len(data) >= 24 and data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR':
        return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
    return 0, 0


_SVG_UNITS = {'': 1.0, 'px': 1.0, 'pt': 4 / 3, 'pc': 16.0, 'in': 96.0, 'cm': 96 / 2.54,
              'mm': 96 / 25.4}


def _svg_size(data):
    """(width, height) in CSS px from the <svg> tag's attributes, or (0, 0)."""
    m = re.search(rb'<svg\b[^>]*>', data[:4096])
    if m is None:
        return 0, 0
    size = []
    for attr in (rb'width', rb'height'):
        a = re.search(rb'\s' + attr + rb'\s*=\s*["\']\s*([0-9.]+)\s*([a-z]*)\s*["\']', m.group(0))
        factor = _SVG_UNITS.get(a.group(2).decode(), None) if a else None
        if factor is None:
            return 0, 0
        try:
            size.append(int(round(float(a.group(1)) * factor)))
        except ValueError:
            return 0, 0
    return tuple(size)


def _display_image(fmt, data):
    if fmt == 'svg':
        _display('image/svg+xml', '', data, '', *_svg_size(data))
    else:
        _display('image/png', '', data, '', *_png_size(data))


def _flush():
    for name in ('stdout', 'stderr'):
        try:
            getattr(sys, name).flush()
        except BaseException:
            pass


class _Discard:
    """A stand-in stdout for the zygote's warm-up."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass
