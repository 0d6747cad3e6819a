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

Facts about Sage 9.5 this relies on are in /work/shared/SAGE.md.

Thread-safety: none; everything runs on the interpreter's main thread.
"""

import ast
import builtins
import gc
import importlib
import linecache
import os
import random
import sys
import traceback
import types

__all__ = ['init_zygote', 'init_worker', 'warm_worker', 'execute', 'finish_worker']

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
_gap_true_addr = None     # address of libgap's GAP_True; non-NULL once GAP is up

# ---------------------------------------------------------------------------
# Worker state (set by init_worker).
# ---------------------------------------------------------------------------
_ns = None                # the session's namespace (the __main__ module dict)
_cell_count = 0           # requests executed in this worker
_seed = 0
_gap_seeded = True        # False while libgap still has to be seeded
_cells = {}               # '<cell-N>' -> _CellInfo, only for preparsed cells

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
    _make_main({'__builtins__': builtins})


def _make_main(namespace):
    # Built once here and handed to the (single) session of each forked
    # worker as is: copying its ~2000 names in the worker would write to the
    # refcount of every object they name, i.e. copy ~2000 pages (60 ms, 8 MB).
    global _main
    _main = types.ModuleType('__main__')
    _main.__dict__.update(namespace)


def _python_displayhook(value):
    """sys.displayhook for the python kernel: repr() to sys.stdout, sets _."""
    if value is None:
        return
    builtins._ = None  # so repr() cannot see the previous value as _
    sys.stdout.write(repr(value) + '\n')
    builtins._ = value


def _init_sage_zygote():
    global _preparse, _preparse_module
    ns = {}
    exec('from sage.all_cmdline import *', ns)
    try:
        # interact and the controls (sage.all_cmdline has neither in 9.5).
        jupyter = {}
        exec('from sage.repl.ipython_kernel.all_jupyter import *', jupyter)
        for name, value in jupyter.items():
            if name not in ns:
                ns[name] = value
    except Exception:
        pass
    ns.pop('__name__', None)
    ns.pop('__doc__', None)
    _make_main(ns)  # its __name__ is '__main__': sage's inject_variable needs that

    import sage.repl.preparse
    import sage.repl.user_globals
    from sage.repl.rich_output import get_display_manager
    _preparse_module = sage.repl.preparse
    _preparse = sage.repl.preparse.preparse
    dm = get_display_manager()
    sys.displayhook = dm.displayhook

    # The workers' own namespace already (see init_worker): replacing a
    # different dict there would free it, touching every object it names.
    sage.repl.user_globals.set_globals(_main.__dict__)
    _warm_up_plot(ns, dm)
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
    global _gap_true_addr
    try:
        import ctypes
        import sage.env
        lib = ctypes.CDLL(sage.env.GAP_SO, mode=os.RTLD_NOLOAD)
        _gap_true_addr = ctypes.addressof(ctypes.c_void_p.in_dll(lib, 'GAP_True'))
    except Exception:
        _gap_true_addr = None


def _libgap_initialized():
    if _gap_true_addr is None:
        return False
    import ctypes
    return bool(ctypes.c_void_p.from_address(_gap_true_addr).value)


def _warm_up_cells():
    """Runs a few cells through execute() so that their first run in a worker
    does not pay for regex compilation, first imports and the like."""
    global _ns
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Discard()
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
    filename = '<cell-%d>' % _cell_count
    status = 'error'
    try:
        try:
            status = _run_cell(code, filename)
        except KeyboardInterrupt as e:  # one that hit our own bookkeeping
            status = 'interrupted'
            _report(e)
        except BaseException as e:
            status = 'error'
            _report(e)
    except BaseException:  # an interrupt while reporting
        pass
    try:
        _after_cell()
    except BaseException:
        pass
    _flush()
    return status


def _run_cell(code, filename):
    lines = code.splitlines(True)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'  # traceback's column markers assume it
    linecache.cache[filename] = (len(code), None, lines, filename)
    info = None
    try:
        if _preparse is not None:
            py = _preparse_cell(code)
            if py != code:
                try:
                    info = _cell_info(code, py)
                except Exception:
                    info = _CellInfo(None, None, None)
                _cells[filename] = info
        else:
            py = code
        tree = ast.parse(py, filename)
        if info is not None and info.first is not None:
            _remap_lines(tree, info)
        codes = _compile_cell(tree, filename, code.rstrip().endswith(';'))
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
        py = _preparse(code, reset=True, do_time=True)
        if len(_preparse_cache) >= _PREPARSE_CACHE_SIZE:
            _preparse_cache.clear()
        _preparse_cache[key] = py
    return py


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
    # Rich output comes later; for now do not let pyplot figures pile up.
    plt = sys.modules.get('matplotlib.pyplot')
    if plt is not None and plt.get_fignums():
        plt.close('all')
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
    if _ns is None:
        raise RuntimeError('warm_worker() needs init_worker() first')
    before = set(_ns)
    if _kernel == 'sage':
        cells = ['_salvus_w = 2+2', '1+1', 'print(1)']
    else:
        cells = ['_salvus_w = 1', '1+1', 'print(1)']
    try:
        _run_and_forget(cells)
    finally:
        for name in set(_ns) - before:
            del _ns[name]
