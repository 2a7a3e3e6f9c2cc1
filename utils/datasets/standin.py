"""What every stand-in dataset shares: its marker, the one rule for when it is drawn anew, its banner.

A stand-in is small, seeded, learnable data written in exactly the real dataset's layout, so a
lesson runs its real code path on a machine without the real data. It must never be taken for
the real thing: it lives under `data/standin/`, carries a STANDIN.txt marker, and its record
carries a banner saying how to get the real data.

One rule keeps every stand-in fresh (`made`): the marker names a recipe, a hash of the settings
and of the code that draws it; a stand-in from another recipe is removed and drawn anew, and a
folder without the marker is never touched.
"""
import io
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

from utils.paths import cannot_write, standin_dir
from utils.standins.recipe import recipe

DATA_MODES = ("auto", "full", "sample", "standin")
MARKER = "STANDIN.txt"


class StandinError(RuntimeError):
    """A stand-in that cannot be written where the data folder is; the message says what to do."""


def made(dest, draw, settings, *code, what, **extra):
    """The stand-in folder `dest`: kept if its marker names this recipe, else drawn anew by
    `draw(folder, settings, **extra)` into a fresh folder that takes `dest`'s name when complete.

    The recipe hashes `settings` (a dataclass), `extra`, the source of `draw` and of `code` (the
    drawing functions it calls) and any tables in `code` (word lists they draw from), so a change
    to any of them draws the stand-in again. A folder holding files but no marker is not a
    stand-in: it is left as it is and said in a StandinError.
    """
    dest = Path(dest)
    made_by = recipe(draw, *code, **asdict(settings), **extra)
    if recipe_of(dest) == made_by:
        return dest
    if dest.is_dir() and any(dest.iterdir()):
        if not (dest / MARKER).exists():
            raise StandinError(f"{dest} holds files but no {MARKER}, so it is not a stand-in and is "
                               "left as it is: move it away, or set DL1_DATA to another data folder.")
        shutil.rmtree(dest)  # a stand-in from another recipe: an older kit's, or other settings
    part = dest.with_name(f".{dest.name}.part")
    shutil.rmtree(part, ignore_errors=True)  # a drawing cut short before
    part.mkdir(parents=True)
    draw(part, settings, **extra)
    (part / MARKER).write_text(f"STAND-IN DATA, not the real dataset.\n{what}\nrecipe {made_by}\n")
    if dest.is_dir():
        dest.rmdir()  # empty, as checked above
    os.replace(part, dest)  # last: a half-drawn stand-in never takes the name
    return dest


def recipe_of(folder):
    """The recipe a stand-in folder's marker names, or None (no marker, or one without a recipe)."""
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return None
    lines = [line for line in marker.read_text().splitlines() if line.startswith("recipe ")]
    return lines[-1].removeprefix("recipe ") if lines else None


def is_standin(folder):
    """True when a folder holds stand-in data; all lessons."""
    folder = Path(folder)
    return any((p / MARKER).exists() for p in (folder, *folder.parents))


def banner(name, how_to_get, what="a small synthetic dataset"):
    """A loud box saying the lesson runs on stand-in data, and how to get the real data."""
    lines = [f"STAND-IN DATA: {name} was not found, so this lesson runs on",
             f"{what} in the same layout. Its numbers are NOT the course's results.",
             *how_to_get.splitlines()]
    width = max(map(len, lines)) + 4
    box = ["#" * width, *[f"# {line:<{width - 4}} #" for line in lines], "#" * width]
    return "\n".join(box)


def with_banner(record, name, how_to_get, what="a small synthetic dataset"):
    """A stand-in's Data record with its banner among the notes it is printed with."""
    return replace(record, notes=(*record.notes, banner(name, how_to_get, what)))


def check_mode(data):
    """Reject a data mode the lessons don't know, saying which ones exist."""
    if data not in DATA_MODES:
        raise ValueError(f"DATA must be one of {DATA_MODES}, not {data!r}")
    return data


def kind(mode, standin):
    """Words for what a Data record holds: the stand-in, a sample of the real data, or all of it."""
    if standin:
        return "STAND-IN data"
    return "a sample of the real data" if mode == "sample" else "the real data"


def by_mode(mode, name, get_real, get_standin, errors):
    """Any dataset by data mode: 'auto' tries the real one, else the stand-in, saying why.

    'full' and 'sample' insist on the real data (`get_real(mode)`), 'standin' forces the stand-in
    (`get_standin()`). In 'auto' one of `errors` (the real data cannot be had: no network, a cut-off
    download, a damaged file) becomes the first note of the stand-in's record; any other error is a
    bug and raises. A data folder the stand-in cannot be written to is one StandinError.
    """
    mode = check_mode(mode)
    if mode == "standin":
        return _written(get_standin)
    if mode != "auto":
        return get_real(mode)
    try:
        return get_real("full")
    except errors as err:
        try:
            record = _written(get_standin)
        except StandinError as cannot:
            raise StandinError(f"Could not get {name}:\n{err}\nNor can the stand-in be written: {cannot}") from None
        return replace(record, notes=(f"Could not get {name}, so using the stand-in:\n{err}", *record.notes))


def _written(get_standin):
    """`get_standin()`, with a data folder it cannot write to said in one StandinError."""
    try:
        return get_standin()
    except OSError as exc:
        words = cannot_write(exc, standin_dir())
        if words is None:
            raise
        raise StandinError(words) from None


def jpeg_bytes(im):
    """The bytes of a PIL image saved as a JPEG, as the stand-ins put their photos in zips."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()

