"""The package's structure (no Sage needed): globals that are rebound are
never copied into another module, and the modules import as the binary
imports them (python.cc: from their sources, through a meta path finder)."""

import ast
import os
import subprocess
import sys
import unittest

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules():
    """{module name: syntax tree} of the package's files."""
    trees = {}
    for name in sorted(os.listdir(PACKAGE)):
        if name.endswith('.py'):
            with open(os.path.join(PACKAGE, name)) as f:
                trees[name[:-3]] = ast.parse(f.read(), name)
    return trees


class PackageTest(unittest.TestCase):

    def test_rebound_globals_are_not_imported_by_name(self):
        # `from .cells import _ns` would copy the value init_worker later
        # replaces: such globals are read as cells._ns.
        trees = modules()
        rebound = {module: set() for module in trees}
        for module, tree in trees.items():
            imported = {}  # local name -> package module, from `from . import x`
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
                    imported.update((a.asname or a.name, a.name) for a in node.names)
            for node in ast.walk(tree):
                if isinstance(node, ast.Global):  # rebound by the module itself
                    rebound[module].update(node.names)
                targets = (node.targets if isinstance(node, ast.Assign) else
                           [node.target] if isinstance(node, ast.AugAssign) else [])
                for t in targets:  # rebound from here: `cells._ns = ...`
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                            and t.value.id in imported):
                        rebound[imported[t.value.id]].add(t.attr)
        self.assertIn('_ns', rebound['cells'])
        self.assertIn('kernel', rebound['state'])
        self.assertIn('_cell_count', rebound['serve'])
        for module, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                    for alias in node.names:
                        self.assertNotIn(alias.name, rebound.get(node.module, ()),
                                         '%s: from .%s import %s' % (module, node.module,
                                                                     alias.name))

    def test_modules_are_small(self):
        for name in os.listdir(PACKAGE):
            if name.endswith('.py'):
                with open(os.path.join(PACKAGE, name)) as f:
                    self.assertLessEqual(len(f.readlines()), 450, name)

    def test_imports_from_embedded_sources(self):
        # What python.cc does: embedded_import.py with the package's sources
        # (here read from the files); then the python kernel runs cells.
        script = r'''
import os, sys
package, finder = sys.argv[1:3]
modules = {}
for name in os.listdir(package):
    if name.endswith('.py'):
        stem = name[:-3]
        with open(os.path.join(package, name)) as f:
            modules['salvus_worker' + ('' if stem == '__init__' else '.' + stem)] = (
                'salvus_worker/' + name, f.read())
with open(finder) as f:
    exec(f.read(), {'modules': modules})
import salvus_worker as w
assert w.__file__ == '<salvus_worker/__init__.py>', w.__file__
assert w.cells.__file__ == '<salvus_worker/cells.py>', w.cells.__file__
w.init_zygote('python')
w.init_worker('.', 1)
w.execute('2**10')
w.execute('1/0')
'''
        finder = os.path.join(os.path.dirname(PACKAGE), 'embedded_import.py')
        proc = subprocess.run([sys.executable, '-c', script, PACKAGE, finder],
                              capture_output=True, timeout=60, text=True, cwd='/')
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, '1024\n')
        self.assertIn('File "<cell-2>", line 1', proc.stderr)
        self.assertNotIn('salvus_worker', proc.stderr)  # the worker's frames are left out


if __name__ == '__main__':
    unittest.main()
