"""Error reports: tracebacks without the worker's own frames, with the lines
as typed (not as preparsed)."""

import sys
import traceback

_PACKAGE = __package__  # 'salvus_worker': frames of its modules are not shown

# '<cell-N>' -> _CellInfo (cell_code.py), only for preparsed cells
_cells = {}


def _report(e):
    """Prints ``e``'s traceback to sys.stderr, without the worker's own
    frames (the ones it starts with) and without column markers on lines
    that preparsing changed."""
    try:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_globals.get('__package__') == _PACKAGE:
            tb = tb.tb_next
        te = traceback.TracebackException(type(e), e, tb, compact=True)
        _drop_misleading_columns(te)
        sys.stderr.write(''.join(te.format()))
    except BaseException:
        try:
            sys.stderr.write('%s\n' % type(e).__name__)
        except BaseException:
            pass


def _drop_misleading_columns(te):
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        for frame in te.stack:
            info = _cells.get(frame.filename)
            if info is not None and (info.changed is None or frame.lineno in info.changed):
                frame.colno = frame.end_colno = None
        te = te.__cause__ or te.__context__


def _report_syntax_error(e, filename, code, info):
    try:
        te = traceback.TracebackException(type(e), e, None)
        if te.filename is None or te.filename == '<string>':
            te.filename = filename  # preparse's own errors carry no position
        n = e.lineno  # te.lineno is a str in 3.11
        if isinstance(n, int) and info is not None:
            lines = code.split('\n')
            if info.first is not None:
                n = info.first[max(1, min(n, len(info.first) - 1))]
                te.lineno = str(n)
                te.end_lineno = None
                te.offset = te.end_offset = None
            elif info.changed is None or n in info.changed:
                te.offset = te.end_offset = None
            if 1 <= n <= len(lines):
                te.text = lines[n - 1]
        sys.stderr.write(''.join(te.format_exception_only()))
    except BaseException:
        try:
            sys.stderr.write('SyntaxError: %s\n' % (e,))
        except BaseException:
            pass


def _exception_line(e):
    """'Type: message' (a SyntaxError's position lines left out)."""
    return traceback.format_exception_only(type(e), e)[-1].strip()
