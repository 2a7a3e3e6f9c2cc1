"""Where the kit keeps things: the repository root, datasets, stand-ins and built notes.

Every folder can be moved with an environment variable, so tests and cloud boxes can point the
kit at scratch space or a big data disk without touching code.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def data_dir():
    """Folder where real datasets land (`$DL1_DATA`, default `<repo>/data`); all lessons."""
    return Path(os.environ.get("DL1_DATA", ROOT / "data"))


def standin_dir():
    """Folder for generated stand-in datasets, apart from real data; all lessons."""
    return data_dir() / "standin"


def build_dir():
    """Folder for executed notebooks and HTML notes (`$DL1_BUILD`, default `<repo>/build`)."""
    return Path(os.environ.get("DL1_BUILD", ROOT / "build"))
