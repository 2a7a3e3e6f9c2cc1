"""setup/install-gpu.sh: lint, help, dry run, and real runs against stub tools in a scratch repo."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "setup" / "install-gpu.sh"
TOOLS = ["bash", "dirname", "cat", "grep", "sed", "date", "cp", "mkdir"]


def snapshot(*dirs):
    """Every path under dirs with its mode, size and mtime."""
    state = {}
    for top in dirs:
        for p in sorted(Path(top).rglob("*")):
            st = p.lstat()
            state[str(p)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def stub(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def box(tmp_path):
    """A scratch repo holding a copy of the script, a HOME, and a PATH without nvidia-smi."""
    repo, home, bin_dir = tmp_path / "repo", tmp_path / "home", tmp_path / "bin"
    (repo / "setup").mkdir(parents=True)
    shutil.copy2(SCRIPT, repo / "setup" / "install-gpu.sh")
    (repo / "requirements.txt").write_text("numpy\n")
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "keep").write_text("x")
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "python3").symlink_to(sys.executable)

    class Box:
        def run(self, *args, cwd=tmp_path, **env):
            full = {"HOME": str(home), "PATH": str(bin_dir), "LANG": "C.UTF-8", **env}
            return subprocess.run([str(repo / "setup" / "install-gpu.sh"), *args], cwd=cwd, env=full,
                                  capture_output=True, text=True, timeout=60)

    b = Box()
    b.repo, b.home, b.bin, b.tmp = repo, home, bin_dir, tmp_path
    return b


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_clean():
    res = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_script_is_executable_bash():
    assert os.access(SCRIPT, os.X_OK)
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(box, flag):
    res = box.run(flag)
    assert res.returncode == 0 and "Usage:" in res.stdout and "--dry-run" in res.stdout


def test_unknown_option_fails_with_usage(box):
    res = box.run("--frobnicate")
    assert res.returncode != 0
    assert "unknown option: --frobnicate" in res.stderr and "Usage:" in res.stderr


def test_dry_run_plans_every_step_in_order_and_changes_nothing(box):
    before = snapshot(box.tmp)
    res = box.run("--dry-run", cwd=box.home)  # the repo root comes from the script's path, not the cwd
    assert res.returncode == 0, res.stderr
    assert snapshot(box.tmp) == before
    assert not (box.repo / ".venv").exists() and not (box.home / ".jupyter").exists()

    actions = [line for line in res.stdout.splitlines() if line.startswith("+ ")]
    venv = box.repo / ".venv"
    expected = [
        "+ nvidia-smi",
        f"-m venv {venv}",
        f"+ {venv}/bin/python -m pip install -r {box.repo}/requirements.txt 'tensorflow[and-cuda]'",
        f"+ {venv}/bin/python -m ipykernel install --user --name dl1-kit",
        "c.ServerApp.ip = '127.0.0.1'",
        "c.ServerApp.open_browser = False",
        "import tensorflow as tf",
    ]
    positions = []
    for want in expected:
        hits = [i for i, line in enumerate(actions) if want in line]
        assert hits, f"{want!r} not planned in:\n{res.stdout}"
        positions.append(hits[0])
    assert positions == sorted(positions), res.stdout
    assert "list_physical_devices" in actions[positions[-1]]
    assert str(box.home / ".jupyter" / "jupyter_server_config.py") in res.stdout


def test_dry_run_backs_up_existing_config_only_in_plan(box):
    config = box.home / ".jupyter" / "jupyter_server_config.py"
    config.parent.mkdir()
    config.write_text("c.ServerApp.root_dir = '/data'\n")
    before = snapshot(box.tmp)
    res = box.run("--dry-run")
    assert res.returncode == 0, res.stderr
    assert f"+ cp -p {config} {config}.bak." in res.stdout
    assert snapshot(box.tmp) == before


def test_missing_driver_stops_before_any_change(box):
    before = snapshot(box.tmp)
    res = box.run()
    assert res.returncode == 1
    assert "nvidia-smi not found" in res.stderr and "Deep Learning Base" in res.stderr
    assert snapshot(box.tmp) == before


def test_old_python_explains_how_to_get_a_new_one(box):
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    (box.bin / "python3").unlink()
    stub(box.bin / "python3", "exit 1")  # fails the >= 3.11 test, like Ubuntu 22.04's 3.10
    before = snapshot(box.tmp)
    res = box.run()
    assert res.returncode == 1
    assert "3.11" in res.stderr and "deadsnakes" in res.stderr and "uv" in res.stderr
    assert snapshot(box.tmp) == before


def test_real_run_with_stubs_is_idempotent(box):
    """All steps run against stubs; Jupyter's config is appended once, after a backup."""
    log = box.tmp / "calls.log"
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    venv_bin = box.repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    stub(venv_bin / "python", f'printf "%s\\n" "$*" >> "{log}"')
    config = box.home / ".jupyter" / "jupyter_server_config.py"
    config.parent.mkdir()
    config.write_text("c.ServerApp.root_dir = '/data'\n")

    for _ in range(2):
        res = box.run()
        assert res.returncode == 0, res.stdout + res.stderr
    calls = log.read_text()
    assert f"-m pip install -r {box.repo}/requirements.txt tensorflow[and-cuda]" in calls
    assert "-m ipykernel install --user --name dl1-kit" in calls
    assert "list_physical_devices" in calls
    text = config.read_text()
    assert text.startswith("c.ServerApp.root_dir = '/data'\n")
    assert text.count("c.ServerApp.ip = '127.0.0.1'") == 1 and "c.ServerApp.open_browser = False" in text
    backups = list(config.parent.glob("jupyter_server_config.py.bak.*"))
    assert len(backups) == 1 and backups[0].read_text() == "c.ServerApp.root_dir = '/data'\n"
    assert "already set up" in res.stdout


def test_gpu_not_seen_is_an_error(box):
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    venv_bin = box.repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    stub(venv_bin / "python", 'case "$*" in *list_physical_devices*) exit 1;; esac')
    res = box.run()
    assert res.returncode == 1 and "TensorFlow does not see a GPU" in res.stderr
