"""Introspection: a one-line cell 'obj?' (help) or 'obj??' (source)."""

import inspect
import sys
import traceback

from . import cells, state
from .output import _display


def _help_request(code):
    """(expression, python code, want_source) if ``code`` asks for help."""
    s = code.strip()
    if '\n' in s:
        return None
    if s.endswith('??'):
        expr, want_source = s[:-2], True
    elif s.endswith('?'):
        expr, want_source = s[:-1], False
    elif s.startswith('??'):
        expr, want_source = s[2:], True
    elif s.startswith('?'):
        expr, want_source = s[1:], False
    else:
        return None
    expr = expr.strip()
    if not expr or '?' in expr or '#' in expr:
        return None  # not introspection; running it gives a SyntaxError
    try:
        preparse = cells._preparse
        py = preparse(expr, reset=True) if preparse is not None else expr
        compile(py.strip(), '<help>', 'eval', dont_inherit=True)
    except SyntaxError:
        return None
    return expr, py.strip(), want_source


def _show_help(expr, py, want_source):
    try:
        obj = eval(py, cells._ns)
    except KeyboardInterrupt:
        raise
    except (NameError, AttributeError):
        sys.stderr.write('Object `%s` not found.\n' % expr)
        return 'error'
    except Exception as e:
        sys.stderr.write('Cannot inspect `%s`: %s' % (
            expr, ''.join(traceback.format_exception_only(type(e), e))))
        return 'error'
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # Sphinx's deprecations, in sage_getdoc
        text = _help_text(obj, expr, want_source)
    _display('application/x-salvus-help', text, None, expr)
    return 'ok'


def _help_text(obj, expr, want_source):
    """IPython-like: Signature, Docstring (or Source), File, Type."""
    name = expr.rsplit('.', 1)[-1]
    parts = []
    if state.kernel == 'sage':
        from sage.misc.sageinspect import sage_getdef, sage_getdoc, sage_getfile, sage_getsource
        getdoc, getsource = sage_getdoc, sage_getsource

        def getdef():
            definition = sage_getdef(obj, name)
            if definition.endswith('(*args, **kwds)'):  # e.g. builtins
                try:
                    return name + str(inspect.signature(obj))
                except (TypeError, ValueError):
                    pass
            return definition

        def getfile():
            return sage_getfile(obj)
    else:
        def getdoc(o):
            return inspect.getdoc(o) or ''

        def getsource(o):
            return inspect.getsource(o)

        def getdef():
            return name + str(inspect.signature(obj))

        def getfile():
            return inspect.getsourcefile(obj) or inspect.getfile(obj)

    def attempt(fn, *args):
        try:
            return fn(*args)
        except KeyboardInterrupt:
            raise
        except BaseException:
            return None

    definition = attempt(getdef) if callable(obj) else None
    if definition:
        parts.append('Signature: %s' % definition)
    source = attempt(getsource, obj) if want_source else None
    if source:
        parts.append('Source:\n%s' % source.rstrip('\n'))
    else:
        if want_source:
            parts.append('Source: not available')
        doc = attempt(getdoc, obj)
        parts.append('Docstring:\n%s' % (doc.rstrip('\n') if doc else '<no docstring>'))
    filename = attempt(getfile)
    if filename:
        parts.append('File:      %s' % filename)
    parts.append('Type:      %s' % type(obj).__name__)
    return '\n'.join(parts) + '\n'
