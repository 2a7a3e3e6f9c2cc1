"""Write where the kit is published, kept in kit.toml, into the lessons' first cell and the READMEs.

The first cell of every lesson fetches the kit from kit.toml's `repository` at its release `tag`,
and the READMEs' badges open the lessons from the same place (README.ja.md's open the Japanese
edition, nbs/ja/, which is made again from the English notebooks). A fork changes `repository`, a
release changes `tag`; then one command brings the notebooks and the READMEs along:

    python -m tools.kit_source            # rewrites what disagrees with kit.toml and names it
    python -m tools.kit_source --check    # only names it; exit status 1 when anything disagrees
"""
import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

from tools import translate

KIT = Path(__file__).resolve().parent.parent
LESSONS = range(1, 8)
GITHUB = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
TAG = re.compile(r"[\w.-]+")
# The one line of the first cell that this writes; the rest of the cell is the notebooks' own.
SOURCE_LINE = re.compile(r"^REPO, TAG = .*$", re.M)
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE = "https://kaggle.com/static/images/open-in-kaggle.svg"
BADGES = re.compile(r"(<!-- badges: .*? -->\n).*?(?=<!-- end of badges -->)", re.S)


def read(root=KIT):
    """kit.toml's `repository` and `tag`, checked, as a dict."""
    path = Path(root) / "kit.toml"
    try:
        source = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not TOML ({err}); it holds two lines, "
                         f'repository = "https://github.com/<owner>/<name>" and tag = "v1.0"') from err
    repository, tag = source.get("repository"), source.get("tag")
    if not (isinstance(repository, str) and GITHUB.fullmatch(repository)):
        raise ValueError(f"{path}: repository = {repository!r} is not an address like "
                         "https://github.com/<owner>/<name>: Colab opens notebooks from GitHub only")
    if not (isinstance(tag, str) and TAG.fullmatch(tag)):
        raise ValueError(f"{path}: tag = {tag!r} is not a git tag name like v1.0 (letters, digits, "
                         "'.', '-' and '_')")
    return {"repository": repository, "tag": tag}


def source_line(source):
    """The first cell's line naming the kit's address and tag."""
    return f'REPO, TAG = "{source["repository"]}", "{source["tag"]}"  # where the kit is published (kit.toml)'


READMES = {"README.md": "nbs", "README.ja.md": "nbs/ja"}  # each README's badges open the notebooks there


def badges(source, folder="nbs"):
    """A README's table of Colab and Kaggle badges, one row per lesson, opening the tag's notebooks."""
    rows = ["| lesson | Colab | Kaggle |", "|---|---|---|"]
    for n in LESSONS:
        notebook = f"{source['repository']}/blob/{source['tag']}/{folder}/lesson{n}.ipynb"
        colab = notebook.replace("https://github.com/", "https://colab.research.google.com/github/")
        kaggle = f"https://kaggle.com/kernels/welcome?src={notebook}"
        rows.append(f"| {n} | [![Open lesson {n} in Colab]({COLAB_BADGE})]({colab}) "
                    f"| [![Open lesson {n} in Kaggle]({KAGGLE_BADGE})]({kaggle}) |")
    return "\n".join(rows) + "\n"


def first_code_cell(notebook, path):
    """The first code cell of a notebook read from `path`, which must hold the source line."""
    cell = next((c for c in notebook.cells if c.cell_type == "code"), None)
    if cell is None or not SOURCE_LINE.search(cell.source):
        raise ValueError(f"{path}: its first code cell has no `REPO, TAG = ...` line to write "
                         "kit.toml's address into; copy the first cell of nbs/lesson1.ipynb there")
    return cell


def update(root=KIT, write=True):
    """Bring the notebooks and README under `root` in line with its kit.toml; the files that differed."""
    source = read(root)
    differ = []
    for n in LESSONS:
        path = Path(root) / "nbs" / f"lesson{n}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        cell = first_code_cell(notebook, path)
        text = SOURCE_LINE.sub(lambda _: source_line(source), cell.source, count=1)
        if text != cell.source:
            differ.append(path)
            cell.source = text
            if write:
                nbformat.write(notebook, path)
    if (Path(root) / "nbs" / translate.EDITION).is_dir():  # the Japanese edition's first cells follow
        for lesson in translate.plan(root):
            if translate.differs(lesson.notebook_path, translate.serialised(lesson.notebook)):
                differ.append(lesson.notebook_path)
                if write:
                    translate.write_notebook(lesson)
    for name, folder in READMES.items():
        readme = Path(root) / name
        if name != "README.md" and not readme.exists():
            continue
        text = readme.read_text()
        if not BADGES.search(text):
            raise ValueError(f"{readme}: no `<!-- badges: ... -->` ... `<!-- end of badges -->` block "
                             "to write the lessons' badges into")
        new = BADGES.sub(lambda m: m.group(1) + badges(source, folder), text, count=1)
        if new != text:
            differ.append(readme)
            if write:
                readme.write_text(new)
    return differ


def main(argv=None, root=KIT):
    """Rewrite (with --check, only name) what disagrees with kit.toml; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tools.kit_source", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on a difference")
    args = parser.parse_args(argv)
    try:
        source = read(root)
        differ = update(root, write=not args.check)
    except (ValueError, OSError) as err:
        print(f"kit_source: {err}", file=sys.stderr)
        return 1
    where = f"{source['repository']} at tag {source['tag']}"
    for path in differ:
        print(f"kit_source: {path.relative_to(root)} "
              f"{'does not fetch' if args.check else 'now fetches'} the kit from {where}")
    if not differ:
        print(f"kit_source: the lessons and the READMEs fetch the kit from {where}, as kit.toml says")
    elif args.check:
        print("kit_source: run python -m tools.kit_source to write kit.toml's address into them")
    return 1 if differ and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
