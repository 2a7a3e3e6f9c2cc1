"""utils.kaggle.api: credentials found, checked and named, the real client against a fake kaggle
package and against a loopback Kaggle, and the errors a student can act on.

Nothing here reaches the network: the installed kaggle client talks to a loopback server only.
"""
import errno
import importlib.util
import sys
import textwrap
import warnings
from types import SimpleNamespace

import pytest
import requests

import utils.kaggle as kg
from utils.paths import ROOT

from kaggle_fakes import COMP, COMPETITIONS_API, INTROSPECT, FakeResponse, assert_clean_error, kaggle_json
from loopback import Reply

pytestmark = pytest.mark.usefixtures("isolated")


# ---------------------------------------------------------------------------------------------
# The real api.connect() against a fake kaggle package


BANNER = "Authentication required to call the Kaggle API."
TOKEN = '{"username": "student", "key": "s3cr3t-key"}'


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
    for text in ["https://www.kaggle.com/settings", "Generate New Token", "~/.kaggle/kaggle.json",
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
                                                                   env, expected, kaggle_server):
    if token is not None:
        path = tmp_path / "home" / ".kaggle" / "kaggle.json"
        path.parent.mkdir(parents=True)
        path.write_text(token)
        path.chmod(0o600)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert not kg.credentials_present()  # what `make doctor` prints as present or MISSING
    assert expected in kg.credentials_problem()
    with pytest.raises(kg.KaggleError, match=expected) as caught:
        kg.api.connect()
    assert "s3cr3t-key" not in str(caught.value) and "Generate New Token" in str(caught.value)
    assert_clean_error(caught.value)


def test_a_kaggle_json_completed_by_an_environment_variable_is_present(tmp_path, monkeypatch):
    path = tmp_path / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"username": "student"}')
    path.chmod(0o600)
    monkeypatch.setenv("KAGGLE_KEY", "k")  # kaggle lets the variable fill in the missing entry
    assert kg.credentials_present() and kg.credentials_problem() is None


def test_make_doctor_names_broken_credentials_as_the_api_would(tmp_path, capsys, monkeypatch):
    from utils import env, jupyter_config
    # the Jupyter line is not what this checks (tests/plumbing check it): no child Python for it
    monkeypatch.setattr(jupyter_config, "summary", lambda: "not what this checks")
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


# ---------------------------------------------------------------------------------------------
# The client's version


def test_the_kaggle_floor_is_the_first_release_with_snake_case_answers_and_access_tokens():
    # 1.7 answers snake_case objects but has no access-token login; 1.8.0-1.8.3 read the token
    # but their import-time login removes KAGGLE_API_TOKEN from the environment; 1.8.4 keeps it.
    lines = (ROOT / "requirements-lessons.txt").read_text().splitlines()
    floor = next(line.split()[0] for line in lines if line.startswith("kaggle"))
    assert floor == "kaggle>=1.8.4"
    assert floor == f"kaggle>={getattr(kg.api, 'KAGGLE_MIN', None)}"


@pytest.mark.parametrize("version", ["1.6.17", "1.7.4.5", "1.8.3"])
def test_an_older_kaggle_client_is_refused_before_any_call(fake_kaggle, monkeypatch, version):
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key")
    fake_kaggle("pass")
    monkeypatch.setattr(kg.api, "package_version", lambda name: version, raising=False)
    with pytest.raises(kg.KaggleError, match=rf"kaggle {version} is older than 1\.8\.4") as caught:
        kg.api.connect()
    assert "pip install -U 'kaggle>=1.8.4'" in str(caught.value)
    assert_clean_error(caught.value)


# ---------------------------------------------------------------------------------------------
# Credentials as the installed client sees them, against a loopback Kaggle


ACTIVE = Reply(body={"active": True, "username": "student"})


def _token_file(path, token):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)


@pytest.mark.parametrize("where", ["Kaggle Notebooks session", "access_token.txt",
                                   "access_token", "KAGGLE_API_TOKEN"])
def test_every_token_the_client_takes_is_taken(where, tmp_path, monkeypatch, kaggle_server):
    home, token = tmp_path / "home", "KGAT_token-for-the-test"
    if where == "Kaggle Notebooks session":
        _token_file(tmp_path / "kaggle-session" / "token", token)
        monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
        monkeypatch.setenv("KAGGLE_DATA_PROXY_URL", "http://127.0.0.1:9")
        monkeypatch.setenv("KAGGLE_API_V1_TOKEN", str(tmp_path / "kaggle-session" / "token"))
    elif where == "KAGGLE_API_TOKEN":
        monkeypatch.setenv("KAGGLE_API_TOKEN", token)
    else:
        _token_file(home / ".kaggle" / where, token)
    kaggle_server.routes[INTROSPECT] = [ACTIVE]
    kaggle_server.routes[COMPETITIONS_API + "ListSubmissions"] = [Reply(body={"submissions": []})]
    assert kg.credentials_present() and kg.credentials_problem() is None
    client = kg.api.connect()
    assert client.competition_submissions(competition=COMP) == []
    path, headers, _ = kaggle_server.posts[-1]
    assert path.endswith("/ListSubmissions") and headers["Authorization"] == f"Bearer {token}"


def test_a_kaggle_json_the_client_does_not_read_is_named_not_counted(tmp_path, kaggle_server):
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)  # once ~/.kaggle exists, kaggle reads only that folder
    unread = kaggle_json(home, folder=".config/kaggle")
    assert not kg.credentials_present()
    assert str(unread) in kg.credentials_problem()
    with pytest.raises(kg.KaggleError) as caught:
        kg.api.connect()
    message = str(caught.value)
    assert str(unread) in message and str(home / ".kaggle" / "kaggle.json") in message
    assert "s3cr3t-key" not in message
    assert_clean_error(caught.value)


def test_credentials_made_after_kaggle_was_imported_ask_for_a_restart(tmp_path, kaggle_server):
    with pytest.raises(kg.KaggleError, match=kg.NO_CREDENTIALS):
        kg.api.connect()  # kaggle, imported now, chose the XDG folder: ~/.kaggle did not exist
    kaggle_json(tmp_path / "home")
    assert kg.credentials_present()
    with pytest.raises(kg.KaggleError, match="Restart the kernel"):
        kg.api.connect()


def test_a_kaggle_json_in_the_xdg_folder_is_read_while_there_is_no_dot_kaggle(tmp_path, kaggle_server):
    kaggle_json(tmp_path / "home", folder=".config/kaggle")
    assert kg.credentials_present()
    kaggle_server.routes[COMPETITIONS_API + "ListSubmissions"] = [Reply(body={"submissions": []})]
    assert kg.api.connect().competition_submissions(competition=COMP) == []
    assert kaggle_server.posts[-1][1]["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("answer", [Reply(401, {"code": 401, "message": "Unauthenticated"}),
                                    Reply(body={"active": False})], ids=["401", "inactive"])
def test_an_expired_or_refused_token_says_so_and_how_to_make_a_new_one(answer, monkeypatch,
                                                                       kaggle_server):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_expired-token")
    kaggle_server.routes[INTROSPECT] = [answer]
    with pytest.raises(kg.KaggleError) as caught:
        kg.api.connect()
    message = str(caught.value)
    assert kg.NO_CREDENTIALS not in message
    assert "expired" in message and "KAGGLE_API_TOKEN" in message
    assert "Generate New Token" in message and "KGAT_expired-token" not in message
    assert_clean_error(caught.value)


def test_a_legacy_key_refused_later_says_so_not_that_none_was_found(tmp_path, data, kaggle_server):
    kaggle_json(tmp_path / "home")
    kaggle_server.routes[COMPETITIONS_API + "DownloadDataFiles"] = [
        Reply(401, {"code": 401, "message": "Unauthenticated"})]
    with pytest.raises(kg.KaggleError, match="HTTP 401") as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert kg.NO_CREDENTIALS not in message and "kaggle.json" in message
    assert "Generate New Token" in message


def test_an_open_access_token_file_warns_without_showing_the_token(tmp_path):
    path = tmp_path / "home" / ".kaggle" / "access_token"
    _token_file(path, "KGAT_open-token")
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600") as caught:
        assert kg.credentials_present()
    assert "KGAT_open-token" not in str(caught[0].message)


# ---------------------------------------------------------------------------------------------
# Today's instructions: the access token first, kaggle.json kept as the legacy way


def _leads_with_the_access_token(text):
    assert "Create New Token" not in text
    new = text.index("Generate New Token")
    assert "access_token" in text and "KAGGLE_API_TOKEN" in text
    assert "kaggle.json" not in text or text.index("kaggle.json") > new


def test_the_credentials_message_leads_with_the_access_token(kaggle_server):
    with pytest.raises(kg.KaggleError, match=kg.NO_CREDENTIALS) as caught:
        kg.api.connect()
    _leads_with_the_access_token(str(caught.value))
    assert "kaggle.json" in str(caught.value) and "KAGGLE_USERNAME" in str(caught.value)


def test_doctor_says_how_to_make_a_token_when_there_is_none(capsys, monkeypatch):
    from utils import env
    # the versions, GPUs and Jupyter lines are not what this checks: no TensorFlow start-up
    monkeypatch.setattr(env, "setup", lambda quiet: SimpleNamespace(backend="tensorflow",
                                                                    platform="colab", gpus=[]))
    env.doctor()
    out = capsys.readouterr().out
    assert "credentials MISSING" in out
    _leads_with_the_access_token(out[out.index("credentials MISSING"):])


def test_readme_leads_with_the_access_token():
    readme = (ROOT / "README.md").read_text()
    _leads_with_the_access_token(readme[readme.index("## Real data on a GPU box"):])


@pytest.mark.parametrize("module", ["dogscats", "statefarm", "fisheries", "digitrecognizer",
                                    "disastertweets"])
def test_each_kaggle_datasets_how_to_get_leads_with_the_access_token(module):
    import importlib
    _leads_with_the_access_token(importlib.import_module(f"utils.datasets.{module}").HOW_TO_GET)
