"""Requests: execute(code) and the frame around every request (status,
errors, pending figures, flushing)."""

import builtins
import linecache
import sys

from . import state
from .cells import _run_cell
from .help import _help_request, _show_help
from .modes import _MODE_RE, _MODES, _SAGE_MODES
from .output import _flush
from .seeding import _after_cell
from .tracebacks import _cells, _report

_cell_count = 0           # requests executed in this worker


def execute(code):
    """Runs one cell; returns 'ok', 'error' or 'interrupted'."""
    global _cell_count
    _cell_count += 1
    return _serve(_execute, code, '<cell-%d>' % _cell_count)


def _serve(fn, *args):
    """Runs one request: fn(*args) returns its status; exceptions that escape
    it are reported.  Then shows pending pyplot figures and flushes."""
    status = 'error'
    try:
        try:
            status = fn(*args)
        except KeyboardInterrupt as e:  # one that hit our own bookkeeping
            status = 'interrupted'
            _report(e)
        except BaseException as e:
            status = 'error'
            _report(e)
    except BaseException:  # an interrupt while reporting
        pass
    try:
        try:
            _after_cell()
        except KeyboardInterrupt as e:
            status = 'interrupted'
            _report(e)
        except BaseException as e:  # e.g. a pyplot figure that cannot be drawn
            status = 'error' if status == 'ok' else status
            _report(e)
    except BaseException:
        pass
    _flush()
    return status


def _execute(code, filename):
    m = _MODE_RE.match(code)
    if m is None:
        request = _help_request(code)
        if request is not None:
            return _show_help(*request)
        return _run_cell(code, filename)
    # The mode line becomes the code's first line (empty, or what followed
    # the mode on it), so line numbers stay those of the cell as typed.
    mode = m.group(1)
    body = (m.group(2) or '') + code[m.end():]
    runner = _MODES.get(mode)
    if runner is None or (state.kernel != 'sage' and mode in _SAGE_MODES):
        known = ', '.join('%' + k for k in sorted(_MODES)
                          if state.kernel == 'sage' or k not in _SAGE_MODES)
        if runner is None:
            sys.stderr.write('Unknown mode %%%s; the modes are %s (on the first line of a cell)\n'
                             % (mode, known))
        else:
            sys.stderr.write('Mode %%%s needs the sage kernel; the modes here are %s\n'
                             % (mode, known))
        return 'error'
    if runner == 'python':
        return _run_cell(body, filename, False, code)
    if runner == 'sage':
        return _run_cell(body, filename, True, code)
    return runner(body)


def _run_and_forget(codes):
    """Executes the cells ``codes``, then forgets them: the cell count, their
    line cache entries and '_' are as before."""
    global _cell_count
    try:
        for cell in codes:
            execute(cell)
    finally:
        for n in range(1, _cell_count + 1):
            linecache.cache.pop('<cell-%d>' % n, None)
        _cells.clear()
        _cell_count = 0
        builtins.__dict__.pop('_', None)
