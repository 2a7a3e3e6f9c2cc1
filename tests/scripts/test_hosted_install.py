"""setup/hosted_install.py, the bootstrap cell's install step, in an environment pinned like Colab's.

The fake host is a fresh venv whose Python also sees the kit's own .venv packages (through a
.pth file, so TensorFlow is not installed again), with Colab's Jupyter versions
(tools/hosts/colab.txt) installed over them, an old tqdm (below the kit's bound) and no bcolz. It
uses the package registry, as CI does. A stand-in with all of Colab's versions, its Python
included, runs lesson 1 in .ci/run (tools/hosted_check.py).
"""
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

KIT = Path(__file__).resolve().parents[2]
SCRIPT = KIT / "setup" / "hosted_install.py"
HOSTS = KIT / "tools" / "hosts"  # the versions Colab and Kaggle have, from their package lists


def pinned(host):
    """{name: version} that tools/hosts/<host>.txt pins, names as pip freeze lists them here."""
    lines = (line.strip() for line in (HOSTS / f"{host}.txt").read_text().splitlines())
    pairs = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {name.lower().replace("_", "-"): version for name, version in pairs}


# What Colab has of the Jupyter stack under the running notebook server, and an old tqdm.
COLAB_JUPYTER = {name: version for name, version in pinned("colab").items() if name in
                 ("notebook", "ipykernel", "ipython", "tornado", "jupyter-server", "jupyter-client")}
OLD = {"tqdm": "4.65.0"}
HIDDEN = ("bcolz",)  # kit packages the fake host does not have
KEPT = ("tensorflow", "keras", "numpy", "protobuf")  # what the host's CUDA build relies on
HAS_BCOLZ = sys.version_info < (3, 13)  # bcolz-zipline's marker: it has no wheels for 3.13
# What a host's notebook runs on besides the lessons' packages: its Jupyter stack, and protobuf,
# which its TensorFlow build needs at its version.
JUPYTER_STACK = {"ipykernel", "ipython", "jupyter-client", "jupyter-core", "jupyter-server", "nbclient",
                 "nbconvert", "nbformat", "notebook", "pyzmq", "tornado", "traitlets"}


def run(*cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=True)


def freeze(python):
    """{name: version} as `pip freeze` lists them for python."""
    lines = run(python, "-m", "pip", "freeze", "--disable-pip-version-check").stdout.splitlines()
    pairs = (line.split("==") for line in lines if "==" in line)
    return {name.lower().replace("_", "-"): version for name, version in pairs}


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """A venv that sees the kit's packages but bcolz, pinned like Colab; its python."""
    root = tmp_path_factory.mktemp("hosted")
    venv.create(root / "env", with_pip=False)  # pip comes from the kit's packages
    python = root / "env" / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .stdout.strip())
    # --system-site-packages over a venv would expose the base Python's packages, not the
    # venv's, so the kit's site-packages are linked into a folder that a .pth file adds.
    shared = root / "kit-site-packages"
    shared.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(HIDDEN):
            (shared / entry.name).symlink_to(entry)
    (site / "kit-venv.pth").write_text(f"{shared}\n")
    pins = [f"{name}=={version}" for name, version in {**COLAB_JUPYTER, **OLD}.items()]
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", *pins)
    return python


def test_installs_only_what_the_host_lacks_and_changes_nothing_it_has(host):
    kit_venv = freeze(Path(sysconfig.get_paths()["scripts"]) / "python")
    before = freeze(host)
    assert {name: before[name] for name in COLAB_JUPYTER} == COLAB_JUPYTER
    assert "bcolz-zipline" not in before and before["tqdm"] == OLD["tqdm"]

    first = run(host, SCRIPT).stdout
    after = freeze(host)
    assert ("installing tqdm>=4.66, bcolz-zipline>=1.12;" if HAS_BCOLZ
            else "installing tqdm>=4.66;") in first
    assert ("installed bcolz-zipline " in first) == HAS_BCOLZ
    assert f"upgraded tqdm {OLD['tqdm']} -> " in first  # old -> new
    assert first.rstrip().endswith(" s)")  # and how long it took
    # Unchanged apart from additions, and the one package below the kit's lower bound.
    changed = {name for name in before if after.get(name) != before[name]}
    assert changed == {"tqdm"}
    assert tuple(int(n) for n in after["tqdm"].split(".")[:2]) >= (4, 66)
    assert ("bcolz-zipline" in set(after) - set(before)) == HAS_BCOLZ
    assert {name: after[name] for name in COLAB_JUPYTER} == COLAB_JUPYTER
    assert {name: after[name] for name in KEPT} == {name: before[name] for name in KEPT}

    second = run(host, SCRIPT).stdout
    assert "nothing to install" in second
    assert freeze(host) == after
    # The kit's own .venv, seen through the links, was not touched.
    assert freeze(Path(sysconfig.get_paths()["scripts"]) / "python") == kit_venv

    imported = subprocess.run([str(host), "-c", f"import utils, tqdm{', bcolz' if HAS_BCOLZ else ''}; "
                               "print(tqdm.__version__)"], cwd=KIT, capture_output=True, text=True,
                              check=True).stdout  # from the kit's folder, as a notebook there imports it
    assert imported.strip() == after["tqdm"]


@pytest.fixture
def hosted_install(monkeypatch):
    """The script as a module (on a host it runs by its path, importing nothing of the kit)."""
    from setup import hosted_install
    return hosted_install


def test_metadata_that_is_not_utf8_is_read_leniently(hosted_install, monkeypatch, tmp_path, capsys):
    site = tmp_path / "site-packages"  # a host package whose author wrote METADATA in latin-1
    (site / "oldpkg-1.0.dist-info").mkdir(parents=True)
    (site / "oldpkg-1.0.dist-info" / "METADATA").write_bytes(
        "Metadata-Version: 2.1\nName: OldPkg\nVersion: 1.0\nAuthor: François Müller\n\n".encode("latin-1"))
    monkeypatch.syspath_prepend(str(site))
    lessons = tmp_path / "requirements-lessons.txt"
    lessons.write_text("oldpkg>=1.0\n")
    monkeypatch.setattr(hosted_install, "LESSONS", lessons)
    assert hosted_install.installed()["oldpkg"] == "1.0"
    assert "oldpkg==1.0" in hosted_install.pins(hosted_install.installed(), [])  # pip keeps it as it is
    assert hosted_install.main() == 0
    assert "nothing to install" in capsys.readouterr().out


def host_package(site, name, version, modules=()):
    """Write what an installed distribution leaves in site-packages: its metadata and module names."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    (info / "top_level.txt").write_text("".join(f"{module}\n" for module in modules))
    return info


def wheel(folder, name, version, requires=()):
    """Write a minimal pure-Python wheel of `name` that depends on `requires`, for pip to resolve."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as whl:
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                     + "".join(f"Requires-Dist: {req}\n" for req in requires))
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                     "Tag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")


@pytest.fixture
def fake_host(hosted_install, monkeypatch, tmp_path):
    """A site-packages folder this Python sees, a lessons list to fill, and pip kept offline.

    pip finds packages only in `links` and installs, should it ever succeed, into a scratch
    folder: the kit's own .venv is never changed.
    """
    host = type("Host", (), {})()
    host.site, host.links = tmp_path / "site-packages", tmp_path / "wheels"
    host.site.mkdir()
    host.links.mkdir()
    monkeypatch.syspath_prepend(str(host.site))
    host.lessons = tmp_path / "requirements-lessons.txt"
    monkeypatch.setattr(hosted_install, "LESSONS", host.lessons)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(host.links))
    monkeypatch.setenv("PIP_TARGET", str(tmp_path / "pip-target"))
    return host


def test_an_optional_package_pip_cannot_get_is_a_note_not_a_failure(hosted_install, fake_host, capsys):
    host_package(fake_host.site, "oldpkg", "1.0")
    fake_host.lessons.write_text("oldpkg>=1.0\n"
                                 "nosuch-optional>=1.0  # optional: reads the 2017 course's arrays\n")
    assert hosted_install.main() == 0
    out = capsys.readouterr().out
    assert "nosuch-optional>=1.0 was not installed" in out
    assert "optional: reads the 2017 course's arrays" in out and "No matching distribution found" in out
    # The kit's own list says so for bcolz, which no lesson imports.
    assert set(hosted_install.optional(KIT / "requirements-lessons.txt")) == {"bcolz-zipline"}


def test_pip_s_reason_and_the_one_fixing_command_are_printed(hosted_install, fake_host, capsys):
    # Like a Keras 2 host (TensorFlow 2.15): the kit's lower bound needs a dependency newer than
    # one the host has, and the host's packages are kept as they are.
    host_package(fake_host.site, "hostdep", "1.0")
    wheel(fake_host.links, "hostdep", "1.0")
    wheel(fake_host.links, "hostdep", "2.0")
    wheel(fake_host.links, "kitpkg", "2.0", requires=["hostdep>=2"])
    fake_host.lessons.write_text("kitpkg>=2.0\n")
    assert hosted_install.main() != 0
    err = capsys.readouterr().err
    assert "conflicting dependencies" in err and "kitpkg 2.0 depends on hostdep>=2" in err  # pip's
    assert "To fix this you could try to" not in err  # pip's own advice does not apply here
    assert "%pip install 'kitpkg>=2.0'" in err and "restart the runtime" in err


def test_an_upgraded_package_the_kernel_imported_asks_for_one_restart(hosted_install, fake_host,
                                                                      monkeypatch, capsys):
    for name, module in (("oldpkg", "oldpkg"), ("otherpkg", "other")):
        host_package(fake_host.site, name, "1.0", modules=[module])
    fake_host.lessons.write_text("oldpkg>=2.0\notherpkg>=2.0\n")

    def pip_upgrades(requirements, constraints):  # what pip leaves: the new version in place of the old
        for req in requirements:
            old = fake_host.site / f"{req.name}-1.0.dist-info"
            modules = (old / "top_level.txt").read_text().split()
            shutil.rmtree(old)
            host_package(fake_host.site, req.name, "2.0", modules)
        return subprocess.CompletedProcess([], 0, "", "")

    monkeypatch.setattr(hosted_install, "run_pip", pip_upgrades)
    assert hosted_install.main(imported=["os", "oldpkg.sub", "oldpkg"]) == 0
    out = capsys.readouterr().out
    assert "upgraded oldpkg 1.0 -> 2.0, otherpkg 1.0 -> 2.0" in out
    restart = [line for line in out.splitlines() if "restart" in line]
    assert len(restart) == 1 and "oldpkg" in restart[0] and "otherpkg" not in restart[0]


def test_the_lessons_list_holds_no_jupyter_or_test_tools():
    text = (KIT / "requirements-lessons.txt").read_text().lower()
    names = {line.split("#")[0].split(";")[0].split(">")[0].split("=")[0].strip()
             for line in text.splitlines()}
    for tool in ("jupyter", "notebook", "ipykernel", "ipython", "tornado", "papermill",
                 "nbconvert", "pytest", "boto3", "moto"):
        assert tool not in names


@pytest.mark.parametrize("host", ["colab", "kaggle"])
def test_each_host_s_versions_name_their_source_python_and_every_package_the_kit_touches(
        hosted_install, host):
    path = HOSTS / f"{host}.txt"
    text = path.read_text()
    assert re.search(r"github\.com/[\w.-]+/[\w.-]+ at [0-9a-f]{40}\b", text)  # a source to check
    assert len(re.findall(r"^# python: 3\.\d+\.\d+$", text, re.M)) == 1
    pins = [hosted_install.Requirement(line) for line in hosted_install.read_requirements(path)]
    for req in pins:  # exact versions only, so pip installs just what the host has
        assert [spec.operator for spec in req.specifier] == ["=="] and req.marker is None, req
    lessons = hosted_install.read_requirements(hosted_install.LESSONS)
    touched = ({hosted_install.canonicalize_name(hosted_install.Requirement(line).name) for line in lessons}
               - set(hosted_install.optional(hosted_install.LESSONS)))
    # A lessons' package the host's list lacks is named on an `# absent:` line: the first cell installs it.
    absent = set(re.findall(r"^# absent: ([\w.-]+)", text, re.M))
    named = [hosted_install.canonicalize_name(req.name) for req in pins]
    assert not absent & set(named)
    assert sorted(named + sorted(absent)) == sorted(touched | JUPYTER_STACK | {"protobuf"})


@pytest.fixture
def hosted_check(monkeypatch):
    """tools/hosted_check.py, the developers' stand-in for a hosted runtime."""
    from tools import hosted_check
    return hosted_check


def test_the_stand_in_lesson_gets_its_parameters_right_after_its_parameters_cell(hosted_check):
    nb = hosted_check.with_parameters(nbformat.read(KIT / "nbs" / "lesson1.ipynb", as_version=4),
                                      {"DATA": "standin", "EPOCHS": 1})
    at = next(i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", []))
    settings = {}
    exec(nb.cells[at].source + "\n" + nb.cells[at + 1].source, settings)  # the defaults, then ours
    assert (settings["DATA"], settings["EPOCHS"], settings["SUBMIT"]) == ("standin", 1, False)
    nbformat.validate(nb)  # the added cell has an id, as nbformat 4.5 wants


def test_a_versions_file_without_its_python_line_is_named(hosted_check, tmp_path):
    path = tmp_path / "host.txt"
    path.write_text("# from somewhere\nnumpy==2.1.3\n")
    with pytest.raises(hosted_check.HostedCheckError, match=re.escape(f"{path} must have one line '# python: X.Y.Z'")):
        hosted_check.read_host(path)
    assert hosted_check.read_host(HOSTS / "colab.txt")[0] == "3.13"


def test_a_missing_host_python_says_how_to_get_one(hosted_check, monkeypatch, tmp_path):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    with pytest.raises(hosted_check.HostedCheckError, match=r"No Python 3\.99 here .*`pyenv install 3\.99`"):
        hosted_check.find_python("3.99")
