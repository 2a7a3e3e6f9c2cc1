"""Kaggle API access: the student's credentials, an authenticated client, and its errors.

`connect` gives an authenticated KaggleApi; `call` runs one of its methods. Every failure a student
can fix (no or broken credentials, rules not accepted, no network, a full or read-only disk)
becomes a `KaggleError` whose message says what to do, without a traceback attached. The client
itself decides what counts as credentials; the kit only words what it finds. Callers look the
client up as `api.connect()` at call time, so tests replace it in this one place.
"""
import contextlib
import errno
import http.client
import io
import json
import os
import re
import socket
import stat
import sys
import time
import warnings
from email.utils import parsedate_to_datetime
from pathlib import Path

from utils.paths import WRITABLE_DATA, cannot_write
from utils.versions import package_version

# The first kaggle release that answers with snake_case objects (public_score, error_description;
# 1.6 answered camelCase) and logs in with an access token (KAGGLE_API_TOKEN, ~/.kaggle/access_token)
# that it keeps: 1.8.0-1.8.3 already read the token, but their login at import removes
# KAGGLE_API_TOKEN from the environment, so every later login fails. requirements-lessons.txt says so.
KAGGLE_MIN = "1.8.4"
SETTINGS_URL = "https://www.kaggle.com/settings/api"
NO_CREDENTIALS = "No Kaggle API credentials found."
# How to make credentials, the one text every message, `make doctor` and the stand-in banners use.
TOKEN_HOWTO = (
    f'  1. Sign in at {SETTINGS_URL} and click "Generate New Token" (under "API Tokens").\n'
    "  2. Save the token it shows in ~/.kaggle/access_token and run: chmod 600 ~/.kaggle/access_token\n"
    "     (or set the environment variable KAGGLE_API_TOKEN to it).\n"
    '  Legacy credentials still work: "Create Legacy API Key" on the same page downloads a kaggle.json;\n'
    "  move it to ~/.kaggle/kaggle.json (or into the folder named by $KAGGLE_CONFIG_DIR) and chmod 600\n"
    "  it, or set the environment variables KAGGLE_USERNAME and KAGGLE_KEY.")
_warned = set()


class KaggleError(RuntimeError):
    """A Kaggle problem the student can fix; the message says how, `status` is the HTTP status."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status  # the HTTP status Kaggle answered, None when it was not an HTTP error


def how_to_get(competition, note=""):
    """The stand-in banner's lines on getting a competition's real data; lessons 1-5, 7."""
    return (f"Real data: accept the rules at kaggle.com/competitions/{competition},\n"
            'make a Kaggle API token (kaggle.com/settings/api: "Generate New Token"), save it\n'
            "in ~/.kaggle/access_token or KAGGLE_API_TOKEN (or use a legacy ~/.kaggle/kaggle.json),\n"
            f"then run with DATA='full'{note}.")


# ---------------------------------------------------------------------------------------------
# Credentials: the kaggle client decides what is one; the kit only words what it finds


def credentials_present():
    """True when the kaggle client will find credentials (the key is never shown); make doctor."""
    return credentials_problem() is None


def credentials_problem():
    """None when the kaggle client will find credentials, else one line saying what is missing or
    wrong. Offline: an access token is checked by Kaggle on first use."""
    for path in _token_files():
        _warn_if_readable(path)
    if _access_token()[0] or _oauth_login():
        return None
    return _legacy_problem()


def _access_token():
    """(token, where the client found it) by the client's own lookup, or (None, None)."""
    try:
        from kagglesdk import get_access_token_from_env  # the client loads only when Kaggle is called
    except ImportError:  # no kaggle installed: connect() says so
        return None, None
    return get_access_token_from_env()


def _oauth_login():
    """True when `kaggle auth login` left credentials the client can refresh."""
    try:
        from kagglesdk import KaggleCredentials  # the client loads only when Kaggle is called
    except ImportError:
        return False
    return KaggleCredentials.load(client=None) is not None


def _config_dir():
    # kaggle's own rule for where kaggle.json lives: $KAGGLE_CONFIG_DIR, else ~/.kaggle, else (on
    # Linux, while ~/.kaggle does not exist) the XDG folder.
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return Path(os.environ["KAGGLE_CONFIG_DIR"])
    dot = Path.home() / ".kaggle"
    if sys.platform.startswith("linux") and not dot.exists():
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kaggle"
    return dot


def _legacy_problem():
    """None when the client will find a username and key, else what is missing or misplaced."""
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if user and key:
        return None
    path = _config_dir() / "kaggle.json"
    if path.is_file():  # kaggle reads it, and the variables override its entries
        return _kaggle_json_problem(path, {"username": user, "key": key})
    unread = [p for p in _kaggle_json_places() if p.is_file() and p != path]
    if unread:
        return f"{unread[0]} is not read: kaggle reads {path} instead. Move the file there."
    if user or key:
        have, lack = ("KAGGLE_USERNAME", "KAGGLE_KEY") if user else ("KAGGLE_KEY", "KAGGLE_USERNAME")
        return f"{have} is set but {lack} is not: set both (or use an access token)."
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


def _kaggle_json_places():
    """Every folder a kaggle.json is put in by some instructions, the client's or not."""
    home = Path.home()
    places = [home / ".kaggle", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        places.insert(0, Path(os.environ["KAGGLE_CONFIG_DIR"]))
    return [folder / "kaggle.json" for folder in places]


def _token_files():
    dot = Path.home() / ".kaggle"
    files = [_config_dir() / "kaggle.json"] + [dot / n for n in ("access_token", "access_token.txt",
                                                                 "credentials.json")]
    return [p for p in files if p.is_file()]


def _warn_if_readable(path):
    if path in _warned or os.name != "posix":
        return
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _warned.add(path)
        warnings.warn(f"{path} can be read by other users of this machine; "
                      f"protect your Kaggle key with: chmod 600 {path}", stacklevel=3)


def _credentials_help(problem=NO_CREDENTIALS):
    return f"{problem}\n{TOKEN_HOWTO}"


def _refused_help(what, status=None):
    """The message for credentials Kaggle refused: expired or revoked, and how to make new ones."""
    code = f" (HTTP {status})" if status else ""
    return f"Kaggle refused {what}{code}: it has expired or was revoked. Make a new one:\n{TOKEN_HOWTO}"


def _token_source(source):
    return {"KAGGLE_API_V1_TOKEN": "this Kaggle Notebook's session (KAGGLE_API_V1_TOKEN)",
            "access_token": "~/.kaggle/access_token"}.get(source, source)


def _not_accepted(problem):
    """Why the client found nothing it could use, with what to do."""
    token, source = _access_token()
    if token:  # the client asked Kaggle about it and was told it is not active
        return _refused_help(f"the access token from {_token_source(source)}")
    if problem is None and _client_looked_elsewhere():
        return ("kaggle found no credentials, though they are set up now: kaggle looks for"
                " kaggle.json in the folder it chose when first imported. Restart the kernel (or"
                " Python) and run again.")
    return _credentials_help(problem or NO_CREDENTIALS)


def _client_looked_elsewhere():
    """True when the imported client reads kaggle.json from another place than it would now."""
    module = sys.modules.get("kaggle.api.kaggle_api_extended")
    looked = getattr(getattr(module, "KaggleApi", None), "config", None)
    return looked is not None and Path(looked) != _config_dir() / "kaggle.json"


def _release(version):
    return tuple(int(n) for n in re.match(r"\d+(?:\.\d+)*", version).group().split("."))


def _check_version():
    version = package_version("kaggle")
    if version is not None and _release(version) < _release(KAGGLE_MIN):
        raise KaggleError(f"kaggle {version} is older than {KAGGLE_MIN}, the first release whose"
                          " answers the kit reads and that logs in with Kaggle's access tokens."
                          f" Upgrade it: pip install -U 'kaggle>={KAGGLE_MIN}', then restart the"
                          " kernel (or Python).") from None


def connect():
    """An authenticated KaggleApi, or KaggleError saying how to set up credentials."""
    _check_version()
    problem = credentials_problem()  # words the message below; warns about open token files
    # Importing kaggle authenticates at once and prints a help banner when it finds no credentials;
    # that banner would land in notebook outputs, so it is swallowed and replaced by our message.
    # authenticate() then ends with exit(1), a SystemExit that `except Exception` would miss.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            # the client reads credentials at import: only when Kaggle is called
            from kaggle.api.kaggle_api_extended import KaggleApi
            api = KaggleApi()
            api.authenticate()
    except ImportError as exc:
        raise KaggleError(f"The kaggle package cannot be imported ({exc}):"
                          f" pip install -U 'kaggle>={KAGGLE_MIN}'") from None
    except SystemExit:
        raise KaggleError(_not_accepted(problem)) from None
    except Exception as exc:  # an access token is checked online: a network error, or a 401
        raise (translate(exc, "") or KaggleError(f"{_not_accepted(problem)}\n"
                                                 f"(kaggle said: {type(exc).__name__}: {exc})")) from None
    return api


def fields(answer, names, what):
    """The attributes `names` of one of the client's answers, or KaggleError for another shape."""
    missing = [name for name in names if not hasattr(answer, name)]
    if missing:
        raise KaggleError(f"kaggle {package_version('kaggle')} answered {what} with a"
                          f" {type(answer).__name__} that has no {', '.join(missing)}: the kit reads"
                          f" the answers of kaggle>={KAGGLE_MIN}. Upgrade it: pip install -U"
                          f" 'kaggle>={KAGGLE_MIN}', then restart the kernel (or Python).")
    return [getattr(answer, name) for name in names]


# ---------------------------------------------------------------------------------------------
# Errors


def http_status(exc):
    """The HTTP status an error carries, or None when it is not an HTTP error."""
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
        import requests  # the client's own HTTP packages, only when Kaggle is called
        kinds += [requests.exceptions.ConnectionError, requests.exceptions.Timeout]
    with contextlib.suppress(ImportError):
        import urllib3  # the client's own HTTP packages, only when Kaggle is called
        kinds.append(urllib3.exceptions.HTTPError)
    return tuple(kinds)


def _cut_errors():
    # An answer whose connection dropped half-way: short of its announced length, or JSON that
    # stops mid-way (requests' JSONDecodeError is a json.JSONDecodeError).
    kinds = [http.client.IncompleteRead, json.JSONDecodeError]
    with contextlib.suppress(ImportError):
        import requests  # the client's own HTTP packages, only when Kaggle is called
        kinds += [requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError]
    with contextlib.suppress(ImportError):
        import urllib3  # the client's own HTTP packages, only when Kaggle is called
        kinds.append(urllib3.exceptions.ProtocolError)
    return tuple(kinds)


def passing(exc):
    """True for a failure that passes, so that another try may work: Kaggle busy (429, 5xx), the
    network down, or an answer cut off half-way."""
    status = http_status(exc)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(exc, _cut_errors() + _network_errors())


def retry_after(exc):
    """The seconds Kaggle asked to wait in a Retry-After header, or None."""
    value = (getattr(getattr(exc, "response", None), "headers", None) or {}).get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):  # the other form: an HTTP date
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


def by_hand(competition, path):
    """How to get the data without the API: the words that end several messages."""
    return (f"download the data by hand from https://www.kaggle.com/competitions/{competition}/data"
            f" (signed in, rules accepted) and put the zip in {path}")


def translate(exc, competition, path=None):
    """The KaggleError a student can act on for `exc`, or None when it is not a known case."""
    status = http_status(exc)
    url = f"https://www.kaggle.com/competitions/{competition}"
    if status == 401:
        return KaggleError(_refused_help("your API token or key", status), status)
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
    where = f", or {by_hand(competition, path)}" if path else ""
    if isinstance(exc, _cut_errors()):  # before the network errors: urllib3 counts it as one
        return KaggleError(f"Kaggle's answer for '{competition}' was cut off ({type(exc).__name__}):"
                           f" the connection dropped half-way. Check the connection and re-run (a"
                           f" download picks up where it stopped){where}.")
    if isinstance(exc, _network_errors()):
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
