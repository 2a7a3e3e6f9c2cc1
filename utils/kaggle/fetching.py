"""A competition's data, fetched and extracted: `fetch`; lessons 1-5, 7.

Not kagglehub.competition_download (1.0.3): it downloads into its own cache outside DL1_DATA or,
given output_dir, refuses a folder that is not empty (a zip downloaded by hand, a cut download) and
with force_download empties it; it extracts only the outer zip, in place, and looks for credentials
its own way (no kaggle.json in the XDG folder the kaggle client reads). On Kaggle Notebooks it gives
the same read-only mount `mounted_input` finds, after a call to Kaggle's data proxy.

`fetch` gives a folder under the data folder holding a competition's files, extracted, whichever
way they arrive: mounted read-only by Kaggle Notebooks (linked, never written to), a zip downloaded
by hand from the website, or the Kaggle API. Work is resumable: every zip is extracted into a
hidden scratch folder and moved into place only when complete (so is a 7z archive, the way Fisheries
ships its stage-2 test photos: `sevenzip`), and the marker file `.fetched` is
written last, so a run that was interrupted never looks finished and the next run picks up where
it stopped. (A folder you extracted yourself, with no zip left in it, is taken as it is.)
"""
import errno
import os
import shutil
import warnings
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from utils.kaggle import api, sevenzip
from utils.kaggle.api import KaggleError
from utils.paths import data_dir

# Where Kaggle Notebooks mount competition data; DL1_KAGGLE_INPUT moves it (tests, other hosts).
KAGGLE_INPUT = Path("/kaggle/input")
MARKER = ".fetched"        # written last: the folder is complete
DONE_LIST = ".extracted"   # zips already extracted, one per line, so re-runs skip them
PARTIAL = ".partial-"      # prefix of the scratch folder a zip is extracted into
STARTED = ".fetching"      # the kit began filling the folder (removed with MARKER's writing)
PROGRESS_MIN_BYTES = 20 * 2**20  # smaller zips extract too fast for a progress bar to help
ARCHIVES = (".zip", sevenzip.SUFFIX)  # what is extracted; everything else is data as it is


def fetch(competition, path=None, use_mounted=True):
    """Folder under the data folder with a competition's files extracted; lessons 1-5, 7.

    Sources, in this order: a folder fetched before (or extracted by hand) at `path`, the
    Kaggle Notebooks mount, a zip downloaded by hand into `path`, the Kaggle API. A mount is
    never written to: its zips are extracted into `path` and its other files linked there.
    """
    path = Path(path) if path is not None else data_dir() / competition
    try:
        return _fetch(competition, path, use_mounted)
    except OSError as exc:
        err = api.folder_error(exc, path)
        if err is None:
            raise
        raise err from None


def _fetch(competition, path, use_mounted):
    if (path / MARKER).exists():
        return path
    if path.is_dir() and not _zips(path) and _extracted_by_hand(path):
        # A warning, not a print: the datasets' `get` prints nothing, yet this must be seen.
        warnings.warn(f"Using the files already extracted in {path} (no zip to check them against).",
                      stacklevel=2)
        _write_marker(path, set())
        return path
    mounted = mounted_input(competition) if use_mounted else None
    if mounted is not None:
        _started(path)
        _link_tree(mounted, path)
        _extract_all(path, sorted(f for f in mounted.iterdir() if f.suffix.lower() in ARCHIVES))
        return path
    if not (path.is_dir() and _zips(path)):
        _download(competition, path)
    _extract_all(path)
    return path


def _started(path):
    # Written before the kit puts anything in `path`: a folder it left half done is never taken
    # for one the student extracted by hand.
    path.mkdir(parents=True, exist_ok=True)
    (path / STARTED).touch()


def _extracted_by_hand(path):
    """True when a folder holds data files but no zip, and the kit never worked in it."""
    if _unfinished(path):
        return False
    return any(not e.name.startswith(".") and not e.name.endswith((*ARCHIVES, ".kaggle-partial"))
               for e in path.iterdir())


def _unfinished(path):
    """True when the kit began extracting into `path` and did not finish (a crash, a stop)."""
    return path.is_dir() and any([(path / STARTED).exists(), (path / DONE_LIST).exists(),
                                  any(path.glob(PARTIAL + "*"))])


def mounted_input(competition):
    """The competition's folder attached to a Kaggle Notebook, or None elsewhere; lessons 1-4, 7."""
    root = Path(os.environ.get("DL1_KAGGLE_INPUT", KAGGLE_INPUT))
    # Newer Kaggle Notebook images mount competitions one level down, under competitions/.
    for folder in (root / competition, root / "competitions" / competition):
        if folder.is_dir():
            return folder
    return None


def _link_tree(mounted, path):
    """Mirror a read-only folder's files (but its top-level zips) in `path` as symlinks.

    The folders are made anew, so preparing a dataset can rename, add and remove entries in
    them (its own links) without touching the mount.
    """
    for src in sorted(mounted.rglob("*")):
        rel = src.relative_to(mounted)
        if src.is_dir() or (len(rel.parts) == 1 and src.suffix.lower() in ARCHIVES):
            continue
        target = path / rel
        if not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(src)


def _zips(path):
    """Zips and 7z archives under `path`: complete files, outside scratch and hidden folders."""
    found = []
    for z in sorted(p for suffix in ARCHIVES for p in path.rglob(f"*{suffix}")):
        hidden = any(part.startswith(".") for part in z.relative_to(path).parts)
        # kaggle keeps `<zip>.kaggle-partial` beside a download it has not finished: not a zip yet.
        if z.is_file() and not hidden and not Path(f"{z}.kaggle-partial").exists():
            found.append(z)
    return found


def _download(competition, path):
    try:
        client = api.connect()
    except KaggleError as err:
        # Zips deleted after an interrupted extraction: say so, as the folder looks nearly done.
        gone = (f"The extraction into {path} was interrupted and its zip is gone, so it cannot be"
                " finished.\n" if _unfinished(path) else "")
        raise KaggleError(f"{gone}{err}\nOr {api.by_hand(competition, path)}, then re-run.",
                          err.status) from None
    _started(path)  # only now: without credentials the data folder stays as it was
    size = _remote_size(client, competition)
    if size:
        _need_space(size, path)
    try:
        api.call(client.competition_download_files, competition, path,
                 competition=competition, path=str(path), quiet=False)
    except BaseException:
        # A cut download that kaggle cannot resume (the server named no version of the file to
        # resume against) is left without its .kaggle-partial marker: it would pass for complete.
        for partial in _zips(path):
            partial.unlink()
        raise
    if not _zips(path):
        raise KaggleError(f"Kaggle's download of '{competition}' left no zip in {path}; re-run, or "
                          f"{api.by_hand(competition, path)}.")


def _remote_size(client, competition):
    # Only a hint for the disk check: an error here resurfaces from the download itself.
    try:
        listing = client.competition_list_files(competition)
        if getattr(listing, "next_page_token", None):
            return None
        return sum(int(f.total_bytes or 0) for f in listing.files)
    except Exception:
        return None


def _need_space(nbytes, path):
    free = shutil.disk_usage(path).free
    if nbytes > free:
        raise KaggleError(f"Not enough disk space in {path}: {_size(nbytes)} needed, {_size(free)} free."
                          " Free some space or point DL1_DATA at a bigger disk, then re-run.")


def _size(nbytes):
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024:
            break
        nbytes /= 1024
    return f"{nbytes:.1f} {unit}"


def _extract_all(path, sources=()):
    """Extract `sources` and every zip under `path`, repeatedly (zips hold zips), then mark complete."""
    _started(path)
    for stale in path.glob(PARTIAL + "*"):
        shutil.rmtree(stale)
    done = set((path / DONE_LIST).read_text().splitlines()) if (path / DONE_LIST).exists() else set()
    while todo := [z for z in [*sources, *_zips(path)] if _key(z, path) not in done]:
        for z in todo:
            unpack = _extract_7z if z.suffix.lower() == sevenzip.SUFFIX else _extract
            unpack(z, z.parent if z.is_relative_to(path) else path)
            with open(path / DONE_LIST, "a") as f:
                f.write(_key(z, path) + "\n")
            done.add(_key(z, path))
    _write_marker(path, done)


def _key(zip_path, path):
    return str(zip_path.relative_to(path)) if zip_path.is_relative_to(path) else str(zip_path)


def _extract(zip_path, dest):
    """Extract one zip into `dest`: all into a scratch folder first, then moved into place."""
    scratch = dest / f"{PARTIAL}{zip_path.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = zf.infolist()
            total = sum(m.file_size for m in members)
            _need_space(total, dest)
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"unzip {zip_path.name}",
                      disable=total < PROGRESS_MIN_BYTES) as bar:
                for member in members:
                    zf.extract(member, scratch)
                    bar.update(member.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise KaggleError(f"{zip_path} is damaged or incomplete ({exc}). Delete it and download it"
                          " again, then re-run.") from None
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise api.translate(exc, "", dest) from None
        raise
    try:
        for entry in list(scratch.iterdir()) if scratch.exists() else []:
            _move(entry, dest / entry.name, zip_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _extract_7z(archive, dest):
    """Extract one 7z archive into `dest` as `_extract` does a zip: whole in scratch, then moved."""
    scratch = dest / f"{PARTIAL}{archive.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    _need_space(sevenzip.unpacked_size(archive), dest)
    sevenzip.extract(archive, scratch)
    try:
        for entry in list(scratch.iterdir()) if scratch.exists() else []:
            _move(entry, dest / entry.name, archive)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move(src, dst, zip_path):
    """Move an extracted entry into place; a folder already there is merged into, never deleted."""
    # Renames are atomic; a folder already there (from another zip or a rerun) is merged into.
    if src.is_dir() and dst.is_dir() and not dst.is_symlink():
        for child in src.iterdir():
            _move(child, dst / child.name, zip_path)
        src.rmdir()
        return
    if dst.is_symlink():
        dst.unlink()  # a link fetch made to a mounted file: the file itself stays where it is
    elif dst.exists() and (src.is_dir() or dst.is_dir()):
        # A file and a folder of the same name: replacing either loses what the student had.
        found, wanted = ("folder", "file") if dst.is_dir() else ("file", "folder")
        raise KaggleError(f"{zip_path} holds a {wanted} {src.name!r} where {dst} is a {found};"
                          f" nothing was deleted. Move {dst} elsewhere (or delete it if it is not"
                          " yours), then re-run.") from None
    os.replace(src, dst)


def _write_marker(path, done):
    tmp = path / f"{MARKER}.tmp"
    tmp.write_text("".join(f"{k}\n" for k in sorted(done)))
    os.replace(tmp, path / MARKER)
    (path / STARTED).unlink(missing_ok=True)


