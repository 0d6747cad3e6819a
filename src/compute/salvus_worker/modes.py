"""Modes: a first line '%name' (or '%%name'), optionally followed by code."""

import importlib
import re
import sys

from .output import _display
from .shell import _run_shell
from .tracebacks import _exception_line


_MODE_RE = re.compile(r"[ \t]*%%?([A-Za-z_]\w*)(?:[ \t]+([^\n]*?))?[ \t]*(?=\n|$)")
_SAGE_MODES = frozenset(['sage', 'gp', 'gap', 'maxima', 'singular'])


def _run_interface(name):
    def run(code):
        module = importlib.import_module('sage.interfaces.' + name)
        interface = getattr(module, name)
        if not code.strip():
            return 'ok'
        # The interface's own messages say it all; tracebacks would show
        # only Sage's pexpect plumbing.
        try:
            out = interface.eval(code)
        except KeyboardInterrupt as e:
            raise KeyboardInterrupt(*e.args) from None
        except Exception as e:
            sys.stderr.write(_exception_line(e) + '\n')
            return 'error'
        out = str(out).strip('\n')
        if name == 'gp' and '\n  ***   ' in '\n' + out:
            sys.stderr.write(out + '\n')  # gp.eval returns errors as text
            return 'error'
        if out:
            sys.stdout.write(out + '\n')
        return 'ok'
    return run


def _run_display_mode(mime):
    def run(text):
        _display(mime, text.strip('\n'))
        return 'ok'
    return run


_MODES = {
    'python': 'python',
    'sage': 'sage',
    'sh': _run_shell,
    'html': _run_display_mode('text/html'),
    'md': _run_display_mode('text/markdown'),
    'latex': _run_display_mode('text/latex'),
    'gp': _run_interface('gp'),
    'gap': _run_interface('gap'),
    'maxima': _run_interface('maxima'),
    'singular': _run_interface('singular'),
}
