"""utils/runner.py: parameters, running lesson notebooks with papermill, and the notes' index.

Notebooks here are tiny ones written with nbformat into a scratch `nbs/` folder; runner's ROOT and
NBS are pointed there, and DL1_BUILD at scratch space, so nothing is written into the repository.
They run on the venv's `python3` Jupyter kernel.
"""
import re

import nbformat
import pytest

from utils import runner
from utils.paths import build_dir

PARAMS_CELL = "DATA = 'auto'\nN = 1\nLR = 0.1"
REPORT_CELL = ("import pathlib\n"
               "print(f'DATA={DATA} N2={N * 2} LR={LR} types={type(N).__name__},{type(LR).__name__}')\n"
               "print('files here:', *sorted(p.name for p in pathlib.Path().iterdir()))\n"
               "pathlib.Path(f'ran-{DATA}.txt').write_text(str(N))")


def notebook(path, *cells, params=PARAMS_CELL):
    """Write a notebook: a `parameters`-tagged cell, then code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    first = nbformat.v4.new_code_cell(params)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny lesson"), first,
                *[nbformat.v4.new_code_cell(c) for c in cells]]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def printed(ipynb):
    """Everything the executed notebook's cells printed."""
    nb = nbformat.read(str(ipynb), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))


@pytest.fixture
def nbs(tmp_path, monkeypatch):
    """A scratch repository root whose nbs/ folder is empty until a test writes notebooks."""
    root = tmp_path / "repo"
    (root / "nbs").mkdir(parents=True)
    monkeypatch.setattr(runner, "ROOT", root)
    monkeypatch.setattr(runner, "NBS", root / "nbs")
    monkeypatch.setenv("DL1_BUILD", str(tmp_path / "build"))
    return root / "nbs"


# ---------------------------------------------------------------------------------------------
# Parameters


@pytest.mark.parametrize("text, expected", [
    ("DATA=full", ("DATA", "full")),
    ("DATA=standin", ("DATA", "standin")),
    ("DATA='full'", ("DATA", "full")),
    ("EPOCHS=3", ("EPOCHS", 3)),
    ("LR=0.01", ("LR", 0.01)),
    ("LR=1e-3", ("LR", 0.001)),
    ("WEIGHTS=None", ("WEIGHTS", None)),
    ("SUBMIT=True", ("SUBMIT", True)),
    ("SUBMIT=False", ("SUBMIT", False)),
    ("IMAGE_SIZE=(64, 64)", ("IMAGE_SIZE", (64, 64))),
    ("PATH=/tmp/x", ("PATH", "/tmp/x")),
    ("MSG=a=b", ("MSG", "a=b")),
    (" N = 4", ("N", 4)),
])
def test_parse_parameter(text, expected):
    got = runner.parse_parameter(text)
    assert got == expected
    assert type(got[1]) is type(expected[1])


# ---------------------------------------------------------------------------------------------
# Missing lessons


def test_run_lesson_of_an_unwritten_lesson_says_so():
    with pytest.raises(FileNotFoundError, match=r"lesson9 is not written yet: nbs/lesson9\.ipynb"):
        runner.run_lesson("lesson9")


def test_run_lesson_of_a_lesson_missing_from_nbs(nbs, tmp_path):
    with pytest.raises(FileNotFoundError, match="lesson1 is not written yet"):
        runner.run_lesson("lesson1", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_main_of_an_unwritten_lesson_returns_2(nbs, capsys):
    assert runner.main(["lesson5"]) == 2
    err = capsys.readouterr().err
    assert "lesson5 is not written yet" in err and "lesson5.ipynb does not exist" in err
    assert not build_dir().exists()


def test_main_rejects_an_unknown_target(nbs, capsys):
    with pytest.raises(SystemExit) as info:
        runner.main(["lesson8"])
    assert info.value.code == 2
    assert "unknown target 'lesson8'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Running notebooks


def test_run_lesson_executes_with_parameters_and_writes_html(nbs, tmp_path, capfd):
    notebook(nbs / "lesson1.ipynb", REPORT_CELL)
    out_dir = tmp_path / "out"
    ipynb, page = runner.run_lesson("lesson1", {"DATA": "full", "N": 3}, out_dir=out_dir)
    # The kernel's start is silent on the terminal (no network port, so no warning about one), and
    # while it runs, the notebook's folder holds only the notebook: its sockets are elsewhere.
    assert "Kernel is running over TCP" not in capfd.readouterr().err
    assert "files here: lesson1.ipynb\n" in printed(ipynb)
    assert ipynb == out_dir / "lesson1.ipynb" and page == out_dir / "lesson1.html"
    assert ipynb.exists() and page.exists()
    assert "DATA=full N2=6 LR=0.1 types=int,float" in printed(ipynb)
    html = page.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "DATA=full N2=6" in html
    assert (nbs / "ran-full.txt").read_text() == "3"  # the notebook ran with nbs/ as its cwd
    # the source notebook is left as it was
    assert "injected-parameters" not in (nbs / "lesson1.ipynb").read_text()
    assert "injected-parameters" in ipynb.read_text()


def test_main_runs_a_lesson_with_command_line_parameters(nbs, capsys):
    notebook(nbs / "lesson2.ipynb", REPORT_CELL)
    assert runner.main(["lesson2", "-p", "DATA=sample", "-p", "N=4", "-p", "LR=1e-2"]) == 0
    out = capsys.readouterr().out
    assert "lesson2 ran" in out
    ipynb = build_dir() / "lesson2.ipynb"
    assert str(ipynb) in out and (build_dir() / "lesson2.html").exists()
    assert "DATA=sample N2=8 LR=0.01 types=int,float" in printed(ipynb)


def test_main_returns_1_when_a_cell_raises(nbs, capsys):
    notebook(nbs / "lesson3.ipynb", "print('before the error')",
             "raise RuntimeError('boom in lesson 3')", "print('never printed')")
    assert runner.main(["lesson3"]) == 1
    err = capsys.readouterr().err
    assert "lesson3 FAILED" in err and "boom in lesson 3" in err
    # the executed notebook and its HTML show where it stopped
    ipynb, page = build_dir() / "lesson3.ipynb", build_dir() / "lesson3.html"
    assert "before the error" in printed(ipynb) and "never printed" not in printed(ipynb)
    assert "boom in lesson 3" in page.read_text(encoding="utf-8")


def test_notes_runs_every_written_lesson_and_indexes_them(nbs, capsys):
    notebook(nbs / "lesson1.ipynb", "print('lesson one ran')")
    notebook(nbs / "lesson4.ipynb", "1 / 0")
    assert runner.main(["notes"]) == 1  # one lesson failed
    notes = build_dir() / "notes"
    assert (notes / "lesson1.html").exists() and (notes / "lesson4.html").exists()
    index = (notes / "index.html").read_text(encoding="utf-8")
    assert '<a href="lesson1.html">' in index and "lesson4.html" not in index
    assert "(failed: PapermillExecutionError)" in index
    assert index.count("(not written yet)") == 5
    assert "lesson4 FAILED" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The index page


def test_write_index_lists_all_seven_lessons(tmp_path):
    status = {"lesson1": "ok", "lesson3": "ok", "lesson2": "failed: PapermillExecutionError"}
    index = runner.write_index(tmp_path, status)
    assert index == tmp_path / "index.html"
    page = index.read_text(encoding="utf-8")
    items = re.findall(r"<li>(.*?)</li>", page)
    assert len(items) == 7
    for i, item in enumerate(items, start=1):
        name = f"lesson{i}"
        assert item.count(name) >= 1
        assert runner.TITLES[name].split(":")[0] in item
        if name in ("lesson1", "lesson3"):
            assert item.startswith(f'<a href="{name}.html">') and "<em>" not in item
        else:
            assert "href" not in item
    assert "<em>(failed: PapermillExecutionError)</em>" in items[1]
    assert all("<em>(not written yet)</em>" in items[i] for i in (3, 4, 5, 6))


def test_write_index_escapes_html(tmp_path):
    page = runner.write_index(tmp_path, {"lesson1": "failed: <Error & co>"}).read_text()
    assert "failed: &lt;Error &amp; co&gt;" in page
    assert "<Error" not in page
