"""utils/jupyter_config.py: the kit's Jupyter settings win over the user's files; exposure is warned of."""
import json
import os
import re
from types import SimpleNamespace

import pytest

from utils import env, jupyter_config


@pytest.fixture
def jupyter_dir(monkeypatch, tmp_path):
    """A scratch HOME whose ~/.jupyter is where Jupyter looks."""
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_PLATFORM_DIRS", "JUPYTER_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".jupyter"
    path.mkdir()
    return path


def test_exposed_json_config_is_found_by_jupyters_own_loader(jupyter_dir):
    (jupyter_dir / "jupyter_server_config.py").write_text("c.ServerApp.ip = '127.0.0.1'\n")
    (jupyter_dir / "jupyter_server_config.json").write_text('{"ServerApp": {"ip": "0.0.0.0", "token": ""}}')
    found = jupyter_config.warnings()
    assert len(found) == 2 and "'0.0.0.0'" in found[0] and "token" in found[1]
    assert jupyter_config.main(["check"]) == 1


def test_write_merges_and_then_wins(jupyter_dir, capsys):
    config = jupyter_dir / "jupyter_server_config.json"
    config.write_text(json.dumps({"ServerApp": {"ip": "*", "root_dir": str(jupyter_dir)},
                                  "IdentityProvider": {"token": ""}}))
    (jupyter_dir / "jupyter_server_config.py").write_text("c.ServerApp.ip = '0.0.0.0'\n")
    jupyter_config.write(jupyter_dir)
    data = json.loads(config.read_text())
    assert data["ServerApp"]["root_dir"] == str(jupyter_dir) and data["ServerApp"]["ip"] == "127.0.0.1"
    assert "token" not in data["IdentityProvider"]
    assert jupyter_config.warnings() == [] and jupyter_config.main(["check"]) == 0
    capsys.readouterr()
    jupyter_config.write(jupyter_dir)
    assert "already has the kit's settings" in capsys.readouterr().out
    assert len(list(jupyter_dir.glob("*.bak.*"))) == 1


def test_config_jupyter_rejects_is_a_warning(jupyter_dir):
    (jupyter_dir / "jupyter_server_config.json").write_text('{"ServerApp": {"root_dir": "/no/such/folder"}}')
    assert "rejects its config" in jupyter_config.warnings()[0]


def test_unreadable_json_is_one_clear_error_and_kept(jupyter_dir):
    config = jupyter_dir / "jupyter_server_config.json"
    config.write_text("{not json")
    with pytest.raises(SystemExit, match="cannot read"):
        jupyter_config.write(jupyter_dir)
    assert config.read_text() == "{not json"


def test_doctor_warns_when_jupyter_listens_beyond_localhost(jupyter_dir, monkeypatch, capsys):
    for name in [n for n in os.environ if n.startswith(("KAGGLE_", "COLAB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DL1_DATA", str(jupyter_dir.parent / "data"))
    monkeypatch.setattr(env, "setup", lambda quiet: SimpleNamespace(backend="tensorflow", platform="local", gpus=[]))
    (jupyter_dir / "jupyter_server_config.json").write_text('{"ServerApp": {"ip": "0.0.0.0"}}')
    env.doctor()
    assert re.search(r"^jupyter\s+WARNING: Jupyter would listen on '0.0.0.0'", capsys.readouterr().out, re.M)
    jupyter_config.write(jupyter_dir)
    capsys.readouterr()
    env.doctor()
    assert re.search(r"^jupyter\s+listens on localhost only", capsys.readouterr().out, re.M)


SECRETS = {"IdentityProvider": {"token": "tok-123456"},
           "PasswordIdentityProvider": {"hashed_password": "argon2:$argon2id$v=19$secret-hash"},
           "ServerApp": {"password": "sha1:server-pw", "password_required": True},
           "NotebookApp": {"token": "old-token", "password": "sha1:notebook-pw", "cookie_secret": "cookie-bytes"}}


@pytest.mark.parametrize("dry_run", [False, True])
def test_secrets_are_written_but_never_printed(jupyter_dir, capsys, dry_run):
    config = jupyter_dir / "jupyter_server_config.json"
    config.write_text(json.dumps(SECRETS))
    jupyter_config.write(jupyter_dir, dry_run=dry_run)
    out = capsys.readouterr().out
    for value in ("tok-123456", "secret-hash", "server-pw", "old-token", "notebook-pw", "cookie-bytes"):
        assert value not in out
    assert out.count("<set, hidden>") == 6 and '"password_required": true' in out
    data = json.loads(config.read_text())
    for section, values in SECRETS.items():  # the file keeps the real values
        assert values.items() <= data[section].items()


@pytest.mark.parametrize("section", ["null", "[]", '"127.0.0.1"'])
def test_a_section_that_is_not_an_object_is_one_clear_error_and_kept(jupyter_dir, section):
    config = jupyter_dir / "jupyter_server_config.json"
    text = f'{{"ServerApp": {section}, "IdentityProvider": {{}}}}'
    config.write_text(text)
    with pytest.raises(SystemExit, match=rf"{re.escape(str(config))}.*'ServerApp'.*not a JSON object.*fix or"):
        jupyter_config.write(jupyter_dir)
    assert config.read_text() == text and list(jupyter_dir.iterdir()) == [config]


@pytest.mark.parametrize("refused", ["backup", "write"])
def test_read_only_config_folder_is_one_clear_error_and_kept(jupyter_dir, monkeypatch, refused):
    config = jupyter_dir / "jupyter_server_config.json"
    config.write_text('{"ServerApp": {"ip": "*"}}')

    def refuse(*args, **kwargs):  # what a folder the user may not write gives (root writes anyway)
        raise PermissionError(13, "Permission denied", str(args[-1] if refused == "backup" else args[0]))
    if refused == "backup":
        monkeypatch.setattr(jupyter_config.shutil, "copy2", refuse)
    else:
        monkeypatch.setattr(type(config), "write_text", refuse)
    with pytest.raises(SystemExit, match=rf"cannot write {re.escape(str(config))} \(Permission denied\).*writable"):
        jupyter_config.write(jupyter_dir)
    assert config.read_text() == '{"ServerApp": {"ip": "*"}}'
    assert [p.name for p in jupyter_dir.iterdir() if ".tmp" in p.name] == []
