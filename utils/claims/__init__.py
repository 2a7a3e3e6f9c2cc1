"""Each effect a lesson teaches, as a claim measured side by side: two runs, seeded, compared.

A `Claim` names a lesson's claim ("dropout shrinks the train/validation gap"), its two sides (the
run without the technique and the run with it), what is measured, which way is better, and the
course's real-data figures. `measure` runs both sides for each seed and also a *negative
control*: the baseline against itself under other seeds, which must show no effect, so that a
pass proves something. A claim holds when its margin, the mean difference between the sides
(signed so that better is positive) minus twice its seed-to-seed spread, is above zero.

The lessons' rows live in `utils/claims/lessonN.py` as `CLAIMS`; tests assert them on seeds 0
and 1, `make bench` on seeds 2 and 3, and each notebook shows its own with its seed.
"""
import importlib
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

LESSONS = range(1, 8)
TEST_SEEDS = (0, 1)
BENCH_SEEDS = (2, 3)
CONTROL_OFFSET = 100  # the control's second side runs the baseline at seed + this


@dataclass(frozen=True)
class Claim:
    """One effect a lesson claims: `run(side, seed)` gives the measured figure of a side."""
    lesson: int
    name: str                   # short id, e.g. "dropout-gap"
    says: str                   # the claim in a sentence, as the notes make it
    sides: tuple                # (baseline, technique): the labels `run` takes
    measure: str                # what the figure is, e.g. "validation accuracy"
    higher_is_better: bool
    run: Callable[[str, int], float] = field(repr=False)
    course: str = ""            # what the course's real data showed, in words and figures

    @property
    def key(self):
        """`L<lesson>:<name>`, the row's name in tests and the bench."""
        return f"L{self.lesson}:{self.name}"


@dataclass
class Result:
    """A claim's figures per side and seed, its margin, and its negative control's."""
    claim: Claim
    seeds: tuple
    figures: dict               # side -> one figure per seed
    control: list               # the baseline at seed + CONTROL_OFFSET, per seed (or empty)
    seconds: float

    def _gain(self, base, other):
        """Per-seed differences, signed so that `other` being better is positive."""
        sign = 1.0 if self.claim.higher_is_better else -1.0
        return sign * (np.asarray(other, float) - np.asarray(base, float))

    @property
    def margin(self):
        """Mean gain of the technique over the baseline minus twice its seed-to-seed spread."""
        base, tech = (self.figures[s] for s in self.claim.sides)
        return margin(self._gain(base, tech))

    @property
    def control_margin(self):
        """The same margin for the baseline against itself under other seeds (None if not run)."""
        if not self.control:
            return None
        return margin(self._gain(self.figures[self.claim.sides[0]], self.control))

    @property
    def holds(self):
        """True when the margin is above zero and the control (if run) shows no effect."""
        control = self.control_margin
        return self.margin > 0 and (control is None or control <= 0)

    def row(self):
        """The claim's figures as one table row (dict)."""
        base, tech = self.claim.sides
        row = {"lesson": self.claim.lesson, "claim": self.claim.says,
               "measure": self.claim.measure,
               "without": f"{base}: {_fmt(self.figures[base])}",
               "with": f"{tech}: {_fmt(self.figures[tech])}",
               "margin": round(self.margin, 4)}
        if self.control:
            row["control margin"] = round(self.control_margin, 4)
        row["holds"] = self.holds
        row["stand-in shows it"] = "yes (asserted)" if self.claim in _asserted() else "no: see notes"
        row["real data (course)"] = self.claim.course
        return row

    def line(self):
        """One plain-text line: the row's key, sides, figures and margins."""
        base, tech = self.claim.sides
        control = "" if not self.control else f", control margin {self.control_margin:+.4f}"
        return (f"{self.claim.key}: {self.claim.measure}, {base} {_fmt(self.figures[base])} vs "
                f"{tech} {_fmt(self.figures[tech])}; margin {self.margin:+.4f}{control}; "
                f"{'holds' if self.holds else 'FAILS'} ({self.seconds:.0f} s)")


def _asserted():
    """The rows the tests assert (every lesson's CLAIMS, not its MISSES)."""
    return claims()


def margin(gains):
    """Mean of the per-seed gains minus twice their spread (sample standard deviation)."""
    gains = np.asarray(gains, float)
    spread = gains.std(ddof=1) if len(gains) > 1 else 0.0
    return float(gains.mean() - 2 * spread)


def _fmt(values):
    """Figures per seed as text: '0.912' for one seed, '0.912, 0.905' for several."""
    return ", ".join(f"{v:.4g}" for v in values)


def claims(lesson=None, misses=False):
    """Every lesson's claims (or one lesson's), in lesson order; with `misses`, also the rows
    measured and known not to hold on the stand-in (a module's MISSES), which the tests leave
    out and the bench and the notes report as they are."""
    found = []
    for n in ([lesson] if lesson else LESSONS):
        module = importlib.import_module(f"utils.claims.lesson{n}")
        found += module.CLAIMS + (getattr(module, "MISSES", []) if misses else [])
    return found


def find(key):
    """The claim named `L<lesson>:<name>`."""
    lesson = int(key.split(":")[0][1:])
    known = claims(lesson, misses=True)
    matches = [c for c in known if c.key == key]
    if not matches:
        raise KeyError(f"No claim {key!r}; lesson {lesson} has {[c.key for c in known]}")
    return matches[0]


def measure(claim, seeds=TEST_SEEDS, control=True):
    """Run both sides of a claim for each seed, and its negative control unless told not to."""
    start = time.perf_counter()
    figures = {side: [float(claim.run(side, s)) for s in seeds] for side in claim.sides}
    ctrl = [float(claim.run(claim.sides[0], s + CONTROL_OFFSET)) for s in seeds] if control else []
    return Result(claim, tuple(seeds), figures, ctrl, time.perf_counter() - start)


def show(lesson, seed=0):
    """Measure a lesson's claims with the notes' seed and return them as a table; notebooks.

    One seed has no spread, so here the margin is the plain difference; the tests (seeds 0 and 1)
    and the bench (2 and 3) assert the margin with its spread and the negative control. Rows the
    stand-in cannot show (MISSES) are shown too, marked as such.
    """
    import pandas as pd
    results = [measure(c, (seed,), control=False) for c in claims(lesson, misses=True)]
    for r in results:
        print(r.line())
    with pd.option_context("display.max_colwidth", 200):
        return pd.DataFrame([r.row() for r in results]).set_index("claim")
