"""Run lesson notebooks headless and render them as HTML lecture notes.

`python -m utils.runner lesson1 [-p NAME=VALUE ...]` executes `nbs/lesson1.ipynb` with papermill,
writes the executed notebook and its HTML to `build/`, and exits non-zero if a cell fails.
`python -m utils.runner notes` does that for every lesson and writes `build/notes/index.html`.
"""
import argparse
import ast
import html
import os
import re
import sys
from pathlib import Path

from utils.paths import ROOT, build_dir

NBS = ROOT / "nbs"
LESSONS = [f"lesson{i}" for i in range(1, 8)]
TITLES = {
    "lesson1": "Image recognition: fine-tuning VGG16 on dogs vs cats",
    "lesson2": "CNNs, linear models and SGD",
    "lesson3": "Over- and underfitting: augmentation, dropout, batch norm, MNIST",
    "lesson4": "Embeddings: optimizers, collaborative filtering, State Farm",
    "lesson5": "NLP: IMDB sentiment, embeddings and GloVe",
    "lesson6": "RNNs: character models, stateful RNNs, an RNN in numpy",
    "lesson7": "CNN architectures: ResNet50, Inception, Fisheries, a GRU in numpy",
}


def parse_parameter(text):
    """NAME=VALUE to (name, value), reading VALUE as a Python literal when it is one."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"parameters are NAME=VALUE, not {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word such as DATA=full is a string
    return name.strip(), value


def render_html(ipynb, out_html):
    """Write an executed notebook as a standalone HTML page; make notes."""
    import nbconvert  # the notebook tools load only to run or render a notebook
    import nbformat
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    Path(out_html).write_text(body, encoding="utf-8")
    return Path(out_html)


def run_lesson(name, parameters=None, out_dir=None):
    """Execute one lesson notebook, write it and its HTML to `out_dir`; make lessonN."""
    import papermill  # the notebook tools load only to run or render a notebook
    src = NBS / f"{name}.ipynb"
    if not src.exists():
        raise FileNotFoundError(f"{name} is not written yet: {os.path.relpath(src, ROOT)} does not exist.")
    out_dir = Path(out_dir or build_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.ipynb"
    try:
        papermill.execute_notebook(str(src), str(out), parameters=parameters or {},
                                   kernel_name="python3", cwd=str(NBS), progress_bar=False)
    finally:
        if out.exists():  # the HTML of a failed run shows where it stopped
            render_html(out, out.with_suffix(".html"))
    return out, out.with_suffix(".html")


def policy_in_force(ipynb):
    """The precision policy setup() said was in force in an executed notebook, or None."""
    import nbformat  # the notebook tools load only to run or render a notebook
    # setup() prints "dl1-kit: keras ..., precision <policy>, platform ...", read back here.
    for cell in nbformat.read(ipynb, as_version=4).cells:
        for out in cell.get("outputs", []):
            found = re.search(r"^dl1-kit: .*precision (\w+),", out.get("text", ""), re.M)
            if found:
                return found.group(1)
    return None


def write_index(out_dir, status):
    """The notes' index page: a link per executed lesson, and why the others have none."""
    rows = []
    for name in LESSONS:
        title = html.escape(f"{name}: {TITLES[name]}")
        state = status.get(name, "not written yet")
        rows.append(f'<li><a href="{name}.html">{title}</a></li>' if state == "ok"
                    else f"<li>{title} <em>({html.escape(state)})</em></li>")
    page = ("<!doctype html><meta charset='utf-8'><title>dl1-kit lecture notes</title>"
            "<h1>dl1-kit: Practical Deep Learning for Coders, Part 1, lecture notes</h1>"
            f"<ul>{''.join(rows)}</ul>")
    index = Path(out_dir) / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def notes(parameters=None):
    """Execute every written lesson and build HTML notes with an index; make notes."""
    out_dir = build_dir() / "notes"
    status = {}
    for name in LESSONS:
        if (NBS / f"{name}.ipynb").exists():
            print(f"running {name} ...", flush=True)
            try:
                run_lesson(name, parameters, out_dir)
                status[name] = "ok"
            except Exception as err:
                status[name] = f"failed: {type(err).__name__}"
                print(f"{name} FAILED: {err}", file=sys.stderr)
    print(f"notes: {write_index(out_dir, status)}")
    return 0 if all(s == "ok" for s in status.values()) else 1


def main(argv=None):
    """Command line: a lesson name or 'notes', then -p NAME=VALUE parameters."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", help="lesson1 ... lesson7, or notes")
    ap.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--precision", help="force a policy, e.g. mixed_bfloat16 to try on a CPU "
                                        "what a GPU runs (sets DL1_PRECISION for the notebook)")
    args = ap.parse_args(argv)
    if args.precision:  # the notebook's kernel inherits this process's environment
        os.environ["DL1_PRECISION"] = args.precision
    params = dict(parse_parameter(p) for p in args.parameter)
    if args.target == "notes":
        return notes(params)
    if args.target not in LESSONS:
        ap.error(f"unknown target {args.target!r}: use lesson1 ... lesson7 or notes")
    try:
        ipynb, page = run_lesson(args.target, params)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    except Exception as err:  # papermill's error already names the failing cell
        print(f"{args.target} FAILED: {err}", file=sys.stderr)
        return 1
    print(f"{args.target} ran. Executed notebook: {ipynb}\nHTML notes: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
