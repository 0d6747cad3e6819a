"""Sage's rich output: the display manager backend of the workers and the
files rendering leaves in SAGE_TMP."""

import os
import re
import sys

from .output import _display, _display_image


# Sage writes math for MathJax 2 as <script type="math/tex"> elements;
# MathJax 3 typesets \( \) and \[ \] in text.
_MATH_SCRIPT_RE = re.compile(r'<script type="math/tex(; mode=display)?">(.*?)</script>', re.DOTALL)


def _mathjax3_html(html):
    import html as html_module

    def replace(m):
        tex = html_module.escape(m.group(2).replace('&lt;', '<'), quote=False)
        return ('\\[%s\\]' if m.group(1) else '\\(%s\\)') % tex
    return _MATH_SCRIPT_RE.sub(replace, html)


def _make_sage_backend():
    """The Sage display backend of the workers: rich output goes to
    _salvus.display, plain text to sys.stdout."""
    from sage.repl.rich_output.backend_base import BackendBase
    from sage.repl.rich_output import output_catalog as oc

    supported = frozenset([oc.OutputPlainText, oc.OutputAsciiArt, oc.OutputUnicodeArt,
                           oc.OutputLatex, oc.OutputHtml, oc.OutputImagePng, oc.OutputImageSvg])

    class BackendSalvus(BackendBase):
        def _repr_(self):
            return 'Salvus'

        def supported_output(self):
            return supported

        def displayhook(self, plain_text, rich_output):
            _show_rich_output(rich_output)

        def display_immediately(self, plain_text, rich_output):
            _show_rich_output(rich_output)

    return BackendSalvus()


def _show_rich_output(rich):
    from sage.repl.rich_output import output_catalog as oc
    if isinstance(rich, oc.OutputImagePng):
        _display_image('png', _take_buffer(rich.png))
    elif isinstance(rich, oc.OutputImageSvg):
        _display_image('svg', _take_buffer(rich.svg))
    elif isinstance(rich, oc.OutputHtml):
        latex = rich.latex.get_str() if rich.latex is not None else None
        if latex is not None and latex.startswith('$$') and latex.endswith('$$'):
            _display('text/latex', latex[2:-2].strip())
        else:
            _display('text/html', _mathjax3_html(rich.html.get_str()))
    elif isinstance(rich, oc.OutputLatex):
        _display('text/latex', rich.latex.get_str())
    elif isinstance(rich, oc.OutputAsciiArt):
        sys.stdout.write(rich.ascii_art.get_str() + '\n')
    elif isinstance(rich, oc.OutputUnicodeArt):
        sys.stdout.write(rich.unicode_art.get_str() + '\n')
    else:
        sys.stdout.write(rich.text.get_str() + '\n')


def _take_buffer(buf):
    """The bytes of a Sage OutputBuffer (read now: _sage_render removes the
    file behind it)."""
    return buf.get()


def _sage_render(show, obj, **kwds):
    """show(obj, **kwds), a display manager method, and then removes the files
    that rendering ``obj`` left in SAGE_TMP (images, Tachyon's scene files):
    a long session would otherwise fill its disk quota with them."""
    if not hasattr(obj, '_rich_repr_'):
        return show(obj, **kwds)  # plain text: no files
    import shutil
    from sage.misc.misc import SAGE_TMP
    tmp = str(SAGE_TMP)
    try:
        before = set(os.listdir(tmp))
    except OSError:
        before = None
    try:
        return show(obj, **kwds)
    finally:
        if before is not None:
            try:
                for name in set(os.listdir(tmp)) - before:
                    if name == 'spawned_processes':  # pexpect's bookkeeping
                        continue
                    path = os.path.join(tmp, name)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
            except OSError:
                pass
