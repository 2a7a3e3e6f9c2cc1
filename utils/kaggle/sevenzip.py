"""7z archives, which a few competitions ship beside their zips; lesson 7.

Fisheries ships its stage-2 test photos as `test_stg2.7z`. `fetch` extracts such an archive as it
extracts a zip (all into a scratch folder first, then moved into place); this module does the
reading, with py7zr, so no 7-Zip program need be installed. It reads LZMA and LZMA2, 7-Zip's
usual methods, and says in one KaggleError when an archive is damaged or cut short.
"""
import lzma
import shutil
from contextlib import contextmanager

import py7zr

from utils.kaggle.api import KaggleError

SUFFIX = ".7z"
# What reading a damaged or cut-short archive raises: py7zr's own errors, the decompressor's,
# and a read past the end of the file.
DAMAGED = (py7zr.exceptions.ArchiveError, lzma.LZMAError, EOFError)


def unpacked_size(archive):
    """Bytes the archive's files take once extracted, read from its header."""
    with _reading(archive), py7zr.SevenZipFile(archive) as z:
        return sum(f.uncompressed for f in z.list() if not f.is_directory)


def extract(archive, scratch):
    """Extract every file of a 7z archive into `scratch`; a damaged one leaves no scratch behind."""
    with _reading(archive, scratch), py7zr.SevenZipFile(archive) as z:
        z.extractall(scratch)


@contextmanager
def _reading(archive, scratch=None):
    """Turn a damaged archive's error into one KaggleError naming it, as for a damaged zip."""
    try:
        yield
    except DAMAGED as exc:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise KaggleError(f"{archive} is damaged or incomplete ({exc or type(exc).__name__})."
                          " Delete it and download it again, then re-run.") from None
