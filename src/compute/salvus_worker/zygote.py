"""init_zygote: the process every worker is forked from."""

import builtins
import gc
import importlib
import os
import sys
import types

from . import cells, output, state
from .display import _init_python_display, _init_sage_display, _install_sage_display
from .figures import _install_pyplot_hook, _patch_pyplot
from .output import _Discard
from .paths import _find_running_interfaces, _find_zygote_paths
from .seeding import _find_libgap
from .serve import _run_and_forget
from .session import _session_names, salvus


def init_zygote(kernel):
    """Prepares the zygote for forking workers of ``kernel`` ('sage' or 'python')."""
    if kernel not in ('sage', 'python'):
        raise ValueError("kernel must be 'sage' or 'python', not %r" % (kernel,))
    if state.kernel is not None:
        if state.kernel != kernel:
            raise RuntimeError('init_zygote already ran for kernel %r' % state.kernel)
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
    state.kernel = kernel
    _warm_up_cells()
    if kernel == 'sage':
        _find_running_interfaces()
    gc.collect()
    gc.freeze()


def _init_python_zygote():
    _init_python_display()
    _make_main({'__builtins__': builtins, 'salvus': salvus})


def _make_main(namespace):
    # Built once here and handed to the (single) session of each forked
    # worker as is: copying its ~2000 names in the worker would write to the
    # refcount of every object they name, i.e. copy ~2000 pages (60 ms, 8 MB).
    main = types.ModuleType('__main__')
    main.__dict__.update(namespace)
    state.main = main


def _init_sage_zygote():
    ns = {}
    exec('from sage.all_cmdline import *', ns)
    # Our own interact and controls (Sage's, in all_jupyter, need ipywidgets
    # and a Jupyter kernel), and the salvus object.
    ns.update(_session_names())
    ns.pop('__name__', None)
    ns.pop('__doc__', None)
    _make_main(ns)  # its __name__ is '__main__': sage's inject_variable needs that

    import sage.repl.preparse
    import sage.repl.user_globals
    cells._preparse_module = sage.repl.preparse
    cells._preparse = sage.repl.preparse.preparse
    dm = _init_sage_display(ns)

    # The workers' own namespace already (see init_worker): replacing a
    # different dict there would free it, touching every object it names.
    sage.repl.user_globals.set_globals(state.main.__dict__)
    _warm_up_plot(ns, dm)
    # After the warm-up, which must not leave files in the zygote's SAGE_TMP
    # (the Salvus backend renders plots to files there).
    _install_sage_display()
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


def _warm_up_cells():
    """Runs a few cells through execute() so that their first run in a worker
    does not pay for regex compilation, first imports and the like."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Discard()
    output._displays_off = True
    try:
        cells._ns = dict(state.main.__dict__)
        if state.kernel == 'sage':
            codes = ['a = factor(2^64+1); b = [1..3]; c = 1.5r * 2\na', '1/0', '1 +']
        else:
            codes = ['a = 1\na', '1/0', '1 +']
        _run_and_forget(codes)
    except BaseException:
        pass
    finally:
        sys.stdout, sys.stderr = saved
        output._displays_off = False
        cells._preparse_cache.clear()
        cells._ns = None
