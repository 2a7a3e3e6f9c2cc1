"""`from utils import *` gives the 2017 course's names, each loaded on first use, and the stub file
editors follow (utils/__init__.pyi) names exactly those, each from the module that defines it."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import utils

STUB = Path(utils.__file__).with_suffix(".pyi")


def stub_names():
    """({name: module} the stub imports, its __all__)."""
    tree = ast.parse(STUB.read_text())
    where, names = {}, None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, f"{STUB}: write `{alias.name} as {alias.name}` to re-export it"
                where[alias.name] = node.module
        elif isinstance(node, ast.Assign) and node.targets[0].id == "__all__":
            names = ast.literal_eval(node.value)
    return where, names


def test_the_stub_names_exactly_the_course_names_from_their_modules():
    where, names = stub_names()
    assert where == utils._WHERE
    assert sorted(names) == sorted(utils.__all__)


def test_every_course_name_imports_from_utils_and_is_what_its_module_defines():
    for name, module in utils._WHERE.items():
        assert getattr(utils, name) is getattr(importlib.import_module(module), name)


def test_importing_utils_or_a_part_of_it_loads_no_tensorflow():
    code = ("import sys, utils, utils.arrays, utils.paths, utils.scratch.sgd; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_no_course_name_is_also_a_module_of_utils():
    """A module `utils.X` named like a course name X would take its place once imported, and
    `from utils import *` would then give the module instead of the function."""
    modules = {p.stem for p in Path(utils.__file__).parent.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert sorted(set(utils._WHERE) & modules) == []
