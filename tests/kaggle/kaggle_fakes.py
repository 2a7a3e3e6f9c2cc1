"""Simulated Kaggle for the tests of utils.kaggle: hand-made zips and 7z archives, a fake API
client, and a loopback Kaggle that the installed kaggle client really talks to.

`use_api` puts a fake client in place of the API; the fixtures that isolate a test or point the
installed client at a loopback server are in conftest.py beside this file.
"""
import zipfile
from pathlib import Path

import py7zr

import utils.kaggle as kg

from loopback import Reply

COMP = "dogs-vs-cats-redux-kernels-edition"
REAL_CONNECT = kg.api.connect
COMPETITIONS_API = "/v1/competitions.CompetitionApiService/"
INTROSPECT = "/v1/security.OAuthService/IntrospectToken"
CAT, DOG, TEST1 = b"cat-jpeg-bytes" * 50, b"dog-jpeg-bytes" * 50, b"test-jpeg-bytes" * 50
SAMPLE = b"id,label\n1,0.5\n2,0.5\n"


def write_zip(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def write_7z(path, files, method="LZMA"):
    """A 7z archive compressed with `method`, as Fisheries ships its stage-2 test photos."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(path, "w", filters=[{"id": getattr(py7zr, f"FILTER_{method}")}]) as z:
        for name, data in files.items():
            z.writestr(data, name)
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
    assert (folder / kg.fetching.MARKER).exists()
    assert not list(folder.glob(kg.fetching.PARTIAL + "*"))


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
    monkeypatch.setattr(kg.api, "connect", lambda: api)
    return api


def kaggle_json(home, name="kaggle.json", folder=".kaggle"):
    """A legacy kaggle.json token, readable by its owner only."""
    path = home / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"username": "student", "key": "s3cr3t-key"}')
    path.chmod(0o600)
    return path


def serve_download(server, competition, body):
    """Answer the client's DownloadDataFiles with a redirect to the zip, as Kaggle does."""
    server.files[f"/files/{competition}.zip"] = body
    server.routes[COMPETITIONS_API + "DownloadDataFiles"] = [
        Reply(302, headers={"Location": server.url(f"/files/{competition}.zip")})]
