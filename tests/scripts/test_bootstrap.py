"""The first cell of every lesson: fetches and installs the kit on Colab and Kaggle, does nothing
elsewhere; and kit.toml, the one place that says where the cell and the README fetch the kit from.

The cell runs for real here, in a scratch folder, against a fake kit: `git` on PATH is a script
that copies it (or is cut off half-way), and the tag's archive comes from a loopback server.
"""
import ast
import io
import re
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from utils import env
from utils.kaggle import fetch
from utils.runner import NBS

from loopback import serve

KIT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(NBS.glob("lesson*.ipynb"))
HOSTS = {"colab": {"COLAB_RELEASE_TAG": "release-colab_20261101"},
         "kaggle": {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}}
FAKE_GIT = """#!{python}
# git ... clone ... DEST: copies the fake kit to DEST; or fails as offline, or cut off half-way.
import os, shutil, sys
from pathlib import Path


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(128)  # git's status for a failed clone


with open(os.environ["FAKE_GIT_LOG"], "a") as log:
    log.write(repr(sys.argv[1:]) + "\\n")
dest = Path(sys.argv[-1])
if os.environ.get("FAKE_GIT_OFFLINE"):
    fail("fatal: unable to access: Could not resolve host: github.com")
if dest.exists() and any(dest.iterdir()):
    fail(f"fatal: destination path '{{dest}}' already exists and is not an empty directory.")
shutil.copytree(os.environ["FAKE_KIT"], dest)
if os.environ.get("FAKE_GIT_CUT"):
    shutil.rmtree(dest / "setup")
    fail("fatal: early EOF")
"""
# The fake kit's install step: records what it was given instead of installing anything.
FAKE_INSTALL = ("import os, sys\nopen(os.environ['FAKE_INSTALL_LOG'], 'a').write(repr(sys.argv[1:]) + '\\n')\n"
                "sys.exit(int(os.environ.get('FAKE_INSTALL_FAILS', 0)))\n")


def kit_toml():
    """kit.toml as the file says, read without the code under test."""
    return tomllib.loads((KIT / "kit.toml").read_text())


@pytest.fixture
def kit_source():
    """tools/kit_source.py, which writes kit.toml's address into the notebooks and README."""
    from tools import kit_source
    return kit_source


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


def test_the_notebooks_and_the_readme_fetch_the_kit_kit_toml_names(kit_source):
    source = kit_toml()
    # a release's tag, or the branch main until the first release is tagged
    assert source["tag"] == "main" or re.fullmatch(r"v[0-9]+(\.[0-9]+)*", source["tag"])
    assert kit_source.update(KIT, write=False) == []  # `python -m tools.kit_source` would change nothing
    cell = first_code_cell(NBS / "lesson1.ipynb")
    assert f'REPO, TAG = "{source["repository"]}", "{source["tag"]}"' in cell
    readme = (KIT / "README.md").read_text()
    for n in range(1, 8):
        notebook = f"{source['repository']}/blob/{source['tag']}/nbs/lesson{n}.ipynb".split("//", 1)[1]
        assert f"https://colab.research.google.com/{notebook.replace('github.com', 'github', 1)})" in readme
        assert f"https://kaggle.com/kernels/welcome?src=https://{notebook})" in readme
    assert "/blob/main/" not in readme or source["tag"] == "main"  # no badge left on another ref


def test_a_fork_edits_kit_toml_and_one_command_updates_notebooks_and_readme(kit_source, tmp_path,
                                                                              capsys):
    shutil.copytree(NBS, tmp_path / "nbs")
    shutil.copy(KIT / "README.md", tmp_path / "README.md")
    shutil.copy(KIT / "README.ja.md", tmp_path / "README.ja.md")
    (tmp_path / "kit.toml").write_text((KIT / "kit.toml").read_text()
                                       .replace(kit_toml()["repository"], "https://github.com/someone/dl1-fork")
                                       .replace(f'"{kit_toml()["tag"]}"', '"v2.3"'))
    assert kit_source.main(["--check"], root=tmp_path) == 1  # and changes nothing
    assert kit_source.main([], root=tmp_path) == 0
    out = capsys.readouterr().out
    assert all(f"{path.relative_to(KIT)} now fetches" in out for path in [*NOTEBOOKS, KIT / "README.md"])
    assert kit_source.update(tmp_path, write=False) == []
    before, after = (nbformat.read(root / "nbs" / "lesson4.ipynb", as_version=4) for root in (KIT, tmp_path))
    assert [c.id for c in after.cells] == [c.id for c in before.cells]
    differ = [c.id for c, d in zip(before.cells, after.cells) if c.source != d.source]
    assert differ == [before.cells[[c.cell_type for c in before.cells].index("code")].id]
    assert 'REPO, TAG = "https://github.com/someone/dl1-fork", "v2.3"' in first_code_cell(
        tmp_path / "nbs" / "lesson4.ipynb")
    readme = (tmp_path / "README.md").read_text()
    assert "github/someone/dl1-fork/blob/v2.3/nbs/lesson7.ipynb" in readme
    # The Japanese edition follows: its notebooks are made from the English, its README opens them.
    assert 'REPO, TAG = "https://github.com/someone/dl1-fork", "v2.3"' in first_code_cell(
        tmp_path / "nbs" / "ja" / "lesson4.ipynb")
    assert "github/someone/dl1-fork/blob/v2.3/nbs/ja/lesson7.ipynb" in (tmp_path / "README.ja.md").read_text()
    assert kit_toml()["repository"] not in readme.split("<!-- badges")[1].split("<!-- end of badges")[0]


@pytest.mark.parametrize("line, problem", [
    ('repository = "https://gitlab.com/a/b"\ntag = "v1.0"\n', "repository"),
    ('repository = "https://github.com/a/b"\ntag = "v 1"\n', "tag"),
    ('repository = "https://github.com/a/b\n', "not TOML"),
])
def test_kit_toml_that_names_no_github_address_or_tag_is_refused(kit_source, tmp_path, line, problem):
    (tmp_path / "kit.toml").write_text(line)
    with pytest.raises(ValueError, match=problem) as err:
        kit_source.read(tmp_path)
    assert str(tmp_path / "kit.toml") in str(err.value)


@pytest.fixture
def fake_kit(tmp_path, monkeypatch):
    """A kit for the cell to fetch, a `git` that copies it, and logs of what git and the install got."""
    kit = tmp_path / "published-kit"
    (kit / "utils").mkdir(parents=True)
    (kit / "utils" / "__init__.py").write_text("")
    (kit / "setup").mkdir()
    (kit / "setup" / "hosted_install.py").write_text(FAKE_INSTALL)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "git").write_text(FAKE_GIT.format(python=sys.executable))
    (bin_ / "git").chmod(0o755)
    for name, value in {"FAKE_KIT": kit, "FAKE_GIT_LOG": tmp_path / "git.log",
                        "FAKE_INSTALL_LOG": tmp_path / "install.log", "PATH": bin_,
                        "DL1_KAGGLE_INPUT": tmp_path / "no-kaggle-input"}.items():
        monkeypatch.setenv(name, str(value))
    for name in ("FAKE_GIT_CUT", "FAKE_GIT_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.path", list(sys.path))  # the cell adds the kit to it

    def logs(name):
        log = tmp_path / f"{name}.log"
        return [ast.literal_eval(line) for line in log.read_text().splitlines()] if log.exists() else []
    return SimpleNamespace(path=kit, logs=logs)


def archive(kit, top):
    """The kit as GitHub serves a tag's zip: every file under one top folder."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        for path in sorted(kit.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(kit)}")
    return data.getvalue()


def run_bootstrap(cwd, monkeypatch, environ, repository=None):
    """Execute the bootstrap cell in `cwd` on the host `environ` names; return its namespace."""
    for name in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    cell = first_code_cell(NBS / "lesson1.ipynb")
    if repository:  # the same cell, fetching from a loopback server
        cell = cell.replace(kit_toml()["repository"], repository)
    cwd.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    scope = {}
    exec(cell, scope)
    return scope


@pytest.mark.parametrize("host", HOSTS)
def test_bootstrap_clones_the_release_tag_once(tmp_path, monkeypatch, fake_kit, host):
    scope = run_bootstrap(tmp_path / "work", monkeypatch, HOSTS[host])
    kit = (tmp_path / "work" / "dl1-kit").resolve()
    assert scope["KIT"] == kit and (kit / "utils" / "__init__.py").exists()
    (clone,) = fake_kit.logs("git")
    clone = clone[clone.index("clone"):]
    assert clone[:6] == ["clone", "-q", "--depth=1", "--branch", kit_toml()["tag"], kit_toml()["repository"]]
    assert env.platform() == host
    assert len(fake_kit.logs("install")) == 1
    run_bootstrap(tmp_path / "work", monkeypatch, HOSTS[host])
    # No second clone; the script runs again and finds nothing to install (test_hosted_install).
    assert len(fake_kit.logs("git")) == 1 and len(fake_kit.logs("install")) == 2
    assert sys.path.count(str(kit)) == 1  # the kit is importable, once


def test_bootstrap_tells_the_install_which_modules_the_kernel_imported(tmp_path, monkeypatch, fake_kit):
    run_bootstrap(tmp_path / "work", monkeypatch, HOSTS["colab"])
    # So it can say to restart when it upgrades a package this kernel has loaded.
    (install,) = fake_kit.logs("install")
    assert {"os", "pytest", "nbformat"} <= set(install)


def published(fake_kit, repository_path="/dl1-kit/dl1-kit"):
    """What the loopback server serves: the tag's zip, under the repository's address."""
    top = f"dl1-kit-{kit_toml()['tag'].removeprefix('v')}"  # as GitHub names the archive's folder
    return {f"{repository_path}/archive/{kit_toml()['tag']}.zip": archive(fake_kit.path, top)}


def test_bootstrap_without_git_downloads_the_tag_s_archive(tmp_path, monkeypatch, fake_kit):
    (tmp_path / "bin" / "git").unlink()  # a host without git
    with serve(published(fake_kit)) as server:
        scope = run_bootstrap(tmp_path / "work", monkeypatch, HOSTS["colab"],
                              repository=server.url("/dl1-kit/dl1-kit"))
    assert server.requests == [f"/dl1-kit/dl1-kit/archive/{kit_toml()['tag']}.zip"]
    assert scope["KIT"] == (tmp_path / "work" / "dl1-kit").resolve()
    assert (scope["KIT"] / "setup" / "hosted_install.py").is_file()
    assert len(fake_kit.logs("install")) == 1
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["dl1-kit"]  # nothing half-done left


@pytest.mark.parametrize("when", ["now", "in an earlier run"])
def test_bootstrap_after_a_cut_off_clone_fetches_the_kit_whole(tmp_path, monkeypatch, fake_kit, when):
    work = tmp_path / "work"
    if when == "now":
        monkeypatch.setenv("FAKE_GIT_CUT", "1")  # git stops half-way: the tag's archive is fetched
    else:  # what an interrupted clone left behind, and an interrupted fetch of this cell
        (work / "dl1-kit" / ".git").mkdir(parents=True)
        (work / "dl1-kit" / "utils").mkdir()
        (work / "dl1-kit" / "utils" / "__init__.py").write_text("")
        (work / ".dl1-kit-partial" / "git" / "utils").mkdir(parents=True)
    with serve(published(fake_kit)) as server:
        scope = run_bootstrap(work, monkeypatch, HOSTS["kaggle"], repository=server.url("/dl1-kit/dl1-kit"))
        assert len(server.requests) == (when == "now")
    kit = (work / "dl1-kit").resolve()
    assert scope["KIT"] == kit and (kit / "setup" / "hosted_install.py").is_file()
    assert [p.name for p in work.iterdir()] == ["dl1-kit"]
    assert len(fake_kit.logs("install")) == 1
    run_bootstrap(work, monkeypatch, HOSTS["kaggle"])  # and again: nothing is fetched
    assert len(fake_kit.logs("git")) == 1 and len(fake_kit.logs("install")) == 2


@pytest.mark.parametrize("folder", ["dl1-kit", "dl1-kit/dl1-kit-1.0", "datasets/someone/dl1-kit"])
def test_bootstrap_on_kaggle_copies_the_kit_attached_as_input(tmp_path, monkeypatch, fake_kit, folder):
    inputs = tmp_path / "input"  # Kaggle's /kaggle/input: a competition, and the kit as a dataset
    (inputs / "dogs-vs-cats-redux-kernels-edition" / "train").mkdir(parents=True)
    shutil.copytree(fake_kit.path, inputs / folder)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(inputs))
    (tmp_path / "bin" / "git").unlink()  # the internet is off; neither git nor the archive is tried
    scope = run_bootstrap(tmp_path / "work", monkeypatch, HOSTS["kaggle"], repository="http://127.0.0.1:9/x")
    kit = (tmp_path / "work" / "dl1-kit").resolve()  # a copy: the input folder is read-only
    assert scope["KIT"] == kit and (kit / "setup" / "hosted_install.py").is_file()
    assert len(fake_kit.logs("install")) == 1
    assert (inputs / folder / "setup" / "hosted_install.py").is_file()


def test_bootstrap_offline_on_kaggle_says_how_to_attach_the_kit(tmp_path, monkeypatch, fake_kit):
    monkeypatch.setenv("FAKE_GIT_OFFLINE", "1")
    with serve({}) as server, pytest.raises(RuntimeError) as err:  # the archive is not there either
        repository = server.url("/dl1-kit/dl1-kit")
        run_bootstrap(tmp_path / "work", monkeypatch, HOSTS["kaggle"], repository=repository)
    message = str(err.value)
    assert f"{repository}/archive/{kit_toml()['tag']}.zip" in message
    assert "internet" in message and "Add Input" in message
    assert list((tmp_path / "work").iterdir()) == []


def test_bootstrap_stops_with_one_short_message_when_the_install_fails(tmp_path, monkeypatch, fake_kit):
    monkeypatch.setenv("FAKE_INSTALL_FAILS", "1")  # it prints pip's reason and the fix itself
    with pytest.raises(RuntimeError, match="printed above") as err:
        run_bootstrap(tmp_path / "work", monkeypatch, HOSTS["colab"])
    assert "pytest" not in str(err.value)  # not the command line with every module the kernel holds


def test_bootstrap_does_nothing_but_find_utils_locally(tmp_path, monkeypatch, fake_kit):
    shutil.copytree(fake_kit.path, tmp_path / "checkout")
    scope = run_bootstrap(tmp_path / "checkout" / "nbs", monkeypatch, {})
    assert fake_kit.logs("git") == [] and fake_kit.logs("install") == []
    assert scope["KIT"] == tmp_path / "checkout"
    assert env.platform() == "local"


def test_bootstrap_says_where_to_run_from_when_the_kit_is_missing(tmp_path, monkeypatch, fake_kit):
    with pytest.raises(RuntimeError, match="nbs/ folder"):
        run_bootstrap(tmp_path / "elsewhere", monkeypatch, {})


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
