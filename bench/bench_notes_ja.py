"""Benchmark: wall time of the Japanese edition of the notes (`make notes EDITION=ja`), each lesson and all seven.

Its code cells are the English ones, so it has the English budgets: at most 120 s per lesson and
600 s for all seven. Run by `make bench`, or `python -m bench.bench_notes_ja`. Always exits 0.
"""
import sys

from bench.bench_notes import main

if __name__ == "__main__":
    sys.exit(main(["--edition", "ja"]))
