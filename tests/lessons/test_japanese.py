"""The Japanese edition (nbs/ja/): translated, regenerated, the English code exactly, one vocabulary, runnable.

The static checks read the committed files; one notebook test runs the Japanese lesson 1 end to end.
"""
import json
import re
import subprocess
import sys

import nbformat
import pytest

from tools import translate
from utils import runner
from utils.runner import NBS

LESSONS = translate.plan()
IDS = [lesson.english.stem for lesson in LESSONS]
GLOSSARY = NBS / "ja" / "GLOSSARY.md"
URL = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
SPAN = re.compile(r"`[^`\n]+`")
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w])")
CJK = "\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef"
SOFT_BREAK = re.compile(f"[{CJK}]\n[{CJK}]")
FENCE = re.compile(r"```.*?```", re.S)


def glossary():
    """[(English term, the word to use, [variants ruled out])] from the glossary's table."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("英語", "---"):
            rows.append((cells[0], cells[1], [v.strip() for v in cells[2].split(",") if v.strip()]))
    return rows


def japanese_markdown():
    """(lesson, cell id, text) of every markdown cell of the committed Japanese notebooks."""
    for lesson in LESSONS:
        nb = nbformat.read(lesson.notebook_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                yield lesson.english.stem, cell.id, cell.source


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_every_markdown_cell_has_a_current_translation(lesson):
    assert not lesson.todo, "translate these in nbs/ja/po/, then run make sync:\n" + "\n".join(lesson.todo)


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_catalogue_and_japanese_notebook_are_regenerated(lesson):
    assert not translate.not_regenerated(lesson), translate.not_regenerated(lesson)


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_japanese_notebook_has_the_english_code_cells_ids_and_tags(lesson):
    """Checked on the committed files, so a hand edit of nbs/ja/ fails here too."""
    en = nbformat.read(lesson.english, as_version=4)
    ja = nbformat.read(lesson.notebook_path, as_version=4)
    assert [(c.id, c.cell_type) for c in ja.cells] == [(c.id, c.cell_type) for c in en.cells]
    for e, j in zip(en.cells, ja.cells):
        assert j.metadata == e.metadata, f"{lesson.notebook_path.name} cell {j.id}: metadata differs"
        if e.cell_type == "code":
            assert j.source == e.source, f"{lesson.notebook_path.name} cell {j.id}: code differs from the English"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_translations_keep_links_figures_and_code(lesson):
    """Every link target, inline code span and decimal figure of an English cell is in its translation."""
    lost = []
    for entry in lesson.catalogue:
        if not translate.current(entry):
            continue
        for kind, pattern in (("link", URL), ("code", SPAN), ("figure", DECIMAL)):
            found = lambda text: {m.group(0) if kind != "link" else (m.group(1) or m.group(2))  # noqa: E731
                                  for m in pattern.finditer(text)}
            # `make lessonN ...` runs the Japanese edition with EDITION=ja: the same command otherwise
            missing = found(entry.msgid) - found(entry.msgstr.replace(" EDITION=ja", ""))
            lost += [f"cell {entry.msgctxt}: {kind} {m}" for m in sorted(missing)]
    assert not lost, f"{lesson.catalogue_path.name}: the translation drops\n" + "\n".join(lost)


def test_no_line_break_inside_a_japanese_sentence():
    """Markdown renders a line break inside a paragraph as a space, which Japanese does not have."""
    found = [f"{lesson} cell {cell}: {m.group(0)!r}" for lesson, cell, text in japanese_markdown()
             for m in SOFT_BREAK.finditer(FENCE.sub("", text))]
    assert not found, "join these lines in nbs/ja/po/:\n" + "\n".join(found)


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_japanese_notes_explain_the_english_messages_every_lesson_prints(lesson):
    """The kit speaks English; each Japanese lesson says what setup()'s line and the stand-in banner mean."""
    text = "\n".join(e.msgstr for e in lesson.catalogue if translate.current(e))
    for message in ("`dl1-kit:`", "`STAND-IN DATA`", "`Could not get`"):
        assert message in text, f"{lesson.catalogue_path.name}: no Japanese explanation of the message {message}"


def test_glossary_rules_out_at_least_one_variant_of_each_term():
    rows = glossary()
    assert len(rows) >= 20
    assert all(variants for _, _, variants in rows), [term for term, _, v in rows if not v]
    for term, word, variants in rows:  # a variant inside the word to use would rule the word out too
        assert not any(v in word for v in variants), f"{term}: a ruled-out variant is part of {word}"


def test_japanese_notes_use_no_ruled_out_variant():
    rules = [(variant, word) for _, word, variants in glossary() for variant in variants]
    found = [f"{lesson} cell {cell}: {variant} (write {word})" for lesson, cell, text in japanese_markdown()
             for variant, word in rules if variant in text]
    assert not found, "\n".join(found)


def test_a_changed_english_cell_is_marked_fuzzy_and_keeps_its_english(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lesson", id="m1"), nbformat.v4.new_code_cell("x = 1", id="c1"),
                nbformat.v4.new_markdown_cell("Old words.", id="m2"), nbformat.v4.new_markdown_cell("Gone.", id="m3")]
    po = translate.update(translate.load(tmp_path / "lesson9.po"), nb, "lesson9.ipynb")
    for entry, text in zip(po, ["# レッスン", "古い言葉。", "消える。"]):
        entry.msgstr = text
    path = tmp_path / "lesson9.po"
    po.save(str(path))
    assert translate.problems(po, nb, "lesson9.ipynb") == []
    nb.cells[2].source = "New words."
    del nb.cells[3]
    nb.cells.append(nbformat.v4.new_markdown_cell("Added.", id="m4"))
    po = translate.update(translate.load(path), nb, "lesson9.ipynb")
    po.save(str(path))
    po = translate.load(path)  # what a translator opens
    entries = {e.msgctxt: e for e in po}
    assert "fuzzy" in entries["m2"].flags and entries["m2"].previous_msgid == "Old words."
    assert entries["m2"].msgid == "New words." and entries["m2"].msgstr == "古い言葉。"
    assert entries["m3"].obsolete and entries["m3"].msgstr == "消える。"  # nothing translated is lost
    assert entries["m4"].msgstr == ""
    assert translate.problems(po, nb, "lesson9.ipynb") == [
        "lesson9.ipynb cell 2 (m2): the English changed since it was translated",
        "lesson9.ipynb cell 3 (m4): no Japanese translation yet"]
    ja = translate.build(po, nb)  # stale and missing cells keep the English until translated
    assert [c.source for c in ja.cells] == ["# レッスン", "x = 1", "New words.", "Added."]
    assert ja.metadata["dl1kit"]["edition"] == "ja"


def test_first_cell_finds_the_kit_two_folders_up():
    """Opened from nbs/ja/, the first cell puts the kit's root on sys.path, as from nbs/."""
    nb = nbformat.read(NBS / "ja" / "lesson1.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE")}
    done = subprocess.run([sys.executable, "-c", first.source + "\nprint(KIT)"], cwd=NBS / "ja", env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(NBS.parent)


def test_runner_finds_the_edition_and_refuses_an_unknown_one():
    assert runner.notebook("lesson3", "ja") == NBS / "ja" / "lesson3.ipynb"
    assert runner.notebook("lesson3") == NBS / "lesson3.ipynb"
    with pytest.raises(ValueError, match="unknown edition 'fr'"):
        runner.notebook("lesson3", "fr")


def test_japanese_index_page_says_its_language(tmp_path):
    index = runner.write_index(tmp_path, {"lesson1": "ok"}, "ja").read_text(encoding="utf-8")
    assert "lang='ja'" in index and "Noto Sans CJK JP" in index and "Hiragino Sans" in index
    assert '<a href="lesson1.html">' in index and runner.TITLES_JA["lesson2"] in index


@pytest.mark.notebook
def test_japanese_lesson1_runs_and_renders_in_japanese(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_bfloat16")  # as tests/lessons/test_notebooks.py, for speed
    results = tmp_path / "results"
    ipynb, page = runner.run_lesson("lesson1", {"DATA": "standin", "EPOCHS": 1, "RESULTS": str(results)},
                                    tmp_path / "build", edition="ja")
    summary = json.loads((results / "summary.json").read_text())
    assert summary["standin"] is True and summary["val_accuracy"] > 0.7, summary
    html = page.read_text(encoding="utf-8")
    assert '<html lang="ja">' in html and "Noto Sans CJK JP" in html
    executed = nbformat.read(ipynb, as_version=4)
    first = next(c for c in executed.cells if c.cell_type == "markdown")
    assert re.search(r"[\u3040-\u30ff]", first.source), "the executed notes are not the Japanese text"
