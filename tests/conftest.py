"""Test setup: the repo root on sys.path, and every folder the kit writes moved to scratch space."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Set before any test imports utils, so no test can write into the repo's data/ or build/,
# and TensorFlow keeps its start-up chatter to itself.
_SCRATCH = Path(tempfile.mkdtemp(prefix="dl1-kit-tests-"))
os.environ["DL1_DATA"] = str(_SCRATCH / "data")
os.environ["DL1_BUILD"] = str(_SCRATCH / "build")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
