"""The three Kaggle datasets where users meet them: a read-only Kaggle Notebooks mount, 'sample'.

Each dataset's real layout is made small (a few photos of 16-43 px, written by the stand-in
writers with the stand-in's marker and box files taken away) and mounted as Kaggle Notebooks
does it: extracted, or as the zips Kaggle serves. The mount is made unwritable, and since tests
run as root (who may write anyway) every file's and folder's size and modification time is
compared before and after: creating, renaming or deleting an entry changes its folder's mtime.
"""
import hashlib
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import utils.kaggle as kg
from utils.datasets import dogscats, fisheries, is_standin, statefarm
from utils.datasets.standin import MARKER as STANDIN_MARKER
from utils.images import get_batches
from utils.paths import data_dir, standin_dir

# module, how its tiny real layout is written, get()'s settings for such a small set
DATASETS = {
    "dogscats": (dogscats, lambda d: dogscats.make_standin(d, dogscats.Standin(12, 6, 16), seed=3),
                 dict(valid_size=4, n_sample=(4, 2, 3), standin=dogscats.Standin(20, 8, 16))),
    "statefarm": (statefarm, lambda d: statefarm.make_standin(d, statefarm.Standin(3, 1, 6, (16, 12)), seed=3),
                  dict(valid_size=1, n_sample=(1, 1, 3), standin=statefarm.Standin(3, 1, 6, (16, 12)))),
    "fisheries": (fisheries, lambda d: fisheries.make_standin(d, fisheries.Standin(32, 6, scale=40), seed=3),
                  dict(valid_size=0.25, n_sample=(1, 1, 3), standin=fisheries.Standin(32, 6, 4))),
}


def listing(folder):
    """Every entry under a folder, and the folder itself, with its size, mtime and mode."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): (p.is_dir(), p.lstat().st_size,
                                               p.lstat().st_mtime_ns, p.lstat().st_mode)
            for p in (folder, *folder.rglob("*"))}


def make_read_only(folder):
    """chmod a-w everything (a non-root user could write nothing); root is checked by listing."""
    for p in sorted(Path(folder).rglob("*"), reverse=True) + [Path(folder)]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def unzip_all(folder):
    """Extract every zip in a folder, zips inside zips too, as Kaggle's extracted mounts are."""
    while zips := sorted(Path(folder).rglob("*.zip")):
        for z in zips:
            with zipfile.ZipFile(z) as zf:
                zf.extractall(z.parent)
            z.unlink()


@pytest.fixture(scope="module")
def real_layouts(tmp_path_factory):
    """Each dataset's small real layout in both forms, written once: {(name, form): folder}."""
    made = {}
    for name, (module, write, _) in DATASETS.items():
        for form in ("zipped", "extracted"):
            dest = tmp_path_factory.mktemp(f"{name}-{form}") / module.COMPETITION
            write(dest)
            (dest / STANDIN_MARKER).unlink()
            shutil.rmtree(dest / fisheries.BOX_SUBDIR, ignore_errors=True)
            if form == "extracted":
                unzip_all(dest)
            made[name, form] = dest
    return made


def mount(real_layouts, name, form, root):
    """The dataset attached read-only under `root`, as /kaggle/input/<competition>/."""
    src = real_layouts[name, form]
    dest = Path(shutil.copytree(src, root / src.name))
    make_read_only(dest)
    return dest


def assert_real_record(data, module, mode):
    """Real data, prepared under the data folder, with train/valid/test parts a model can read
    and a sample submission that covers exactly the test images."""
    assert data.standin is False and data.mode == mode and not is_standin(data.path)
    assert data.path.is_relative_to(data_dir() / module.COMPETITION)
    for part in ("train", "valid", "test"):
        images = sorted(data[part].rglob("*.jpg"))
        assert images, part
        for p in images:
            with Image.open(p) as im:  # through any link, back to the mounted file
                im.load()
    test_files = sorted(data["test"].rglob("*.jpg"))
    # named from their place in the test folder: Fisheries' stage-2 photos by their folder too
    assert sorted(data.test_ids) == sorted(module.id_of(p.relative_to(data["test"]))
                                           for p in test_files)
    sample = pd.read_csv(data.sample_submission, dtype=str)
    assert list(sample.iloc[:, 0]) == data.test_ids


@pytest.fixture
def with_credentials(offline_kaggle_env, monkeypatch):
    """Credentials set, but an API that must not be called: the mount is there."""
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)

    def api_must_not_be_used():
        raise AssertionError("the Kaggle API was called although the data is mounted")
    monkeypatch.setattr(kg.api, "connect", api_must_not_be_used)


CONDITIONS = [("auto", "no_kaggle_api"), ("auto", "with_credentials"),
              ("full", "no_kaggle_api"), ("sample", "no_kaggle_api")]


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("form", ["extracted", "zipped"])
@pytest.mark.parametrize("mode, credentials", CONDITIONS)
def test_a_read_only_kaggle_mount_serves_the_real_data_and_is_never_written(
        request, real_layouts, tmp_path, monkeypatch, name, form, mode, credentials):
    request.getfixturevalue(credentials)
    module, _, settings = DATASETS[name]
    mounted = mount(real_layouts, name, form, tmp_path / "kaggle-input")
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "kaggle-input"))
    before = listing(mounted)
    data = module.get(mode, **settings)
    assert_real_record(data, module, "sample" if mode == "sample" else "full")
    assert listing(mounted) == before
    assert not standin_dir().exists()
    assert module.get(mode, **settings) == data  # the second run reuses what the first prepared
    assert listing(mounted) == before


@pytest.mark.parametrize("name", DATASETS)
def test_the_standin_never_takes_files_from_a_mounted_competition(real_layouts, tmp_path,
                                                                  monkeypatch, name, capsys):
    module, _, settings = DATASETS[name]
    mounted = mount(real_layouts, name, "zipped", tmp_path / "kaggle-input")
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "kaggle-input"))
    before = listing(mounted)
    data = module.get("standin", **settings)
    assert data.standin is True and data.mode == "standin" and is_standin(data.path)
    assert capsys.readouterr().out == "" and "STAND-IN DATA" in str(data)  # said by the record
    # the real set's photos (seeded apart from the stand-in's) never reach the stand-in's folder
    assert not digests(real_layouts[name, "extracted"]) & digests(data.path)
    assert not (data_dir() / module.COMPETITION).exists()
    assert listing(mounted) == before


def digests(folder):
    """md5 of every JPEG under a folder."""
    return {hashlib.md5(p.read_bytes()).hexdigest() for p in Path(folder).rglob("*.jpg")}


@pytest.mark.usefixtures("no_kaggle_api")
@pytest.mark.parametrize("name", DATASETS)
def test_auto_without_any_real_source_says_why_and_uses_the_standin(name, capsys):
    module, _, settings = DATASETS[name]
    data = module.get("auto", **settings)
    assert data.standin is True and data.path.is_relative_to(standin_dir())
    assert capsys.readouterr().out == ""  # get prints nothing: the record says why, then the banner
    said = str(data)
    assert "Could not get" in said and "credentials" in said
    assert said.index("credentials") < said.index("STAND-IN DATA")
    assert not (data_dir() / module.COMPETITION).exists()  # nothing half made where data goes


@pytest.mark.usefixtures("no_kaggle_api")
@pytest.mark.parametrize("name", DATASETS)
def test_sample_of_hand_downloaded_zips_runs_to_a_submission(real_layouts, tmp_path, name):
    """DATA='sample' as a lesson uses it: train, valid and test images, then a checked submission
    for the sample's own test images, from the real code path (not the stand-in)."""
    module, _, settings = DATASETS[name]
    shutil.copytree(real_layouts[name, "zipped"], data_dir() / module.COMPETITION)
    full = module.get("full", **settings)
    data = module.get("sample", **settings)
    assert_real_record(data, module, "sample")
    assert data.path.is_relative_to(full.path)
    assert set(data.test_ids) < set(full.test_ids)
    for part in ("train", "valid", "test"):
        assert 0 < len(list(data[part].rglob("*.jpg"))) <= len(list(full[part].rglob("*.jpg")))
    train = get_batches(data["train"], batch_size=4, target_size=(8, 8), shuffle=False)
    test = get_batches(data["test"], batch_size=4, target_size=(8, 8), shuffle=False,
                       class_mode=None)
    assert train.samples and test.samples == len(data.test_ids)
    ids = [module.id_of(f) for f in test.filenames]
    columns = pd.read_csv(data.sample_submission, nrows=0).shape[1] - 1
    probs = np.full((len(ids), columns), 1 / max(columns, 2))
    csv = kg.make_submission(ids, probs[:, 0] if columns == 1 else probs, data.sample_submission,
                             tmp_path / "sub.csv")
    assert sorted(pd.read_csv(csv, dtype=str).iloc[:, 0]) == sorted(data.test_ids)


@pytest.mark.usefixtures("no_kaggle_api")
def test_a_samples_record_counts_the_sample_not_the_full_set(real_layouts):
    shutil.copytree(real_layouts["statefarm", "zipped"], data_dir() / statefarm.COMPETITION)
    _, _, settings = DATASETS["statefarm"]
    data = statefarm.get("sample", **settings)
    assert data.info["counts"] == {part: len(list(data[part].rglob("*.jpg")))
                                   for part in ("train", "valid", "test")}
    assert data.info["valid_drivers"]  # the split it was drawn from stays on record
