"""Write each lesson's export cells into its generated module: nbs/lessonN.ipynb -> utils/lessons/lessonN.py.

A code cell of the notes whose first line is `#| export` is the one definition of what it defines;
nbdev's exporter copies the marked cells, in order, into `utils/lessons/lessonN.py`, which says on
its first line that it is generated and from which notebook. Each cell there starts with the
section of the notes that defines it. Only the English notes export: another edition of the notes
(a translation under nbs/ja/) is made from them and defines nothing.

    python -m tools.sync            # (make sync) rewrite the generated modules
    python -m tools.sync --check    # only say which cells changed since; exit status 1 if any
"""
import argparse
import re
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

from nbdev.export import nb_export
from nbdev.maker import ModuleMaker

KIT = Path(__file__).resolve().parent.parent
PACKAGE = "lessons"  # under utils/
CELL = re.compile(r"^# %% (?P<notebook>\S+) #(?P<cell>\S+)$", re.M)
# parse=False: the cells' imports stay as the notes write them (nbdev would make them relative),
# and no __all__ is added: the generated module reads as the cells the learner read.
MODULE = partial(ModuleMaker, parse=False)


def notebooks(root=KIT):
    """The notes that export: nbs/lesson*.ipynb, never a notebook in a folder below nbs/."""
    return sorted((Path(root) / "nbs").glob("lesson*.ipynb"))


class DefinedIn:
    """An nbdev processor: each exported cell starts with the section of the notes defining it."""

    def __init__(self, notebook):
        self.notebook, self.section = f"nbs/{Path(notebook).name}", "the start"

    def __call__(self, cell):
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            self.section = headings[-1] if headings else self.section
        elif "export" in cell.directives_:
            cell.source = f'# Defined in {self.notebook}, section "{self.section}".\n' + cell.source


def export(root, lib):
    """Write the generated modules of the notes under `root` into `lib`/lessons/."""
    for notebook in notebooks(root):
        nb_export(str(notebook), lib_path=str(lib), name=f"{PACKAGE}.{notebook.stem}", procs=[DefinedIn(notebook)],
                  mod_maker=MODULE)


def generated(lib):
    """{file name: text} of the generated modules in `lib`/lessons/ (its __init__.py is not one)."""
    return {p.name: p.read_text() for p in sorted((Path(lib) / PACKAGE).glob("lesson*.py"))}


def stale(root=KIT):
    """What differs between the notes and utils/lessons/: one line per cell or module, empty if none."""
    with tempfile.TemporaryDirectory() as tmp:
        # The same layout as the kit's, so the paths the exporter writes into the modules match
        # (a copy: the exporter follows a link to where it points).
        (Path(tmp) / "nbs").mkdir()
        for notebook in notebooks(root):
            shutil.copy(notebook, Path(tmp) / "nbs" / notebook.name)
        export(Path(tmp), Path(tmp) / "utils")
        fresh = generated(Path(tmp) / "utils")
    return _differences(generated(Path(root) / "utils"), fresh)


def _differences(committed, fresh):
    """Lines naming each generated module, and each cell in it, that `fresh` has otherwise."""
    out = []
    for name in sorted(committed.keys() | fresh.keys()):
        if name not in fresh:
            out.append(f"utils/{PACKAGE}/{name}: its notebook exports nothing now; delete it (make sync)")
        elif name not in committed:
            out.append(f"utils/{PACKAGE}/{name}: not written yet (make sync)")
        elif committed[name] != fresh[name]:
            old, new = _cells(committed[name]), _cells(fresh[name])
            changed = [cell for cell in old.keys() | new.keys() if old.get(cell) != new.get(cell)]
            where = ", ".join(sorted(changed)) or "outside the cells (edited by hand?)"
            out.append(f"utils/{PACKAGE}/{name} differs from its notebook at cell {where}: run make sync")
    return out


def _cells(text):
    """{'nbs/lessonN.ipynb cell <id>': code} of a generated module, and its head under 'head'."""
    marks = list(CELL.finditer(text))
    cells = {"head": text[:marks[0].start()] if marks else text}
    for mark, after in zip(marks, [*marks[1:], None]):
        key = f"{Path(mark['notebook']).name} cell {mark['cell']}"
        cells[key] = text[mark.end():after.start() if after else len(text)]
    return cells


def main(argv=None):
    """Rewrite utils/lessons/ from the notes, or with --check only say what is stale."""
    parser = argparse.ArgumentParser(prog="python -m tools.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="say what is stale; change nothing")
    args = parser.parse_args(argv)
    if args.check:
        lines = stale()
        print("\n".join(lines) or f"utils/{PACKAGE}/ is in step with the notes.")
        return 1 if lines else 0
    for old in (KIT / "utils" / PACKAGE).glob("lesson*.py"):
        old.unlink()  # a notebook that no longer exports leaves no module behind
    export(KIT, KIT / "utils")
    print(f"Wrote {', '.join(generated(KIT / 'utils')) or 'nothing'} in utils/{PACKAGE}/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
