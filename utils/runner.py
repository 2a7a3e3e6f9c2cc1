"""Run lesson notebooks headless and render them as HTML lecture notes.

`python -m utils.runner lesson1 [-p NAME=VALUE ...]` executes `nbs/lesson1.ipynb` with papermill,
writes the executed notebook and its HTML to `build/`, and exits non-zero if a cell fails.
`python -m utils.runner notes` does that for every lesson and writes `build/notes/index.html`.
`--edition ja` runs the Japanese edition instead (`nbs/ja/`, made from the English by `make sync`)
and writes it under `build/ja/`.
"""
import argparse
import ast
import html
import os
import re
import sys
import tempfile
from pathlib import Path

from utils.paths import ROOT, build_dir

NBS = ROOT / "nbs"
EDITIONS = ("en", "ja")  # the English notes, and the Japanese edition made from them
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
TITLES_JA = {
    "lesson1": "画像認識：学習済みの VGG16 をファインチューニングして犬と猫を見分ける",
    "lesson2": "CNN、線形モデルと確率的勾配降下法",
    "lesson3": "過学習と学習不足：データ拡張、ドロップアウト、バッチ正規化、MNIST",
    "lesson4": "埋め込み：最適化手法、協調フィルタリング、State Farm",
    "lesson5": "自然言語処理：IMDB の感情分析、埋め込みと GloVe",
    "lesson6": "RNN：文字のモデル、状態を持つ RNN、numpy で書く RNN",
    "lesson7": "CNN のアーキテクチャ：ResNet50、Inception、Fisheries、numpy で書く GRU",
}
# Japanese fonts that Linux, macOS and Windows each have, before the page's own sans-serif.
JA_STYLE = ("<style>body, .jp-RenderedHTMLCommon, .jp-RenderedMarkdown { font-family: "
            "'Hiragino Sans', 'Hiragino Kaku Gothic ProN', 'Yu Gothic UI', 'Yu Gothic', Meiryo, "
            "'Noto Sans CJK JP', 'Noto Sans JP', 'IPAexGothic', 'TakaoPGothic', sans-serif; "
            "line-height: 1.7; }</style>")
# Each edition's index page: what opens it, its title, its heading, and the lessons' titles.
INDEX = {
    "en": ("<meta charset='utf-8'>", "dl1-kit lecture notes",
           "dl1-kit: Practical Deep Learning for Coders, Part 1, lecture notes", TITLES),
    "ja": ("<html lang='ja'><meta charset='utf-8'>" + JA_STYLE, "dl1-kit 講義ノート",
           "dl1-kit：Practical Deep Learning for Coders, Part 1 の講義ノート（日本語版）", TITLES_JA),
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


def notebook(name, edition="en"):
    """Where a lesson's notebook is: nbs/lessonN.ipynb, or nbs/ja/lessonN.ipynb for the Japanese edition."""
    if edition not in EDITIONS:
        raise ValueError(f"unknown edition {edition!r}: use one of {', '.join(EDITIONS)}")
    return (NBS if edition == "en" else NBS / edition) / f"{name}.ipynb"


def edition_dir(edition="en"):
    """Where a lesson's executed notebook and HTML go: build/, or build/ja/ for the Japanese edition."""
    return build_dir() if edition == "en" else build_dir() / edition


def render_html(ipynb, out_html, edition="en"):
    """Write an executed notebook as a standalone HTML page; make notes."""
    import nbconvert  # the notebook tools load only to run or render a notebook
    import nbformat
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    if edition == "ja":  # say the page's language (browsers pick Japanese glyphs) and name fonts that have them
        body = re.sub(r"<html(?: lang=\"[^\"]*\")?>", '<html lang="ja">', body, count=1)
        body = body.replace("</head>", JA_STYLE + "\n</head>", 1)
    Path(out_html).write_text(body, encoding="utf-8")
    return Path(out_html)


def kernel_transport(folder):
    """How the runner talks to a notebook's kernel: socket files in `folder` where the system has them."""
    # Linux and macOS: nothing listens on a network port (ipykernel 7 warns at each start over TCP).
    # The path is absolute: a relative one would put the sockets in the notebook's own folder.
    return {"transport": "ipc", "ip": os.path.join(folder, "kernel")} if os.name == "posix" else {}


def run_lesson(name, parameters=None, out_dir=None, edition="en"):
    """Execute one lesson notebook, write it and its HTML to `out_dir`; make lessonN."""
    import papermill  # the notebook tools load only to run or render a notebook
    from traitlets.config import Config
    src = notebook(name, edition)
    if not src.exists():
        raise FileNotFoundError(f"{name} is not written yet: {os.path.relpath(src, ROOT)} does not exist.")
    out_dir = Path(out_dir or edition_dir(edition))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.ipynb"
    try:
        with tempfile.TemporaryDirectory(prefix="dl1-kernel-") as sockets:
            papermill.execute_notebook(str(src), str(out), parameters=parameters or {},
                                       kernel_name="python3", cwd=str(src.parent), progress_bar=False,
                                       config=Config(KernelManager=kernel_transport(sockets)))
    finally:
        if out.exists():  # the HTML of a failed run shows where it stopped
            render_html(out, out.with_suffix(".html"), edition)
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


def write_index(out_dir, status, edition="en"):
    """The notes' index page: a link per executed lesson, and why the others have none."""
    head, title, heading, titles = INDEX[edition]
    rows = []
    for name in LESSONS:
        entry = html.escape(f"{name}: {titles[name]}")
        state = status.get(name, "not written yet")
        rows.append(f'<li><a href="{name}.html">{entry}</a></li>' if state == "ok"
                    else f"<li>{entry} <em>({html.escape(state)})</em></li>")
    page = (f"<!doctype html>{head}<title>{title}</title><h1>{heading}</h1>"
            f"<ul>{''.join(rows)}</ul>")
    index = Path(out_dir) / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def notes(parameters=None, edition="en"):
    """Execute every written lesson and build HTML notes with an index; make notes."""
    out_dir = build_dir() / "notes" if edition == "en" else edition_dir(edition)
    status = {}
    for name in LESSONS:
        if notebook(name, edition).exists():
            print(f"running {name} ...", flush=True)
            try:
                run_lesson(name, parameters, out_dir, edition)
                status[name] = "ok"
            except Exception as err:
                status[name] = f"failed: {type(err).__name__}"
                print(f"{name} FAILED: {err}", file=sys.stderr)
    print(f"notes: {write_index(out_dir, status, edition)}")
    return 0 if all(s == "ok" for s in status.values()) else 1


def main(argv=None):
    """Command line: a lesson name or 'notes', then -p NAME=VALUE parameters."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", help="lesson1 ... lesson7, or notes")
    ap.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--edition", choices=EDITIONS, default="en",
                    help="en: the English notes (nbs/); ja: the Japanese edition (nbs/ja/, into build/ja/)")
    ap.add_argument("--precision", help="force a policy, e.g. mixed_bfloat16 to try on a CPU "
                                        "what a GPU runs (sets DL1_PRECISION for the notebook)")
    args = ap.parse_args(argv)
    if args.precision:  # the notebook's kernel inherits this process's environment
        os.environ["DL1_PRECISION"] = args.precision
    params = dict(parse_parameter(p) for p in args.parameter)
    if args.target == "notes":
        return notes(params, args.edition)
    if args.target not in LESSONS:
        ap.error(f"unknown target {args.target!r}: use lesson1 ... lesson7 or notes")
    try:
        ipynb, page = run_lesson(args.target, params, edition=args.edition)
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
