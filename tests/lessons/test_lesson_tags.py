"""The "; lessons N" tags ending the kit's docstrings name the lessons whose notebooks use the
function, directly or through another kit function or class that calls it."""
import ast
import re

import nbformat
import pytest

from utils.runner import NBS, ROOT

TAG = re.compile(r";\s*lessons?\s+([0-9][0-9, and\-]*)\.?\s*$")
CHECKED = [("utils/features.py", "precompute"), ("utils/learning_rate.py", "fit_schedule"),
           ("utils/models/vgg16.py", "vgg16_model"), ("utils/images.py", "get_batches")]


def kit_calls():
    """Each top-level function or class of utils/ and the names it calls."""
    calls = {}
    for path in (ROOT / "utils").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                called = {c.func.id if isinstance(c.func, ast.Name) else c.func.attr
                          for c in ast.walk(node) if isinstance(c, ast.Call)
                          and isinstance(c.func, (ast.Name, ast.Attribute))}
                calls.setdefault(node.name, set()).update(called - {node.name})
    return calls


def reached_by(name, calls):
    """`name` and every kit function or class that calls it, however indirectly."""
    found = {name}
    while True:
        more = {f for f, called in calls.items() if called & found} - found
        if not more:
            return found
        found |= more


def lessons_using(names):
    """The lessons whose code cells mention any of `names`."""
    used = set()
    for path in sorted(NBS.glob("lesson*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                         if c.cell_type == "code")
        if any(re.search(rf"\b{re.escape(n)}\b", code) for n in names):
            used.add(int(path.stem.removeprefix("lesson")))
    return used


def tagged(text):
    """The lesson numbers a docstring's tag names: 'lessons 2-4, 7' is {2, 3, 4, 7}."""
    match = TAG.search(text.splitlines()[0] if text else "")
    assert match, f"no '; lessons N' tag in {text!r}"
    numbers = set()
    for part in re.split(r",|\band\b", match.group(1)):
        lo, _, hi = part.strip().partition("-")
        numbers |= set(range(int(lo), int(hi or lo) + 1))
    return numbers


def docstring(relpath, name):
    for node in ast.parse((ROOT / relpath).read_text()).body:
        if getattr(node, "name", None) == name:
            return ast.get_docstring(node)
    raise LookupError(f"{name} not in {relpath}")


def test_tag_reader():
    assert tagged("Does a thing; lessons 2-4, 7.") == {2, 3, 4, 7}
    assert tagged("Does a thing; lesson 3.") == {3}
    assert tagged("Does a thing; lessons 1 and 5.") == {1, 5}


@pytest.mark.parametrize("relpath, name", CHECKED)
def test_docstring_tag_names_the_lessons_that_use_it(relpath, name):
    uses = lessons_using(reached_by(name, kit_calls()))
    assert tagged(docstring(relpath, name)) == uses, f"{relpath}: {name} serves lessons {sorted(uses)}"
