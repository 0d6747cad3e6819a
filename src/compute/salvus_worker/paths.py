"""Files: the zygote's Sage keeps its files (SAGE_TMP, caches, logs, pexpect
logs) in the zygote's DOT_SAGE; each worker re-points them at the session's
home.  Also pexpect interfaces the zygote started and matplotlib's cached
directories."""

import os
import sys

from . import state

_zygote_dot_sage = None   # the zygote's DOT_SAGE, to be re-pointed per worker
_zygote_local_id = None   # sage.env.LOCAL_IDENTIFIER of the zygote (host.pid)
_path_attrs = []          # (module, name) whose str value lives in DOT_SAGE
_path_items = []          # (weakref to a pexpect interface, name): the same
_running_in_zygote = []   # weakrefs to pexpect interfaces the zygote started
_local_id_attrs = []      # (module, name) whose value is the zygote's host.pid


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
    modules.append(state.main)  # the session namespace has DOT_SAGE and SAGE_DB too
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
