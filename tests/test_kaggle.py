"""utils.kaggle against simulated Kaggle: hand-made zips, fake API objects, fake kaggle modules.

Nothing here reaches the network; the one test that imports the real kaggle package does so with
an empty home folder and no KAGGLE_* variables, where it finds no credentials and stays offline.
"""
import errno
import os
import importlib.util
import socket
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import requests

import utils.kaggle as kg

COMP = "dogs-vs-cats-redux-kernels-edition"
REAL_API = kg._api
CAT, DOG, TEST1 = b"cat-jpeg-bytes" * 50, b"dog-jpeg-bytes" * 50, b"test-jpeg-bytes" * 50
SAMPLE = b"id,label\n1,0.5\n2,0.5\n"


# ---------------------------------------------------------------------------------------------
# Helpers and fixtures


def write_zip(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def inner_zips(folder):
    """train.zip and test.zip laid out like dogs-vs-cats, plus the sample submission."""
    write_zip(folder / "train.zip", {"train/cat.0.jpg": CAT, "train/dog.0.jpg": DOG})
    write_zip(folder / "test.zip", {"test/1.jpg": TEST1})
    (folder / "sample_submission.csv").write_bytes(SAMPLE)


def competition_zip(path):
    """`<comp>.zip` holding train.zip, test.zip and sample_submission.csv, as Kaggle serves it."""
    parts = path.parent / "parts"
    inner_zips(parts)
    files = {p.name: p.read_bytes() for p in sorted(parts.iterdir())}
    for p in parts.iterdir():
        p.unlink()
    parts.rmdir()
    return write_zip(path, files)


def assert_extracted(folder):
    assert (folder / "train" / "cat.0.jpg").read_bytes() == CAT
    assert (folder / "train" / "dog.0.jpg").read_bytes() == DOG
    assert (folder / "test" / "1.jpg").read_bytes() == TEST1
    assert (folder / "sample_submission.csv").read_bytes() == SAMPLE
    assert (folder / kg.MARKER).exists()
    assert not list(folder.glob(kg.PARTIAL + "*"))


def assert_clean_error(err):
    assert err.__cause__ is None and err.__suppress_context__


class FakeResponse:
    def __init__(self, status_code):
        self.status_code = status_code


class FakeApi:
    """Stands in for an authenticated KaggleApi; `error` makes every call raise it."""

    def __init__(self, error=None, submit_result="ok"):
        self.error, self.submit_result, self.calls = error, submit_result, []

    def competition_download_files(self, competition, path=None, force=False, quiet=True):
        self.calls.append(("download", competition, path, quiet))
        if self.error:
            raise self.error
        competition_zip(Path(path) / f"{competition}.zip")

    def competition_submit(self, file_name, message, competition, quiet=False):
        self.calls.append(("submit", file_name, message, competition))
        if self.error:
            raise self.error
        return self.submit_result


def use_api(monkeypatch, api):
    monkeypatch.setattr(kg, "_api", lambda: api)
    return api


@pytest.fixture(autouse=True)
def isolated(offline_kaggle_env, monkeypatch):
    """Scratch data, home and Kaggle-input folders; no credentials; the API must not be touched."""
    monkeypatch.setattr(kg, "_warned", set())

    def no_api():
        raise AssertionError("the Kaggle API was called")
    monkeypatch.setattr(kg, "_api", no_api)


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data" / COMP


# ---------------------------------------------------------------------------------------------
# fetch: zips already on disk


def test_fetch_extracts_hand_downloaded_competition_zip_and_its_inner_zips(data):
    competition_zip(data / f"{COMP}.zip")
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    # A user's download and the zips inside it are kept.
    assert {p.name for p in data.glob("*.zip")} == {f"{COMP}.zip", "train.zip", "test.zip"}
    assert set((data / kg.MARKER).read_text().split()) == {f"{COMP}.zip", "train.zip", "test.zip"}


def test_fetch_extracts_loose_inner_zips_into_an_explicit_path(tmp_path):
    folder = tmp_path / "elsewhere"
    inner_zips(folder)
    assert kg.fetch(COMP, path=folder) == folder
    assert_extracted(folder)


def test_fetch_leaves_a_complete_folder_alone(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    kg.fetch(COMP)
    marker_mtime = (data / kg.MARKER).stat().st_mtime_ns
    (data / "train" / "cat.0.jpg").write_bytes(b"edited by the student")

    def no_unzip(*args, **kwargs):
        raise AssertionError("a zip was opened")
    monkeypatch.setattr(kg.zipfile, "ZipFile", no_unzip)
    assert kg.fetch(COMP) == data
    assert (data / kg.MARKER).stat().st_mtime_ns == marker_mtime
    assert (data / "train" / "cat.0.jpg").read_bytes() == b"edited by the student"


def test_fetch_recovers_after_a_crash_during_extraction(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    real_extract, seen = zipfile.ZipFile.extract, []

    def crash_on_dog(self, member, path=None, pwd=None):
        seen.append(member.filename)
        if member.filename == "train/dog.0.jpg":
            raise KeyboardInterrupt  # the student pressed stop
        return real_extract(self, member, path, pwd)
    monkeypatch.setattr(zipfile.ZipFile, "extract", crash_on_dog)
    with pytest.raises(KeyboardInterrupt):
        kg.fetch(COMP)
    assert not (data / kg.MARKER).exists()
    assert not (data / "train").exists()  # half a zip never reaches its final place
    assert (data / f"{kg.PARTIAL}train.zip" / "train" / "cat.0.jpg").exists()

    monkeypatch.setattr(zipfile.ZipFile, "extract", real_extract)
    assert kg.fetch(COMP) == data
    assert_extracted(data)


def test_fetch_replaces_stale_partial_folders_and_half_written_files(data):
    inner_zips(data)
    (data / f"{kg.PARTIAL}train.zip" / "train").mkdir(parents=True)
    (data / f"{kg.PARTIAL}train.zip" / "train" / "cat.0.jpg").write_bytes(b"trunc")
    (data / "train").mkdir()
    (data / "train" / "dog.0.jpg").write_bytes(b"trunc")
    kg.fetch(COMP)
    assert_extracted(data)


def test_fetch_does_not_reextract_zips_finished_before_a_crash(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    write_marker = kg._write_marker

    def crash(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(kg, "_write_marker", crash)
    with pytest.raises(KeyboardInterrupt):
        kg.fetch(COMP)
    monkeypatch.setattr(kg, "_write_marker", write_marker)
    opened, real = [], zipfile.ZipFile

    def spy(file, *args, **kwargs):
        opened.append(Path(file).name)
        return real(file, *args, **kwargs)
    monkeypatch.setattr(kg.zipfile, "ZipFile", spy)
    kg.fetch(COMP)
    assert opened == []
    assert_extracted(data)


@pytest.mark.parametrize("damage", ["truncated", "bad-crc"])
def test_fetch_refuses_a_corrupt_zip(data, damage):
    zpath = competition_zip(data / f"{COMP}.zip")
    raw = bytearray(zpath.read_bytes())
    if damage == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        # Flip bytes in the first member's data; the directory stays intact, the CRC does not match.
        with zipfile.ZipFile(zpath) as zf:
            info = zf.infolist()[0]
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        for i in range(start + 5, start + 15):
            raw[i] ^= 0xFF
    zpath.write_bytes(bytes(raw))
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert str(zpath) in message and "Delete it" in message and "download it again" in message
    assert_clean_error(caught.value)
    assert not (data / kg.MARKER).exists()
    assert not list(data.glob(kg.PARTIAL + "*"))


def test_fetch_checks_free_disk_space_before_extracting(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    monkeypatch.setattr(kg.shutil, "disk_usage", lambda p: SimpleNamespace(total=100, used=90, free=10))
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert "Not enough disk space" in message and str(data) in message and "needed" in message
    assert not (data / kg.MARKER).exists() and not (data / "train").exists()


def test_fetch_turns_a_full_disk_during_extraction_into_a_kaggle_error(data, monkeypatch):
    inner_zips(data)

    def disk_full(self, member, path=None, pwd=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(zipfile.ZipFile, "extract", disk_full)
    with pytest.raises(kg.KaggleError, match="disk is full") as caught:
        kg.fetch(COMP)
    assert_clean_error(caught.value)
    assert not (data / kg.MARKER).exists()


# ---------------------------------------------------------------------------------------------
# fetch: Kaggle Notebooks


def tree(folder):
    """Every entry under a folder, and the folder itself, with its size and mtime."""
    return {p.relative_to(folder).as_posix(): (p.is_dir(), p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in (folder, *folder.rglob("*"))}


def test_fetch_links_an_extracted_mount_into_the_data_folder_and_never_writes_there(
        tmp_path, data, monkeypatch):
    """Kaggle Notebooks mount extracted competitions read-only: `fetch` gives a folder under the
    data folder whose own subfolders hold links, so preparing the data can reorganise them."""
    mounted = tmp_path / "input" / COMP
    (mounted / "train").mkdir(parents=True)
    (mounted / "train" / "cat.0.jpg").write_bytes(CAT)
    (mounted / "sample_submission.csv").write_bytes(SAMPLE)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    before = tree(mounted)
    assert kg.fetch(COMP) == data
    assert (data / "train").is_dir() and not (data / "train").is_symlink()
    assert (data / "train" / "cat.0.jpg").resolve() == mounted / "train" / "cat.0.jpg"
    assert (data / "sample_submission.csv").read_bytes() == SAMPLE
    (data / "train" / "cat.0.jpg").rename(data / "train" / "moved.jpg")  # as prepare() does
    assert tree(mounted) == before
    assert kg.fetch(COMP) == data  # complete: left as it is


def test_fetch_takes_a_folder_fetched_before_over_the_mount(tmp_path, data, monkeypatch):
    inner_zips(tmp_path / "input" / COMP)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    (data / "train").mkdir(parents=True)
    (data / "train" / "cat.0.jpg").write_bytes(b"extracted by hand")
    assert kg.fetch(COMP) == data
    assert (data / "train" / "cat.0.jpg").read_bytes() == b"extracted by hand"
    assert not (data / "test").exists()


def test_a_half_linked_mount_is_finished_not_taken_as_extracted_by_hand(tmp_path, data, monkeypatch):
    inner_zips(tmp_path / "input" / COMP)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    def crash(*args):
        raise KeyboardInterrupt
    with monkeypatch.context() as mp:
        mp.setattr(kg, "_extract", crash)
        with pytest.raises(KeyboardInterrupt):
            kg.fetch(COMP)
    assert (data / "sample_submission.csv").exists() and not (data / kg.MARKER).exists()
    assert kg.fetch(COMP) == data
    assert_extracted(data)


def test_fetch_extracts_zips_from_the_read_only_input_folder_into_path(tmp_path, data, monkeypatch):
    mounted = tmp_path / "input" / COMP
    inner_zips(mounted)
    before = sorted(p.name for p in mounted.iterdir())
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    assert sorted(p.name for p in mounted.iterdir()) == before
    assert not list(data.glob("*.zip"))  # the mounted zips are read where they are
    assert kg.fetch(COMP) == data


# ---------------------------------------------------------------------------------------------
# fetch: downloading through the API


def test_fetch_downloads_with_the_api_then_extracts(data, monkeypatch):
    api = use_api(monkeypatch, FakeApi())
    assert kg.fetch(COMP) == data
    assert api.calls == [("download", COMP, str(data), False)]
    assert_extracted(data)
    kg.fetch(COMP)
    assert len(api.calls) == 1


def test_fetch_resumes_an_unfinished_kaggle_download_instead_of_unzipping_it(data, monkeypatch):
    data.mkdir(parents=True)
    (data / f"{COMP}.zip").write_bytes(b"first half of the download")
    (data / f"{COMP}.zip.kaggle-partial").write_text("{}")

    class ResumingApi(FakeApi):
        def competition_download_files(self, competition, path=None, force=False, quiet=True):
            super().competition_download_files(competition, path, force, quiet)
            (Path(path) / f"{competition}.zip.kaggle-partial").unlink()
    api = use_api(monkeypatch, ResumingApi())
    kg.fetch(COMP)
    assert len(api.calls) == 1
    assert_extracted(data)


def test_fetch_checks_disk_space_before_downloading_when_the_size_is_known(data, monkeypatch):
    class ListingApi(FakeApi):
        def competition_list_files(self, competition):
            return SimpleNamespace(files=[SimpleNamespace(total_bytes=5 * 2**30)], next_page_token="")
    api = use_api(monkeypatch, ListingApi())
    monkeypatch.setattr(kg.shutil, "disk_usage", lambda p: SimpleNamespace(total=2**30, used=0, free=2**30))
    with pytest.raises(kg.KaggleError, match=r"5\.0 GB needed, 1\.0 GB free"):
        kg.fetch(COMP)
    assert api.calls == []


class SdkError(Exception):
    """Like an HTTP error of another client library: the status sits on the exception itself."""

    def __init__(self, status_code):
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


API_ERRORS = [
    (requests.exceptions.HTTPError("403 Client Error", response=FakeResponse(403)),
     [f"https://www.kaggle.com/competitions/{COMP}/rules", "accept the rules, then re-run"]),
    (SdkError(403), [f"https://www.kaggle.com/competitions/{COMP}/rules"]),
    (requests.exceptions.HTTPError("404 Client Error", response=FakeResponse(404)),
     ["no competition named", "check the name"]),
    (requests.exceptions.HTTPError("401", response=FakeResponse(401)), ["kaggle.json", "401"]),
    (requests.exceptions.ConnectionError("Max retries exceeded"),
     ["no network", "by hand", f"https://www.kaggle.com/competitions/{COMP}/data"]),
    (socket.gaierror(-3, "Temporary failure in name resolution"), ["no network", "by hand"]),
    (OSError(errno.ENOSPC, "No space left on device"), ["disk is full"]),
]


@pytest.mark.parametrize("error, expected", API_ERRORS, ids=lambda v: type(v).__name__)
def test_fetch_maps_each_api_error_to_one_actionable_message(data, monkeypatch, error, expected):
    use_api(monkeypatch, FakeApi(error))
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    for text in expected:
        assert text in str(caught.value)
    if "by hand" in expected:
        assert str(data) in str(caught.value)
    assert_clean_error(caught.value)
    assert not (data / kg.MARKER).exists()


def test_fetch_lets_unknown_api_errors_through(monkeypatch):
    use_api(monkeypatch, FakeApi(ValueError("No competition specified")))
    with pytest.raises(ValueError, match="No competition specified"):
        kg.fetch(COMP)


# ---------------------------------------------------------------------------------------------
# Credentials: the real _api() against a fake kaggle package


BANNER = "Authentication required to call the Kaggle API."
TOKEN = '{"username": "student", "key": "s3cr3t-key"}'


@pytest.fixture
def fresh_kaggle(monkeypatch):
    """Forget any imported kaggle package so the next import runs its __init__ again."""
    saved = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "kaggle"}
    for name in saved:
        del sys.modules[name]
    monkeypatch.setattr(kg, "_api", REAL_API)
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
        kg._api()
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
        kg._warned.clear()
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


# ---------------------------------------------------------------------------------------------
# Submissions


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample_submission.csv"
    path.write_text("id,label\n" + "".join(f"{i},0.5\n" for i in range(1, 6)))
    return path


def test_make_submission_writes_rows_in_sample_order_and_round_trips(tmp_path, sample, capsys):
    out = tmp_path / "subs" / "first.csv"
    ids = [3, 1, 5, 2, 4]
    probs = [0.3, 0.1, 0.5, 0.2, 0.4]
    assert kg.make_submission(ids, probs, sample, out) == out
    back = pd.read_csv(out)
    assert list(back.columns) == ["id", "label"]
    assert list(back["id"]) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(back["label"], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert "5 rows" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["first.csv"]  # no temporary file left


def test_make_submission_matches_int_and_string_ids(tmp_path, sample):
    out = kg.make_submission(np.array([" 1", "2", "3 ", "4", "5"]), np.full(5, 0.5), sample,
                             tmp_path / "s.csv")
    assert list(pd.read_csv(out)["id"]) == [1, 2, 3, 4, 5]
    out = kg.make_submission(np.arange(1.0, 6.0), np.full(5, 0.5), pd.read_csv(sample),
                             tmp_path / "t.csv")
    assert list(pd.read_csv(out)["id"]) == [1, 2, 3, 4, 5]


GOOD = dict(ids=[1, 2, 3, 4, 5], probs=[0.1, 0.2, 0.3, 0.4, 0.5])
REFUSALS = [
    (dict(ids=[1, 2, 3, 4], probs=[0.1, 0.2, 0.3, 0.4]), "1 of the sample's 5 ids are missing (e.g. '5')"),
    (dict(ids=[1, 2, 3, 4, 4], probs=GOOD["probs"]), "ids appear more than once (e.g. '4')"),
    (dict(ids=[1, 2, 3, 4, 9], probs=GOOD["probs"]), "not in the sample (e.g. '9')"),
    (dict(ids=GOOD["ids"], probs=[0.1, np.nan, 0.3, 0.4, 0.5]), "1 predictions are NaN (ids '2')"),
    (dict(ids=GOOD["ids"], probs=[0.1, 0.2, np.inf, 0.4, 0.5]), "are infinite (ids '3')"),
    (dict(ids=GOOD["ids"], probs=[0.1, 0.2, 0.3, 1.4, -0.5]), "2 predictions lie outside [0, 1]"),
    (dict(ids=GOOD["ids"], probs=np.full((5, 2), 0.5)), "wrong columns"),
    (dict(ids=GOOD["ids"], probs=pd.DataFrame({"is_dog": GOOD["probs"]})), "wrong columns"),
    (dict(ids=GOOD["ids"], probs=[0.1, 0.2]), "5 ids but 2 rows"),
]


@pytest.mark.parametrize("args, reason", REFUSALS)
def test_make_submission_refuses_a_bad_submission_and_writes_nothing(tmp_path, sample, args, reason):
    out = tmp_path / "subs" / "bad.csv"
    with pytest.raises(kg.SubmissionError) as caught:
        kg.make_submission(args["ids"], args["probs"], sample, out)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert not out.exists()


def test_make_submission_lists_every_reason(tmp_path, sample):
    with pytest.raises(ValueError) as caught:
        kg.make_submission([1, 2, 2, 7], [0.1, np.nan, 0.3, 1.5], sample, tmp_path / "bad.csv")
    message = str(caught.value)
    for reason in ["missing", "more than once", "not in the sample", "NaN", "outside [0, 1]"]:
        assert reason in message
    assert not (tmp_path / "bad.csv").exists()


def test_make_submission_clips(tmp_path, sample):
    probs = [0.0, 1.0, 0.5, 0.99, 0.01]
    out = kg.make_submission(GOOD["ids"], probs, sample, tmp_path / "a.csv", clip=0.95)
    np.testing.assert_allclose(pd.read_csv(out)["label"], [0.05, 0.95, 0.5, 0.95, 0.05])
    out = kg.make_submission(GOOD["ids"], probs, sample, tmp_path / "b.csv", clip=(0.02, 0.98))
    np.testing.assert_allclose(pd.read_csv(out)["label"], [0.02, 0.98, 0.5, 0.98, 0.02])
    with pytest.raises(ValueError, match="infinite"):  # clipping must not hide an inf
        kg.make_submission(GOOD["ids"], [np.inf] * 5, sample, tmp_path / "c.csv", clip=0.95)


def test_make_submission_takes_2d_probabilities_for_a_multiclass_sample(tmp_path):
    columns = ["img"] + [f"c{i}" for i in range(10)]
    names = ["img_1.jpg", "img_10.jpg", "img_100.jpg"]
    sample = pd.DataFrame([[n] + [0.1] * 10 for n in names], columns=columns)
    probs = np.eye(10)[[3, 0, 9]]
    out = kg.make_submission(names[::-1], probs[::-1], sample, tmp_path / "sf.csv", clip=0.9)
    back = pd.read_csv(out)
    assert list(back.columns) == columns and list(back["img"]) == names
    np.testing.assert_allclose(back.loc[0, "c3"], 0.9)
    np.testing.assert_allclose(back.loc[0, "c0"], 0.1 / 9)
    np.testing.assert_allclose(back.loc[2, "c9"], 0.9)


def test_do_clip():
    np.testing.assert_allclose(kg.do_clip([0.0, 0.5, 1.0], 0.95), [0.05, 0.5, 0.95])
    clipped = kg.do_clip(np.eye(10), 0.9)
    np.testing.assert_allclose(clipped.max(axis=1), 0.9)
    np.testing.assert_allclose(clipped.min(axis=1), 0.1 / 9)
    np.testing.assert_allclose(kg.do_clip([[0.0], [1.0]], 0.9), [[0.1], [0.9]])  # one column: binary
    with pytest.raises(ValueError):
        kg.do_clip([0.5], 0.3)


# ---------------------------------------------------------------------------------------------
# submit


@pytest.fixture
def csv(tmp_path, sample):
    return kg.make_submission(GOOD["ids"], GOOD["probs"], sample, tmp_path / "sub.csv")


def test_submit_sends_the_file_through_the_api(monkeypatch, csv):
    api = use_api(monkeypatch, FakeApi(submit_result="accepted"))
    assert kg.submit(csv, COMP, "vgg16 fine-tuned") == "accepted"
    assert api.calls == [("submit", str(csv), "vgg16 fine-tuned", COMP)]


@pytest.mark.parametrize("error, expected", [
    (requests.exceptions.HTTPError("403", response=FakeResponse(403)), f"competitions/{COMP}/rules"),
    (requests.exceptions.ConnectionError("down"), "no network"),
])
def test_submit_maps_api_errors(monkeypatch, csv, error, expected):
    use_api(monkeypatch, FakeApi(error))
    with pytest.raises(kg.KaggleError, match=expected) as caught:
        kg.submit(csv, COMP, "try")
    assert_clean_error(caught.value)


def test_submit_reports_a_failed_upload(monkeypatch, csv):
    use_api(monkeypatch, FakeApi(submit_result=SimpleNamespace(message="Could not submit to competition")))
    with pytest.raises(kg.KaggleError, match="failed"):
        kg.submit(csv, COMP, "try")


def test_submit_refuses_a_missing_or_non_csv_file_before_calling_kaggle(tmp_path):
    with pytest.raises(kg.KaggleError, match="No submission file"):
        kg.submit(tmp_path / "nope.csv", COMP, "try")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(kg.KaggleError, match="not a CSV"):
        kg.submit(notes, COMP, "try")


# ---------------------------------------------------------------------------------------------
# Broken credentials, unwritable folders, bad sample submissions: each named precisely


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
    monkeypatch.setattr(kg, "_api", REAL_API)
    assert not kg.credentials_present()  # what `make doctor` prints as present or MISSING
    assert expected in kg.credentials_problem()
    with pytest.raises(kg.KaggleError, match=expected) as caught:
        kg._api()
    assert "s3cr3t-key" not in str(caught.value) and "Create New Token" in str(caught.value)
    assert_clean_error(caught.value)


def test_a_kaggle_json_completed_by_an_environment_variable_is_present(tmp_path, monkeypatch):
    path = tmp_path / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"username": "student"}')
    path.chmod(0o600)
    monkeypatch.setenv("KAGGLE_KEY", "k")  # kaggle lets the variable fill in the missing entry
    assert kg.credentials_present() and kg.credentials_problem() is None


@pytest.mark.parametrize("mine, theirs", [("folder", "file"), ("file", "folder")])
def test_extracting_never_deletes_a_file_or_folder_of_the_same_name(data, mine, theirs):
    if mine == "folder":
        (data / "notes").mkdir(parents=True)
        (data / "notes" / "mine.txt").write_text("my notes")
        write_zip(data / "extra.zip", {"notes": b"the zip's file"})
    else:
        data.mkdir(parents=True)
        (data / "notes").write_text("my notes")
        write_zip(data / "extra.zip", {"notes/theirs.txt": b"the zip's file"})
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert str(data / "extra.zip") in message and str(data / "notes") in message
    assert f"holds a {theirs}" in message and "nothing was deleted" in message
    assert_clean_error(caught.value)
    kept = data / "notes" / "mine.txt" if mine == "folder" else data / "notes"
    assert kept.read_text() == "my notes"
    assert not list(data.glob(kg.PARTIAL + "*")) and not (data / kg.MARKER).exists()


def test_an_interrupted_extraction_whose_zip_was_deleted_is_not_marked_complete(data, monkeypatch):
    """Extraction stopped half way (the scratch folder is still there), then the student deleted
    the zip: the folder looks extracted by hand, but it is not complete."""
    (data / "train").mkdir(parents=True)
    (data / "train" / "cat.0.jpg").write_bytes(CAT)
    (data / f"{kg.PARTIAL}train.zip" / "train").mkdir(parents=True)
    (data / f"{kg.PARTIAL}train.zip" / "train" / "dog.0.jpg").write_bytes(DOG[:10])

    def no_credentials():
        raise kg.KaggleError("No Kaggle API credentials found (test).")
    monkeypatch.setattr(kg, "_api", no_credentials)
    with pytest.raises(kg.KaggleError, match="interrupted and its zip is gone") as caught:
        kg.fetch(COMP)
    assert "put the zip in" in str(caught.value)
    assert not (data / kg.MARKER).exists()


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_an_unwritable_data_folder_is_one_clear_error(data, monkeypatch, code):
    competition_zip(data / f"{COMP}.zip")
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.is_relative_to(data):
            raise OSError(code, os.strerror(code), str(self))
        return real_mkdir(self, *args, **kwargs)
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(kg.KaggleError, match="Cannot write to") as caught:
        kg.fetch(COMP)
    assert "DL1_DATA" in str(caught.value) and "/kaggle/working" in str(caught.value)
    assert_clean_error(caught.value)


def test_a_submission_cut_short_by_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    sample = tmp_path / "sample.csv"
    sample.write_bytes(SAMPLE)
    real_to_csv = pd.DataFrame.to_csv

    def disk_full(self, path, *args, **kwargs):
        Path(path).write_text("id,lab")  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)
    with pytest.raises(kg.KaggleError, match="disk is full"):
        kg.make_submission([1, 2], [0.1, 0.9], sample, tmp_path / "out" / "sub.csv")
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.setattr(pd.DataFrame, "to_csv", real_to_csv)


@pytest.mark.parametrize("content, expected", [
    ("id,label\n1,0.5\nçà,0.5\n".encode("latin-1"), "not UTF-8"),
    (b"", "is empty"),
    (b"id\n1\n2\n", "1 column"),
])
def test_a_bad_sample_submission_says_what_is_wrong(tmp_path, content, expected):
    sample = tmp_path / "sample_submission.csv"
    sample.write_bytes(content)
    with pytest.raises(kg.SubmissionError, match=expected) as caught:
        kg.make_submission([1, 2], [0.1, 0.9], sample, tmp_path / "sub.csv")
    assert str(sample) in str(caught.value) and "fetch the competition's data again" in str(
        caught.value)
    assert not (tmp_path / "sub.csv").exists()


def test_make_doctor_names_broken_credentials_as_the_api_would(tmp_path, capsys):
    from utils import env
    path = tmp_path / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"username": "student"}')
    path.chmod(0o600)
    env.doctor()
    line = next(l for l in capsys.readouterr().out.splitlines() if "credentials" in l)
    assert "BROKEN" in line and "no 'key' entry" in line and "present" not in line
