"""Benchmark: wall time of the lecture notes, each lesson and all seven, on the stand-ins.

`make notes` executes every lesson notebook at its default parameters (the stand-in data offline)
and renders its HTML. This script runs exactly that once (`utils.runner.notes`, into a scratch
build folder so the real notes are left alone) and times each lesson's `run_lesson` inside it,
so each lesson is run once, not twice. A lesson's time includes starting its kernel and writing
its HTML, as `make lessonN` does; only the Python start-up of `make lessonN` itself is left out.
Targets: at most 120 s per lesson and 600 s for all seven (DEVELOPERS.md's budgets, 2 cores).

Run by `make bench`, or `python -m bench.bench_notes` from the repo root; `--edition ja` times the
Japanese edition (`make notes EDITION=ja`) against the same budgets, which `bench/bench_notes_ja.py`
does in `make bench`. Always exits 0.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.benchline import bench_line
from utils import runner

ROOT = Path(__file__).resolve().parents[1]

LESSON_TARGET_S, NOTES_TARGET_S = 120, 600


def cpu_seconds():
    """CPU time of this process and of its ended children (each lesson's kernel) so far."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def timed_notes(edition="en"):
    """Run `make notes`'s work once; returns ({lesson: (wall s, CPU s) or None}, total s)."""
    seconds, real_run = {}, runner.run_lesson

    def timed_run(name, *args, **kwargs):
        start, cpu = time.perf_counter(), cpu_seconds()
        seconds[name] = None  # stays None if the notebook fails
        out = real_run(name, *args, **kwargs)
        seconds[name] = (time.perf_counter() - start, cpu_seconds() - cpu)
        return out

    runner.run_lesson = timed_run  # notes() looks it up in its module at each call
    start = time.perf_counter()
    try:
        runner.notes(edition=edition)
    finally:
        runner.run_lesson = real_run
    return seconds, time.perf_counter() - start


def main(argv=None):
    """Time one edition of the notes and print a bench line per lesson and one for all seven."""
    ap = argparse.ArgumentParser(prog="python -m bench.bench_notes", description=__doc__.splitlines()[0])
    ap.add_argument("--edition", choices=runner.EDITIONS, default="en")
    edition = ap.parse_args(argv).edition
    flag = "" if edition == "en" else f" EDITION={edition}"
    scratch = Path(tempfile.mkdtemp(prefix="bench_notes_"))
    load = os.getloadavg()[0]
    os.environ["DL1_BUILD"] = str(scratch)  # the notebooks' kernels inherit it
    try:
        seconds, total = timed_notes(edition)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # Wall time is what the budget counts; on a shared machine the load and the CPU time (which
    # other work does not inflate) say how far it is the lesson's own.
    where = f"{os.cpu_count()} cores, load {load:.1f} to {os.getloadavg()[0]:.1f}"
    for name in runner.LESSONS:
        wall, cpu = seconds.get(name) or (None, None)
        note = f"(CPU {cpu:.0f} s; {where})" if wall is not None else "(failed or not written)"
        bench_line(f"make {name}{flag} wall time", wall, "<=", LESSON_TARGET_S, fmt="{:.0f} s",
                   note=note)
    failed = [n for n in runner.LESSONS if seconds.get(n) is None]
    bench_line(f"make notes{flag} wall time (all seven lessons)", None if failed else total, "<=",
               NOTES_TARGET_S, fmt="{:.0f} s", note=f"({', '.join(failed)} failed; ran "
               f"{total:.0f} s)" if failed else f"({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
