"""Completion of names and attributes."""

import builtins
import keyword
import re
import sys

from . import cells
from .output import _Discard


_MAX_COMPLETIONS = 200
_NAME_BEFORE_CURSOR_RE = re.compile(r'((?:[^\W\d]\w*\.)*)([^\W\d]\w*)?\Z')


def complete(code, cursor):
    """Completions of the name or attribute before ``cursor`` (a code point
    index into ``code``) in the session's namespace: (matches, start, end),
    each match to replace code[start:end].  Never raises."""
    try:
        cursor = int(cursor)
    except BaseException:
        return [], 0, 0
    try:
        return _complete(code, cursor)
    except BaseException:
        return [], cursor, cursor


def _complete(code, cursor):
    if not isinstance(code, str) or not 0 <= cursor <= len(code) or cells._ns is None:
        return [], cursor, cursor
    text = code[max(0, cursor - 1000):cursor]
    m = _NAME_BEFORE_CURSOR_RE.search(text)
    base, prefix = m.group(1), m.group(2) or ''
    before = text[:m.start()]
    start = cursor - len(prefix)
    if before and (before[-1] == '.' or before[-1].isalnum() or before[-1] == '_'):
        return [], cursor, cursor  # after a number, or an attribute of an expression
    if base:
        names = _attribute_names(base[:-1])
    elif prefix:
        names = set(cells._ns) | set(dir(builtins)) | set(keyword.kwlist)
    else:
        return [], cursor, cursor
    if not prefix.startswith('_'):
        names = (n for n in names if not n.startswith('_'))
    matches = sorted(n for n in names if n.startswith(prefix))
    return matches[:_MAX_COMPLETIONS], start, cursor


def _attribute_names(expr):
    """dir() of the dotted name ``expr`` evaluated in the session (only
    names and attributes: no calls), with its output discarded."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Discard()
    try:
        obj = eval(compile(expr, '<completion>', 'eval', dont_inherit=True), cells._ns)
        return set(n for n in dir(obj) if isinstance(n, str))
    finally:
        sys.stdout, sys.stderr = saved
