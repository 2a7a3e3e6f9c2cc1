"""The first cell of every lesson: installs the kit on Colab and Kaggle, does nothing elsewhere."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils import env
from utils.kaggle import fetch
from utils.runner import NBS

NOTEBOOKS = sorted(NBS.glob("lesson*.ipynb"))
HOSTS = {"colab": {"COLAB_RELEASE_TAG": "release-colab_20261101"},
         "kaggle": {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}}


def bootstrap_cells(path):
    """The first code cell and the markdown cell that explains it."""
    cells = nbformat.read(path, as_version=4).cells
    i = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    return cells[i - 1].source, cells[i].source


def first_code_cell(path):
    return bootstrap_cells(path)[1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_lesson_opens_with_the_same_bootstrap_cell(path):
    assert len(NOTEBOOKS) == 7
    assert bootstrap_cells(path) == bootstrap_cells(NBS / "lesson1.ipynb")


def run_bootstrap(tmp_path, monkeypatch, environ):
    """Execute the bootstrap cell in an empty folder with a fake git clone; return its calls."""
    for name in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        if cmd[0] == "git":  # what a clone leaves behind
            Path(cmd[-1], "utils").mkdir(parents=True)
            Path(cmd[-1], "utils", "__init__.py").write_text("")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(os.sys.path))
    scope = {}
    exec(first_code_cell(NBS / "lesson1.ipynb"), scope)
    return calls, scope


@pytest.mark.parametrize("host", HOSTS)
def test_bootstrap_clones_once_and_leaves_installing_to_the_hosted_script(tmp_path, monkeypatch,
                                                                         host):
    calls, scope = run_bootstrap(tmp_path, monkeypatch, HOSTS[host])
    kit = (tmp_path / "dl1-kit").resolve()
    install = [sys.executable, str(kit / "setup" / "hosted_install.py")]
    assert [call[:2] for call in calls] == [["git", "clone"], install]
    assert scope["KIT"] == kit
    assert env.platform() == host
    again, scope = run_bootstrap(tmp_path, monkeypatch, HOSTS[host])
    # No second clone; the script runs again and finds nothing to install (test_hosted_install).
    assert [call[:2] for call in again] == [install]


def test_bootstrap_tells_the_install_which_modules_the_kernel_imported(tmp_path, monkeypatch):
    calls, scope = run_bootstrap(tmp_path, monkeypatch, HOSTS["colab"])
    install = calls[-1]
    assert install[1] == str(scope["KIT"] / "setup" / "hosted_install.py")
    # So it can say to restart when it upgrades a package this kernel has loaded.
    assert {"os", "pytest", "nbformat"} <= set(install[2:])


def test_bootstrap_does_nothing_but_find_utils_locally(tmp_path, monkeypatch):
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("")
    (tmp_path / "nbs").mkdir()
    calls, scope = run_bootstrap(tmp_path / "nbs", monkeypatch, {})
    assert calls == []
    assert scope["KIT"] == tmp_path
    assert env.platform() == "local"


def test_bootstrap_says_where_to_run_from_when_the_kit_is_missing(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="nbs/ folder"):
        run_bootstrap(tmp_path, monkeypatch, {})


def test_kaggle_notebooks_use_the_attached_competition_data(tmp_path, monkeypatch):
    attached = tmp_path / "input" / "dogs-vs-cats-redux-kernels-edition"
    (attached / "train").mkdir(parents=True)
    (attached / "sample_submission.csv").write_text("id,label\n1,0.5\n")
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "input"))
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    assert env.platform() == "kaggle"
    # The attached folder is read-only: its files are linked into the data folder, not used there.
    fetched = fetch("dogs-vs-cats-redux-kernels-edition", tmp_path / "data")
    assert fetched == tmp_path / "data"
    assert (fetched / "sample_submission.csv").resolve() == attached / "sample_submission.csv"
    assert sorted(p.name for p in attached.iterdir()) == ["sample_submission.csv", "train"]
