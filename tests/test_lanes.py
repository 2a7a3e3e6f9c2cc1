"""The two lanes of tests: the `notebook` marker is on exactly the tests that run a lesson notebook or
measure a claims row, so `make check` (which leaves those out) still runs everything else."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LESSONS = {p.stem for p in (TESTS.parent / "nbs").glob("lesson*.ipynb")}


def _name(node):
    """'a.b.c' for a Name or an Attribute chain, else ''."""
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def runs_a_lesson_or_a_row(func):
    """Whether a test calls run_lesson on one of the lesson notebooks (not on the scratch ones the
    `nbs` fixture puts in their place), or claims.measure on a row it is given."""
    params = {a.arg for a in func.args.args}
    for call in (n for n in ast.walk(func) if isinstance(n, ast.Call) and n.args):
        name, first = _name(call.func), call.args[0]
        if (name.endswith("run_lesson") and isinstance(first, ast.Constant) and first.value in LESSONS
                and "nbs" not in params):
            return True
        if name.endswith("claims.measure") and isinstance(first, ast.Name) and first.id in params:
            return True
    return False


def is_marked(func, module_marks):
    """Whether the notebook marker is on the test or on its whole module."""
    return "notebook" in module_marks or any(
        _name(d.func if isinstance(d, ast.Call) else d) == "pytest.mark.notebook" for d in func.decorator_list)


def module_marks(tree):
    """The markers a module's `pytestmark` puts on all its tests."""
    marks = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(_name(t) == "pytestmark" for t in node.targets):
            marks |= {n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)
                      and _name(n.value) == "pytest.mark"}
    return marks


def wrongly_laned(source, where):
    """'file::test: why' for each test whose marker disagrees with what it runs."""
    tree = ast.parse(source)
    marks = module_marks(tree)
    wrong = []
    for func in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
        heavy, marked = runs_a_lesson_or_a_row(func), is_marked(func, marks)
        if heavy != marked:
            why = ("runs a notebook or a claims row: mark it @pytest.mark.notebook" if heavy else
                   "carries the notebook marker but runs no notebook or claims row: take the marker off")
            wrong.append(f"{where}::{func.name}: {why}")
    return wrong


def test_the_notebook_marker_is_on_exactly_the_tests_that_run_a_notebook_or_a_claims_row():
    wrong = [line for path in sorted(TESTS.rglob("test_*.py"))
             for line in wrongly_laned(path.read_text(), path.relative_to(TESTS))]
    assert wrong == []
    marked = sum(bool(is_marked(f, module_marks(tree))) for path in TESTS.rglob("test_*.py")
                 for tree in [ast.parse(path.read_text())] for f in tree.body
                 if isinstance(f, ast.FunctionDef) and f.name.startswith("test_"))
    assert marked >= 8  # lessons 1-7 and the claims rows


def test_the_lane_check_names_a_test_on_the_wrong_side():
    source = '''
import pytest
def test_runs(tmp_path):
    run_lesson("lesson3", {}, tmp_path)
@pytest.mark.notebook
def test_quick():
    assert 1
@pytest.mark.notebook
@pytest.mark.parametrize("claim", ROWS)
def test_row(claim):
    claims.measure(claim, SEEDS)
def test_fake_row():
    claims.measure(fake_claim(0.1), SEEDS)
def test_scratch_notebook(nbs, tmp_path):
    run_lesson("lesson1", {}, tmp_path)
def test_unwritten_lesson():
    run_lesson("lesson9")
'''
    assert wrongly_laned(source, "t.py") == [
        "t.py::test_runs: runs a notebook or a claims row: mark it @pytest.mark.notebook",
        "t.py::test_quick: carries the notebook marker but runs no notebook or claims row: take the marker off"]
