"""Files fetched from a URL into a cache folder: one clear error, and nothing half-done kept.

Every URL download of the kit (MovieLens, GloVe, the Nietzsche corpus, IMDB, MNIST, the Fisheries
box files, the ImageNet class names) goes through `download`. It lets `keras.utils.get_file` do
the fetching (progress bar, hash check) but into `<name>.part`, and gives the file its own name
only once it is complete: its size matched the server's Content-Length, its hash the one pinned,
and the dataset's own check passed. So a download cut off half-way, refused or killed leaves
nothing under the name the next run takes as complete, and the next run simply downloads again.
"""
import contextlib
import hashlib
import io
import os
import socket
import urllib.error
import warnings
from pathlib import Path

PART = ".part"  # suffix of a file still being downloaded: never taken for the real one


class DownloadError(RuntimeError):
    """A download that failed, was cut off or is damaged; the message says what to do."""


def keras_cache(subdir="datasets"):
    """The folder Keras keeps its downloads in: `$KERAS_HOME/<subdir>`, else ~/.keras/<subdir>."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / subdir


def download(url, dest, file_hash=None, hash_algorithm="auto", check=None, timeout=60,
             quiet=False):
    """The file `dest`, downloaded from `url` unless a good copy is there; all lessons.

    `file_hash` (sha256 or md5) pins the content; `check(path)` is the dataset's own test of a
    file, raising when it is not right. A cached copy failing either is downloaded again. Any
    failure raises DownloadError naming the file, the URL and what to do, and keeps nothing that
    a later run would take as good (a cached copy that failed is checked again, never trusted).
    """
    dest = Path(dest)
    if dest.is_dir():  # found now, not after the whole download fails to be renamed onto it
        raise DownloadError(f"Cannot download {url} to {dest}: {dest} is a folder. Pass the path "
                            "of the file to write, or remove the folder, then run again.")
    if dest.is_file() and _good(dest, file_hash, hash_algorithm, check):
        return dest
    part = dest.with_name(dest.name + PART)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _fetch(url, part, file_hash, hash_algorithm, timeout, quiet)
        if check:
            check(part)
    except Exception as err:
        part.unlink(missing_ok=True)
        # The reason is in the message: urllib's and Keras's tracebacks would only bury it.
        raise DownloadError(_message(dest, url, _reason(err), file_hash, hash_algorithm)) from None
    except BaseException:  # interrupted: no half file left behind
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)  # last: only a complete, checked file gets the name the next run trusts
    return dest


def _good(path, file_hash, hash_algorithm, check):
    """True when a cached file passes the pinned hash and the dataset's check; says why not."""
    if file_hash and _digest(path, _algorithm(file_hash, hash_algorithm)) != file_hash.lower():
        # A warning, not a print: the datasets' `get` prints nothing, yet this must be seen.
        warnings.warn(f"{path} does not match its {_algorithm(file_hash, hash_algorithm)} hash: "
                      "downloading it again.", stacklevel=2)
        return False
    if check:
        try:
            check(path)
        except Exception as err:
            warnings.warn(f"{path} is not right ({err}): downloading it again.", stacklevel=2)
            return False
    return True


def _digest(path, algorithm):
    """The hex digest of a file, read in chunks (GloVe's zip is 822 MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url, part, file_hash, hash_algorithm, timeout, quiet):
    """Let Keras download `url` to `part` (always afresh), hash-checked, with a socket timeout."""
    import keras  # Keras (and its backend) loads only when something is downloaded
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urlretrieve has no timeout of its own
    # An absolute cache_subdir makes get_file write exactly there, never into a /tmp fallback.
    folder = str(part.parent.resolve())
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            keras.utils.get_file(part.name, url, file_hash=file_hash, hash_algorithm=hash_algorithm,
                                 cache_dir=folder, cache_subdir=folder, force_download=True)
    finally:
        socket.setdefaulttimeout(old)


def _reason(err):
    """What went wrong, in words: the network's own reason rather than Keras's wrapper."""
    inner = err.__context__ if isinstance(err.__context__, urllib.error.URLError) else err
    if isinstance(inner, urllib.error.HTTPError):
        return f"HTTP {inner.code} {inner.reason}"
    if isinstance(inner, urllib.error.URLError):
        return str(inner.reason)
    return str(err) or type(err).__name__


def _algorithm(file_hash, hash_algorithm):
    """The hash algorithm Keras uses for `file_hash`: sha256 for 64 hex digits, else md5."""
    if hash_algorithm != "auto":
        return hash_algorithm
    return "sha256" if len(file_hash) == 64 else "md5"


def _message(dest, url, reason, file_hash, hash_algorithm):
    """The one error a failed download gives: which file, from where, why, and what to do."""
    pinned = (f" (its {_algorithm(file_hash, hash_algorithm)} must be {file_hash})"
              if file_hash else "")
    return (f"Could not download {dest.name} from {url}: {reason.rstrip('.')}.\n"
            f"Nothing was kept: run again to retry, or download it by hand and put it at "
            f"{dest}{pinned}.")
