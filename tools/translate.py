"""Keep the Japanese edition in step with the English notes: nbs/ja/ is made from nbs/ and nbs/ja/po/.

Each lesson's Japanese text lives in one gettext catalogue, `nbs/ja/po/lessonN.po`: one entry per
markdown cell of the English notebook, keyed by the cell's id (`msgctxt`), holding the English text
it translates (`msgid`) and the Japanese (`msgstr`). When an English cell changes, its entry is marked
`fuzzy` and keeps the English it was translated from (`#| msgid`), so a translator sees what changed;
a cell that is gone stays in the catalogue as obsolete (`#~`), so no translation is lost. The
Japanese notebooks are generated: the English notebook with each translated markdown cell put in
(code cells, ids and tags stay exactly the English ones). A cell without a current translation keeps
its English text there until it has one.

    python -m tools.translate            # (make sync) update the catalogues, then write nbs/ja/
    python -m tools.translate --check    # say what is missing, stale or not regenerated; exit 1 if any
"""
import argparse
import copy
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat
import polib

from tools.sync import notebooks as english  # the notes that export are the notes a translation follows

KIT = Path(__file__).resolve().parent.parent
EDITION = "ja"
HEADER = {"Project-Id-Version": "dl1-kit notes", "Language": EDITION, "MIME-Version": "1.0",
          "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}


def catalogue_path(notebook, root=KIT):
    """nbs/lessonN.ipynb -> nbs/ja/po/lessonN.po."""
    return Path(root) / "nbs" / EDITION / "po" / f"{Path(notebook).stem}.po"


def edition_path(notebook, root=KIT):
    """nbs/lessonN.ipynb -> nbs/ja/lessonN.ipynb."""
    return Path(root) / "nbs" / EDITION / Path(notebook).name


def load(path):
    """A catalogue from disk, or an empty one with the edition's header."""
    po = polib.pofile(str(path), wrapwidth=0) if Path(path).exists() else polib.POFile(wrapwidth=0)
    po.metadata = {**HEADER, **po.metadata}
    return po


def markdown_cells(nb):
    """(position, cell) of every markdown cell: what the edition translates."""
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]


def update(po, nb, name):
    """Bring a catalogue in step with its English notebook: new cells added, changed ones fuzzy."""
    old = {e.msgctxt: e for e in po}
    entries = []
    for i, cell in markdown_cells(nb):
        entry = old.pop(cell.id, None)
        if entry is None:
            entry = polib.POEntry(msgctxt=cell.id, msgid=cell.source, msgstr="")
        elif entry.msgid != cell.source:
            if "fuzzy" not in entry.flags:  # keep the English the translation was made from
                entry.previous_msgid, entry.flags = entry.msgid, [*entry.flags, "fuzzy"]
            entry.msgid = cell.source
        entry.obsolete = False
        entry.occurrences = [(f"nbs/{name}", str(i))]  # where the cell is, for a translator
        entries.append(entry)
    for gone in old.values():  # the English cell was deleted: keep its text, out of the way
        gone.obsolete = True
        entries.append(gone)
    po[:] = entries
    return po


def current(entry):
    """True when an entry holds a translation of the English it is keyed to now."""
    return bool(entry.msgstr.strip()) and "fuzzy" not in entry.flags and not entry.obsolete


def problems(po, nb, name):
    """One line per markdown cell of `nb` whose translation is missing or stale."""
    by_cell = {e.msgctxt: e for e in po if not e.obsolete}
    out = []
    for i, cell in markdown_cells(nb):
        entry = by_cell.get(cell.id)
        if entry is None or not entry.msgstr.strip():
            out.append(f"{name} cell {i} ({cell.id}): no Japanese translation yet")
        elif not current(entry) or entry.msgid != cell.source:
            out.append(f"{name} cell {i} ({cell.id}): the English changed since it was translated")
    return out


def build(po, nb):
    """The Japanese notebook: the English one with each current translation in its markdown cell."""
    by_cell = {e.msgctxt: e for e in po if current(e)}
    out = copy.deepcopy(nb)
    for _, cell in markdown_cells(out):
        entry = by_cell.get(cell.id)
        if entry is not None and entry.msgid == cell.source:
            cell.source = entry.msgstr
    out.metadata.setdefault("dl1kit", {})["edition"] = EDITION
    return out


def serialised(nb):
    """A notebook as the text nbformat writes."""
    return nbformat.writes(nb) + "\n"


class Lesson(NamedTuple):
    """One lesson's edition as `make sync` would write it, and what is left to translate."""
    english: Path
    catalogue: polib.POFile
    catalogue_path: Path
    notebook: nbformat.NotebookNode
    notebook_path: Path
    todo: list


def plan(root=KIT):
    """Every lesson's catalogue and Japanese notebook, brought in step with the English notes."""
    rows = []
    for path in english(root):
        nb = nbformat.read(path, as_version=4)
        po = update(load(catalogue_path(path, root)), nb, path.name)
        rows.append(Lesson(path, po, catalogue_path(path, root), build(po, nb), edition_path(path, root),
                           problems(po, nb, path.name)))
    return rows


def differs(path, text):
    """True when the file at `path` is missing or holds other text."""
    return not path.exists() or path.read_text(encoding="utf-8") != text


def write_notebook(lesson):
    """Write a lesson's Japanese notebook as make sync makes it."""
    lesson.notebook_path.write_text(serialised(lesson.notebook), encoding="utf-8")


def not_regenerated(lesson, root=KIT):
    """Lines naming a catalogue or Japanese notebook on disk that differs from what make sync writes."""
    out = []
    if differs(lesson.catalogue_path, str(lesson.catalogue)):
        out.append(f"{lesson.catalogue_path.relative_to(root)} is behind its English notebook: run make sync")
    if differs(lesson.notebook_path, serialised(lesson.notebook)):
        out.append(f"{lesson.notebook_path.relative_to(root)} is not what its English notebook and catalogue "
                   "make: run make sync")
    return out


def stale(root=KIT):
    """What is not in step: catalogues or Japanese notebooks not regenerated, and cells to translate."""
    return [line for lesson in plan(root) for line in [*not_regenerated(lesson, root), *lesson.todo]]


def main(argv=None):
    """Update the catalogues and write nbs/ja/, or with --check only say what is out of step."""
    parser = argparse.ArgumentParser(prog="python -m tools.translate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="say what is out of step; change nothing")
    args = parser.parse_args(argv)
    if args.check:
        lines = stale()
        print("\n".join(lines) or "The Japanese edition is in step with the English notes.")
        return 1 if lines else 0
    todo = []
    for lesson in plan():
        lesson.catalogue_path.parent.mkdir(parents=True, exist_ok=True)
        lesson.catalogue.save(str(lesson.catalogue_path))
        write_notebook(lesson)
        todo.extend(lesson.todo)
    print(f"Wrote nbs/{EDITION}/po/ and nbs/{EDITION}/lesson*.ipynb.")
    if todo:
        print(f"{len(todo)} cells keep their English text until translated (edit nbs/{EDITION}/po/):")
        print("\n".join(todo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
