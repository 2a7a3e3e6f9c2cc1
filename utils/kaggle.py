"""Kaggle plumbing for the lessons: get a competition's data, build a checked submission, send it.

`fetch` gives a folder under the data folder holding a competition's files, extracted, whichever
way they arrive: mounted read-only by Kaggle Notebooks (linked, never written to), a zip downloaded
by hand from the website, or the Kaggle API. Work is
resumable: every zip is extracted into a hidden scratch folder and moved into place only when
complete, and the marker file `.fetched` is written last, so a run that was interrupted never looks
finished and the next run picks up where it stopped. (A folder you extracted yourself, with no zip
left in it, is taken as it is.)

`make_submission` writes a CSV only once it matches the competition's sample submission, and
`submit` sends it. Every failure a student can fix (no credentials, rules not accepted, no network,
a full disk, a broken zip) becomes a `KaggleError` whose message says what to do, without a
traceback attached.
"""
import contextlib
import errno
import io
import json
import os
import shutil
import socket
import stat
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from utils.paths import data_dir

# Where Kaggle Notebooks mount competition data; DL1_KAGGLE_INPUT moves it (tests, other hosts).
KAGGLE_INPUT = Path("/kaggle/input")
MARKER = ".fetched"        # written last: the folder is complete
DONE_LIST = ".extracted"   # zips already extracted, one per line, so re-runs skip them
PARTIAL = ".partial-"      # prefix of the scratch folder a zip is extracted into
STARTED = ".fetching"      # the kit began filling the folder (removed with MARKER's writing)
PROGRESS_MIN_BYTES = 20 * 2**20  # smaller zips extract too fast for a progress bar to help

NO_CREDENTIALS = "No Kaggle API credentials found."
_UPLOAD_FAILED = "Could not submit to competition"  # kaggle 2.x returns this instead of raising
_warned = set()


class KaggleError(RuntimeError):
    """A Kaggle problem the student can fix; the message says how."""


class SubmissionError(ValueError):
    """A submission that does not match the sample submission; the message lists every reason."""


# ---------------------------------------------------------------------------------------------
# Credentials


def credentials_present():
    """True when usable Kaggle API credentials are set up (the key is never shown); make doctor."""
    return credentials_problem() is None


def credentials_problem():
    """None when Kaggle API credentials are set up, else one line saying what is missing or wrong."""
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if (user and key) or os.environ.get("KAGGLE_API_TOKEN"):
        return None
    found = [p for p in _credential_files() if p.is_file()]
    for p in found:
        _warn_if_readable(p)
    if any(p.name != "kaggle.json" for p in found):  # kaggle 2.x's token files: its own format
        return None
    if found:  # kaggle reads the first kaggle.json it finds; the variables override its entries
        return _kaggle_json_problem(found[0], {"username": user, "key": key})
    if user or key:
        have, lack = ("KAGGLE_USERNAME", "KAGGLE_KEY") if user else ("KAGGLE_KEY", "KAGGLE_USERNAME")
        return f"{have} is set but {lack} is not: set both (or use a kaggle.json token)."
    return NO_CREDENTIALS


def _kaggle_json_problem(path, overrides):
    """What is wrong with a kaggle.json, or None; the key itself is never put in a message."""
    try:
        entries = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        return (f"{path} is not a valid token file ({type(exc).__name__}: it must be the JSON"
                ' {"username": ..., "key": ...} that Kaggle downloads).')
    if not isinstance(entries, dict):
        return f'{path} must hold {{"username": ..., "key": ...}}, not a {type(entries).__name__}.'
    missing = [k for k in ("username", "key") if not (overrides.get(k) or entries.get(k))]
    if missing:
        return f"{path} has no {' and no '.join(repr(k) for k in missing)} entry."
    return None


def _credential_files():
    # kaggle reads kaggle.json from $KAGGLE_CONFIG_DIR when set, else ~/.kaggle, else (Linux, new
    # installs) the XDG folder; kaggle 2.x also takes an API token file and OAuth credentials.
    home = Path.home()
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        dirs = [Path(os.environ["KAGGLE_CONFIG_DIR"])]
    else:
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        dirs = [home / ".kaggle", xdg / "kaggle"]
    files = [d / "kaggle.json" for d in dirs]
    return files + [home / ".kaggle" / name for name in ("access_token", "credentials.json")]


def _warn_if_readable(path):
    if path in _warned or os.name != "posix":
        return
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _warned.add(path)
        warnings.warn(f"{path} can be read by other users of this machine; "
                      f"protect your Kaggle key with: chmod 600 {path}", stacklevel=3)


def _credentials_help(problem=NO_CREDENTIALS):
    return (f"{problem}\n"
            '  1. Sign in at https://www.kaggle.com/settings and, under "API", click "Create New Token";'
            " a kaggle.json file downloads.\n"
            "  2. Move it to ~/.kaggle/kaggle.json (or into the folder named by $KAGGLE_CONFIG_DIR)"
            " and run: chmod 600 ~/.kaggle/kaggle.json\n"
            "  Or set the environment variables KAGGLE_USERNAME and KAGGLE_KEY"
            " (kaggle 2.x also accepts a token in KAGGLE_API_TOKEN).")


def _api():
    """An authenticated KaggleApi, or KaggleError saying how to set up credentials."""
    problem = credentials_problem()
    if problem is not None:  # named here: kaggle itself says "not found" for all of these
        raise KaggleError(_credentials_help(problem)) from None
    # Importing kaggle authenticates at once and prints a help banner when it finds no credentials;
    # that banner would land in notebook outputs, so it is swallowed and replaced by our message.
    # authenticate() then ends with exit(1), a SystemExit that `except Exception` would miss.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from kaggle.api.kaggle_api_extended import KaggleApi
            api = KaggleApi()
            api.authenticate()
    except ImportError:
        raise KaggleError("The kaggle package is missing: pip install kaggle") from None
    except SystemExit:
        raise KaggleError(_credentials_help()) from None
    except Exception as exc:  # an expired token is checked online, so this may be a network error
        raise (_translate(exc, "") or KaggleError(f"{_credentials_help()}\n({exc})")) from None
    return api


# ---------------------------------------------------------------------------------------------
# Errors


def _http_status(exc):
    # requests puts the status on .response; kagglesdk and others may put it on the error itself.
    for obj in (exc, getattr(exc, "response", None)):
        for name in ("status_code", "status", "code"):
            value = getattr(obj, name, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
    return None


def _network_errors():
    kinds = [ConnectionError, TimeoutError, socket.gaierror, socket.herror]
    with contextlib.suppress(ImportError):
        import requests
        kinds += [requests.exceptions.ConnectionError, requests.exceptions.Timeout]
    with contextlib.suppress(ImportError):
        import urllib3
        kinds.append(urllib3.exceptions.HTTPError)
    return tuple(kinds)


def _by_hand(competition, path):
    return (f"download the data by hand from https://www.kaggle.com/competitions/{competition}/data"
            f" (signed in, rules accepted) and put the zip in {path}")


def _translate(exc, competition, path=None):
    """The KaggleError a student can act on for `exc`, or None when it is not a known case."""
    status = _http_status(exc)
    url = f"https://www.kaggle.com/competitions/{competition}"
    if status == 401:
        return KaggleError(f"Kaggle rejected your credentials (HTTP 401); the key may be expired.\n"
                           f"{_credentials_help()}")
    if status == 403:
        return KaggleError(f"Kaggle refused access to '{competition}' (HTTP 403): you have not accepted"
                           f" the competition's rules yet. Open {url}/rules, sign in with the account"
                           f" your API token belongs to, accept the rules, then re-run.")
    if status == 404:
        return KaggleError(f"Kaggle has no competition named '{competition}' (HTTP 404); check the name"
                           f" (it is the last part of the competition's URL, e.g. {url}).")
    if status is not None:
        return KaggleError(f"Kaggle answered HTTP {status} for '{competition}': {exc}. Try again later.")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return KaggleError(f"The disk is full{f' at {path}' if path else ''}; free some space"
                           " or point DL1_DATA at a bigger disk, then re-run.")
    if isinstance(exc, _network_errors()):
        where = f", or {_by_hand(competition, path)}" if path else ""
        return KaggleError(f"Cannot reach kaggle.com (no network?): {type(exc).__name__}."
                           f" Check the connection{where}; then re-run.")
    return None


def _call(fn, competition, path=None, /, **kwargs):
    try:
        return fn(**kwargs)
    except Exception as exc:
        err = _translate(exc, competition, path)
        if err is None:
            raise
        raise err from None


# ---------------------------------------------------------------------------------------------
# Fetching data


def fetch(competition, path=None, use_mounted=True):
    """Folder under the data folder with a competition's files extracted; lessons 1-4, 7.

    Sources, in this order: a folder fetched before (or extracted by hand) at `path`, the
    Kaggle Notebooks mount, a zip downloaded by hand into `path`, the Kaggle API. A mount is
    never written to: its zips are extracted into `path` and its other files linked there.
    """
    path = Path(path) if path is not None else data_dir() / competition
    try:
        return _fetch(competition, path, use_mounted)
    except OSError as exc:
        err = _folder_error(exc, path)
        if err is None:
            raise
        raise err from None


def _fetch(competition, path, use_mounted):
    if (path / MARKER).exists():
        return path
    if path.is_dir() and not _zips(path) and _extracted_by_hand(path):
        print(f"Using the files already extracted in {path} (no zip to check them against).")
        _write_marker(path, set())
        return path
    mounted = mounted_input(competition) if use_mounted else None
    if mounted is not None:
        _started(path)
        _link_tree(mounted, path)
        _extract_all(path, sorted(mounted.glob("*.zip")))
        return path
    if not (path.is_dir() and _zips(path)):
        _download(competition, path)
    _extract_all(path)
    return path


def _folder_error(exc, path, fix="point DL1_DATA at a folder you can write to"
                                   " (on Kaggle Notebooks: under /kaggle/working)"):
    """The KaggleError for a folder that cannot be written (read-only, no permission, full)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _translate(exc, "", path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return KaggleError(f"Cannot write to {exc.filename or path} ({exc.strerror}): {fix},"
                           " then re-run.")
    return None


def _started(path):
    # Written before the kit puts anything in `path`: a folder it left half done is never taken
    # for one the student extracted by hand.
    path.mkdir(parents=True, exist_ok=True)
    (path / STARTED).touch()


def _extracted_by_hand(path):
    """True when a folder holds data files but no zip, and the kit never worked in it."""
    if _unfinished(path):
        return False
    return any(not e.name.startswith(".") and not e.name.endswith((".zip", ".kaggle-partial"))
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
        if src.is_dir() or (len(rel.parts) == 1 and src.suffix.lower() == ".zip"):
            continue
        target = path / rel
        if not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(src)


def _zips(path):
    """Zips under `path` that are complete files, outside scratch and hidden folders."""
    found = []
    for z in sorted(path.rglob("*.zip")):
        hidden = any(part.startswith(".") for part in z.relative_to(path).parts)
        # kaggle keeps `<zip>.kaggle-partial` beside a download it has not finished: not a zip yet.
        if z.is_file() and not hidden and not Path(f"{z}.kaggle-partial").exists():
            found.append(z)
    return found


def _download(competition, path):
    try:
        api = _api()
    except KaggleError as err:
        # Zips deleted after an interrupted extraction: say so, as the folder looks nearly done.
        gone = (f"The extraction into {path} was interrupted and its zip is gone, so it cannot be"
                " finished.\n" if _unfinished(path) else "")
        raise KaggleError(f"{gone}{err}\nOr {_by_hand(competition, path)}, then re-run.") from None
    _started(path)  # only now: without credentials the data folder stays as it was
    size = _remote_size(api, competition)
    if size:
        _need_space(size, path)
    _call(api.competition_download_files, competition, path,
          competition=competition, path=str(path), quiet=False)
    if not _zips(path):
        raise KaggleError(f"Kaggle's download of '{competition}' left no zip in {path}; re-run, or "
                          f"{_by_hand(competition, path)}.")


def _remote_size(api, competition):
    # Only a hint for the disk check: an error here resurfaces from the download itself.
    try:
        listing = api.competition_list_files(competition)
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
            _extract(z, z.parent if z.is_relative_to(path) else path)
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
            raise _translate(exc, "", dest) from None
        raise
    try:
        for entry in list(scratch.iterdir()) if scratch.exists() else []:
            _move(entry, dest / entry.name, zip_path)
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


# ---------------------------------------------------------------------------------------------
# Submissions


def do_clip(arr, mx):
    """Clip probabilities to [(1-mx)/(k-1), mx] for k classes (1-D or one column: k=2); lessons 1, 4, 7."""
    # Log loss charges -log(p) for the true class: a confident wrong answer (p -> 0) costs without
    # bound and one such row can sink the whole score, while capping confidence costs a little on
    # the rows we got right. The lower bound spreads 1-mx over the other k-1 classes.
    arr = np.asarray(arr, dtype=float)
    k = arr.shape[-1] if arr.ndim == 2 and arr.shape[-1] > 1 else 2
    if not 1 / k <= mx <= 1:
        raise ValueError(f"mx must lie in [1/{k}, 1] for {k} classes, got {mx}")
    return np.clip(arr, (1 - mx) / (k - 1), mx)


def make_submission(ids, probs, sample_submission, out_csv, clip=None):
    """Write a submission CSV shaped and checked like the sample submission; lessons 1, 4, 7."""
    sample = read_sample(sample_submission)
    preds, problems = _prediction_table(ids, probs, sample, clip)
    if not problems:  # a table of the wrong shape makes the row checks meaningless
        problems = _id_problems(preds.index, sample) + _value_problems(preds)
    if problems:
        raise SubmissionError("Submission refused, nothing written:\n  - " + "\n  - ".join(problems))
    table = preds.loc[[_id_key(i) for i in sample.iloc[:, 0]]]
    table.insert(0, sample.columns[0], list(sample.iloc[:, 0]))
    out = _write_csv(table, Path(out_csv))
    print(f"Wrote {len(table)} rows x {table.shape[1]} columns ({', '.join(table.columns[:4])}"
          f"{', ...' if table.shape[1] > 4 else ''}) to {out}")
    return out


def read_sample(sample):
    """A sample submission as text columns, or SubmissionError saying what is wrong with the file."""
    if isinstance(sample, pd.DataFrame):
        return sample
    again = "fetch the competition's data again (or download it from its Data page)"
    try:
        table = pd.read_csv(sample, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        raise SubmissionError(f"{sample} is not UTF-8 text, as Kaggle's sample submissions are;"
                              f" it was changed or damaged: {again}.") from None
    except pd.errors.EmptyDataError:
        raise SubmissionError(f"{sample} is empty: {again}.") from None
    except pd.errors.ParserError as exc:
        raise SubmissionError(f"{sample} is not a readable CSV ({exc}): {again}.") from None
    if table.shape[1] < 2:
        raise SubmissionError(f"{sample} has {table.shape[1]} column(s); a sample submission has an"
                              f" id column and at least one prediction column: {again}.")
    return table


def _id_key(value):
    # Ids are compared as text, so 1, 1.0, "1" and " 1" all mean the same row.
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value).strip()


def _prediction_table(ids, probs, sample, clip):
    """Predictions as a float table indexed by id key, named like the sample, plus any problems."""
    columns = list(sample.columns[1:])
    keys = [_id_key(i) for i in ids]
    if isinstance(probs, pd.DataFrame):
        if sorted(map(str, probs.columns)) != sorted(columns):
            return pd.DataFrame(), [f"wrong columns: predictions have {list(probs.columns)},"
                                    f" the sample has {columns}"]
        probs = probs[columns]
    try:
        values = np.asarray(probs, dtype=float)
    except (TypeError, ValueError):
        return pd.DataFrame(), ["predictions are not numbers"]
    values = values.reshape(-1, 1) if values.ndim == 1 else values
    if values.ndim != 2 or values.shape[1] != len(columns):
        return pd.DataFrame(), [f"wrong columns: predictions have shape {values.shape}, the sample has"
                                f" {len(columns)} prediction column(s) {columns}"]
    if len(keys) != len(values):
        return pd.DataFrame(), [f"{len(keys)} ids but {len(values)} rows of predictions"]
    values = _apply_clip(values, clip)
    return pd.DataFrame(values, index=pd.Index(keys, name=None), columns=columns), []


def _apply_clip(values, clip):
    if clip is None:
        return values
    if np.isscalar(clip):
        clipped = do_clip(values, clip)
    else:
        clipped = np.clip(values, *clip)
    # NaN and inf stay as they are, so the checks still catch them instead of clipping inf away.
    return np.where(np.isfinite(values), clipped, values)


def _examples(items, n=3):
    items = list(items)
    return ", ".join(map(repr, items[:n])) + (", ..." if len(items) > n else "")


def _id_problems(keys, sample):
    problems = []
    wanted = [_id_key(i) for i in sample.iloc[:, 0]]
    counts = pd.Series(list(keys), dtype=object).value_counts()
    missing = [k for k in wanted if k not in counts.index]
    extra = sorted(set(counts.index) - set(wanted))
    doubled = list(counts[counts > 1].index)
    if missing:
        problems.append(f"{len(missing)} of the sample's {len(wanted)} ids are missing"
                        f" (e.g. {_examples(missing)})")
    if extra:
        problems.append(f"{len(extra)} ids are not in the sample (e.g. {_examples(extra)})")
    if doubled:
        problems.append(f"{len(doubled)} ids appear more than once (e.g. {_examples(doubled)})")
    return problems


def _value_problems(preds):
    values = preds.to_numpy()
    problems = []
    checks = [(np.isnan(values), "are NaN"), (np.isinf(values), "are infinite"),
              (np.isfinite(values) & ((values < 0) | (values > 1)), "lie outside [0, 1]")]
    for bad, what in checks:
        rows = bad.any(axis=1)
        if rows.any():
            problems.append(f"{int(bad.sum())} predictions {what} (ids {_examples(preds.index[rows])})")
    return problems


def _write_csv(table, out):
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)  # a half-written file is never left behind, nor taken for ours
        err = (_folder_error(exc, out.parent, "write the submission to a folder you can write to")
               if isinstance(exc, OSError) else None)
        if err is None:
            raise
        raise err from None
    return out


def submit(csv, competition, message):
    """Send a submission CSV to a Kaggle competition and return the API's answer; lessons 1, 4, 7."""
    csv = Path(csv)
    if not csv.is_file():
        raise KaggleError(f"No submission file at {csv}; write it with make_submission() first.")
    if csv.suffix.lower() != ".csv" or not _has_csv_header(csv):
        raise KaggleError(f"{csv} is not a CSV with a header row; write it with make_submission().")
    api = _api()
    result = _call(api.competition_submit, competition,
                   file_name=str(csv), message=message, competition=competition)
    if getattr(result, "message", None) == _UPLOAD_FAILED:
        raise KaggleError(f"Uploading {csv} to '{competition}' failed; check the connection and re-run.")
    return result


def _has_csv_header(csv):
    try:
        return len(pd.read_csv(csv, nrows=1).columns) >= 2
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return False
