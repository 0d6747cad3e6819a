"""How a cell's (preparsed) text becomes code objects: the shortcut for
simple cells, statement-by-statement compilation, and the line maps of
preparsed cells."""

import ast
import re
import types
import warnings


class _CellInfo:
    """How a preparsed cell's lines relate to what the user typed."""

    __slots__ = ('changed', 'first', 'last')

    def __init__(self, changed, first, last):
        # changed: original line numbers whose preparsed text differs (column
        #   markers computed on those lines would point at the wrong place);
        #   None means "assume every line".
        # first/last: preparsed line -> first/last original line, or None when
        #   preparsing kept every line in place.
        self.changed = changed
        self.first = first
        self.last = last


def _parse_and_compile(py, filename, info, quiet_last, simple=False):
    """The cell's code objects, and whether parsing or compiling warned (a
    cell that warns is compiled again each time, so the warning shows each
    time, as it would without the cache).  A simple cell (_is_simple_cell)
    is one line holding one statement: compiled from its text in 'single'
    mode, as _compile_cell would from its tree, without building the tree
    (its syntax errors come from the general path: their offsets can differ)."""
    caught = []
    show = warnings._showwarnmsg_impl
    warnings._showwarnmsg_impl = caught.append
    try:
        codes = None
        if simple:
            try:
                codes = [compile(py, filename, 'single', dont_inherit=True)]
            except SyntaxError:  # reported as the general path reports it
                del caught[:]
        if codes is None:
            tree = ast.parse(py, filename)
            if info is not None and info.first is not None:
                _remap_lines(tree, info)
            codes = _compile_cell(tree, filename, quiet_last)
    finally:
        warnings._showwarnmsg_impl = show
    for w in caught:
        warnings._showwarnmsg(w)
    return codes, bool(caught)


def _renamed(code, filename):
    """``code`` (and the code objects it holds) as compiled for ``filename``."""
    consts = code.co_consts
    if any(type(c) is types.CodeType for c in consts):
        consts = tuple(_renamed(c, filename) if type(c) is types.CodeType else c
                       for c in consts)
        return code.replace(co_filename=filename, co_consts=consts)
    return code.replace(co_filename=filename)


# Cells made only of names, whole numbers, spaces and + - * / % ( ) , ^ (one
# line: `2+2`, `factor(2^64+1)`, `gcd(12, 18)`) are what students type most.
# Sage's preparser turns each number into Integer(n), ^ into ** and ^^ into
# ^, and does nothing else to them; doing just that costs ~1 us where the
# preparser takes ~16.  Anything else (numbers next to letters or leading
# zeros, `time ...`, implicit multiplication) goes to the preparser;
# tests/cells_test.py checks the two agree on thousands of such cells.
_SIMPLE_CELL_RE = re.compile(r'[A-Za-z0-9_ +\-*/%(),^]*\Z')
_SIMPLE_CELL_NOT_RE = re.compile(
    r'(?<![A-Za-z0-9_])(?:[0-9]+[A-Za-z_]|0[0-9])|\A *(?:time|%)')
_SIMPLE_INT_RE = re.compile(r'(?<![A-Za-z0-9_])[0-9]+')


def _is_simple_cell(code):
    return (_SIMPLE_CELL_RE.match(code) is not None and not code.isspace() and code != ''
            and _SIMPLE_CELL_NOT_RE.search(code) is None)


def _preparse_simple(code):
    """What Sage's preparser makes of a simple cell, or None."""
    if not _is_simple_cell(code):
        return None
    py = _SIMPLE_INT_RE.sub(r'Integer(\g<0>)', code)
    # Exactly the preparser's rule (which makes **** an xor too).
    return py.replace('^', '**').replace('****', '^')


def _compile_cell(tree, filename, quiet_last):
    """Compiles the cell's top-level statements: each bare expression alone in
    'single' mode (which shows its value), runs of other statements together
    in 'exec' mode.  Everything is compiled before anything runs, as Python
    does with a module."""
    body = tree.body
    codes = []
    run = []
    last = len(body) - 1
    for i, node in enumerate(body):
        if isinstance(node, ast.Expr) and not (quiet_last and i == last):
            if run:
                codes.append(compile(ast.Module(run, []), filename, 'exec', dont_inherit=True))
                run = []
            codes.append(compile(ast.Interactive([node]), filename, 'single', dont_inherit=True))
        else:
            run.append(node)
    if run:
        codes.append(compile(ast.Module(run, []), filename, 'exec', dont_inherit=True))
    return codes


def _cell_info(code, py):
    """Relates preparsed lines to original ones.  Preparsing keeps lines in
    place except that it joins backslash-continued lines."""
    orig_lines = code.split('\n')
    first = last = None
    if '\\\n' in code:
        joined = _continued_lines(code)
        if joined and py.count('\n') == code.count('\n') - len(joined):
            first, last = [0], [0]
            for n in range(1, len(orig_lines) + 1):
                if n - 1 in joined:  # line n continues line n-1
                    last[-1] = n
                else:
                    first.append(n)
                    last.append(n)
            return _CellInfo(None, first, last)
    py_lines = py.split('\n')
    if len(py_lines) != len(orig_lines):
        return _CellInfo(None, None, None)
    changed = {n for n, (a, b) in enumerate(zip(orig_lines, py_lines), 1) if a != b}
    return _CellInfo(changed, None, None)


def _continued_lines(code):
    """Original line numbers that end in a backslash continuation outside
    string literals and comments (the ones preparse joins to the next)."""
    import re
    from sage.repl.preparse import strip_string_literals
    stripped, literals, _ = strip_string_literals(code)
    joined = set()
    line = 1
    for m in re.finditer(r'\\\n|\n|%\((L\d+)\)s', stripped):
        label = m.group(1)
        if label is not None:
            line += literals.get(label, '').count('\n')
        else:
            if m.group(0) != '\n':
                joined.add(line)
            line += 1
    return joined


def _remap_lines(tree, info):
    first, last = info.first, info.last
    top = len(first) - 1
    for node in ast.walk(tree):
        n = getattr(node, 'lineno', None)
        if n is not None:
            node.lineno = first[min(n, top)]
        n = getattr(node, 'end_lineno', None)
        if n is not None:
            node.end_lineno = last[min(n, top)]
