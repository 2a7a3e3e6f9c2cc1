"""Jupyter on the GPU box: write the kit's server settings where they win, and warn when it is exposed.

Jupyter reads jupyter_server_config.py and then jupyter_server_config.json from each config folder,
the user's folder last, so a setting in the user's JSON file outranks every other file. The kit
merges its settings into that file; `check` asks Jupyter's own loader what it would really use.
Run by setup/install-gpu.sh with the standard library only (`write`) or the venv (`check`);
`make doctor` prints `summary()`.
"""
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

KIT_SETTINGS = {"ServerApp": {"ip": "127.0.0.1", "open_browser": False, "port": 8888, "port_retries": 0}}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TOKEN_SECTIONS = ("IdentityProvider", "ServerApp", "NotebookApp")  # where a token may be set
# Settings whose values log in or sign: token, password, hashed_password, cookie_secret, Session.key ...
SECRET_NAME = re.compile(r"(^|_)(token|password|secret|key)$", re.I)
HIDDEN = "<set, hidden>"


def config_file(config_dir):
    """The JSON config file that outranks the .py one in the same folder."""
    return Path(config_dir) / "jupyter_server_config.json"


def merged(current):
    """`current` with the kit's settings on top and any empty token removed (Jupyter then makes one)."""
    new = {section: dict(values) for section, values in current.items() if isinstance(values, dict)}
    new.update({k: v for k, v in current.items() if not isinstance(v, dict)})
    for section, values in KIT_SETTINGS.items():
        new.setdefault(section, {}).update(values)
    for section in TOKEN_SECTIONS:
        if new.get(section, {}).get("token") == "":
            del new[section]["token"]
    return new


def secrets_masked(config):
    """`config` with every non-empty secret replaced by a marker, for printing into install logs."""
    if not isinstance(config, dict):
        return config
    return {name: HIDDEN if SECRET_NAME.search(name) and value not in ("", None) else secrets_masked(value)
            for name, value in config.items()}


def write(config_dir, dry_run=False):
    """Merge the kit's settings into the folder's JSON config (backing up a changed file); return it."""
    path = config_file(config_dir)
    try:
        current = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: cannot read {path} ({err}); fix or move it, then run this again.") from None
    if not isinstance(current, dict):
        raise SystemExit(f"error: {path} does not hold a JSON object; fix or move it, then run this again.")
    for section in (*KIT_SETTINGS, *TOKEN_SECTIONS):
        if not isinstance(current.get(section, {}), dict):
            raise SystemExit(f"error: {path}: its {section!r} entry is {json.dumps(current[section])[:40]}, not a "
                             "JSON object of settings; fix or remove that entry, then run this again.")
    new = merged(current)
    if new == current:
        print(f"{path} already has the kit's settings")
        return path
    shown = json.dumps(secrets_masked(new), indent=2, sort_keys=True)
    print(f"+ write {path}:")
    print("".join(f"+   {line}\n" for line in shown.splitlines()), end="")
    backup = path.with_name(f"{path.name}.bak.{time.strftime('%Y%m%d%H%M%S')}")
    if path.exists():
        print(f"+ back up the old file to {backup}")
    if not dry_run:
        replace(path, json.dumps(new, indent=2, sort_keys=True) + "\n", backup)
    return path


def replace(path, text, backup):
    """Write `text` to `path` whole or not at all, backing up the old file; one clear error if refused."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.copy2(path, backup)
        tmp.write_text(text)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"error: cannot write {path} ({err.strerror or err}); make {path.parent} writable "
                         "for you, or set JUPYTER_CONFIG_DIR to a folder you own, then run this again.") from None


def effective():
    """(ip, token or None when unset) as Jupyter's own config loader resolves them."""
    # this file also runs with the system's Python, before Jupyter is installed
    from jupyter_server.serverapp import ServerApp
    app = ServerApp()
    app.load_config_file()
    token = None
    for section in reversed(TOKEN_SECTIONS):  # IdentityProvider.token wins over the old names
        if "token" in app.config[section]:
            token = app.config[section]["token"]
    return app.ip, token


def warnings():
    """What makes this box's Jupyter reachable beyond localhost or without login; empty when safe."""
    try:
        ip, token = effective()
    except SystemExit:  # Jupyter printed why ("Bad config encountered ...") and would not start
        return ["Jupyter rejects its config files (see its message above); fix them before starting Jupyter."]
    found = []
    if ip not in LOCAL_HOSTS:
        found.append(f"Jupyter would listen on {ip or 'every address'!r}, beyond localhost: anyone who reaches "
                     "the box could use it. Run setup/install-gpu.sh again, or remove the `ip` setting.")
    if token == "":
        found.append("Jupyter's token is set empty: no login at all. Remove the `token = ''` line from your "
                     "Jupyter config (its own random token is then used).")
    return found


def summary():
    """One line for `make doctor`: how Jupyter would listen here."""
    # Jupyter's loader sets up logging on whatever sys.stderr is at the time; a child process
    # keeps that (and any config it imports) out of the caller's process.
    import subprocess
    done = subprocess.run([sys.executable, __file__, "check"], capture_output=True, text=True)
    if done.returncode == 0:
        return "listens on localhost only, with token login"
    if "not installed" in done.stderr:
        return "not installed"
    found = [line.removeprefix("warning: ") for line in done.stderr.splitlines() if line.strip()]
    return "WARNING: " + " ".join(found)


def main(argv):
    """`write CONFIG_DIR [--dry-run]` or `check`; check exits 1 when Jupyter would be exposed."""
    if argv[:1] == ["write"] and len(argv) in (2, 3):
        write(argv[1], dry_run="--dry-run" in argv[2:])
        return 0
    if argv == ["check"]:
        try:
            found = warnings()
        except ImportError:
            print("warning: cannot check Jupyter's settings: jupyter_server is not installed here", file=sys.stderr)
            return 1
        for line in found:
            print(f"warning: {line}", file=sys.stderr)
        return 1 if found else 0
    print("usage: jupyter_config.py write CONFIG_DIR [--dry-run] | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
