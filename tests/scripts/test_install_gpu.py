"""setup/install-gpu.sh: lint, help, dry run, and real runs against stub tools in a scratch repo."""
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "setup" / "install-gpu.sh"
JUPYTER_TOOL = ROOT / "utils" / "jupyter_config.py"
TOOLS = ["bash", "dirname", "cat", "grep", "sed", "date", "cp", "mkdir", "id", "tee"]


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
    (repo / "utils").mkdir()
    shutil.copy2(JUPYTER_TOOL, repo / "utils" / "jupyter_config.py")
    (repo / "pyproject.toml").write_text("[project]\nname = 'kit'\n")
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
        f"+ {venv}/bin/python -m pip install -e '{box.repo}[notebooks,dev]' 'tensorflow[and-cuda]'",
        f"+ {venv}/bin/python -m ipykernel install --user --name dl1-kit",
        f"utils/jupyter_config.py write {box.home}/.jupyter",
        '"ip": "127.0.0.1"',
        '"open_browser": false',
        "utils/jupyter_config.py check",
        "import tensorflow as tf",
    ]
    positions = []
    for want in expected:
        hits = [i for i, line in enumerate(actions) if want in line]
        assert hits, f"{want!r} not planned in:\n{res.stdout}"
        positions.append(hits[0])
    assert positions == sorted(positions), res.stdout
    assert "list_physical_devices" in actions[positions[-1]]
    assert str(box.home / ".jupyter" / "jupyter_server_config.json") in res.stdout


def test_dry_run_backs_up_existing_config_only_in_plan(box):
    config = box.home / ".jupyter" / "jupyter_server_config.json"
    config.parent.mkdir()
    config.write_text('{"ServerApp": {"root_dir": "/data"}}\n')
    before = snapshot(box.tmp)
    res = box.run("--dry-run")
    assert res.returncode == 0, res.stderr
    assert f"+ back up the old file to {config}.bak." in res.stdout
    assert '"root_dir": "/data"' in res.stdout
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
    """All steps run against stubs; Jupyter's JSON config is merged once, after a backup."""
    log = box.tmp / "calls.log"
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    venv_bin = box.repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    stub(venv_bin / "python", f'printf "%s\\n" "$*" >> "{log}"')
    config = box.home / ".jupyter" / "jupyter_server_config.json"
    config.parent.mkdir()
    original = '{"ServerApp": {"root_dir": "/data", "ip": "0.0.0.0", "token": ""}}\n'
    config.write_text(original)
    py_config = config.with_suffix(".py")
    py_config.write_text("c.ServerApp.iopub_data_rate_limit = 1e9\n")

    for _ in range(2):
        res = box.run()
        assert res.returncode == 0, res.stdout + res.stderr
    calls = log.read_text()
    assert f"-m pip install -e {box.repo}[notebooks,dev] tensorflow[and-cuda]" in calls
    assert "-m ipykernel install --user --name dl1-kit" in calls
    assert "utils/jupyter_config.py check" in calls
    assert "list_physical_devices" in calls
    settings = json.loads(config.read_text())["ServerApp"]
    assert settings["root_dir"] == "/data"  # the user's own settings are kept
    assert settings["ip"] == "127.0.0.1" and settings["open_browser"] is False and settings["port"] == 8888
    assert "token" not in settings  # an empty token means no login; Jupyter makes a random one instead
    backups = list(config.parent.glob("jupyter_server_config.json.bak.*"))
    assert len(backups) == 1 and backups[0].read_text() == original
    assert py_config.read_text() == "c.ServerApp.iopub_data_rate_limit = 1e9\n"
    assert "already has the kit's settings" in res.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def real_python_for_jupyter_tool(box, log):
    """A venv python stub that runs utils/jupyter_config.py for real and logs everything else."""
    stub(box.repo / ".venv" / "bin" / "python",
         f'case "$*" in *jupyter_config.py*) exec "{sys.executable}" "$@";; esac\nprintf "%s\\n" "$*" >> "{log}"')


def jupyter_listens_on(home):
    """The ip Jupyter's own config loader resolves for this HOME."""
    code = "from jupyter_server.serverapp import ServerApp; a = ServerApp(); a.load_config_file(); print(a.ip)"
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_kit_settings_outrank_an_exposed_json_config(box):
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    (box.repo / ".venv" / "bin").mkdir(parents=True)
    real_python_for_jupyter_tool(box, box.tmp / "calls.log")
    jupyter = box.home / ".jupyter"
    jupyter.mkdir()
    (jupyter / "jupyter_server_config.json").write_text('{"ServerApp": {"ip": "0.0.0.0"}}')
    assert jupyter_listens_on(box.home) == "0.0.0.0"
    res = box.run()
    assert res.returncode == 0, res.stdout + res.stderr
    assert jupyter_listens_on(box.home) == "127.0.0.1"
    assert "need attention" not in res.stderr and "beyond localhost" not in res.stderr


def test_empty_token_left_in_the_py_config_is_warned(box):
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    (box.repo / ".venv" / "bin").mkdir(parents=True)
    real_python_for_jupyter_tool(box, box.tmp / "calls.log")
    jupyter = box.home / ".jupyter"
    jupyter.mkdir()
    (jupyter / "jupyter_server_config.py").write_text("c.IdentityProvider.token = ''\n")
    res = box.run()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "token is set empty" in res.stderr and "need attention" in res.stderr


def test_gpu_not_seen_is_an_error(box):
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    venv_bin = box.repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    stub(venv_bin / "python", 'case "$*" in *list_physical_devices*) exit 1;; esac')
    res = box.run()
    assert res.returncode == 1 and "TensorFlow does not see a GPU" in res.stderr


def test_idle_guard_timer_reports_gpu_use_from_boot_on(box):
    stub(box.bin / "nvidia-smi", "echo 'NVIDIA A10G, 550.54, 23028 MiB'")
    venv_bin = box.repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    stub(venv_bin / "python", "true")
    log = box.tmp / "systemctl.log"
    stub(box.bin / "systemctl", f'printf "%s\\n" "$*" >> "{log}"')
    stub(box.bin / "sudo", 'exec "$@"')
    units = box.tmp / "units"
    units.mkdir()
    res = box.run(DL1_SYSTEMD_DIR=str(units))
    assert res.returncode == 0, res.stdout + res.stderr
    service = (units / "dl1-gpu-busy.service").read_text()
    timer = (units / "dl1-gpu-busy.timer").read_text()
    assert f'WorkingDirectory={box.repo}\nExecStart="{venv_bin}/python" -m setup.gpu_busy' in service
    assert "Type=oneshot" in service and "User=" in service
    assert "OnBootSec=1min" in timer and "OnUnitActiveSec=1min" in timer and "WantedBy=timers.target" in timer
    assert log.read_text().splitlines() == ["daemon-reload", "enable --now dl1-gpu-busy.timer"]


def test_dry_run_shows_the_idle_guard_and_writes_nothing(box):
    units = box.tmp / "units"
    units.mkdir()
    res = box.run("--dry-run", DL1_SYSTEMD_DIR=str(units))
    assert res.returncode == 0, res.stderr
    assert f"+ write {units}/dl1-gpu-busy.timer:" in res.stdout
    assert "systemctl enable --now dl1-gpu-busy.timer" in res.stdout
    assert list(units.iterdir()) == []


def test_the_box_never_stops_itself():
    """A shutdown from inside ends a spot box for good; stopping is the CloudWatch alarm's job."""
    for path in (SCRIPT, ROOT / "setup" / "gpu_busy.py"):
        text = path.read_text()
        assert not any(word in text for word in ("shutdown -", "poweroff", "halt", "init 0", "stop-instances"))
