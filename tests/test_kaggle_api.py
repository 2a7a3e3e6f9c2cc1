"""utils.kaggle.api: credentials found, checked and named, the real client against a fake kaggle
package, and the errors a student can act on.

Nothing here reaches the network; the one test that imports the real kaggle package does so with
an empty home folder and no KAGGLE_* variables, where it finds no credentials and stays offline.
"""
import errno
import importlib.util
import sys
import textwrap
import warnings

import pytest
import requests

import utils.kaggle as kg
from kaggle_fakes import (COMP, FakeResponse, assert_clean_error, data,  # noqa: F401 (fixtures)
                          isolated)

REAL_API = kg.api.connect
pytestmark = pytest.mark.usefixtures("isolated")


# ---------------------------------------------------------------------------------------------
# The real api.connect() against a fake kaggle package


BANNER = "Authentication required to call the Kaggle API."
TOKEN = '{"username": "student", "key": "s3cr3t-key"}'


@pytest.fixture
def fresh_kaggle(monkeypatch):
    """Forget any imported kaggle package so the next import runs its __init__ again."""
    saved = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "kaggle"}
    for name in saved:
        del sys.modules[name]
    monkeypatch.setattr(kg.api, "connect", REAL_API)
    yield
    for name in [n for n in sys.modules if n.split(".")[0] == "kaggle"]:
        del sys.modules[name]
    sys.modules.update(saved)


@pytest.fixture
def fake_kaggle(tmp_path, monkeypatch, fresh_kaggle):
    """A fake kaggle package first on sys.path; install(body) sets what authenticate() does."""
    package = tmp_path / "fake_site" / "kaggle"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text(f"print({BANNER!r})\n")
    (package / "api" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(package.parent))

    def install(authenticate_body):
        (package / "api" / "kaggle_api_extended.py").write_text(textwrap.dedent(f"""
            class KaggleApi:
                def authenticate(self):
                    print({BANNER!r})
                    {authenticate_body}
            """))
    return install


@pytest.mark.parametrize("body", ["raise SystemExit(1)", "raise RuntimeError('no username')"])
def test_missing_credentials_give_one_message_and_no_banner(fake_kaggle, data, capsys, body,
                                                           monkeypatch):
    # complete-looking credentials, so kaggle's own authenticate() runs and refuses them
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", "expired")
    fake_kaggle(body)
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    for text in ["https://www.kaggle.com/settings", "Create New Token", "~/.kaggle/kaggle.json",
                 "KAGGLE_CONFIG_DIR", "chmod 600", "KAGGLE_USERNAME", "KAGGLE_KEY", "by hand", str(data)]:
        assert text in message
    assert_clean_error(caught.value)
    assert capsys.readouterr().out == ""


def test_the_real_kaggle_package_without_credentials(fresh_kaggle, capsys):
    # kaggle 2.x prints its help banner on import and exits from authenticate(); neither may leak.
    if importlib.util.find_spec("kaggle") is None:
        pytest.skip("kaggle is not installed")
    with pytest.raises(kg.KaggleError, match="No Kaggle API credentials found") as caught:
        kg.api.connect()
    assert_clean_error(caught.value)
    assert capsys.readouterr().out == ""


def test_open_kaggle_json_permissions_warn_once_without_showing_the_key(tmp_path):
    token = tmp_path / "home" / ".kaggle" / "kaggle.json"
    token.parent.mkdir(parents=True)
    token.write_text('{"username": "student", "key": "s3cr3t-key"}')
    token.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600") as caught:
        assert kg.credentials_present()
    assert "s3cr3t-key" not in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kg.credentials_present()  # once is enough
        token.chmod(0o600)
        kg.api._warned.clear()
        kg.credentials_present()


def test_credentials_present_reads_env_vars_files_and_nothing(tmp_path, monkeypatch):
    sys.modules.pop("kaggle", None)
    assert not kg.credentials_present()
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    assert not kg.credentials_present()  # a name without a key is not enough
    monkeypatch.setenv("KAGGLE_KEY", "k")
    assert kg.credentials_present()
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")

    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    assert not kg.credentials_present()
    (config / "kaggle.json").write_text(TOKEN)
    (config / "kaggle.json").chmod(0o600)
    assert kg.credentials_present()
    monkeypatch.delenv("KAGGLE_CONFIG_DIR")

    home_json = tmp_path / "home" / ".kaggle" / "kaggle.json"
    home_json.parent.mkdir(parents=True)
    assert not kg.credentials_present()
    home_json.write_text(TOKEN)
    home_json.chmod(0o600)
    assert kg.credentials_present()
    assert "kaggle" not in sys.modules  # cheap: the kaggle package is never imported


@pytest.mark.parametrize("token, env, expected", [
    ('{"username": "student", "key": ', {}, "not a valid token file"),
    ('{"username": "student"}', {}, "no 'key' entry"),
    ('{"key": "s3cr3t-key"}', {}, "no 'username' entry"),
    ('["student", "s3cr3t-key"]', {}, "must hold"),
    (None, {"KAGGLE_USERNAME": "student"}, "KAGGLE_USERNAME is set but KAGGLE_KEY is not"),
    (None, {"KAGGLE_KEY": "s3cr3t-key"}, "KAGGLE_KEY is set but KAGGLE_USERNAME is not"),
])
def test_broken_credentials_are_named_and_never_counted_as_present(tmp_path, monkeypatch, token,
                                                                   env, expected):
    if token is not None:
        path = tmp_path / "home" / ".kaggle" / "kaggle.json"
        path.parent.mkdir(parents=True)
        path.write_text(token)
        path.chmod(0o600)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(kg.api, "connect", REAL_API)
    assert not kg.credentials_present()  # what `make doctor` prints as present or MISSING
    assert expected in kg.credentials_problem()
    with pytest.raises(kg.KaggleError, match=expected) as caught:
        kg.api.connect()
    assert "s3cr3t-key" not in str(caught.value) and "Create New Token" in str(caught.value)
    assert_clean_error(caught.value)


def test_a_kaggle_json_completed_by_an_environment_variable_is_present(tmp_path, monkeypatch):
    path = tmp_path / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"username": "student"}')
    path.chmod(0o600)
    monkeypatch.setenv("KAGGLE_KEY", "k")  # kaggle lets the variable fill in the missing entry
    assert kg.credentials_present() and kg.credentials_problem() is None


def test_make_doctor_names_broken_credentials_as_the_api_would(tmp_path, capsys):
    from utils import env
    path = tmp_path / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"username": "student"}')
    path.chmod(0o600)
    env.doctor()
    line = next(l for l in capsys.readouterr().out.splitlines() if "credentials" in l)
    assert "BROKEN" in line and "no 'key' entry" in line and "present" not in line


# ---------------------------------------------------------------------------------------------
# The errors' HTTP status, one place to replace the client, one façade


class SdkError(Exception):
    """Like an HTTP error of another client library: the status sits on the exception itself."""

    def __init__(self, status_code):
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


@pytest.mark.parametrize("error, status", [
    (requests.exceptions.HTTPError("403 Client Error", response=FakeResponse(403)), 403),
    (SdkError(404), 404),
    (requests.exceptions.HTTPError("500", response=FakeResponse(500)), 500),
    (requests.exceptions.ConnectionError("Max retries exceeded"), None),
    (OSError(errno.ENOSPC, "No space left on device"), None),
])
def test_a_kaggle_error_carries_the_http_status_kaggle_answered(error, status):
    def failing():
        raise error
    with pytest.raises(kg.KaggleError) as caught:
        kg.api.call(failing, COMP)
    assert caught.value.status == status
    assert_clean_error(caught.value)


def test_every_caller_looks_the_client_up_in_api_at_call_time(tmp_path, monkeypatch):
    """Replacing api.connect (as the tests' fixtures do) reaches fetch, submit and the leaderboard."""
    import utils.leaderboard as lb
    calls = []

    def refused():
        calls.append(1)
        raise kg.KaggleError("No Kaggle API credentials found (test).")
    monkeypatch.setattr(kg.api, "connect", refused)
    csv = tmp_path / "sub.csv"
    csv.write_text("id,label\n1,0.5\n")
    callers = [lambda: kg.fetch(COMP), lambda: kg.submit(csv, COMP, "m"),
               lambda: lb.submit_and_rank(csv, COMP, "m", plot=False),
               lambda: lb.wait_for_score(COMP), lambda: lb.leaderboard(COMP)]
    for call in callers:
        with pytest.raises(kg.KaggleError, match=r"found \(test\)"):
            call()
    assert len(calls) == len(callers)


def test_utils_kaggle_gathers_each_modules_public_names():
    import utils
    from utils.kaggle import api, fetching, submission
    assert (utils.fetch, utils.make_submission, utils.submit, utils.do_clip) == (
        fetching.fetch, submission.make_submission, submission.submit, submission.do_clip)
    assert kg.fetch is fetching.fetch and kg.label_submission is submission.label_submission
    assert kg.KaggleError is api.KaggleError and kg.credentials_problem is api.credentials_problem
    assert not hasattr(kg, "_api")  # the client has one home: api.connect
