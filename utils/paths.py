"""Where the kit keeps things: the repository root, datasets, stand-ins and built notes.

Every folder can be moved with an environment variable, so tests and cloud boxes can point the
kit at scratch space or a big data disk without touching code.
"""
import errno
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)  # no permission, or a read-only disk
WRITABLE_DATA = ("point DL1_DATA at a folder you can write to"
                 " (on Kaggle Notebooks: under /kaggle/working)")


def data_dir():
    """Folder where real datasets land (`$DL1_DATA`, default `<repo>/data`); all lessons."""
    return Path(os.environ.get("DL1_DATA", ROOT / "data"))


def standin_dir():
    """Folder for generated stand-in datasets, apart from real data; all lessons."""
    return data_dir() / "standin"


def build_dir():
    """Folder for executed notebooks and HTML notes (`$DL1_BUILD`, default `<repo>/build`)."""
    return Path(os.environ.get("DL1_BUILD", ROOT / "build"))


def cannot_write(exc, path, fix=WRITABLE_DATA):
    """The words for an OSError refusing to write under `path` and what to do; None for others."""
    if exc.errno in UNWRITABLE:
        return f"Cannot write to {exc.filename or path} ({exc.strerror}): {fix}, then re-run."
    return None
