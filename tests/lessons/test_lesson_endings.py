"""Each lesson's notes end with what to do next and where the ideas come from: an "Assignments"
section, then a "References" section with links, after every other section of the notebook."""
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from utils.runner import NBS

NOTEBOOKS = sorted(NBS.glob("lesson*.ipynb"))
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
ORIGINAL = "https://github.com/fastai/courses/blob/master/deeplearning1/nbs/lesson{n}.ipynb"
MIN_ASSIGNMENTS_CHARS = 200  # more than a heading and a line: the homework is spelled out


def headings(source):
    """The titles of a markdown text's headings, in order; lines inside fenced code are not headings."""
    titles, fenced = [], False
    for line in source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            titles.append(match.group(1))
    return titles


def section_text(cells, start, title):
    """The markdown from heading `title` in cell `start` to the next heading (or the end)."""
    text = "\n".join(c.source for c in cells[start:] if c.cell_type == "markdown")
    after = text.split(f"# {title}", 1)[1]
    return re.split(r"^#{1,6}\s", after, maxsplit=1, flags=re.M)[0]


def ending_problems(cells):
    """What is wrong with how `cells` end; empty when the last sections are "Assignments" then
    "References" (with at least one link), after every other section, with no code after them."""
    found = [(i, title) for i, c in enumerate(cells) if c.cell_type == "markdown"
             for title in headings(c.source)]
    titles = [title for _, title in found]
    problems = [f"{titles.count(name)} '{name}' headings, not 1" for name in ("Assignments", "References")
                if titles.count(name) != 1]
    if problems:
        return problems
    if titles[-2:] != ["Assignments", "References"]:
        return [f"the last headings are {titles[-2:]}, not ['Assignments', 'References']"]
    start, refs = found[-2][0], found[-1][0]
    code = [i for i, c in enumerate(cells) if i >= start and c.cell_type != "markdown"]
    if code:
        problems.append(f"cells {code} after the Assignments heading are not markdown")
    if len(section_text(cells, start, "Assignments").strip()) < MIN_ASSIGNMENTS_CHARS:
        problems.append("the Assignments section is (nearly) empty")
    if not LINK.search(section_text(cells, refs, "References")):
        problems.append("the References section has no link")
    return problems


def md(text):
    return new_markdown_cell(text)


GOOD = [md("# Lesson"), new_code_cell("x = 1"), md("## What we did\n\nThings."),
        md("## Assignments\n\n" + "1. Enter the competition and aim for the top half. " * 5),
        md("## References\n\n* A paper. [arXiv:1409.1556](https://arxiv.org/abs/1409.1556)\n\n"
           "```python\n# not a heading: a comment in a code block\n```")]


def test_a_good_ending_passes():
    assert ending_problems(GOOD) == []


@pytest.mark.parametrize("cells, problem", [
    (GOOD[:-1], "0 'References' headings"),
    (GOOD[:3] + [GOOD[4], GOOD[3]], "the last headings are ['References', 'Assignments']"),
    (GOOD + [md("## Word vectors in other languages\n\nMore.")], "the last headings are"),
    (GOOD[:4] + [md("## More\n\nText.")] + GOOD[4:], "the last headings are"),
    (GOOD + [new_code_cell("summary")], "are not markdown"),
    (GOOD[:3] + [md("## Assignments\n\nDo it.")] + GOOD[4:], "nearly) empty"),
    (GOOD[:4] + [md("## References\n\n* A paper, arXiv:1409.1556, no link.")], "has no link"),
    (GOOD + [md("## Assignments\n\nAgain.")], "2 'Assignments' headings"),
], ids=["no-references", "swapped", "section-after", "section-between", "code-after",
        "empty-assignments", "no-link", "twice"])
def test_the_check_catches_a_bad_ending(cells, problem):
    problems = ending_problems(cells)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_ends_with_assignments_then_references(path):
    cells = nbformat.read(path, as_version=4).cells
    assert ending_problems(cells) == [], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_references_link_the_courses_own_notebook_for_the_lesson(path):
    cells = nbformat.read(path, as_version=4).cells
    refs = max(i for i, c in enumerate(cells)
               if c.cell_type == "markdown" and "References" in headings(c.source))
    links = [url for _, url in LINK.findall(section_text(cells, refs, "References"))]
    n = path.stem.removeprefix("lesson")
    assert ORIGINAL.format(n=n) in links, f"{path.name}: no link to the course's lesson{n}.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_arxiv_link_goes_to_the_number_it_shows(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "markdown")
    shown = [(label, url) for label, url in LINK.findall(text) if label.startswith("arXiv:")]
    wrong = [(label, url) for label, url in shown
             if url != f"https://arxiv.org/abs/{label.removeprefix('arXiv:')}"]
    assert not wrong, f"{path.name}: {wrong}"
