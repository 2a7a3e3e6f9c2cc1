"""Kaggle API access: the student's credentials, an authenticated client, and its errors.

`connect` gives an authenticated KaggleApi; `call` runs one of its methods. Every failure a student
can fix (no or broken credentials, rules not accepted, no network, a full or read-only disk)
becomes a `KaggleError` whose message says what to do, without a traceback attached. Callers look
the client up as `api.connect()` at call time, so tests replace it in this one place.
"""
import contextlib
import errno
import io
import json
import os
import socket
import stat
import warnings
from pathlib import Path

from utils.paths import WRITABLE_DATA, cannot_write

NO_CREDENTIALS = "No Kaggle API credentials found."
_warned = set()


class KaggleError(RuntimeError):
    """A Kaggle problem the student can fix; the message says how, `status` is the HTTP status."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status  # the HTTP status Kaggle answered, None when it was not an HTTP error


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


def connect():
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
        raise (translate(exc, "") or KaggleError(f"{_credentials_help()}\n({exc})")) from None
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


def by_hand(competition, path):
    """How to get the data without the API: the words that end several messages."""
    return (f"download the data by hand from https://www.kaggle.com/competitions/{competition}/data"
            f" (signed in, rules accepted) and put the zip in {path}")


def translate(exc, competition, path=None):
    """The KaggleError a student can act on for `exc`, or None when it is not a known case."""
    status = _http_status(exc)
    url = f"https://www.kaggle.com/competitions/{competition}"
    if status == 401:
        return KaggleError(f"Kaggle rejected your credentials (HTTP 401); the key may be expired.\n"
                           f"{_credentials_help()}", status)
    if status == 403:
        return KaggleError(f"Kaggle refused access to '{competition}' (HTTP 403). Two things cause"
                           f" this: the competition's rules are not accepted yet (open {url}/rules,"
                           " signed in with the account your API token belongs to, and accept them),"
                           " or your account's phone number is not verified (verify it at"
                           " https://www.kaggle.com/settings). Then re-run.", status)
    if status == 404:
        return KaggleError(f"Kaggle has no competition named '{competition}' (HTTP 404); check the name"
                           f" (it is the last part of the competition's URL, e.g. {url}).", status)
    if status is not None:
        return KaggleError(f"Kaggle answered HTTP {status} for '{competition}': {exc}. Try again later.",
                           status)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return KaggleError(f"The disk is full{f' at {path}' if path else ''}; free some space"
                           " or point DL1_DATA at a bigger disk, then re-run.")
    if isinstance(exc, _network_errors()):
        where = f", or {by_hand(competition, path)}" if path else ""
        return KaggleError(f"Cannot reach kaggle.com (no network?): {type(exc).__name__}."
                           f" Check the connection{where}; then re-run.")
    return None


def call(fn, competition, path=None, /, **kwargs):
    """`fn(**kwargs)`, one of the API's methods, with its known errors raised as KaggleErrors."""
    try:
        return fn(**kwargs)
    except Exception as exc:
        err = translate(exc, competition, path)
        if err is None:
            raise
        raise err from None


def folder_error(exc, path, fix=WRITABLE_DATA):
    """The KaggleError for a folder that cannot be written (read-only, no permission, full)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return translate(exc, "", path)
    words = cannot_write(exc, path, fix)
    return KaggleError(words) if words else None
