"""Every figure the notes attribute to the 2017 course is one the course's notebooks printed.

nbs/course_figures.csv holds one row per attributed figure: the lesson whose notes quote it, the
figure as the notes write it, the repository, notebook path and commit it comes from, the cell
(its position in the notebook's cells, from 0), the exact line that cell printed (or its markdown
line, or its code line for a setting), and what it measures. Each row was checked by hand against
the original notebook; here we check that the figure is the printed number, rounded as written.

The notes mark an attributed figure as a link to the original notebook at that commit:
`[0.977](https://github.com/fastai/courses/blob/<commit>/deeplearning1/nbs/lesson2.ipynb)`, bold
or not, so the reader sees the source and this test can find it. Every other decimal figure in
a markdown cell must be one of those figures again in the same cell, or a setting of the lesson
(a literal of its code cells): a figure of this run belongs in a code cell's output, not typed
into the prose.
"""
import csv
import json
import re
from types import SimpleNamespace

import pytest

from utils.runner import NBS

TABLE = NBS / "course_figures.csv"
COMMITS = {"fastai/courses": "31760fc1909c7ef61d81be5a147b19237fd45eaf",
           "roebius/deeplearning_keras2": "fd2d51ca93e9f9ae17a038f08e80d0b358a22f88"}
LESSONS = [f"lesson{n}" for n in range(1, 8)]
LINK = re.compile(r"\[(?:\*\*)?([^\]\*]+?)(?:\*\*)?\]\(https://github\.com/"
                  r"(fastai/courses|roebius/deeplearning_keras2)/blob/([0-9a-f]{40})/([^)\s#]+)\)")
NUMBER = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")
DECIMAL = re.compile(r"(?<![\w.\-/])\d+\.\d+(?![\w]|\.\d)")
IDENTIFIER = re.compile(r"(?i)\b(?:arxiv:\s*\d{4}\.\d{4,5}(?:v\d+)?|doi:\s*\S+)")
CODE = re.compile(r"```.*?```|`[^`]*`", re.S)

def table():
    with open(TABLE, newline="") as f:
        return list(csv.DictReader(f))


def cells(lesson):
    """The notebook's cells as plain records (id, cell_type, source): json, not nbformat, which
    validates the whole notebook first and is many times slower."""
    nb = json.loads((NBS / f"{lesson}.ipynb").read_text())
    return [SimpleNamespace(id=c["id"], cell_type=c["cell_type"], source="".join(c["source"]))
            for c in nb["cells"]]


def decimals(number):
    return len(number.split(".")[1]) if "." in number else 0


def printed(figure, line):
    """Whether `figure` is a number of `line`, rounded to the figure's decimals (or, for a figure
    written with words, such as a rank, whether `line` holds it as written)."""
    if not NUMBER.fullmatch(figure):
        return figure in line
    places = decimals(figure)
    return any(round(float(n), places) == float(figure) for n in NUMBER.findall(line))


def settings(nb_cells):
    """Every numeric literal of the notebook's code cells, as floats."""
    return {float(n) for c in nb_cells if c.cell_type == "code"
            for n in NUMBER.findall(c.source)}


def check_cell(lesson, cell, rows, literals):
    """The unsourced decimal figures of one markdown cell, and its links that no row backs."""
    bad_links, linked = [], set()
    for text, repo, commit, path in LINK.findall(cell.source):
        figure = text.strip()
        if not any(r["lesson"] == lesson[6:] and r["figure"] == figure and r["repo"] == repo
                   and r["commit"] == commit and r["path"] == path for r in rows):
            bad_links.append(f"{figure} -> {repo}/{path}@{commit[:7]}")
        linked.add(figure)
    prose = LINK.sub(" ", CODE.sub(" ", cell.source))
    prose = re.sub(r"\]\([^)]*\)|https?://\S+", " ", prose)  # addresses hold no figures
    prose = IDENTIFIER.sub(" ", prose)  # nor do a reference's arXiv number or DOI
    loose = [d for d in DECIMAL.findall(prose)
             if d not in linked and float(d) not in literals]
    return loose, bad_links


def test_each_row_is_what_the_course_printed():
    rows = table()
    assert rows, TABLE
    for r in rows:
        where = f"{r['path']} cell {r['cell']} ({r['lesson']}, {r['figure']})"
        assert r["commit"] == COMMITS[r["repo"]], where
        assert r["kind"] in {"output", "markdown", "source"}, where
        assert int(r["cell"]) >= 0 and r["measures"].strip(), where
        assert int(r["lesson"]) in range(1, 8), where
        assert printed(r["figure"], r["line"]), f"{where}: {r['figure']} not in {r['line']!r}"


def test_a_references_arxiv_number_or_doi_is_no_figure():
    cell = SimpleNamespace(source="Adam ([arXiv:1412.6980](https://arxiv.org/abs/1412.6980)), "
                                  "doi:10.1038/323533a0, and 0.97 typed in.")
    assert check_cell("lesson4", cell, [], set()) == (["0.97"], [])


def test_the_rounding_rule():
    assert printed("0.9895", "array(0.9894999861717224, dtype=float32)")
    assert printed("0.001", "loss_weights=[.001, 1.])")
    assert not printed("0.880", "val_acc: 0.8694")
    assert not printed("0.06", "[0.11417267167568207, 0.97199999332427978]")
    assert printed("22nd", "ranked 22nd on the leaderboard")


@pytest.mark.parametrize("lesson", LESSONS)
def test_attributed_figures_are_sourced(lesson):
    rows, nb_cells = table(), cells(lesson)
    literals = settings(nb_cells)
    problems = []
    for cell in nb_cells:
        if cell.cell_type != "markdown":
            continue
        loose, bad_links = check_cell(lesson, cell, rows, literals)
        for link in bad_links:
            problems.append(f"{lesson}.ipynb cell {cell.id}: the linked figure {link} has no "
                            f"row for {lesson} in nbs/course_figures.csv")
        if loose:
            problems.append(f"{lesson}.ipynb cell {cell.id}: {', '.join(loose)} is neither a "
                            "course figure linked to its notebook nor a setting of the lesson")
    assert not problems, "\n".join(problems)

