"""utils.kaggle.fetching against simulated Kaggle: hand-made zips, a mounted input folder, a fake API.

Nothing here reaches the network: the installed kaggle client talks to a loopback server only.
"""
import errno
import os
import socket
import zipfile
from pathlib import Path
from types import SimpleNamespace

import py7zr
import pytest
import requests

import utils.kaggle as kg

from kaggle_fakes import (
    CAT,
    COMP,
    DOG,
    SAMPLE,
    FakeApi,
    FakeResponse,
    assert_clean_error,
    assert_extracted,
    competition_zip,
    inner_zips,
    kaggle_json,
    serve_download,
    use_api,
    write_7z,
    write_zip,
)

pytestmark = pytest.mark.usefixtures("isolated")


# ---------------------------------------------------------------------------------------------
# fetch: zips already on disk


def test_fetch_extracts_hand_downloaded_competition_zip_and_its_inner_zips(data):
    competition_zip(data / f"{COMP}.zip")
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    # A user's download and the zips inside it are kept.
    assert {p.name for p in data.glob("*.zip")} == {f"{COMP}.zip", "train.zip", "test.zip"}
    assert set((data / kg.fetching.MARKER).read_text().split()) == {f"{COMP}.zip", "train.zip", "test.zip"}


def test_fetch_extracts_loose_inner_zips_into_an_explicit_path(tmp_path):
    folder = tmp_path / "elsewhere"
    inner_zips(folder)
    assert kg.fetch(COMP, path=folder) == folder
    assert_extracted(folder)


def test_fetch_leaves_a_complete_folder_alone(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    kg.fetch(COMP)
    marker_mtime = (data / kg.fetching.MARKER).stat().st_mtime_ns
    (data / "train" / "cat.0.jpg").write_bytes(b"edited by the student")

    def no_unzip(*args, **kwargs):
        raise AssertionError("a zip was opened")
    monkeypatch.setattr(kg.fetching.zipfile, "ZipFile", no_unzip)
    assert kg.fetch(COMP) == data
    assert (data / kg.fetching.MARKER).stat().st_mtime_ns == marker_mtime
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
    assert not (data / kg.fetching.MARKER).exists()
    assert not (data / "train").exists()  # half a zip never reaches its final place
    assert (data / f"{kg.fetching.PARTIAL}train.zip" / "train" / "cat.0.jpg").exists()

    monkeypatch.setattr(zipfile.ZipFile, "extract", real_extract)
    assert kg.fetch(COMP) == data
    assert_extracted(data)


def test_fetch_replaces_stale_partial_folders_and_half_written_files(data):
    inner_zips(data)
    (data / f"{kg.fetching.PARTIAL}train.zip" / "train").mkdir(parents=True)
    (data / f"{kg.fetching.PARTIAL}train.zip" / "train" / "cat.0.jpg").write_bytes(b"trunc")
    (data / "train").mkdir()
    (data / "train" / "dog.0.jpg").write_bytes(b"trunc")
    kg.fetch(COMP)
    assert_extracted(data)


def test_fetch_does_not_reextract_zips_finished_before_a_crash(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    write_marker = kg.fetching._write_marker

    def crash(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(kg.fetching, "_write_marker", crash)
    with pytest.raises(KeyboardInterrupt):
        kg.fetch(COMP)
    monkeypatch.setattr(kg.fetching, "_write_marker", write_marker)
    opened, real = [], zipfile.ZipFile

    def spy(file, *args, **kwargs):
        opened.append(Path(file).name)
        return real(file, *args, **kwargs)
    monkeypatch.setattr(kg.fetching.zipfile, "ZipFile", spy)
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
    assert not (data / kg.fetching.MARKER).exists()
    assert not list(data.glob(kg.fetching.PARTIAL + "*"))


def test_fetch_checks_free_disk_space_before_extracting(data, monkeypatch):
    competition_zip(data / f"{COMP}.zip")
    monkeypatch.setattr(kg.fetching.shutil, "disk_usage",
                        lambda p: SimpleNamespace(total=100, used=90, free=10))
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert "Not enough disk space" in message and str(data) in message and "needed" in message
    assert not (data / kg.fetching.MARKER).exists() and not (data / "train").exists()


def test_fetch_turns_a_full_disk_during_extraction_into_a_kaggle_error(data, monkeypatch):
    inner_zips(data)

    def disk_full(self, member, path=None, pwd=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(zipfile.ZipFile, "extract", disk_full)
    with pytest.raises(kg.KaggleError, match="disk is full") as caught:
        kg.fetch(COMP)
    assert_clean_error(caught.value)
    assert not (data / kg.fetching.MARKER).exists()


# ---------------------------------------------------------------------------------------------
# fetch: 7z archives beside the zips (Fisheries' stage-2 test photos come as test_stg2.7z)

STAGE2 = {"test_stg2/image_00001.jpg": b"stage-2-jpeg" * 40,
          "test_stg2/image_00002.jpg": b"more" * 90}


def assert_stage2(folder):
    for name, body in STAGE2.items():
        assert (folder / name).read_bytes() == body and not (folder / name).is_symlink()


# Kaggle's file is said to be LZMA-compressed; 7-Zip's own default is LZMA2: both are read.
@pytest.mark.parametrize("method", ["LZMA", "LZMA2"])
def test_fetch_extracts_a_7z_archive_beside_the_zips(data, method):
    inner_zips(data)
    archive = write_7z(data / "test_stg2.7z", STAGE2, method)
    with py7zr.SevenZipFile(archive) as z:
        assert z.archiveinfo().method_names == [method]
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    assert_stage2(data)
    assert "test_stg2.7z" in (data / kg.fetching.MARKER).read_text().split()
    assert archive.is_file()  # kept, like the user's zips


@pytest.mark.parametrize("damage", ["truncated", "bad-crc"])
def test_a_damaged_7z_is_one_clear_error_and_extracted_whole_once_replaced(data, tmp_path, damage):
    inner_zips(data)
    good = write_7z(tmp_path / "good.7z", STAGE2).read_bytes()
    raw = bytearray(good)
    if damage == "truncated":  # a download cut short
        raw = raw[: len(raw) // 2]
    else:  # bytes flipped in the packed stream, which follows the 32-byte signature header
        for i in range(40, 50):
            raw[i] ^= 0xFF
    archive = data / "test_stg2.7z"
    archive.write_bytes(bytes(raw))
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert str(archive) in message and "Delete it" in message and "download it again" in message
    assert_clean_error(caught.value)
    assert not (data / "test_stg2").exists() and not (data / kg.fetching.MARKER).exists()
    assert not list(data.glob(kg.fetching.PARTIAL + "*"))
    archive.write_bytes(good)  # the student downloads it again
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    assert_stage2(data)


def test_an_interrupted_7z_extraction_never_reaches_its_place_and_is_redone(data, monkeypatch):
    inner_zips(data)
    write_7z(data / "test_stg2.7z", STAGE2)
    real = py7zr.SevenZipFile.extractall

    def stop_after(self, path=None, **kwargs):
        real(self, path=path, **kwargs)
        raise KeyboardInterrupt  # the student pressed stop
    monkeypatch.setattr(py7zr.SevenZipFile, "extractall", stop_after)
    with pytest.raises(KeyboardInterrupt):
        kg.fetch(COMP)
    assert not (data / "test_stg2").exists() and not (data / kg.fetching.MARKER).exists()
    monkeypatch.setattr(py7zr.SevenZipFile, "extractall", real)
    assert kg.fetch(COMP) == data
    assert_stage2(data)
    assert not list(data.glob(kg.fetching.PARTIAL + "*"))


def test_a_mounted_7z_is_extracted_into_path_and_the_mount_never_written(tmp_path, data,
                                                                         monkeypatch):
    mounted = tmp_path / "input" / COMP
    inner_zips(mounted)
    write_7z(mounted / "test_stg2.7z", STAGE2)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    before = tree(mounted)
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    assert_stage2(data)  # real files in the data folder, not links into the mount
    assert not os.path.lexists(data / "test_stg2.7z")  # read where it is, like the zips
    assert tree(mounted) == before


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
    with pytest.warns(UserWarning, match=f"Using the files already extracted in {data}"):
        assert kg.fetch(COMP) == data
    assert (data / "train" / "cat.0.jpg").read_bytes() == b"extracted by hand"
    assert not (data / "test").exists()


def test_a_half_linked_mount_is_finished_not_taken_as_extracted_by_hand(tmp_path, data, monkeypatch):
    inner_zips(tmp_path / "input" / COMP)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    def crash(*args):
        raise KeyboardInterrupt
    with monkeypatch.context() as mp:
        mp.setattr(kg.fetching, "_extract", crash)
        with pytest.raises(KeyboardInterrupt):
            kg.fetch(COMP)
    assert (data / "sample_submission.csv").exists() and not (data / kg.fetching.MARKER).exists()
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
    monkeypatch.setattr(kg.fetching.shutil, "disk_usage",
                        lambda p: SimpleNamespace(total=2**30, used=0, free=2**30))
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
     [f"https://www.kaggle.com/competitions/{COMP}/rules", "accept them", "phone", "re-run"]),
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
    assert not (data / kg.fetching.MARKER).exists()


def test_fetch_lets_unknown_api_errors_through(monkeypatch):
    use_api(monkeypatch, FakeApi(ValueError("No competition specified")))
    with pytest.raises(ValueError, match="No competition specified"):
        kg.fetch(COMP)


# ---------------------------------------------------------------------------------------------
# Never losing data, nor taking half-done work for finished


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
    assert not list(data.glob(kg.fetching.PARTIAL + "*")) and not (data / kg.fetching.MARKER).exists()


def test_an_interrupted_extraction_whose_zip_was_deleted_is_not_marked_complete(data, monkeypatch):
    """Extraction stopped half way (the scratch folder is still there), then the student deleted
    the zip: the folder looks extracted by hand, but it is not complete."""
    (data / "train").mkdir(parents=True)
    (data / "train" / "cat.0.jpg").write_bytes(CAT)
    (data / f"{kg.fetching.PARTIAL}train.zip" / "train").mkdir(parents=True)
    (data / f"{kg.fetching.PARTIAL}train.zip" / "train" / "dog.0.jpg").write_bytes(DOG[:10])

    def no_credentials():
        raise kg.KaggleError("No Kaggle API credentials found (test).")
    monkeypatch.setattr(kg.api, "connect", no_credentials)
    with pytest.raises(kg.KaggleError, match="interrupted and its zip is gone") as caught:
        kg.fetch(COMP)
    assert "put the zip in" in str(caught.value)
    assert not (data / kg.fetching.MARKER).exists()


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


def test_a_403_names_both_causes_with_the_rules_url(data, monkeypatch):
    use_api(monkeypatch, FakeApi(requests.exceptions.HTTPError("403", response=FakeResponse(403))))
    with pytest.raises(kg.KaggleError) as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert f"https://www.kaggle.com/competitions/{COMP}/rules" in message
    assert "phone" in message and "https://www.kaggle.com/settings" in message


# ---------------------------------------------------------------------------------------------
# The installed kaggle client against a loopback Kaggle


def test_the_real_client_downloads_through_fetch(tmp_path, data, kaggle_server):
    kaggle_json(tmp_path / "home")
    zip_bytes = competition_zip(tmp_path / "served" / f"{COMP}.zip").read_bytes()
    serve_download(kaggle_server, COMP, zip_bytes)
    assert kg.fetch(COMP) == data
    assert_extracted(data)
    path, headers, _ = kaggle_server.posts[-1]
    assert path.endswith("/DownloadDataFiles") and headers["Authorization"].startswith("Basic ")


def test_a_download_cut_mid_body_is_one_clear_error_and_a_rerun_resumes(tmp_path, data,
                                                                         kaggle_server):
    kaggle_json(tmp_path / "home")
    zip_bytes = competition_zip(tmp_path / "served" / f"{COMP}.zip").read_bytes()
    serve_download(kaggle_server, COMP, zip_bytes)
    kaggle_server.mode = "cut"  # every try: the length announced, the connection closed half-way
    with pytest.raises(kg.KaggleError, match="cut off") as caught:
        kg.fetch(COMP)
    message = str(caught.value)
    assert "re-run" in message and str(data) in message and "by hand" in message
    assert_clean_error(caught.value)
    assert not (data / kg.fetching.MARKER).exists()
    assert kg.fetching._zips(data) == []  # the half zip is never taken for a whole one
    kaggle_server.mode = "good"
    assert kg.fetch(COMP) == data
    assert_extracted(data)
