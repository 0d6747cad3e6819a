"""The Python side of a Salvus compute worker.

The C++ zygote embeds CPython, imports this module and calls
``init_zygote(kernel)`` once; it then forks one worker per session, and in the
worker calls ``init_worker(home, seed)``, ``execute(code)`` once per request and
``finish_worker()`` before exiting.  Before ``init_worker`` the C++ side has
already switched uid, chdir'd into the session's fresh home, set HOME,
DOT_SAGE, MPLCONFIGDIR and TMPDIR, and replaced sys.stdout / sys.stderr with
its own streams.  Everything here writes through ``sys.stdout`` /
``sys.stderr`` looked up at call time and never replaces them.

Cells run the way Sage worksheets ran them: the whole cell is preparsed (for
the 'sage' kernel), every top-level statement runs in order, and the value of
each bare top-level expression statement is shown through sys.displayhook.  A
cell whose last non-blank line ends with ';' does not show its last value.
Tracebacks name the cell ``<cell-N>`` (N counts requests in this worker) and
show the original (not preparsed) line numbers and source lines.

A cell whose first line is ``%mode`` runs in another mode (``%python``,
``%sh``, ``%gp``, ``%gap``, ``%maxima``, ``%singular``, ``%html``, ``%md``,
``%latex``); a one-line cell ``obj?`` / ``obj??`` shows help / source.

Rich output (images, HTML, LaTeX, Markdown, files, interacts, help) leaves
through ``_salvus.display(mime, text, data, name, width, height)``, a
function of the C++ module ``_salvus`` that sends one message in order with
the text output (binary ``data`` becomes a blob).  The module functions the
C++ side calls are:

    init_zygote(kernel)                       once, in the zygote
    init_worker(home, seed); warm_worker()    once per forked worker
    execute(code) -> 'ok' | 'error' | 'interrupted'
    interact_update(interact_id, values_json) -> 'ok' | 'error' | 'interrupted'
    complete(code, cursor) -> (matches, start, end)      never raises
    finish_worker()

The JSON of interacts (application/x-salvus-interact) is described at
``interact`` below.

Facts about Sage 9.5 this relies on are in /work/shared/SAGE.md.

Thread-safety: none; everything runs on the interpreter's main thread.
"""

import ast
import builtins
import collections
import contextlib
import gc
import importlib
import inspect
import json
import keyword
import linecache
import math
import os
import random
import re
import sys
import traceback
import types
import warnings

__all__ = ['init_zygote', 'init_worker', 'warm_worker', 'execute', 'interact_update',
           'complete', 'finish_worker']

# ---------------------------------------------------------------------------
# Zygote state (set once by init_zygote, inherited by every worker).
# ---------------------------------------------------------------------------
_kernel = None            # 'sage' or 'python'
_main = None              # the module every session starts as (__main__)
_main_taken_by = None     # pid of the worker that took _main
_preparse = None          # sage.repl.preparse.preparse, for the sage kernel
_preparse_module = None   # sage.repl.preparse (its implicit_mul_level)
_zygote_dot_sage = None   # the zygote's DOT_SAGE, to be re-pointed per worker
_zygote_local_id = None   # sage.env.LOCAL_IDENTIFIER of the zygote (host.pid)
_path_attrs = []          # (module, name) whose str value lives in DOT_SAGE
_path_items = []          # (weakref to a pexpect interface, name): the same
_running_in_zygote = []   # weakrefs to pexpect interfaces the zygote started
_local_id_attrs = []      # (module, name) whose value is the zygote's host.pid
_gap_true = None          # libgap's GAP_True (a ctypes view); non-NULL once GAP is up
_sage_dm = None           # Sage's display manager (sage kernel)
# Types whose value the display manager shows as its repr in plain text
# (set for the sage kernel; _sage_displayhook's shortcut).
_PLAIN_TYPES = frozenset()
_SageObject = None        # sage.structure.sage_object.SageObject (sage kernel)

# ---------------------------------------------------------------------------
# Worker state (set by init_worker).
# ---------------------------------------------------------------------------
_ns = None                # the session's namespace (the __main__ module dict)
_cell_count = 0           # requests executed in this worker
_seed = 0
_gap_seeded = True        # False while libgap still has to be seeded
_cells = {}               # '<cell-N>' -> _CellInfo, only for preparsed cells
_display_fn = None        # _salvus.display, looked up at first use in the worker
_displays_off = False     # while warm-up cells run: rich output is dropped
_python_graphics_format = 'png'  # salvus.graphics_format of the python kernel

# Interacts of this session: id -> _Interact, least recently used first.
_MAX_INTERACTS = 1000
_interacts = collections.OrderedDict()
_interact_stack = []      # interacts whose function is running, innermost last

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

_GLOBALS = globals()


class _Discard:
    """A stand-in stdout for the zygote's warm-up."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass


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


# ---------------------------------------------------------------------------
# init_zygote
# ---------------------------------------------------------------------------

def init_zygote(kernel):
    """Prepares the zygote for forking workers of ``kernel`` ('sage' or 'python')."""
    global _kernel
    if kernel not in ('sage', 'python'):
        raise ValueError("kernel must be 'sage' or 'python', not %r" % (kernel,))
    if _kernel is not None:
        if _kernel != kernel:
            raise RuntimeError('init_zygote already ran for kernel %r' % _kernel)
        return
    # Must be in the environment before numpy/OpenBLAS and matplotlib load:
    # OpenBLAS threads do not survive fork, and Debian's matplotlibrc asks
    # for TkAgg.
    os.environ['MPLBACKEND'] = 'agg'
    os.environ['OPENBLAS_NUM_THREADS'] = '1'
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    _install_pyplot_hook()
    if kernel == 'sage':
        _init_sage_zygote()
    else:
        _init_python_zygote()
    _kernel = kernel
    _warm_up_cells()
    if kernel == 'sage':
        _find_running_interfaces()
    gc.collect()
    gc.freeze()


def _init_python_zygote():
    sys.displayhook = _python_displayhook
    _make_main({'__builtins__': builtins, 'salvus': salvus})


def _make_main(namespace):
    # Built once here and handed to the (single) session of each forked
    # worker as is: copying its ~2000 names in the worker would write to the
    # refcount of every object they name, i.e. copy ~2000 pages (60 ms, 8 MB).
    global _main
    _main = types.ModuleType('__main__')
    _main.__dict__.update(namespace)


def _python_displayhook(value):
    """sys.displayhook for the python kernel: repr() to sys.stdout (or rich
    output for matplotlib figures and objects with IPython's _repr_*_
    methods), sets _."""
    if value is None:
        return
    builtins._ = None  # so repr() cannot see the previous value as _
    if not _display_special(value):
        sys.stdout.write(repr(value) + '\n')
    builtins._ = value


def _sage_displayhook(value):
    """sys.displayhook for the sage kernel: Sage's display manager (with the
    Salvus backend), except for matplotlib figures and non-Sage objects with
    IPython's _repr_*_ methods."""
    if value is None:
        return
    if type(value) in _PLAIN_TYPES and _sage_dm.preferences.text in (None, 'plain'):
        # What the display manager shows for these (its repr, as plain
        # text), without its machinery: most of the cost of a cell like `2+2`.
        builtins._ = value
        sys.stdout.write(repr(value) + '\n')
        return
    if not _is_sage_object(value):
        builtins._ = None
        if _display_special(value):
            builtins._ = value
            return
    _sage_render(_sage_dm.displayhook, value)


def _init_sage_zygote():
    global _preparse, _preparse_module
    global _sage_dm, _SageObject
    ns = {}
    exec('from sage.all_cmdline import *', ns)
    # Our own interact and controls (Sage's, in all_jupyter, need ipywidgets
    # and a Jupyter kernel), and the salvus object.
    for name in _SESSION_NAMES:
        ns[name] = _GLOBALS[name]
    ns.pop('__name__', None)
    ns.pop('__doc__', None)
    _make_main(ns)  # its __name__ is '__main__': sage's inject_variable needs that

    import sage.repl.preparse
    import sage.repl.user_globals
    from sage.repl.rich_output import get_display_manager
    _preparse_module = sage.repl.preparse
    _preparse = sage.repl.preparse.preparse
    from sage.structure.sage_object import SageObject
    _SageObject = SageObject
    global _PLAIN_TYPES
    _PLAIN_TYPES = frozenset(type(v) for v in (
        0, 0.5, True, 1j, ns['Integer'](0), ns['QQ'](1) / 2, ns['RR'](1), ns['RDF'](1),
        ns['CDF'](1), ns['CC'](1)))
    dm = _sage_dm = get_display_manager()

    # The workers' own namespace already (see init_worker): replacing a
    # different dict there would free it, touching every object it names.
    sage.repl.user_globals.set_globals(_main.__dict__)
    _warm_up_plot(ns, dm)
    # After the warm-up, which must not leave files in the zygote's SAGE_TMP
    # (the Salvus backend renders plots to files there).
    dm.switch_backend(_make_sage_backend())
    display_immediately = dm.display_immediately

    def show(obj, **kwds):  # what show(), Graphics.show(), pretty_print() call
        if _is_sage_object(obj) or not _display_special(obj):
            _sage_render(display_immediately, obj, **kwds)
    dm.display_immediately = show
    sys.displayhook = _sage_displayhook
    if 'matplotlib.pyplot' in sys.modules:
        _patch_pyplot(sys.modules['matplotlib.pyplot'])
    _find_zygote_paths()
    _find_libgap()


def _warm_up_plot(ns, dm):
    # A child's first plot takes ~1 s from a cold zygote and ~0.2 s after
    # this (SAGE.md section 2).  Rendering a PNG also loads fonts and Agg.
    saved = sys.stdout
    sys.stdout = _Discard()
    try:
        x = ns['x']
        g = ns['plot'](ns['sin'](x), (x, 0, 1))
        dm.displayhook(g)
        import io
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        fig = g.matplotlib()
        FigureCanvasAgg(fig)
        fig.savefig(io.BytesIO(), format='png')
        importlib.import_module('matplotlib.pyplot')  # 0.5 s per worker otherwise
    except Exception:
        pass
    finally:
        sys.stdout = saved
        builtins.__dict__.pop('_', None)


def _find_zygote_paths():
    """Records every module-level string that names a place in the zygote's
    DOT_SAGE (or is its host.pid identifier), so that init_worker can re-point
    them at the session's home without scanning all modules again."""
    global _zygote_dot_sage, _zygote_local_id
    import sage.env
    _zygote_dot_sage = os.path.normpath(sage.env.DOT_SAGE)
    _zygote_local_id = sage.env.LOCAL_IDENTIFIER
    prefix = _zygote_dot_sage + os.sep
    modules = [m for n, m in sys.modules.items() if n == 'sage' or n.startswith('sage.')]
    modules.append(_main)  # the session namespace has DOT_SAGE and SAGE_DB too
    for module in modules:
        d = getattr(module, '__dict__', None)
        if not isinstance(d, dict):
            continue
        for name, value in list(d.items()):
            if type(value) is not str:
                continue
            if value == _zygote_dot_sage or value.startswith(prefix):
                _path_attrs.append((module, name))
            elif value == _zygote_local_id:
                _local_id_attrs.append((module, name))
    # Interface objects built at import time keep paths of their own
    # (gp's log file, gap's command line naming its workspace).
    import weakref
    from sage.interfaces.quit import expect_objects
    for ref in expect_objects:
        obj = ref()
        if obj is None:
            continue
        for name, value in vars(obj).items():
            if type(value) is str and prefix in value:
                _path_items.append((weakref.ref(obj), name))


def _find_libgap():
    # libgap's initialisation state is a C static; GAP_True is set by it.
    global _gap_true
    try:
        import ctypes
        import sage.env
        lib = ctypes.CDLL(sage.env.GAP_SO, mode=os.RTLD_NOLOAD)
        _gap_true = ctypes.c_void_p.in_dll(lib, 'GAP_True')  # reads the C static each time
    except Exception:
        _gap_true = None


def _libgap_initialized():
    # Asked after every cell until GAP has started: no import, no new object.
    return _gap_true is not None and bool(_gap_true.value)


def _warm_up_cells():
    """Runs a few cells through execute() so that their first run in a worker
    does not pay for regex compilation, first imports and the like."""
    global _ns, _displays_off
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Discard()
    _displays_off = True
    try:
        _ns = dict(_main.__dict__)
        if _kernel == 'sage':
            cells = ['a = factor(2^64+1); b = [1..3]; c = 1.5r * 2\na', '1/0', '1 +']
        else:
            cells = ['a = 1\na', '1/0', '1 +']
        _run_and_forget(cells)
    except BaseException:
        pass
    finally:
        sys.stdout, sys.stderr = saved
        _displays_off = False
        _preparse_cache.clear()
        _ns = None


def _run_and_forget(cells):
    """Executes `cells`, then forgets them: the cell count, their line cache
    entries and '_' are as before."""
    global _cell_count
    try:
        for cell in cells:
            execute(cell)
    finally:
        for n in range(1, _cell_count + 1):
            linecache.cache.pop('<cell-%d>' % n, None)
        _cells.clear()
        _cell_count = 0
        builtins.__dict__.pop('_', None)


# ---------------------------------------------------------------------------
# init_worker
# ---------------------------------------------------------------------------

def init_worker(home, seed):
    """Sets up a freshly forked worker for one session living in ``home``."""
    global _ns, _cell_count, _seed, _main_taken_by
    if _kernel is None:
        raise RuntimeError('init_zygote() has not run')
    if _main_taken_by is not None:
        raise RuntimeError('init_worker() runs once per forked worker')
    _main_taken_by = os.getpid()
    _seed = int(seed)
    _cell_count = 0
    _cells.clear()
    builtins.__dict__.pop('_', None)

    import tempfile
    tempfile.tempdir = None  # gettempdir() caches; TMPDIR changed since
    if _kernel == 'sage':
        _repoint_sage(home)
        _detach_pexpect()
        _repoint_matplotlib()

    _reseed(_seed)

    # The session's namespace is a module installed as __main__, so that
    # pickle finds classes defined in cells.  This process is a fresh fork of
    # the zygote, which never ran code in it: it is pristine.
    _ns = _main.__dict__
    sys.modules['__main__'] = _main
    if _kernel == 'sage':
        import sage.repl.user_globals
        sage.repl.user_globals.set_globals(_ns)


def _repoint_sage(home):
    """Makes Sage put its files (SAGE_TMP, caches, logs) under the session's
    DOT_SAGE instead of the zygote's.  SAGE_TMP and friends are lazy strings
    recomputed from sage.misc.misc.DOT_SAGE and os.getpid() on every use."""
    import sage.env
    dot_sage = os.environ.get('DOT_SAGE') or os.path.join(home, '.sage')
    dot_sage = os.path.normpath(os.path.abspath(dot_sage))
    os.makedirs(dot_sage, mode=0o700, exist_ok=True)
    old = _zygote_dot_sage
    local_id = '%s.%s' % (sage.env.HOSTNAME, os.getpid())

    def moved(value):
        if value == old:
            return dot_sage
        if value.startswith(old + os.sep):
            return dot_sage + value[len(old):]
        return value

    for module, name in _path_attrs:
        value = module.__dict__.get(name)
        if type(value) is str:
            setattr(module, name, moved(value))
    for module, name in _local_id_attrs:
        setattr(module, name, local_id)
    env = getattr(sage.env, 'SAGE_ENV', None)
    if isinstance(env, dict):
        for key, value in list(env.items()):
            if type(value) is str:
                env[key] = local_id if value == _zygote_local_id else moved(value)

    for ref, name in _path_items:
        obj = ref()
        value = getattr(obj, '__dict__', {}).get(name)
        if type(value) is str:
            obj.__dict__[name] = value.replace(old + os.sep, dot_sage + os.sep)

    if 'sage.libs.ecl' in sys.modules:
        # ECL was booted in the zygote with TMP pointing into its SAGE_TMP.
        try:
            from sage.libs.ecl import ecl_eval
            from sage.misc.misc import ECL_TMP
            ecl_eval('(setf (logical-pathname-translations "TMP") '
                     "'((\"**;*.*\" \"%s/**/*.*\")))" % str(ECL_TMP))
        except Exception:
            pass


def _find_running_interfaces():
    # Nothing should start one in the zygote; if something did, the workers
    # must not share its process.  Recorded here so that a worker does not
    # have to touch all ~20 interface objects (each touch copies a page).
    try:
        from sage.interfaces.quit import expect_objects
    except ImportError:
        return
    import weakref
    for ref in expect_objects:
        obj = ref()
        if obj is not None and getattr(obj, '_expect', None) is not None:
            _running_in_zygote.append(weakref.ref(obj))


def _detach_pexpect():
    """Forgets gp/gap/maxima processes started in the zygote (its children,
    shared by every worker); the worker starts its own when needed."""
    for ref in _running_in_zygote:
        obj = ref()
        if obj is not None and getattr(obj, '_expect', None) is not None:
            try:
                obj.detach()
            except Exception:
                pass


def _repoint_matplotlib():
    mpl = sys.modules.get('matplotlib')
    if mpl is None:
        return
    # get_configdir/get_cachedir memoize the zygote's answer.
    for name, fmt in (('get_configdir', 'CONFIGDIR=%s'), ('get_cachedir', 'CACHEDIR=%s')):
        fn = getattr(mpl, name, None)
        inner = getattr(fn, '__wrapped__', None)
        cached = getattr(mpl, '_logged_cached', None)
        if inner is not None and cached is not None:
            setattr(mpl, name, cached(fmt)(inner))
    # (matplotlib.texmanager.TexManager.texcache, fixed at import, still
    # names the zygote's cache; usetex needs a LaTeX this machine lacks.)


def _reseed(seed):
    global _gap_seeded
    random.seed(seed)
    numpy = sys.modules.get('numpy')
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
    _gap_seeded = True
    if _kernel != 'sage':
        return
    from sage.misc.randstate import set_random_seed, current_randstate
    set_random_seed(seed)
    current_randstate().set_seed_pari()
    # libgap seeds itself to a constant when it starts; seed it now if the
    # zygote started it, otherwise after the cell that starts it.
    # (randstate.set_seed_gap() is for the pexpect GAP and would start it.)
    _gap_seeded = False
    _seed_libgap_if_started()


def _seed_libgap_if_started():
    global _gap_seeded
    if _gap_seeded or not _libgap_initialized():
        return
    _gap_seeded = True
    try:
        from sage.libs.gap.libgap import libgap
        libgap.set_seed(_seed % 2**31)
    except Exception:
        pass


# ---------------------------------------------------------------------------
# execute
# ---------------------------------------------------------------------------

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
        return _run_cell(code, filename, _preparse is not None)
    # The mode line becomes the code's first line (empty, or what followed
    # the mode on it), so line numbers stay those of the cell as typed.
    mode = m.group(1)
    body = (m.group(2) or '') + code[m.end():]
    runner = _MODES.get(mode)
    if runner is None or (_kernel != 'sage' and mode in _SAGE_MODES):
        known = ', '.join('%' + k for k in sorted(_MODES)
                          if _kernel == 'sage' or k not in _SAGE_MODES)
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


def _run_cell(code, filename, preparse=True, source=None):
    """Runs ``code`` as the cell named ``filename``; ``source`` (default:
    ``code``) is the text tracebacks show, with the same line numbers."""
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


# Cells made only of names, whole numbers, spaces and + - * / % ( ) , ^ (one
# line: `2+2`, `factor(2^64+1)`, `gcd(12, 18)`) are what students type most.
# Sage's preparser turns each number into Integer(n), ^ into ** and ^^ into
# ^, and does nothing else to them; doing just that costs ~1 us where the
# preparser takes ~16.  Anything else (numbers next to letters or leading
# zeros, `time ...`, implicit multiplication) goes to the preparser;
# salvus_worker_test checks the two agree on thousands of such cells.
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


def _after_cell():
    # Figures drawn with pyplot and not shown yet are shown now (as Jupyter's
    # inline backend does); none of them survives into the next cell.
    _flush_figures()
    if not _gap_seeded:
        _seed_libgap_if_started()


def _flush():
    for name in ('stdout', 'stderr'):
        try:
            getattr(sys, name).flush()
        except BaseException:
            pass


# ---------------------------------------------------------------------------
# Reporting errors
# ---------------------------------------------------------------------------

def _report(e):
    """Prints ``e``'s traceback to sys.stderr, without this module's frames
    and without column markers on lines that preparsing changed."""
    try:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_globals is _GLOBALS:
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


# ---------------------------------------------------------------------------
# finish_worker
# ---------------------------------------------------------------------------

def finish_worker():
    """Stops the session's subprocesses and removes its SAGE_TMP.  Never raises."""
    try:
        if _kernel == 'sage':
            # expect_quitall first: it reads SAGE_TMP/spawned_processes, and
            # touching SAGE_TMP re-creates the directory.
            try:
                from sage.interfaces.quit import expect_quitall
                expect_quitall()
            except BaseException:
                pass
            try:
                from sage.misc.temporary_file import delete_tmpfiles
                delete_tmpfiles()
            except BaseException:
                pass
    except BaseException:
        pass
    _flush()


# ---------------------------------------------------------------------------
# warm_worker
# ---------------------------------------------------------------------------

def warm_worker():
    """Runs a few cells quietly in a preforked worker, before it is given to a
    session, so that the session's first cell does not pay the copy-on-write
    page faults of the code paths every cell uses (preparse, compile,
    displayhook, sys.stdout).  The caller discards the output (the C++
    OutputChannel does, so that its own write path is warmed too).  Leaves no
    trace: names, '_', the cell count and the line cache are as init_worker
    left them."""
    global _displays_off
    if _ns is None:
        raise RuntimeError('warm_worker() needs init_worker() first')
    # Names the cells add come last in the namespace's insertion order, so
    # they are found without touching the others: set(_ns) would write to
    # the refcount of each of its ~2000 names (~650 copied pages, ~17 ms).
    count = len(_ns)
    if _kernel == 'sage':
        cells = ['_salvus_w = 2+2', '1+1', 'print(1)']
    else:
        cells = ['_salvus_w = 1', '1+1', 'print(1)']
    _displays_off = True
    try:
        _run_and_forget(cells)
    finally:
        _displays_off = False
        added = len(_ns) - count
        for name in [name for _, name in zip(range(added), reversed(_ns))]:
            del _ns[name]


# ---------------------------------------------------------------------------
# Modes: a first line '%name' (or '%%name'), optionally followed by code
# ---------------------------------------------------------------------------

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


def _run_shell(script):
    """Runs ``script`` with /bin/bash, its stdout and stderr going to
    sys.stdout / sys.stderr as they come, until bash exits.  An interrupt
    (SIGINT to the worker) is passed on to bash and everything it started.
    The script stays in the worker's process group: what it leaves running
    in the background ends with the session."""
    import subprocess
    import tempfile
    path = None
    if len(script) > 100000:  # the kernel limits one argument to 128 KiB
        fd, path = tempfile.mkstemp(suffix='.sh')
        with os.fdopen(fd, 'w') as f:
            f.write(script)
        argv = ['/bin/bash', path]
    else:
        argv = ['/bin/bash', '-c', script]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            _pump_output(proc)
            rc = proc.wait()
        except BaseException:
            _stop_process_tree(proc)
            raise
        finally:
            proc.stdout.close()
            proc.stderr.close()
    finally:
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass
    if rc != 0:
        if rc < 0:
            sys.stderr.write('(killed by signal %d)\n' % -rc)
        else:
            sys.stderr.write('(exit code %d)\n' % rc)
        return 'error'
    return 'ok'


def _pump_output(proc):
    """Copies proc's stdout/stderr pipes to sys.stdout/sys.stderr until both
    are closed or proc has exited (children left in the background may hold
    the pipes open)."""
    import codecs
    import select
    streams = {}
    for pipe, name in ((proc.stdout, 'stdout'), (proc.stderr, 'stderr')):
        streams[pipe.fileno()] = (codecs.getincrementaldecoder('utf-8')('replace'), name)
    pidfd = None
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pass
    exited = False
    drain = 64  # reads after bash exited: a background job may write forever
    try:
        while streams:
            fds = list(streams)
            if pidfd is not None and not exited:
                fds.append(pidfd)
            timeout = 0 if exited else (None if pidfd is not None else 0.1)
            ready = select.select(fds, [], [], timeout)[0]
            if pidfd is not None and pidfd in ready:
                exited = True
            elif pidfd is None and not exited and proc.poll() is not None:
                exited = True
                continue  # drain what is already in the pipes
            if exited:
                drain -= 1
                if not ready or drain < 0:
                    break  # bash is gone and the pipes hold nothing more
            for fd in ready:
                if fd == pidfd:
                    continue
                decoder, name = streams[fd]
                chunk = os.read(fd, 65536)
                if chunk:
                    text = decoder.decode(chunk)
                else:
                    text = decoder.decode(b'', True)
                    del streams[fd]
                if text:
                    getattr(sys, name).write(text)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _process_tree(pid):
    """pid and its descendants (from /proc), parents first."""
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b')') + 2:].split()[1])  # after "(comm) state"
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(entry))
    tree = [pid]
    for p in tree:
        tree.extend(children.get(p, ()))
    return tree


def _stop_process_tree(proc):
    """Interrupts bash and all it started (SIGINT), then kills (SIGKILL)
    what is still there after 2 s, or at once on a second interrupt."""
    import signal
    import subprocess
    tree = []
    try:
        tree = _process_tree(proc.pid)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass
        proc.wait(2)
    except (OSError, subprocess.TimeoutExpired, KeyboardInterrupt):
        pass
    finally:
        try:
            if proc.poll() is None:
                tree = tree + _process_tree(proc.pid)
        except OSError:
            pass
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()


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


# ---------------------------------------------------------------------------
# Introspection: a one-line cell 'obj?' (help) or 'obj??' (source)
# ---------------------------------------------------------------------------

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
        py = _preparse(expr, reset=True) if _preparse is not None else expr
        compile(py.strip(), '<help>', 'eval', dont_inherit=True)
    except SyntaxError:
        return None
    return expr, py.strip(), want_source


def _show_help(expr, py, want_source):
    try:
        obj = eval(py, _ns)
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
    if _kernel == 'sage':
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


# ---------------------------------------------------------------------------
# Rich output
# ---------------------------------------------------------------------------

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


def _graphics_format():
    """'png' or 'svg': how plots and figures are rendered."""
    if _kernel == 'sage':
        return 'svg' if _sage_dm.preferences.graphics == 'vector' else 'png'
    return _python_graphics_format


def _is_sage_object(value):
    return _SageObject is not None and isinstance(value, _SageObject)


_IPYTHON_REPRS = (('_repr_html_', 'text/html'), ('_repr_markdown_', 'text/markdown'),
                  ('_repr_svg_', 'image/svg+xml'), ('_repr_png_', 'image/png'),
                  ('_repr_latex_', 'text/latex'))


def _display_special(value):
    """Shows a matplotlib figure, or an object with IPython's _repr_*_
    methods (pandas, sympy, PIL ...), as rich output; False if it is
    neither (or its _repr_*_ methods fail)."""
    if _is_figure(value):
        _display_figure(value)
        plt = sys.modules.get('matplotlib.pyplot')
        if plt is not None:
            plt.close(value)  # shown: not again at the end of the cell
        return True
    if isinstance(value, type):
        return False
    cls = type(value)
    for method, mime in _IPYTHON_REPRS:
        if getattr(cls, method, None) is None:
            continue
        try:
            out = getattr(value, method)()
        except KeyboardInterrupt:
            raise
        except Exception:
            continue
        if isinstance(out, tuple) and out:
            out = out[0]  # (data, metadata)
        if out is None:
            continue
        if mime == 'image/png':
            if isinstance(out, (bytes, bytearray)):
                _display_image('png', bytes(out))
                return True
        elif mime == 'image/svg+xml':
            if isinstance(out, str):
                out = out.encode()
            if isinstance(out, (bytes, bytearray)):
                _display_image('svg', bytes(out))
                return True
        elif isinstance(out, str):
            if mime == 'text/latex':
                out = _strip_math_delimiters(out)
            _display(mime, out)
            return True
    return False


def _strip_math_delimiters(s):
    s = s.strip()
    for left, right in (('$$', '$$'), ('\\[', '\\]'), ('$', '$'), ('\\(', '\\)')):
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            return s[len(left):len(s) - len(right)].strip()
    return s


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


# ---------------------------------------------------------------------------
# matplotlib
# ---------------------------------------------------------------------------

def _is_figure(value):
    mod = sys.modules.get('matplotlib.figure')
    return mod is not None and isinstance(value, mod.Figure)


def _display_figure(fig):
    import io
    fmt = _graphics_format()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches='tight')
    _display_image(fmt, buf.getvalue())


def _flush_figures():
    """Shows every open pyplot figure, then closes them all."""
    plt = sys.modules.get('matplotlib.pyplot')
    if plt is None:
        return
    nums = plt.get_fignums()
    if not nums:
        return
    try:
        from matplotlib._pylab_helpers import Gcf
        for num in nums:
            manager = Gcf.get_fig_manager(num)
            if manager is not None:
                _display_figure(manager.canvas.figure)
    finally:
        plt.close('all')


def _patch_pyplot(plt):
    if getattr(plt.show, '_salvus', False):
        return

    def show(*args, **kwargs):
        """Shows the open figures in the cell's output (and closes them)."""
        _flush_figures()
    show._salvus = True
    plt.show = show


class _PyplotLoader:
    """Wraps the loader of matplotlib.pyplot to patch it once loaded."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _patch_pyplot(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _PyplotFinder:
    """A sys.meta_path finder that patches matplotlib.pyplot's show() when
    the session imports it (the python kernel does not load it in the
    zygote)."""
    _busy = False

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != 'matplotlib.pyplot' or cls._busy:
            return None
        import importlib.util
        cls._busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            cls._busy = False
        if spec is not None and spec.loader is not None:
            spec.loader = _PyplotLoader(spec.loader)
        return spec


def _install_pyplot_hook():
    if _PyplotFinder not in sys.meta_path:
        sys.meta_path.insert(0, _PyplotFinder)


# ---------------------------------------------------------------------------
# The salvus object of the session namespace
# ---------------------------------------------------------------------------

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
        global _python_graphics_format
        if fmt not in ('png', 'svg'):
            raise ValueError("graphics_format must be 'png' or 'svg', not %r" % (fmt,))
        if _kernel == 'sage':
            _sage_dm.preferences.graphics = 'vector' if fmt == 'svg' else 'raster'
        _python_graphics_format = fmt

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
            if _kernel == 'sage':
                from sage.misc.latex import latex
                obj = str(latex(obj))
            else:
                obj = str(obj)
        _display('text/latex', obj)


salvus = _Salvus()


# ---------------------------------------------------------------------------
# Interacts
# ---------------------------------------------------------------------------
#
# @interact on a function f displays application/x-salvus-interact with
# name = the interact's id and text = JSON
#
#   {"id": ID, "auto_update": BOOL, "controls": [CONTROL, ...]}   (+ "layout"
#   when interact(layout=...) was given something JSON can hold)
#
# where every CONTROL has "name" (f's parameter), "type" and "label", plus:
#
#   slider        {"min", "max", "step", "default": NUMBER, "display_value"}
#                 or, over a list of values,
#                 {"values": [NUMBER or STRING], "default_index": INT, "display_value"}
#   range_slider  {"min", "max", "step", "default": [LO, HI], "display_value"}
#                 or {"values": [...], "default_index": [I, J], "display_value"}
#   input_box     {"default": STRING, "kind": "expression"|"string"|"number",
#                  "width": INT (characters), "height": INT (lines; >1: a text area)}
#   checkbox      {"default": BOOL}
#   selector      {"values": [STRING labels], "default_index": INT,
#                  "buttons": BOOL, "nrows": INT|null, "ncols": INT|null}
#   color         {"default": "#rrggbb", "hide_box": BOOL}
#   input_grid    {"rows": INT, "cols": INT, "default": [[STRING]], "width": INT}
#   button        {"text": STRING, "width": INT|null}
#   text_control  {"text": STRING}
#
# then runs f once with the defaults (its output follows the display).
# interact_update(id, values_json) takes a JSON object {name: value} with any
# subset of the controls, each value as the browser holds it:
#
#   slider        a number (snapped to min + k*step within [min, max]);
#                 over a list of values: the index (int)
#   range_slider  [lo, hi] numbers; over a list of values: [i, j] indices
#   input_box     a string (for kind "number" a number is accepted too)
#   checkbox      true / false
#   selector      the index (int), or a string equal to one of the labels
#   color         "#rrggbb"
#   input_grid    rows x cols list of lists of strings (numbers accepted)
#   button        true for a click (false: no click); a click lasts one run
#   text_control  ignored
#
# All values are checked before any is set: one bad value rejects the update
# (status 'error', a message on stderr) and the interact keeps its values.
# f receives Sage values: Integer / RealNumber from sliders, evaluated
# expressions from input boxes, Color from color selectors, a matrix from an
# input grid whose default was a matrix, the selected object (not its label)
# from selectors.

class _BadValue(ValueError):
    pass


_NO_DEFAULT = object()


def _exception_line(e):
    """'Type: message' (a SyntaxError's position lines left out)."""
    return traceback.format_exception_only(type(e), e)[-1].strip()


def _eval_expression(text):
    if _kernel == 'sage':
        from sage.misc.sage_eval import sage_eval
        return sage_eval(text, locals=_ns)
    return eval(text, _ns)


def _is_number(v):
    if isinstance(v, (bool, str, bytes)):
        return False
    if isinstance(v, (int, float)):
        return True
    if _kernel != 'sage':
        return False
    try:
        return math.isfinite(float(v))  # Sage numbers, pi, sqrt(2) ...
    except Exception:
        return False


def _json_number(v):
    import numbers
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    f = float(v)
    if not math.isfinite(f):
        raise ValueError('%r is not a finite number' % (v,))
    return f


def _json_value(v):
    """A value of a discrete slider as JSON: a number, or its str."""
    import numbers
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Rational):
        f = float(v)
        if math.isfinite(f):
            return f
    return str(v)


def _browser_number(raw, what):
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise _BadValue('%s must be a number, not %s' % (what, json.dumps(raw)))
    return raw


def _browser_index(raw, n):
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _BadValue('expected an index (an integer), not %s' % json.dumps(raw))
    if not 0 <= raw < n:
        raise _BadValue('index %d is out of range (there are %d values)' % (raw, n))
    return raw


def _closest_index(values, default):
    """The index of ``default`` in ``values`` (by identity, equality, then
    numeric distance), 0 if none fits."""
    if default is None:
        return 0
    for i, v in enumerate(values):
        if v is default:
            return i
    for i, v in enumerate(values):
        try:
            if bool(v == default):
                return i
        except Exception:
            pass
    best = None
    for i, v in enumerate(values):
        try:
            d = abs(float(v) - float(default))
        except Exception:
            continue
        if best is None or d < best[0]:
            best = (d, i)
    return best[1] if best is not None else 0


class _Control:
    """A control of an interact.  Immutable once made (the current values
    live in the _Interact), so one control can serve several interacts."""
    type = None
    default_label = None  # None: the parameter's name

    def __init__(self, label=None):
        self.label = label

    def message(self, name):
        d = {'name': name, 'type': self.type,
             'label': str(self.label if self.label is not None else
                          (name if self.default_label is None else self.default_label))}
        d.update(self.spec())
        return d

    def spec(self):
        return {}

    def initial(self):
        """The value f gets before any update."""
        raise NotImplementedError

    def adapt(self, raw):
        """The value f gets for ``raw`` sent by the browser; raises
        _BadValue (or another Exception) for a bad one."""
        raise NotImplementedError

    def set_default(self, value):
        raise TypeError('%s does not take a default this way' % type(self).__name__)

    def __repr__(self):
        return '%s(%s)' % (self.type, json.dumps(self.spec())[1:-1])


class _Slider(_Control):
    """slider(vmin, vmax=None, step_size=None, default=None, label=None,
    display_value=True): a slider over [vmin, vmax] in steps of step_size
    (default 1 for integers, (vmax-vmin)/100 otherwise), or, when vmin is a
    list, over its values.  The value has the type of the bounds (Integer,
    RealNumber ...; symbolic bounds give RealNumber)."""
    type = 'slider'

    def __init__(self, vmin, vmax=None, step_size=None, default=None, label=None,
                 display_value=True, _range=False, _middle=False):
        super().__init__(label)
        self.display_value = bool(display_value)
        self.range = bool(_range)
        if _range:
            self.type = 'range_slider'
        self.values = None
        if not _is_number(vmin) and isinstance(vmin, collections.abc.Iterable) \
                and not isinstance(vmin, str):
            if vmax is not None or step_size is not None:
                raise TypeError('a slider over a list of values takes no vmax or step_size')
            self._init_values(list(vmin), default)
        else:
            self._init_numeric(vmin, vmax, step_size, default, _middle)

    def _init_values(self, values, default):
        if not values:
            raise ValueError('a slider needs at least one value')
        self.values = values
        if self.range:
            if isinstance(default, (tuple, list)) and len(default) == 2:
                self.index = tuple(sorted(_closest_index(values, d) for d in default))
            else:
                self.index = (0, len(values) - 1)
        else:
            self.index = _closest_index(values, default)

    def _init_numeric(self, vmin, vmax, step, default, middle):
        if vmax is None:
            vmax = 100
        for v, what in ((vmin, 'vmin'), (vmax, 'vmax'), (step, 'step_size')):
            if v is not None and not _is_number(v):
                raise TypeError('slider: %s must be a number, not %r' % (what, v))
        integral, convert = self._number_type(vmin, vmax, step)
        if convert is None:  # rationals: a slider over srange(vmin, vmax, step)
            from sage.arith.srange import srange
            step = 1 if step is None else step
            values = srange(vmin, vmax, step, include_endpoint=True)
            self._init_values(values, default if default is not None or not middle
                              else (vmin + vmax) / 2)
            return
        vmin, vmax = convert(vmin), convert(vmax)
        if step is None:
            step = convert(1) if integral else (vmax - vmin) / 100
        step = convert(step)
        if not step > 0:
            raise ValueError('slider: step_size must be positive, not %s' % step)
        if vmax < vmin:
            raise ValueError('slider: vmax (%s) is less than vmin (%s)' % (vmax, vmin))
        self.min, self.step = vmin, step
        if integral:
            self.nsteps = int((vmax - vmin) // step)
        else:
            self.nsteps = int(math.floor(float((vmax - vmin) / step) + 1e-9))
        self.max = self.min + self.nsteps * self.step
        fmin, fmax = float(self.min), float(self.max)
        if self.range:
            if isinstance(default, (tuple, list)) and len(default) == 2:
                lo, hi = float(default[0]), float(default[1])
            else:
                lo, hi = fmin + (fmax - fmin) / 4, fmin + 3 * (fmax - fmin) / 4
            self.default = tuple(sorted((self._snap(lo), self._snap(hi))))
        elif default is not None:
            self.default = self._snap(float(default))
        elif middle:
            self.default = self._snap((fmin + fmax) / 2)
        else:
            self.default = self.min

    @staticmethod
    def _number_type(vmin, vmax, step):
        """(integral, convert): convert=None means rationals."""
        import numbers
        args = [v for v in (vmin, vmax, step) if v is not None]
        if _kernel != 'sage':
            if all(isinstance(v, int) for v in args):
                return True, int
            return False, float
        from sage.structure.element import parent
        import sage.rings.abc
        p = parent(sum(args))
        if isinstance(p, sage.rings.abc.SymbolicRing):
            from sage.rings.real_mpfr import RR
            p = RR
        zero = p(0)
        if isinstance(zero, numbers.Integral):
            return True, p
        if isinstance(zero, numbers.Rational):
            return False, None
        if isinstance(zero, numbers.Real):
            return False, p
        raise TypeError('slider: cannot make a slider over %s' % (p,))

    def _snap(self, x):
        k = int(round((x - float(self.min)) / float(self.step)))
        return self.min + max(0, min(k, self.nsteps)) * self.step

    def spec(self):
        d = {}
        if self.values is not None:
            d['values'] = [_json_value(v) for v in self.values]
            d['default_index'] = list(self.index) if self.range else self.index
        else:
            d['min'] = _json_number(self.min)
            d['max'] = _json_number(self.max)
            d['step'] = _json_number(self.step)
            d['default'] = ([_json_number(v) for v in self.default] if self.range
                            else _json_number(self.default))
        d['display_value'] = self.display_value
        return d

    def initial(self):
        if self.values is not None:
            if self.range:
                return tuple(self.values[i] for i in self.index)
            return self.values[self.index]
        return self.default

    def adapt(self, raw):
        if self.range:
            if not isinstance(raw, list) or len(raw) != 2:
                raise _BadValue('expected [low, high], not %s' % json.dumps(raw))
            if self.values is not None:
                i, j = sorted(_browser_index(r, len(self.values)) for r in raw)
                return (self.values[i], self.values[j])
            lo, hi = sorted(_browser_number(r, 'each end') for r in raw)
            return (self._snap(lo), self._snap(hi))
        if self.values is not None:
            return self.values[_browser_index(raw, len(self.values))]
        return self._snap(_browser_number(raw, 'the value'))

    def set_default(self, value):
        if self.values is not None:
            if self.range:
                self.index = tuple(sorted(_closest_index(self.values, v) for v in value))
            else:
                self.index = _closest_index(self.values, value)
        elif self.range:
            self.default = tuple(sorted(self._snap(float(v)) for v in value))
        else:
            self.default = self._snap(float(value))


def slider(vmin, vmax=None, step_size=None, default=None, label=None, display_value=True):
    return _Slider(vmin, vmax, step_size, default, label, display_value)


def range_slider(vmin, vmax=None, step_size=None, default=None, label=None,
                 display_value=True):
    """range_slider(vmin, vmax=None, step_size=None, default=None, label=None,
    display_value=True): like slider, but the value is a pair (low, high);
    default is a pair too."""
    return _Slider(vmin, vmax, step_size, default, label, display_value, _range=True)


slider.__doc__ = _Slider.__doc__


def _is_number_type(t):
    if t in (int, float):
        return True
    if _kernel != 'sage':
        return False
    try:
        from sage.rings.all import ZZ, QQ, RR, RDF
        import sage.rings.abc
        return t in (ZZ, QQ, RR, RDF) or isinstance(t, (sage.rings.abc.RealField,
                                                         sage.rings.abc.RealDoubleField))
    except Exception:
        return False


class _InputBox(_Control):
    """input_box(default=None, label=None, type=None, width=80, height=1): a
    text box.  With type=str the value is the text; otherwise the text is
    evaluated (sage_eval, seeing the session's variables) and, if type is
    given, type is applied to the result.  height > 1 makes a text area."""
    type = 'input_box'

    def __init__(self, default=None, label=None, type=None, width=80, height=1,
                 _value=_NO_DEFAULT):
        super().__init__(label)
        self.convert = type
        if type is str:
            self.kind = 'string'
        elif _is_number_type(type):
            self.kind = 'number'
        else:
            self.kind = 'expression'
        self.text = '' if default is None else str(default)
        self.value = _value
        self.width = int(width)
        self.height = int(height)

    def spec(self):
        return {'default': self.text, 'kind': self.kind, 'width': self.width,
                'height': self.height}

    def initial(self):
        if self.value is not _NO_DEFAULT:
            return self.value
        return self.adapt(self.text)

    def adapt(self, raw):
        if self.kind == 'number' and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = repr(raw)
        if not isinstance(raw, str):
            raise _BadValue('expected a string, not %s' % json.dumps(raw))
        if self.convert is str:
            return raw
        if not raw.strip():
            return None
        try:
            value = _eval_expression(raw)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise _BadValue('cannot evaluate %r: %s' % (raw, _exception_line(e)))
        if self.convert is not None:
            try:
                value = self.convert(value)
            except KeyboardInterrupt:
                raise
            except Exception as e:
                raise _BadValue('%r: %s' % (raw, _exception_line(e)))
        return value

    def set_default(self, value):
        self.text = value if self.convert is str else str(value)
        self.value = value


def input_box(default=None, label=None, type=None, width=80, height=1):
    return _InputBox(default, label, type, width, height)


input_box.__doc__ = _InputBox.__doc__


class _Checkbox(_Control):
    """checkbox(default=True, label=None): the value is True or False."""
    type = 'checkbox'

    def __init__(self, default=True, label=None):
        super().__init__(label)
        self.default = bool(default)

    def spec(self):
        return {'default': self.default}

    def initial(self):
        return self.default

    def adapt(self, raw):
        if not isinstance(raw, bool):
            raise _BadValue('expected true or false, not %s' % json.dumps(raw))
        return raw

    def set_default(self, value):
        self.default = bool(value)


def checkbox(default=True, label=None):
    return _Checkbox(default, label)


checkbox.__doc__ = _Checkbox.__doc__


class _Selector(_Control):
    """selector(values, label=None, default=None, nrows=None, ncols=None,
    width=None, buttons=False): choose one of ``values`` (a list of values or
    of (value, label) pairs, or a dict {label: value}); shown as a drop-down
    list, or as buttons if buttons=True (or nrows/ncols are given).  The
    value is the chosen object."""
    type = 'selector'

    def __init__(self, values, label=None, default=None, nrows=None, ncols=None, width=None,
                 buttons=False):
        super().__init__(label)
        if isinstance(values, dict):
            pairs = [(v, str(k)) for k, v in values.items()]
        else:
            values = list(values)
            if values and all(isinstance(v, tuple) and len(v) == 2 for v in values):
                pairs = [(v, str(lbl)) for v, lbl in values]
            else:
                pairs = [(v, str(v)) for v in values]
        if not pairs:
            raise ValueError('selector needs at least one value')
        self.values = [v for v, _ in pairs]
        self.labels = [lbl for _, lbl in pairs]
        self.index = _closest_index(self.values, default)
        self.buttons = bool(buttons) or nrows is not None or ncols is not None
        self.nrows = None if nrows is None else int(nrows)
        self.ncols = None if ncols is None else int(ncols)

    def spec(self):
        return {'values': self.labels, 'default_index': self.index, 'buttons': self.buttons,
                'nrows': self.nrows, 'ncols': self.ncols}

    def initial(self):
        return self.values[self.index]

    def adapt(self, raw):
        if isinstance(raw, str):
            try:
                return self.values[self.labels.index(raw)]
            except ValueError:
                raise _BadValue('%s is not one of the labels' % json.dumps(raw)) from None
        return self.values[_browser_index(raw, len(self.values))]

    def set_default(self, value):
        self.index = _closest_index(self.values, value)


def selector(values, label=None, default=None, nrows=None, ncols=None, width=None,
             buttons=False):
    return _Selector(values, label, default, nrows, ncols, width, buttons)


selector.__doc__ = _Selector.__doc__

_HEX_COLOR_RE = re.compile(r'#[0-9a-fA-F]{6}\Z')


def _hex_color(c):
    if _kernel == 'sage':
        from sage.plot.colors import Color
        return Color(c).html_color()
    if isinstance(c, str) and _HEX_COLOR_RE.match(c):
        return c.lower()
    if isinstance(c, (tuple, list)) and len(c) == 3:
        return '#%02x%02x%02x' % tuple(max(0, min(255, int(round(float(v) * 255)))) for v in c)
    raise ValueError('not a color: %r (use "#rrggbb" or (r, g, b) in [0, 1])' % (c,))


class _ColorSelector(_Control):
    """color_selector(default=(0,0,1), label=None, widget=None, hide_box=False):
    choose a color; the value is a Sage Color (a '#rrggbb' string in the
    python kernel)."""
    type = 'color'

    def __init__(self, default=(0, 0, 1), label=None, widget=None, hide_box=False):
        super().__init__(label)
        self.hex = _hex_color(default)
        self.hide_box = bool(hide_box)

    def spec(self):
        return {'default': self.hex, 'hide_box': self.hide_box}

    def initial(self):
        return self.adapt(self.hex)

    def adapt(self, raw):
        if not isinstance(raw, str) or not _HEX_COLOR_RE.match(raw):
            raise _BadValue('expected a color "#rrggbb", not %s' % json.dumps(raw))
        if _kernel == 'sage':
            from sage.plot.colors import Color
            return Color(raw)
        return raw.lower()

    def set_default(self, value):
        self.hex = _hex_color(value)


def color_selector(default=(0, 0, 1), label=None, widget=None, hide_box=False):
    return _ColorSelector(default, label, widget, hide_box)


color_selector.__doc__ = _ColorSelector.__doc__


def _is_matrix(v):
    if _kernel != 'sage':
        return False
    from sage.structure.element import Matrix
    return isinstance(v, Matrix)


class _InputGrid(_Control):
    """input_grid(nrows, ncols, default=None, label=None, to_value=None,
    width=4): a grid of text boxes, each evaluated; the value is to_value
    applied to the list of rows (the list itself without to_value).
    default: a list of rows, a flat list, one value for every entry, or a
    matrix."""
    type = 'input_grid'

    def __init__(self, nrows, ncols, default=None, label=None, to_value=None, width=4):
        super().__init__(label)
        self.rows, self.cols = int(nrows), int(ncols)
        if self.rows < 1 or self.cols < 1:
            raise ValueError('input_grid needs at least one row and one column')
        self.to_value = to_value
        self.width = int(width)
        self.matrix = default if _is_matrix(default) else None
        self.grid = self._grid(default)

    def _grid(self, default):
        r, c = self.rows, self.cols
        if _is_matrix(default):
            default = [list(row) for row in default.rows()]
        if not isinstance(default, (list, tuple)):
            return [[default] * c for _ in range(r)]
        default = list(default)
        if all(isinstance(row, (list, tuple)) for row in default):
            if len(default) != r or any(len(row) != c for row in default):
                raise ValueError('input_grid: default is not %d x %d' % (r, c))
            return [list(row) for row in default]
        if len(default) != r * c:
            raise ValueError('input_grid: default has %d entries, not %d x %d'
                             % (len(default), r, c))
        return [default[i * c:(i + 1) * c] for i in range(r)]

    def spec(self):
        return {'rows': self.rows, 'cols': self.cols, 'width': self.width,
                'default': [['' if e is None else str(e) for e in row] for row in self.grid]}

    def initial(self):
        if self.matrix is not None:
            return self.matrix
        grid = [list(row) for row in self.grid]
        return self.to_value(grid) if self.to_value is not None else grid

    def adapt(self, raw):
        if (not isinstance(raw, list) or len(raw) != self.rows
                or any(not isinstance(row, list) or len(row) != self.cols for row in raw)):
            raise _BadValue('expected %d rows of %d entries, not %s'
                            % (self.rows, self.cols, json.dumps(raw)[:200]))
        grid = []
        for row in raw:
            out = []
            for e in row:
                if isinstance(e, (int, float)) and not isinstance(e, bool):
                    e = repr(e)
                if not isinstance(e, str):
                    raise _BadValue('grid entries must be strings, not %s' % json.dumps(e))
                if not e.strip():
                    raise _BadValue('an entry is empty')
                try:
                    out.append(_eval_expression(e))
                except KeyboardInterrupt:
                    raise
                except BaseException as ex:
                    raise _BadValue('cannot evaluate %r: %s' % (e, _exception_line(ex)))
            grid.append(out)
        if self.to_value is None:
            return grid
        try:
            return self.to_value(grid)
        except KeyboardInterrupt:
            raise
        except Exception as ex:
            raise _BadValue(_exception_line(ex))


def input_grid(nrows, ncols, default=None, label=None, to_value=None, width=4):
    return _InputGrid(nrows, ncols, default, label, to_value, width)


input_grid.__doc__ = _InputGrid.__doc__


class _Button(_Control):
    """button(text='Button', value=True, default=False, label=None,
    width=None): a push button; the function gets ``value`` in the run a
    click caused and ``default`` otherwise."""
    type = 'button'
    default_label = ''

    def __init__(self, text='Button', value=True, default=False, label=None, width=None):
        super().__init__(label)
        self.text = str(text)
        self.value = value
        self.default = default
        self.width = None if width is None else int(width)

    def spec(self):
        return {'text': self.text, 'width': self.width}

    def initial(self):
        return self.default

    def adapt(self, raw):
        if not isinstance(raw, bool):
            raise _BadValue('expected true (a click) or false, not %s' % json.dumps(raw))
        return self.value if raw else self.default


def button(text='Button', value=True, default=False, label=None, width=None):
    return _Button(text, value, default, label, width)


button.__doc__ = _Button.__doc__


class _TextControl(_Control):
    """text_control(value=''): text (HTML) shown among the controls; the
    function gets the text."""
    type = 'text_control'
    default_label = ''

    def __init__(self, value='', label=None):
        super().__init__(label)
        self.text = str(value)

    def spec(self):
        return {'text': self.text}

    def initial(self):
        return self.text

    def adapt(self, raw):
        return self.text


def text_control(value='', label=None):
    return _TextControl(value, label)


text_control.__doc__ = _TextControl.__doc__


def _is_abbreviation(v):
    """Can v be the second member of a (default, abbreviation) pair?"""
    return (isinstance(v, (_Control, tuple, list, dict, range))
            or isinstance(v, collections.abc.Iterator))


def _automatic_control(spec):
    """The control for a parameter's default value, as Sage maps them."""
    import copy
    if isinstance(spec, _Control):
        return spec
    if spec is _NO_DEFAULT:
        return _InputBox()
    if isinstance(spec, bool):
        return _Checkbox(spec)
    if isinstance(spec, tuple):
        if len(spec) == 2 and isinstance(spec[0], str):  # ('label', spec)
            c = copy.copy(_automatic_control(spec[1]))
            c.label = spec[0]
            return c
        if len(spec) == 2 and _is_abbreviation(spec[1]):  # (default, spec)
            c = copy.copy(_automatic_control(spec[1]))
            c.set_default(spec[0])
            return c
        if len(spec) in (2, 3) and all(_is_number(v) for v in spec):
            return _Slider(*spec, _middle=True)  # (min, max[, step])
        return _Slider(list(spec))
    if isinstance(spec, (list, dict)):
        return _Selector(spec)
    if isinstance(spec, str):
        return _InputBox(spec, type=str)
    if isinstance(spec, (collections.abc.Iterator, range)):
        return _Slider(list(spec))
    if _kernel == 'sage':
        from sage.plot.colors import Color
        if isinstance(spec, Color):
            return _ColorSelector(spec)
        if _is_matrix(spec):
            return _InputGrid(spec.nrows(), spec.ncols(), default=spec, to_value=spec.parent())
    return _InputBox(spec, _value=spec)


class _Interact:
    __slots__ = ('id', 'function', 'controls', 'positional', 'values', 'children')

    def __init__(self, function, controls, positional, values):
        import uuid
        self.id = uuid.uuid4().hex
        self.function = function
        self.controls = controls      # name -> _Control, in the function's order
        self.positional = positional  # names of positional-only parameters
        self.values = values          # name -> the value f gets
        self.children = []            # ids of interacts made by f's last run


def interact(f=None, *, auto_update=True, layout=None, **controls):
    """Makes ``f`` interactive: one control per parameter, from its default
    value as in Sage (a control; (a, b) or (a, b, step) -> slider; a list ->
    selector; a bool -> checkbox; a str -> text box; a Color -> color
    selector; a matrix -> input grid; ('label', x) -> x's control labelled;
    (default, x) -> x's control with that default; anything else -> a box
    whose text is evaluated).  Keyword arguments give or override controls
    by name.  auto_update=False (or a parameter auto_update=False) reruns f
    only when the user asks.  Shows the controls, runs f once with the
    defaults, and returns f.

        @interact
        def f(n=(1..10), name='world', square=True):
            print(n^2 if square else n, name)
    """
    if f is None:
        return lambda g: interact(g, auto_update=auto_update, layout=layout, **controls)
    if not callable(f):
        raise TypeError('interact needs a function, not %r' % (f,))
    specs = collections.OrderedDict()
    positional = []
    for p in inspect.signature(f).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == 'auto_update' and isinstance(p.default, bool):
            auto_update = p.default  # SageNB's way of saying it
            continue
        specs[p.name] = _NO_DEFAULT if p.default is p.empty else p.default
        if p.kind == p.POSITIONAL_ONLY:
            positional.append(p.name)
    specs.update(controls)
    made = collections.OrderedDict((name, _automatic_control(spec))
                                   for name, spec in specs.items())
    values = {name: c.initial() for name, c in made.items()}
    it = _Interact(f, made, positional, values)
    message = {'id': it.id, 'auto_update': bool(auto_update),
               'controls': [c.message(name) for name, c in made.items()]}
    if layout is not None:
        try:
            json.dumps(layout)
            message['layout'] = layout
        except (TypeError, ValueError):
            pass
    text = json.dumps(message)
    _register_interact(it)
    _display('application/x-salvus-interact', text, None, it.id)
    with _output_target(it.id):
        try:
            _run_interact(it)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # shown; the interact stays usable
            _report(e)
    return f


def _register_interact(it):
    if _interact_stack:
        _interact_stack[-1].children.append(it.id)
    _interacts[it.id] = it
    while len(_interacts) > _MAX_INTERACTS:
        _interacts.popitem(last=False)


def _run_interact(it):
    # Interacts made by the previous run of f are gone from the page.
    stack, it.children = it.children, []
    while stack:
        child = _interacts.pop(stack.pop(), None)
        if child is not None:
            stack.extend(child.children)
    args = [it.values[name] for name in it.positional]
    kwargs = {name: v for name, v in it.values.items() if name not in it.positional}
    _interact_stack.append(it)
    try:
        result = it.function(*args, **kwargs)
    finally:
        _interact_stack.pop()
        for name, c in it.controls.items():
            if isinstance(c, _Button):
                it.values[name] = c.initial()  # a click lasts one run
    if result is not None:
        sys.displayhook(result)


def interact_update(interact_id, values_json):
    """Sets controls of the interact ``interact_id`` from the JSON object
    ``values_json`` ({name: value}) and reruns its function; returns 'ok',
    'error' or 'interrupted'."""
    return _serve(_interact_update, interact_id, values_json)


def _interact_update(interact_id, values_json):
    it = _interacts.get(interact_id) if isinstance(interact_id, str) else None
    if it is None:
        sys.stderr.write('interact_update: there is no interact %s in this session '
                         '(it may have expired: run its cell again)\n' % json.dumps(interact_id))
        return 'error'
    try:
        values = json.loads(values_json)
    except (TypeError, ValueError) as e:
        sys.stderr.write('interact_update: the values are not JSON: %s\n' % e)
        return 'error'
    if not isinstance(values, dict):
        sys.stderr.write('interact_update: the values must be a JSON object {name: value}\n')
        return 'error'
    new = {}
    for name, raw in values.items():
        c = it.controls.get(name)
        if c is None:
            sys.stderr.write('interact_update: the interact has no control %s (its controls: %s)\n'
                             % (json.dumps(name), ', '.join(it.controls) or 'none'))
            return 'error'
        try:
            new[name] = c.adapt(raw)
        except KeyboardInterrupt:
            raise
        except Exception as e:
            message = str(e) if isinstance(e, _BadValue) else _exception_line(e)
            sys.stderr.write('interact_update: bad value for %s (%s): %s\n'
                             % (json.dumps(name), c.type, message))
            return 'error'
    it.values.update(new)
    _interacts.move_to_end(it.id)
    with _output_target(it.id):
        _run_interact(it)
    return 'ok'


# Names every sage session has (the python kernel's have only salvus).
_SESSION_NAMES = ('salvus', 'interact', 'slider', 'range_slider', 'input_box', 'checkbox',
                  'selector', 'color_selector', 'input_grid', 'button', 'text_control')
for _name in _SESSION_NAMES[1:]:
    setattr(_Salvus, _name, staticmethod(_GLOBALS[_name]))
del _name


# ---------------------------------------------------------------------------
# Completion
# ---------------------------------------------------------------------------

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
    if not isinstance(code, str) or not 0 <= cursor <= len(code) or _ns is None:
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
        names = set(_ns) | set(dir(builtins)) | set(keyword.kwlist)
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
        obj = eval(compile(expr, '<completion>', 'eval', dont_inherit=True), _ns)
        return set(n for n in dir(obj) if isinstance(n, str))
    finally:
        sys.stdout, sys.stderr = saved
