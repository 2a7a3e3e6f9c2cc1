"""tools/check_wheels.py: the requirements install from binary wheels on every supported pair.

The full check (six pairs, every requirements file) runs in .ci/run; here a one-package file
shows that a requirement without a wheel for the target is reported by name.
"""
from pathlib import Path

import pytest

from tools import check_wheels

KIT = Path(__file__).resolve().parents[2]


def names(lines):
    return {line.split(">")[0].split("=")[0].split("<")[0] for line in lines}


def test_markers_are_evaluated_for_the_target_python_not_the_one_running_pip():
    lessons = check_wheels.read_requirements(KIT / "requirements-lessons.txt")
    assert "bcolz-zipline" in names(check_wheels.for_target(lessons, "3.12", "linux-x86_64"))
    on_313 = check_wheels.for_target(lessons, "3.13", "macos-arm64")
    assert "bcolz-zipline" not in names(on_313)
    assert {"keras", "tensorflow", "numpy"} <= names(on_313)
    assert not any(";" in line for line in on_313)  # markers are gone from the pair's file


def test_every_tag_the_target_machines_accept_is_passed():
    linux = check_wheels.PLATFORMS["linux-x86_64"]["tags"]
    wanted = {"manylinux2014_x86_64", *(f"manylinux_2_{n}_x86_64" for n in range(17, 29))}
    assert wanted <= set(linux)
    assert linux[0] == "manylinux_2_28_x86_64"  # newest first, so pip prefers the newest wheel
    mac = check_wheels.PLATFORMS["macos-arm64"]["tags"]
    assert {f"macosx_{n}_0_arm64" for n in range(11, 15)} <= set(mac)
    assert not any("x86_64" in tag for tag in mac)


def test_requirements_txt_includes_every_other_list_so_one_resolve_covers_all():
    files = check_wheels.requirement_files()
    assert {f.name for f in files} >= {"requirements.txt", "requirements-lessons.txt",
                                       "requirements-notebooks.txt", "requirements-dev.txt"}
    assert [f.name for f in check_wheels.outermost(files)] == ["requirements.txt"]
    everything = names(check_wheels.read_requirements(KIT / "requirements.txt"))
    for path in files:
        assert names(check_wheels.read_requirements(path)) <= everything


def test_a_requirement_without_a_wheel_fails_its_pair_by_name(tmp_path, capsys):
    # Uses the package registry, as CI does. bcolz-zipline has wheels for cp311/cp312 only.
    extra = tmp_path / "requirements-extra.txt"
    extra.write_text("bcolz-zipline>=1.12  # no cp313 wheel\n")
    code = check_wheels.main(["--python", "3.12", "--python", "3.13",
                              "--platform", "linux-x86_64", "-r", str(extra)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(lines) == 3  # one per pair, then the summary
    assert "CPython 3.13 linux-x86_64: FAIL" in lines[1] and "bcolz-zipline" in lines[1]
    assert "CPython 3.12 linux-x86_64: ok" in lines[0]
    assert lines[2].startswith("wheels: 1 of 2 pairs")


def test_option_lines_it_cannot_follow_are_refused(tmp_path):
    odd = tmp_path / "requirements-odd.txt"
    odd.write_text("--index-url https://example.invalid/simple\nnumpy\n")
    with pytest.raises(ValueError, match="is not understood: list packages, or -r another file"):
        check_wheels.read_requirements(odd)
