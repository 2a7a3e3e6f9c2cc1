"""Run one tagged cell of a lesson notebook, its own source, so tests check what the notes show."""
import nbformat

from utils.runner import NBS


def cell_source(lesson, tag):
    """The source of the one code cell of nbs/<lesson>.ipynb tagged `tag`."""
    nb = nbformat.read(NBS / f"{lesson}.ipynb", as_version=4)
    found = [c.source for c in nb.cells
             if c.cell_type == "code" and tag in c.metadata.get("tags", [])]
    if len(found) != 1:
        raise LookupError(f"{lesson}.ipynb has {len(found)} code cells tagged {tag!r}, not 1")
    return found[0]


def run_cell(lesson, tag, **names):
    """Execute the tagged cell in a namespace holding `names` (what it imports); return it."""
    namespace = dict(names)
    exec(compile(cell_source(lesson, tag), f"{lesson}.ipynb[{tag}]", "exec"), namespace)
    return namespace
