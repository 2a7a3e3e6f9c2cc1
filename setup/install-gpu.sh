#!/usr/bin/env bash
# Prepare a GPU machine (Ubuntu 22.04/24.04 with an NVIDIA driver) for the course.
# Safe to run again: each step is skipped or repeated harmlessly when already done.
set -euo pipefail

REPO_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
KERNEL_NAME="dl1-kit"
JUPYTER_DIR="${JUPYTER_CONFIG_DIR:-$HOME/.jupyter}"
JUPYTER_CONFIG="$JUPYTER_DIR/jupyter_server_config.json"  # outranks jupyter_server_config.py
SYSTEMD_DIR="${DL1_SYSTEMD_DIR:-/etc/systemd/system}"
GUARD_UNIT="dl1-gpu-busy"
DRY_RUN=0

usage() {
  cat <<EOF
Usage: setup/install-gpu.sh [--dry-run] [--help]

Sets up the dl1-kit notebooks on this GPU machine:
  1. checks the NVIDIA driver (nvidia-smi)
  2. finds Python >= 3.11 (PYTHON=/path/to/python picks one)
  3. creates the virtual env $VENV (kept if present)
  4. installs the kit (editable, with its requirement lists) and "tensorflow[and-cuda]" (TensorFlow's CUDA libraries)
  5. registers the Jupyter kernel "$KERNEL_NAME"
  6. makes Jupyter listen on 127.0.0.1 only, token login kept: merged into
     $JUPYTER_CONFIG, which outranks the .py config (a changed
     file is backed up first); reach it with: python -m setup.aws tunnel
  7. warns if Jupyter's effective settings still listen beyond localhost or
     have an empty token
  8. installs the systemd timer $GUARD_UNIT: each minute it reports GPU use to
     CloudWatch, so the idle guard set by python -m setup.aws up sees GPU work too
  9. checks that TensorFlow sees the GPU

Options:
  --dry-run   print each action, prefixed with "+ ", and change nothing
  -h, --help  show this help
EOF
}

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
note() { printf '==> %s\n' "$*"; }

# Print a command as "+ cmd args", quoting only where a shell would need it.
show() {
  local out="+" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then
      out+=" $arg"
    else
      out+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  printf '%s\n' "$out"
}

# Show a command, then run it unless this is a dry run.
run() {
  show "$@"
  if [[ $DRY_RUN -eq 0 ]]; then "$@"; fi
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) printf 'error: unknown option: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
  done
}

check_driver() {
  note "NVIDIA driver"
  local cmd=(nvidia-smi "--query-gpu=name,driver_version,memory.total" "--format=csv,noheader")
  if [[ $DRY_RUN -eq 1 ]]; then show "${cmd[@]}"; return; fi
  command -v nvidia-smi >/dev/null ||
    die "nvidia-smi not found: this machine has no NVIDIA driver. Use the AWS Deep Learning Base GPU AMI (python -m setup.aws up picks it) or install a driver (sudo ubuntu-drivers install) and reboot."
  show "${cmd[@]}"
  "${cmd[@]}" || die "nvidia-smi failed: the NVIDIA driver is not working (reboot after installing it, or use the Deep Learning Base GPU AMI)."
}

# Succeeds if $1 is a Python interpreter of version 3.11 or newer.
python_ok() {
  command -v "$1" >/dev/null 2>&1 && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

find_python() {
  note "Python >= 3.11"
  local cand
  for cand in ${PYTHON:+"$PYTHON"} python3.13 python3.12 python3.11 python3; do
    if python_ok "$cand"; then PY="$(command -v "$cand")"; note "using $PY"; return; fi
  done
  local how="Python >= 3.11 not found. On Ubuntu 22.04: sudo add-apt-repository ppa:deadsnakes/ppa && sudo apt-get install -y python3.12 python3.12-venv, then PYTHON=python3.12 $0. Or with uv: curl -LsSf https://astral.sh/uv/install.sh | sh && uv python install 3.12, then PYTHON=\"\$(uv python find 3.12)\" $0."
  if [[ $DRY_RUN -eq 1 ]]; then
    printf 'warning: %s\n' "$how" >&2
    PY="python3.12"
    return
  fi
  die "$how"
}

make_venv() {
  note "virtual env $VENV"
  if [[ -x $VENV/bin/python ]]; then
    note "keeping the existing $VENV"
    python_ok "$VENV/bin/python" || [[ $DRY_RUN -eq 1 ]] ||
      die "$VENV uses a Python older than 3.11; remove it (rm -rf $VENV) and run this again."
    return
  fi
  if [[ $DRY_RUN -eq 0 ]] && ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    local ver
    ver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    die "$PY cannot create virtual envs; install them with: sudo apt-get install -y python$ver-venv"
  fi
  run "$PY" -m venv "$VENV"
}

install_packages() {
  note "packages (the kit with its requirement lists, TensorFlow with CUDA)"
  run "$VENV/bin/python" -m pip install --upgrade pip
  run "$VENV/bin/python" -m pip install -e "${REPO_ROOT}[notebooks,dev]" "tensorflow[and-cuda]"
}

register_kernel() {
  note "Jupyter kernel $KERNEL_NAME"
  run "$VENV/bin/python" -m ipykernel install --user --name "$KERNEL_NAME" --display-name "Python 3 ($KERNEL_NAME)"
}

# Merge the kit's settings into jupyter_server_config.json, which outranks the .py file (stdlib only).
configure_jupyter() {
  note "Jupyter on 127.0.0.1 only, with token login"
  local tool="$REPO_ROOT/utils/jupyter_config.py"
  if [[ $DRY_RUN -eq 1 ]]; then
    show "$PY" -P "$tool" write "$JUPYTER_DIR"
    if python_ok "$PY"; then "$PY" -P "$tool" write "$JUPYTER_DIR" --dry-run; fi
    return
  fi
  show "$PY" -P "$tool" write "$JUPYTER_DIR"
  "$PY" -P "$tool" write "$JUPYTER_DIR" || die "could not write the Jupyter settings to $JUPYTER_CONFIG"
}

# Ask Jupyter's own config loader what it would use: warn if it listens beyond localhost or has no login.
check_jupyter() {
  note "Jupyter's effective settings"
  local cmd=("$VENV/bin/python" -P "$REPO_ROOT/utils/jupyter_config.py" check)
  show "${cmd[@]}"
  if [[ $DRY_RUN -eq 1 ]]; then return; fi
  if ! JUPYTER_CONFIG_DIR="$JUPYTER_DIR" "${cmd[@]}"; then
    printf 'warning: %s\n' "Jupyter's settings need attention (see above) before you start it." >&2
  fi
}

guard_service() {
  cat <<EOF
[Unit]
Description=dl1-kit: report GPU use to CloudWatch for the idle guard (python -m setup.aws up --idle-stop)
After=network-online.target

[Service]
Type=oneshot
User=$(id -un)
WorkingDirectory=$REPO_ROOT
ExecStart="$VENV/bin/python" -m setup.gpu_busy
EOF
}

guard_timer() {
  cat <<EOF
[Unit]
Description=dl1-kit: GPU use to CloudWatch every minute, from boot on

[Timer]
OnBootSec=1min
OnUnitActiveSec=1min
AccuracySec=10s

[Install]
WantedBy=timers.target
EOF
}

# Run as root: directly when we are root, else through sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then run "$@"; else run sudo "$@"; fi
}

# Write stdin to a root-owned file (shown, not written, in a dry run).
write_root_file() {
  local text
  text="$(cat)"
  printf '+ write %s:\n' "$1"
  printf '%s\n' "$text" | sed -e 's/^/+   /'
  if [[ $DRY_RUN -eq 1 ]]; then return; fi
  if [[ $EUID -eq 0 ]]; then
    printf '%s\n' "$text" >"$1"
  else
    printf '%s\n' "$text" | sudo tee "$1" >/dev/null
  fi
}

# The box never stops itself (a shutdown would end a spot box for good): the CloudWatch alarm does.
install_idle_guard() {
  note "idle guard: GPU use to CloudWatch every minute ($GUARD_UNIT.timer)"
  if [[ $DRY_RUN -eq 0 ]] && ! command -v systemctl >/dev/null; then
    printf 'warning: %s\n' "systemctl not found: the idle guard will judge this box by its CPU alone." >&2
    return
  fi
  guard_service | write_root_file "$SYSTEMD_DIR/$GUARD_UNIT.service"
  guard_timer | write_root_file "$SYSTEMD_DIR/$GUARD_UNIT.timer"
  as_root systemctl daemon-reload
  as_root systemctl enable --now "$GUARD_UNIT.timer"
}

verify_gpu() {
  note "TensorFlow sees the GPU"
  local code='import tensorflow as tf; g = tf.config.list_physical_devices("GPU"); print(f"TensorFlow {tf.__version__} sees {len(g)} GPU(s): {[d.name for d in g]}"); raise SystemExit(0 if g else 1)'
  TF_CPP_MIN_LOG_LEVEL=2 run "$VENV/bin/python" -c "$code" ||
    die "TensorFlow does not see a GPU. Check nvidia-smi, then re-run this script (pip installs tensorflow[and-cuda])."
}

main() {
  parse_args "$@"
  if [[ $DRY_RUN -eq 1 ]]; then note "dry run: nothing will be changed"; fi
  check_driver
  find_python
  make_venv
  install_packages
  register_kernel
  configure_jupyter
  check_jupyter
  install_idle_guard
  verify_gpu
  if [[ $DRY_RUN -eq 1 ]]; then return; fi
  note "Done. Start Jupyter here with: $VENV/bin/jupyter lab"
  note "then on your computer: python -m setup.aws tunnel, and open the printed http://localhost:8888/?token=... URL"
}

main "$@"
