"""`make bench-suite` (bench/suite.py): a fresh clone, pip's cache off, `make test` then `make check`
timed, one bench line each; shown on a tiny repository whose two targets say what they were given."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = """test:
\t@test "$$PIP_NO_CACHE_DIR" = 1 && test ! -e .tested && touch .tested
check:
\t@test -f .tested
"""  # test: pip's cache off, in a clone nothing ran in; check: after test, in the same clone


def tiny_repo(tmp_path, makefile):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Makefile").write_text(makefile)
    for cmd in (["init", "-q"], ["add", "Makefile"],
                ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "tiny"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    return repo


def run_suite(repo):
    return subprocess.run([sys.executable, "-m", "bench.suite", "--repo", str(repo)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_bench_suite_times_test_then_check_in_a_fresh_clone_without_pip_s_cache(tmp_path):
    out = run_suite(tiny_repo(tmp_path, MAKEFILE))
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("bench:")]
    assert [line.split(" = ")[0] for line in lines] == [
        "bench: make test, fresh clone, venv included (s)", "bench: make check (s)"]
    assert all(line.endswith("PASS") for line in lines)  # seconds, far below the targets


def test_a_failing_target_is_a_miss_with_its_last_lines(tmp_path):
    out = run_suite(tiny_repo(tmp_path, "test:\n\t@echo broken here; exit 3\ncheck:\n\t@true\n"))
    assert out.returncode == 0
    assert "make test failed (exit 2)" in out.stdout and "broken here" in out.stdout
    assert "bench: make test, fresh clone, venv included (s) = n/a (target <= 900) MISS" in out.stdout
    assert "bench: make check (s) = n/a (target <= 180) MISS" in out.stdout
