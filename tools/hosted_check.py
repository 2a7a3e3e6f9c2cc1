"""Run lesson 1 as a learner on Colab or Kaggle Notebooks would, in a stand-in for the host.

    python -m tools.hosted_check [colab|kaggle] [--python PATH]

It makes a virtual environment with the host's Python (the `# python:` line of
tools/hosts/<host>.txt, major.minor) and installs the versions that file pins from the package
registry. In a scratch folder like Colab's /content it then executes nbs/lesson1.ipynb on a kernel
of that environment, with the host's own Jupyter stack (nbclient: hosts have no papermill), the
host's environment variable set, the stand-in data and one epoch. The first cell takes the hosted
path: it copies the kit from a folder attached as a Kaggle input (this checkout's files, so no
clone over the network) and installs what the host lacks with setup/hosted_install.py. Every
pinned package must still have its version afterwards.

It prints one line with how long the environment, the first cell and the rest of the lesson took,
keeps the executed notebook in build/hosted/, and exits 1 when anything fails. `.ci/run` runs it
after `make test` (some 2.5 GB of downloads, and lesson 1 on a CPU).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from setup.hosted_install import read_requirements
from utils.paths import build_dir

KIT = Path(__file__).resolve().parent.parent
HOSTS = KIT / "tools" / "hosts"
LESSON = KIT / "nbs" / "lesson1.ipynb"
PARAMETERS = {"DATA": "standin", "EPOCHS": 1}  # as the tests run the lessons
# What each host sets in a notebook's environment; the kit's first cell tells the hosts by them.
HOST_VARIABLES = {"colab": {"COLAB_RELEASE_TAG": "release-colab-hosted-check"},
                  "kaggle": {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}}
CELL_TIMEOUT = 1800  # seconds; lesson 1's training cells take minutes on a shared CPU
# Runs in the host's environment: its own nbclient executes the notebook and writes what ran.
EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, timeout=int(sys.argv[3]), kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[4]}}).execute()
finally:
    nbformat.write(nb, sys.argv[2])
"""
VERSIONS = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({name: m.version(name) for name in sys.argv[1:]}))")


class HostedCheckError(Exception):
    """The stand-in could not be built, or the lesson failed in it; the message says what to do."""


def read_host(path):
    """(Python 'major.minor', ['name==version', ...]) as a host's versions file lists them."""
    found = re.findall(r"^# python: (\d+\.\d+)\.\d+$", Path(path).read_text(), re.M)
    if len(found) != 1:
        raise HostedCheckError(f"{path} must have one line '# python: X.Y.Z' naming the host's Python.")
    return found[0], read_requirements(path)


def find_python(version):
    """A Python `version` ('3.13') on PATH or among pyenv's versions; its path."""
    pyenv = os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv"
    candidates = [shutil.which(f"python{version}"),
                  *sorted(Path(pyenv).glob(f"versions/{version}.*/bin/python{version}"), reverse=True)]
    for candidate in filter(None, candidates):
        # Run, not just found: pyenv's shim on PATH answers for versions that are not switched on.
        run = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True)
        if run.returncode == 0 and run.stdout.strip() == version:
            return str(candidate)
    raise HostedCheckError(f"No Python {version} here (neither python{version} on PATH nor under "
                           f"{pyenv}/versions/): install it (python.org, apt, `pyenv install {version}`) "
                           "or name one with --python.")


def make_env(python, folder, pins_file):
    """A virtual environment at `folder` with the host's pinned versions; its python."""
    subprocess.run([python, "-m", "venv", str(folder)], check=True)
    env_python = folder / "bin" / "python"
    pip = subprocess.run([env_python, "-m", "pip", "install", "--disable-pip-version-check",
                          "--quiet", "-r", pins_file], capture_output=True, text=True)
    if pip.returncode != 0:
        tail = "\n".join((pip.stdout + pip.stderr).strip().splitlines()[-20:])
        raise HostedCheckError(f"pip could not install the versions in {pins_file} for {python}:\n{tail}")
    return env_python


def copy_kit(dest):
    """Copy the checkout's files as git lists them (no .venv, data or build: git ignores those) to `dest`."""
    listed = subprocess.run(["git", "-C", str(KIT), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, text=True)
    if listed.returncode != 0:
        raise HostedCheckError(f"{KIT} is not a git checkout ({listed.stderr.strip()}): "
                               "run this from a clone.")
    for name in filter(None, listed.stdout.split("\0")):
        if (KIT / name).is_file():  # ls-files also lists tracked files deleted from the work tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(KIT / name, dest / name)
    return dest


def with_parameters(nb, parameters):
    """The notebook with a cell setting `parameters` after its `parameters` cell, as papermill adds."""
    at = next(i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    return nb


def host_environment(host, env_folder, kaggle_input):
    """The lesson's environment: the host's variables, its Python first on PATH, no kit settings of here."""
    mine = ("DL1_", "KAGGLE_", "COLAB_", "JUPYTER_", "PYTHON", "VIRTUAL_ENV")
    env = {name: value for name, value in os.environ.items() if not name.startswith(mine)}
    env["PATH"] = f"{env_folder / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # A python3 kernel registered in this machine's Jupyter folders must not stand in for the host's.
    env["JUPYTER_DATA_DIR"] = str(kaggle_input.parent / "jupyter")
    env["DL1_KAGGLE_INPUT"] = str(kaggle_input)
    return {**env, **HOST_VARIABLES[host]}


def seconds(cell):
    """How long a cell ran, by the timestamps nbclient records in its metadata."""
    times = cell.metadata["execution"]
    start, end = (datetime.fromisoformat(times[key].replace("Z", "+00:00"))
                  for key in ("iopub.status.busy", "shell.execute_reply"))
    return (end - start).total_seconds()


def kit_lines(cell):
    """What the kit printed in a cell ('dl1-kit: ...' lines)."""
    text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
    return [line for line in text.splitlines() if line.startswith("dl1-kit:")]


def run_lesson(host, env_python, scratch, out):
    """Execute lesson 1 in `scratch` with the host's Python and Jupyter; the executed notebook."""
    content, kaggle_input = scratch / "content", scratch / "input"
    content.mkdir()
    copy_kit(kaggle_input / "dl1-kit")
    lesson = with_parameters(nbformat.read(LESSON, as_version=4), PARAMETERS)
    nbformat.write(lesson, content / LESSON.name)
    run = subprocess.run([env_python, "-c", EXECUTE, LESSON.name, out, str(CELL_TIMEOUT), content],
                         cwd=content, env=host_environment(host, env_python.parent.parent, kaggle_input),
                         capture_output=True, text=True)
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-25:])
        raise HostedCheckError(f"lesson 1 failed on the {host} stand-in (the executed notebook: "
                               f"{out}):\n{tail}")
    return nbformat.read(out, as_version=4)


def changed_pins(env_python, pins):
    """'name pinned -> now' for each pinned package whose version the lesson's first cell changed."""
    wanted = dict(line.split("==") for line in pins)
    now = json.loads(subprocess.run([env_python, "-c", VERSIONS, *wanted], capture_output=True,
                                    text=True, check=True).stdout)
    return [f"{name} {wanted[name]} -> {now[name]}" for name in wanted if now[name] != wanted[name]]


def check(host, python=None):
    """Build the host's stand-in, run lesson 1 in it and print the timings; raises HostedCheckError."""
    pins_file = HOSTS / f"{host}.txt"
    version, pins = read_host(pins_file)
    python = python or find_python(version)
    out = build_dir() / "hosted" / f"lesson1-{host}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"dl1-kit-{host}-") as scratch:
        started = time.monotonic()
        env_python = make_env(python, Path(scratch) / "env", pins_file)
        built = time.monotonic() - started
        started = time.monotonic()
        nb = run_lesson(host, env_python, Path(scratch), out)
        lesson = time.monotonic() - started
        changed = changed_pins(env_python, pins)
        python_version = subprocess.run([env_python, "-V"], capture_output=True, text=True).stdout.strip()
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    print("\n".join(kit_lines(first)))
    if changed:
        raise HostedCheckError(f"the first cell changed the host's packages pinned in {pins_file}: "
                               f"{', '.join(changed)}; setup/hosted_install.py must leave them "
                               "as they are.")
    install = seconds(first)
    print(f"dl1-kit: hosted check, {host} stand-in ({python_version}, {len(pins)} packages as "
          f"{pins_file.relative_to(KIT)} pins): environment built in {built:.0f} s, first cell "
          f"(kit and install) {install:.1f} s, rest of lesson 1 {lesson - install:.0f} s, all "
          f"{time.monotonic() - began:.0f} s; executed notebook: {out}")


def main(argv=None):
    """Command line: the host (colab or kaggle) and optionally the Python to build it with."""
    ap = argparse.ArgumentParser(prog="python -m tools.hosted_check", description=__doc__.splitlines()[0])
    ap.add_argument("host", nargs="?", default="colab", choices=sorted(HOST_VARIABLES))
    ap.add_argument("--python", help="the Python to build the environment with (default: the "
                                     "host's major.minor, found on PATH or under pyenv)")
    args = ap.parse_args(argv)
    try:
        check(args.host, args.python)
    except HostedCheckError as err:
        print(f"dl1-kit: hosted check: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
