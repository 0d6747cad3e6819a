"""Random number generators of a worker: each worker reseeds every RNG it
inherited from the zygote; libgap, usually started later by a cell, is
seeded after the cell that starts it."""

import os
import random
import sys

from . import state
from .figures import _flush_figures

_seed = 0
_gap_seeded = True        # False while libgap still has to be seeded
_gap_true = None          # libgap's GAP_True (a ctypes view); non-NULL once GAP is up


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


def _reseed(seed):
    """Seeds every RNG of the worker from ``seed``."""
    global _seed, _gap_seeded
    _seed = seed
    random.seed(seed)
    numpy = sys.modules.get('numpy')
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
    _gap_seeded = True
    if state.kernel != 'sage':
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


def _after_cell():
    """Runs after every request.  Here, beside _gap_seeded, which it reads
    each time (a module global: no attribute lookup)."""
    # Figures drawn with pyplot and not shown yet are shown now (as Jupyter's
    # inline backend does); none of them survives into the next cell.
    _flush_figures()
    if not _gap_seeded:
        _seed_libgap_if_started()
