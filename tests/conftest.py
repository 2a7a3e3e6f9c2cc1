"""Test setup: every folder the kit writes moved to scratch space, and fixtures many layers share.

The kit is imported as installed (`make` installs it editable), never from a path added here. The
test folders are named so that none shadows a package the kit installs (setup, tools, utils).
"""
import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest

# Set before any test imports utils, so no test can write into the repo's data/ or build/,
# and TensorFlow keeps its start-up chatter to itself.
_SCRATCH = Path(tempfile.mkdtemp(prefix="dl1-kit-tests-"))
os.environ["DL1_DATA"] = str(_SCRATCH / "data")
os.environ["DL1_BUILD"] = str(_SCRATCH / "build")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def offline_kaggle_env(tmp_path, monkeypatch):
    """Scratch data, home and Kaggle-input folders under tmp_path, and no Kaggle credentials."""
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "no-kaggle-input"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in [n for n in os.environ if n.startswith("KAGGLE_") or n == "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name)


@pytest.fixture
def no_kaggle_api(offline_kaggle_env, monkeypatch):
    """The offline environment above, and a Kaggle API that fails as with no credentials."""
    import utils.kaggle as kg  # here, so the environment above is set before utils is imported

    def no_api():
        raise kg.KaggleError("No Kaggle API credentials found (test).")
    monkeypatch.setattr(kg.api, "connect", no_api)


@pytest.fixture
def float32_policy():
    """Keras's float32 policy for one test, the one in force before restored after."""
    import keras
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy(before)


@pytest.fixture(params=[errno.EROFS, errno.EACCES], ids=["read-only-disk", "no-permission"])
def read_only(request, monkeypatch):
    """A function that makes a folder refuse new entries, as a read-only disk (EROFS) or another
    user's folder (EACCES) does: chmod a-w stops a non-root run, and since tests run as root (who
    may write anyway) os.mkdir refuses and os.access says no under it too."""
    code, folders = request.param, []
    real_mkdir, real_access = os.mkdir, os.access

    def refused(path):
        return any(Path(path).is_relative_to(folder) for folder in folders)

    def mkdir(path, *args, **kwargs):
        if refused(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *args, **kwargs)

    def access(path, mode, *args, **kwargs):
        return not (mode & os.W_OK and refused(path)) and real_access(path, mode, *args, **kwargs)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "access", access)

    def make(folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder)
        for p in [*folder.rglob("*"), folder]:
            if p.is_dir():
                p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return folder
    yield make
    for folder in folders:  # writable again, so the temporary folders can be cleaned up
        for p in [*folder.rglob("*"), folder]:
            if p.is_dir():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)
