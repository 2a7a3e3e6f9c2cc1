"""Install what the lessons need on Colab or Kaggle Notebooks, and nothing the host already has.

The first cell of every lesson runs this (after fetching the kit) with the notebook's own Python.
It installs only requirements-lessons.txt, and of that only what is missing or older than its
lower bound: the host's TensorFlow and Keras stay when they are new enough, so their CUDA build
is kept. Every package already installed is pinned at its version while pip runs, so pip may add
packages but never upgrade or downgrade one of the host's, above all not its Jupyter stack
(notebook, ipykernel, ipython, tornado, jupyter-server, jupyter-client), nor numpy or protobuf:
runtimes crash or need a restart after those change under them. When the host has everything,
pip is not run at all, so running the cell again installs nothing. A package marked `# optional`
in the list that pip cannot get is noted, not a failure: no lesson imports it.

    python setup/hosted_install.py [MODULE ...]

prints what it installed and upgraded and how long it took. The MODULEs are those the notebook's
kernel has imported: when one of them belongs to a package it upgraded, it says to restart.
"""
import email
import importlib
import importlib.metadata
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version
except ImportError:  # pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import InvalidVersion, Version

KIT = Path(__file__).resolve().parent.parent
LESSONS = KIT / "requirements-lessons.txt"


def read_requirements(path):
    """The requirement lines of a file, with `-r` includes followed and comments dropped."""
    lines = []
    for raw in Path(path).read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += read_requirements(Path(path).parent / line.split(None, 1)[1])
        elif line.startswith("-"):
            raise ValueError(f"{path}: option line {line!r} is not understood: list packages, or -r another file")
        else:
            lines.append(line)
    return lines


def installed():
    """{canonical name: version} of every distribution this Python imports (the first found)."""
    importlib.invalidate_caches()
    found = {}
    for dist in importlib.metadata.distributions():
        meta = metadata(dist)
        if meta["Name"]:
            found.setdefault(canonicalize_name(meta["Name"]), meta["Version"])
    return found


def metadata(dist):
    """The distribution's metadata; read leniently when it is not UTF-8, as some old packages wrote it."""
    try:
        return dist.metadata
    except UnicodeDecodeError:
        # Only Name and Version are needed, and they are ASCII. importlib.metadata keeps the
        # metadata folder private; pip reads the same `_path`.
        folder = dist._path  # a pathlib.Path, or a zipfile.Path for a zipped egg
        raw = next(f.read_bytes() for f in (folder / "METADATA", folder / "PKG-INFO", folder) if f.is_file())
        return email.message_from_string(raw.decode("utf-8", errors="replace"))


def needed(requirements, have):
    """The requirements (for this Python) that are not installed, or are below their bounds."""
    wanted = []
    for line in requirements:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        version = have.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            wanted.append(req)
    return wanted


def pins(have, wanted):
    """Constraint lines `name==version` for everything installed except what is to be installed."""
    skip = {canonicalize_name(req.name) for req in wanted}
    lines = []
    for name, version in sorted(have.items()):
        try:
            Version(version)
        except InvalidVersion:  # pip cannot pin a version it cannot parse; nothing needs it
            continue
        if name not in skip:
            lines.append(f"{name}=={version}")
    return lines


def optional(path):
    """{canonical name: the comment} of the requirements in `path` whose comment starts `optional`."""
    found = {}
    for raw in Path(path).read_text().splitlines():
        line, _, comment = raw.partition("#")
        if line.strip() and comment.strip().lower().startswith("optional"):
            found[canonicalize_name(Requirement(line.strip()).name)] = comment.strip()
    return found


def run_pip(requirements, constraints):
    """pip install `requirements` within the `constraints` file; the finished process, output kept."""
    # Not --quiet: that hides pip's explanation of a conflict, the one line a learner needs.
    return subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
                           "-c", constraints, *(str(req) for req in requirements)],
                          capture_output=True, text=True)


def pip_reason(run):
    """Why pip failed, as it said it: its errors, then its explanation, its generic advice left out."""
    explained = run.stdout.partition("\n\n")[2]  # its progress lines end at the first blank line
    lines, advice = [], False
    for line in (run.stderr + "\n" + explained).splitlines():
        # pip's "To fix this you could try to: loosen the range of package versions you've
        # specified" speaks of pins the learner never wrote; the kit prints its own fix instead.
        advice = line.startswith("To fix this") or (advice and bool(line.strip()))
        if line.strip() and not advice:
            lines.append("    " + line)
    return "\n".join(lines[-30:])


def last_error(run):
    """pip's last ERROR line (the one that names what failed), or its last line."""
    lines = [line.strip() for line in pip_reason(run).splitlines()] or ["(nothing)"]
    return next((line for line in reversed(lines) if line.startswith("ERROR:")), lines[-1])


def changes(before, after):
    """'name version' for each added distribution, and 'name old -> new' for each upgraded one."""
    added = [f"{name} {after[name]}" for name in sorted(after) if name not in before]
    upgraded = [f"{name} {before[name]} -> {after[name]}"
                for name in sorted(after) if name in before and before[name] != after[name]]
    return added, upgraded


def stale_modules(before, after, imported):
    """Of the modules the kernel imported, those whose distribution changed version: sorted names."""
    upgraded = {name for name in after if name in before and before[name] != after[name]}
    tops = {module.partition(".")[0] for module in imported}
    return sorted(module for module, dists in importlib.metadata.packages_distributions().items()
                  if module in tops and upgraded & {canonicalize_name(d) for d in dists})


def report(before, after, imported, seconds):
    """Print what was installed and upgraded, and say once to restart if the kernel holds old modules."""
    added, upgraded = changes(before, after)
    done = ([f"installed {', '.join(added)}"] if added else []) + \
           ([f"upgraded {', '.join(upgraded)}"] if upgraded else [])
    print(f"dl1-kit: {'; '.join(done) or 'installed nothing new'} ({seconds:.1f} s)")
    stale = stale_modules(before, after, imported)
    if stale:
        print(f"dl1-kit: restart the runtime once (Colab: Runtime > Restart session; Kaggle: Run > "
              f"Restart & clear cell outputs), then run the notebook from the top: this kernel "
              f"imported {', '.join(stale)} before its upgrade, and Python keeps using a module it "
              "has loaded, so newer parts of it (such as matplotlib.colorizer) fail to import.")


def spec(req):
    """The requirement as pip takes it on a command line, its marker left out: 'keras>=3.5'."""
    return f"{req.name}{req.specifier}"


def install(wanted, spare, constraints):
    """Install the required packages in one pip run, then each optional one alone; pip's status."""
    required = [req for req in wanted if canonicalize_name(req.name) not in spare]
    run = run_pip(required, constraints) if required else None
    if run is not None and run.returncode != 0:
        print(f"dl1-kit: pip could not install {', '.join(map(spec, required))} while keeping "
              f"every package the host has at its version. pip says:\n{pip_reason(run)}\n"
              f"To install them anyway, letting pip change the host's packages, run this in a "
              f"cell and then restart the runtime:\n"
              f"    %pip install {' '.join(shlex.quote(spec(req)) for req in required)}",
              file=sys.stderr)
        return run.returncode
    for req in (req for req in wanted if canonicalize_name(req.name) in spare):
        run = run_pip([req], constraints)  # alone, so that its failure stops nothing else
        if run.returncode != 0:
            print(f"dl1-kit: note: {spec(req)} was not installed ({spare[canonicalize_name(req.name)]};"
                  f" no lesson imports it). pip says: {last_error(run)}")
    return 0


def main(imported=()):
    """Install what the lessons lack; print it and the time taken; return pip's exit status.

    `imported` names the modules the notebook's kernel has loaded, to tell when it must restart.
    """
    started = time.monotonic()
    before = installed()
    wanted = needed(read_requirements(LESSONS), before)
    if not wanted:
        print(f"dl1-kit: nothing to install, this Python has every package the lessons need "
              f"({time.monotonic() - started:.1f} s)")
        return 0
    print(f"dl1-kit: installing {', '.join(map(spec, wanted))}; the host's other packages, its "
          "Jupyter included, stay as they are")
    with tempfile.NamedTemporaryFile("w", suffix="-host-pins.txt") as constraints:
        constraints.write("\n".join(pins(before, wanted)) + "\n")
        constraints.flush()
        status = install(wanted, optional(LESSONS), constraints.name)
    if status == 0:
        report(before, installed(), imported, time.monotonic() - started)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
