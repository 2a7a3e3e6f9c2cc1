"""Each effect a lesson teaches, as a claim measured side by side: two runs, seeded, compared.

A `Claim` names a lesson's claim ("dropout shrinks the train/validation gap"), its two sides (the
run without the technique and the run with it), what is measured, which way is better, and the
course's real-data figures. `measure` runs both sides for each seed.

The rule, a paired one-sided t-test. A seed's gain is the technique's figure minus the
baseline's at that seed (signed so that better is positive). The margin is the lower end of the
one-sided (1 - ALPHA) confidence interval for the mean gain, `mean - t * sd / sqrt(n)` with t
from Student's t distribution on n - 1 degrees of freedom; a claim holds when its margin is above
zero. So, with gains that scatter normally from seed to seed:
- a claim with no effect holds with probability ALPHA, its false-alarm rate, whatever the
  spread (the tests check it by simulating claims of no effect);
- a claim whose gains have mean `effect` and spread `sd` holds with probability
  `power(effect, sd, n)`, from the noncentral t distribution. `make bench` prints each row's
  power, estimated from its own seeds' gains, against POWER_TARGET.
Three seeds, not two: with one degree of freedom t is 6.31 and little short of a huge effect
holds, while with two it is 2.92.

The lessons' rows live in `utils/claims/lessonN.py` as `CLAIMS`; the tests assert them on
TEST_SEEDS, `make bench` measures them on BENCH_SEEDS, and each notebook draws its own with its
seed (`show_effects`), in the learner's words: a picture of each effect, and a sentence with the
course's figure for each effect the stand-in is too small to show.
"""
import importlib
import textwrap
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats

LESSONS = range(1, 8)
TEST_SEEDS = (0, 1, 2)
BENCH_SEEDS = (3, 4, 5)
ALPHA = 0.05         # the chance that a claim with no effect holds on a set of seeds
POWER_TARGET = 0.95  # the chance a row should have of holding on any set of seeds it meets


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
    """A claim's figures per side and seed, and the rule's verdict on them."""
    claim: Claim
    seeds: tuple
    figures: dict               # side -> one figure per seed
    seconds: float

    @property
    def gains(self):
        """Per-seed gains of the technique over the baseline, signed so that better is positive."""
        base, tech = (np.asarray(self.figures[s], float) for s in self.claim.sides)
        return (tech - base) * (1.0 if self.claim.higher_is_better else -1.0)

    @property
    def margin(self):
        """The lower end of the mean gain's one-sided (1 - ALPHA) confidence interval."""
        return margin(self.gains)

    @property
    def holds(self):
        """True when the margin is above zero: the gain stands clear of the seeds' spread."""
        return self.margin > 0

    def power(self):
        """The chance of holding on as many fresh seeds, were the true gains like these."""
        gains = self.gains
        return power(gains.mean(), _sd(gains), len(gains))

    def line(self):
        """One plain-text line: the row's key, sides, figures, mean gain and margin."""
        base, tech = self.claim.sides
        return (f"{self.claim.key}: {self.claim.measure}, {base} {_fmt(self.figures[base])} vs "
                f"{tech} {_fmt(self.figures[tech])}; gain {self.gains.mean():+.4f}, margin "
                f"{self.margin:+.4f}; {'holds' if self.holds else 'FAILS'} ({self.seconds:.0f} s)")


def margin(gains, alpha=ALPHA):
    """The lower end of the mean gain's one-sided (1 - alpha) confidence interval (Student's t);
    one gain, which has no spread to judge by (the notes' single seed), is its own margin."""
    gains = np.asarray(gains, float)
    if len(gains) < 2:
        return float(gains.mean())
    t = stats.t.ppf(1 - alpha, len(gains) - 1)
    return float(gains.mean() - t * _sd(gains) / np.sqrt(len(gains)))


def power(effect, sd, n=len(TEST_SEEDS), alpha=ALPHA):
    """The chance that a claim holds on n seeds when its gains scatter normally around `effect`
    with spread `sd`: the noncentral t distribution's mass above the rule's threshold."""
    if sd == 0:
        return float(effect > 0)
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, n - 1), n - 1, effect * np.sqrt(n) / sd))


def _sd(values):
    """Sample standard deviation (0 for fewer than two values)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


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


def measure(claim, seeds=TEST_SEEDS):
    """Run both sides of a claim for each seed."""
    start = time.perf_counter()
    figures = {side: [float(claim.run(side, s)) for s in seeds] for side in claim.sides}
    return Result(claim, tuple(seeds), figures, time.perf_counter() - start)


def show_effects(lesson, seed=0, seeds=None):
    """Draw a lesson's effects, the technique's side beside the side without it; notebooks.

    Each effect the stand-in shows (`claims(lesson)`) gets one small panel (four to a row): its two sides on the
    x axis, the figure of each run as a dot, the two runs with the same start joined by a line.
    The notes run one start (`seed`, the notebook's), so that the lesson takes no longer; `seeds`
    gives up to three. Below the picture it prints a caption per panel, and, for each effect the
    stand-in is too small to show (the lesson's MISSES, which it does not run), one sentence with
    the course's figure. Returns the figure.
    """
    import matplotlib.pyplot as plt  # only the notes draw: the tests and the bench measure without it
    seeds = tuple(seeds if seeds is not None else (seed,))[:3]
    results = [measure(c, seeds) for c in claims(lesson)]
    cols = min(len(results), 4)
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.axis("off")
    for ax, r in zip(axes.flat, results):
        base, tech = r.claim.sides
        for i, s in enumerate(r.seeds):
            ax.plot([0, 1], [r.figures[base][i], r.figures[tech][i]], "o-", color=f"C{i}",
                    label=f"start {s}" if len(r.seeds) > 1 else None)
        ax.set_xticks([0, 1], [textwrap.fill(base, 18), textwrap.fill(tech, 18)])
        ax.set_xlim(-0.4, 1.4)
        ax.set_xlabel("the two sides, trained alike")
        better = "higher" if r.claim.higher_is_better else "lower"
        ax.set_ylabel(textwrap.fill(f"{r.claim.measure} ({better} is better)", 36))
        ax.set_title(textwrap.fill(r.claim.says[:1].upper() + r.claim.says[1:], 40), fontsize=10)
        if len(r.seeds) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    runs = "one run" if len(seeds) == 1 else f"{len(seeds)} runs, each from its own start,"
    print(f"Each panel: small models trained side by side on the stand-in data, {runs} per side; "
          "the same data and start on both sides, with and without the technique.")
    for i, r in enumerate(results, 1):
        print(f"Panel {i}: {_sentence(r.claim.says)}")
    for line in miss_sentences(lesson):
        print(line)
    return fig


def miss_sentences(lesson):
    """One plain sentence per effect of a lesson that the stand-in is too small to show (its
    MISSES), with the course's real-data figure."""
    asserted = claims(lesson)
    return [f"Not drawn: {_sentence(c.says)} The stand-in data is too small to show it; on its "
            f"real data the course found: {_sentence(c.course.removeprefix('Real data: '))}"
            for c in claims(lesson, misses=True) if c not in asserted]


def _sentence(text):
    """`text` with a capital first letter and one full stop at the end."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."
