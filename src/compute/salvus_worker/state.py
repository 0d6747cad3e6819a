"""State shared by the zygote and the workers, and where the rest lives.

A module global that some function rebinds lives in exactly one module and
is read elsewhere as ``module.name`` (a ``from .module import name`` copy
would not see it rebound).  The ones read on the path of every cell live in
the module whose code reads them there, as plain module globals (no
attribute lookup per cell):

    cells      _ns (the session's namespace), _preparse, _preparse_module
    serve      _cell_count
    seeding    _seed, _gap_seeded, _gap_true
    display    _sage_dm, _PLAIN_TYPES, _SageObject, _python_graphics_format
    output     _display_fn, _displays_off
    paths      _zygote_dot_sage, _zygote_local_id

Containers that are only mutated (caches, registries) are imported by name.
The rest is here.
"""

kernel = None          # 'sage' or 'python' (set once by init_zygote)
main = None            # the module every session starts as (__main__)
main_taken_by = None   # pid of the worker that took main
