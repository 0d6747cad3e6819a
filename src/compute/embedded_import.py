"""Imports the package salvus_worker from sources compiled into the binary.

python.cc runs this (embedded by CMake as kEmbeddedFinderPy) with `modules`
= {module name: (file name, source)}, one entry per file of salvus_worker/,
before `import salvus_worker`: the package's relative imports then work as
they do from files, which is how the Python tests import it.
"""

import sys
from importlib.machinery import ModuleSpec


class EmbeddedFinder:
    """A sys.meta_path finder and loader over `modules`."""

    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        return ModuleSpec(fullname, self, origin='<%s>' % self.sources[fullname][0],
                          is_package='.' not in fullname)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = module.__spec__.origin
        source = self.sources[module.__spec__.name][1]
        exec(compile(source, module.__file__, 'exec', dont_inherit=True), module.__dict__)


sys.meta_path.insert(0, EmbeddedFinder(modules))  # noqa: F821 (the caller defines modules)
