"""Running one cell in the session's namespace: preparse (with caches),
compile (with a cache), exec statement by statement.

The state this code reads on every cell lives here as plain module globals
(no attribute lookup per cell); other modules read and set it as
``cells.name``."""

import linecache

from .cell_code import (_CellInfo, _cell_info, _is_simple_cell, _parse_and_compile,
                        _preparse_simple, _renamed)
from .tracebacks import _cells, _report, _report_syntax_error

_ns = None                # the session's namespace (the __main__ module dict)
_preparse = None          # sage.repl.preparse.preparse, for the sage kernel
_preparse_module = None   # sage.repl.preparse (its implicit_mul_level)

# Compiled cells, by (code, preparsed code, last line quiet): parsing and
# compiling '1' is two thirds of running it, more with cold caches, and the
# same cell is often run again.  Each run gets the code objects renamed for
# its own '<cell-N>'.  Cells that warn while compiling are not kept.  At most
# about 128 x (4 KB of text twice + its code objects): a few MB per worker
# in the worst case, far less for the cells people type.
_CODE_CACHE_SIZE = 128
_CODE_CACHE_MAX_CHARS = 4096  # bigger cells: compiling them is a small part of their run
_code_cache = {}

# Preparsing '2+2' costs ~11 us, more than parsing and compiling it; the same
# cell text is often run again (re-evaluation, interacts, benchmarks).
_PREPARSE_CACHE_SIZE = 256
_preparse_cache = {}


def _run_cell(code, filename, preparse=None, source=None):
    """Runs ``code`` as the cell named ``filename``, preparsed if
    ``preparse`` (None: if the kernel preparses); ``source`` (default:
    ``code``) is the text tracebacks show, with the same line numbers."""
    if preparse is None:
        preparse = _preparse is not None
    if source is None:
        source = code
    lines = source.splitlines(True)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'  # traceback's column markers assume it
    linecache.cache[filename] = (len(source), None, lines, filename)
    quiet_last = code.rstrip().endswith(';')
    info = None
    try:
        py = _preparse_cell(code) if preparse else code
        key = (code, py, quiet_last)
        cached = _code_cache.get(key)
        if cached is None:
            if py != code:
                try:
                    info = _cell_info(code, py)
                except Exception:
                    info = _CellInfo(None, None, None)
            codes, warned = _parse_and_compile(py, filename, info, quiet_last,
                                               preparse and _is_simple_cell(code))
            if not warned and len(code) <= _CODE_CACHE_MAX_CHARS:
                if len(_code_cache) >= _CODE_CACHE_SIZE:
                    _code_cache.clear()
                _code_cache[key] = (codes, info)
        else:
            codes, info = cached
            codes = [_renamed(c, filename) for c in codes]
        if py != code:
            _cells[filename] = info
    except SyntaxError as e:
        _report_syntax_error(e, filename, code, info)
        return 'error'

    ns = _ns
    for c in codes:
        try:
            exec(c, ns)
        except KeyboardInterrupt as e:
            _report(e)
            return 'interrupted'
        except BaseException as e:  # SystemExit too: the session goes on
            _report(e)
            return 'error'
    return 'ok'


def _preparse_cell(code):
    key = (code, _preparse_module.implicit_mul_level)
    py = _preparse_cache.get(key)
    if py is None:
        py = None if key[1] else _preparse_simple(code)
        if py is None:
            py = _preparse(code, reset=True, do_time=True)
        if len(_preparse_cache) >= _PREPARSE_CACHE_SIZE:
            _preparse_cache.clear()
        _preparse_cache[key] = py
    return py
