"""pyplot figures: shown at the end of each request and by plt.show()."""

import sys

from .display import _display_figure


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
