"""A forked worker's life: init_worker, warm_worker, finish_worker."""

import builtins
import os
import sys

from . import cells, output, serve, state
from .output import _flush
from .paths import _detach_pexpect, _repoint_matplotlib, _repoint_sage
from .seeding import _reseed
from .serve import _run_and_forget
from .tracebacks import _cells


def init_worker(home, seed):
    """Sets up a freshly forked worker for one session living in ``home``."""
    if state.kernel is None:
        raise RuntimeError('init_zygote() has not run')
    if state.main_taken_by is not None:
        raise RuntimeError('init_worker() runs once per forked worker')
    state.main_taken_by = os.getpid()
    seed = int(seed)
    serve._cell_count = 0
    _cells.clear()
    builtins.__dict__.pop('_', None)

    import tempfile
    tempfile.tempdir = None  # gettempdir() caches; TMPDIR changed since
    if state.kernel == 'sage':
        _repoint_sage(home)
        _detach_pexpect()
        _repoint_matplotlib()

    _reseed(seed)

    # The session's namespace is a module installed as __main__, so that
    # pickle finds classes defined in cells.  This process is a fresh fork of
    # the zygote, which never ran code in it: it is pristine.
    ns = cells._ns = state.main.__dict__
    sys.modules['__main__'] = state.main
    if state.kernel == 'sage':
        import sage.repl.user_globals
        sage.repl.user_globals.set_globals(ns)


def warm_worker():
    """Runs a few cells quietly in a preforked worker, before it is given to a
    session, so that the session's first cell does not pay the copy-on-write
    page faults of the code paths every cell uses (preparse, compile,
    displayhook, sys.stdout).  The caller discards the output (the C++
    OutputChannel does, so that its own write path is warmed too).  Leaves no
    trace: names, '_', the cell count and the line cache are as init_worker
    left them."""
    ns = cells._ns
    if ns is None:
        raise RuntimeError('warm_worker() needs init_worker() first')
    # Names the cells add come last in the namespace's insertion order, so
    # they are found without touching the others: set(ns) would write to
    # the refcount of each of its ~2000 names (~650 copied pages, ~17 ms).
    count = len(ns)
    if state.kernel == 'sage':
        codes = ['_salvus_w = 2+2', '1+1', 'print(1)']
    else:
        codes = ['_salvus_w = 1', '1+1', 'print(1)']
    output._displays_off = True
    try:
        _run_and_forget(codes)
    finally:
        output._displays_off = False
        added = len(ns) - count
        for name in [name for _, name in zip(range(added), reversed(ns))]:
            del ns[name]


def finish_worker():
    """Stops the session's subprocesses and removes its SAGE_TMP.  Never raises."""
    try:
        if state.kernel == 'sage':
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
