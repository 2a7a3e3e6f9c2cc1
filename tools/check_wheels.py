"""Check that the kit's requirements install from binary wheels only, wherever the kit runs.

For each supported CPython (3.11, 3.12, 3.13) on Linux x86_64 and on macOS arm64, and for every
requirements file of the kit, this asks pip to resolve the file as it would on that machine
without building anything:

    pip install --dry-run --only-binary=:all: --python-version 3.13 --platform ... -r <file>

It prints one line per (Python, platform) pair and exits 1 when a pair fails, naming the packages
that have no wheel for it. A file included by another one with `-r` (requirements.txt includes the
lessons', notebooks' and dev lists) is resolved as part of it. `.ci/run` runs it (the package registry is reachable
there).

    python -m tools.check_wheels                       # every pair, every requirements file
    python -m tools.check_wheels --python 3.13 --platform linux-x86_64 -r extra.txt

Two things pip does not do for us. It evaluates environment markers (`; python_version < "3.13"`)
for the Python running pip, not for --python-version, so each file is rewritten per pair with its
markers evaluated for the target. And it matches platform tags exactly, so each pair passes every
tag that machine accepts: for Linux, manylinux_2_5 up to manylinux_2_28 (glibc 2.28: Debian 10,
Ubuntu 20.04, RHEL 8 and newer) with their manylinux1/2010/2014 aliases; for macOS, what pip on
macOS 14 on Apple silicon accepts (arm64 and universal2 wheels, macOS 11 and up, universal2 back to
10.4). A single tag would make pip pick an older wheel, or none.
"""
import argparse
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setup.hosted_install import read_requirements

try:
    from packaging import tags
    from packaging.requirements import Requirement
except ImportError:  # pip carries its own copy
    from pip._vendor.packaging import tags
    from pip._vendor.packaging.requirements import Requirement

KIT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.11", "3.12", "3.13")
GLIBC_MINOR = 28  # manylinux_2_28: the newest glibc the Linux check assumes
MACOS = (14, 0)
ALIASES = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}
PLATFORMS = {
    "linux-x86_64": {
        "tags": [tag for minor in range(GLIBC_MINOR, 4, -1)
                 for tag in (f"manylinux_2_{minor}_x86_64",
                             *([f"{ALIASES[minor]}_x86_64"] if minor in ALIASES else []))],
        "markers": {"sys_platform": "linux", "platform_system": "Linux",
                    "platform_machine": "x86_64", "os_name": "posix"}},
    "macos-arm64": {
        "tags": list(tags.mac_platforms(MACOS, "arm64")),
        "markers": {"sys_platform": "darwin", "platform_system": "Darwin",
                    "platform_machine": "arm64", "os_name": "posix"}},
}


def requirement_files():
    """Every requirements file of the kit: requirements*.txt at its root."""
    return sorted(KIT.glob("requirements*.txt"))


def included_files(path):
    """The files that `path` pulls in with `-r`, directly or through others."""
    found = []
    for raw in Path(path).read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if line.startswith(("-r ", "--requirement ")):
            inner = (Path(path).parent / line.split(None, 1)[1]).resolve()
            found += [inner, *included_files(inner)]
    return found


def outermost(files):
    """The files no other one includes: resolving them resolves every file they include too."""
    # A set of wheels that satisfies a file also satisfies each file it includes, and pip only
    # considers wheels here, so checking the outer file alone is enough and takes half the time.
    inner = {f for path in files for f in included_files(path)}
    return [path for path in files if Path(path).resolve() not in inner]


def marker_environment(python, platform):
    """The marker values of CPython `python` (like '3.13') on `platform`."""
    return {"python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            **PLATFORMS[platform]["markers"]}


def for_target(lines, python, platform):
    """The requirements that apply on the target, with their markers evaluated and removed."""
    env = marker_environment(python, platform)
    kept = []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            req.marker = None
            kept.append(str(req))
    return kept


def pip_command(python, platform, requirements_file, target):
    """The pip dry run that resolves requirements_file with wheels for the target only."""
    abi = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", python, "--abi", abi,
           "--target", str(target), "--disable-pip-version-check"]
    for tag in PLATFORMS[platform]["tags"]:
        cmd += ["--platform", tag]
    return cmd + ["-r", str(requirements_file)]


def without_wheels(pip_output):
    """The requirements pip names as having no matching (binary) distribution."""
    return sorted(set(re.findall(r"No matching distribution found for (\S+)", pip_output)))


def check_pair(python, platform, files, workdir):
    """Resolve every file for one pair; return (ok, one-line summary)."""
    started, problems = time.monotonic(), []
    for path in outermost(files):
        lines = for_target(read_requirements(path), python, platform)
        if not lines:
            continue
        pair_file = Path(workdir) / f"{Path(path).stem}-cp{python}-{platform}.txt"
        pair_file.write_text("\n".join(lines) + "\n")
        target = Path(workdir) / f"target-{pair_file.stem}"
        run = subprocess.run(pip_command(python, platform, pair_file, target),
                             capture_output=True, text=True)
        if run.returncode != 0:
            names = without_wheels(run.stdout + run.stderr)
            errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("ERROR")]
            why = (f"no wheel for {', '.join(names)}" if names
                   else (errors[-1] if errors else f"pip exited with {run.returncode}"))
            problems.append(f"{Path(path).name}: {why}")
    seconds = time.monotonic() - started
    if problems:
        return False, f"wheels: CPython {python} {platform}: FAIL ({'; '.join(problems)})"
    return True, (f"wheels: CPython {python} {platform}: ok, "
                  f"{', '.join(Path(f).name for f in files)} from binary wheels only "
                  f"({seconds:.0f} s)")


def main(argv=None):
    """Check every pair asked for; print one line each; return 1 if any fails."""
    parser = argparse.ArgumentParser(prog="python -m tools.check_wheels", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", choices=PYTHONS,
                        help="CPython version to check (repeatable; default: all)")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="platform to check (repeatable; default: all)")
    parser.add_argument("-r", "--requirements", action="append", type=Path,
                        help="requirements file (repeatable; default: the kit's requirements*.txt)")
    args = parser.parse_args(argv)
    files = args.requirements or requirement_files()
    pairs = [(py, plat) for py in args.python or PYTHONS for plat in args.platform or PLATFORMS]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dl1-wheels-") as workdir:
        # The dry runs wait on the registry more than on the CPU, so they run side by side.
        with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
            results = list(pool.map(lambda pair: check_pair(*pair, files, workdir), pairs))
    for _, line in results:
        print(line)
    failed = sum(not ok for ok, _ in results)
    print(f"wheels: {len(pairs) - failed} of {len(pairs)} pairs install from binary wheels "
          f"({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
