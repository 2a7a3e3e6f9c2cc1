"""What every stand-in dataset shares: its marker on disk, its banner, and when to fall back to it.

A stand-in is small, seeded, learnable data written in exactly the real dataset's layout, so a
lesson runs its real code path on a machine without the real data. It must never be taken for
the real thing: it lives under `data/standin/`, carries a STANDIN.txt marker, and the lesson
prints a banner saying how to get the real data.
"""
import io
import shutil
from pathlib import Path

from utils.paths import cannot_write, standin_dir

DATA_MODES = ("auto", "full", "sample", "standin")
MARKER = "STANDIN.txt"


class StandinError(RuntimeError):
    """A stand-in that cannot be written where the data folder is; the message says what to do."""


def mark(folder, what, recipe=None):
    """Write the marker that labels a folder as stand-in data (and the recipe it came from)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    line = f"recipe {recipe}\n" if recipe else ""
    (folder / MARKER).write_text(f"STAND-IN DATA, not the real dataset.\n{what}\n{line}")


def renew(folder, made_by):
    """Delete a stand-in folder another recipe wrote (an older kit's), so it is written anew.

    Only a folder whose marker says it is a stand-in is ever removed: real data has no marker.
    """
    folder = Path(folder)
    marker = folder / MARKER
    if marker.exists() and f"recipe {made_by}\n" not in marker.read_text():
        print(f"The stand-in in {folder} was made by another version of the kit: making it anew.")
        shutil.rmtree(folder)
    return folder


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
    text = "\n".join(box)
    print(text)
    return text


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
    """Any dataset by data mode: 'auto' tries the real one, else says why and uses the stand-in.

    'full' and 'sample' insist on the real data (`get_real(mode)`), 'standin' forces the stand-in
    (`get_standin()`). In 'auto' one of `errors` (the real data cannot be had: no network, a cut-off
    download, a damaged file) is printed and the stand-in used; any other error is a bug and raises.
    A data folder the stand-in cannot be written to is one StandinError saying what to do.
    """
    mode = check_mode(mode)
    if mode == "standin":
        return _written(get_standin)
    if mode != "auto":
        return get_real(mode)
    try:
        return get_real("full")
    except errors as err:
        print(f"Could not get {name}, so using the stand-in:\n{err}")
        return _written(get_standin)


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
