"""Every effect a lesson claims holds on the stand-ins, on the tests' seeds, by a rule whose
false-alarm rate and power are known."""
import re
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from utils import claims

ALL = claims.claims()
N = len(claims.TEST_SEEDS)


def test_margin_is_the_lower_end_of_the_mean_gains_confidence_interval():
    # Student's t for a one-sided 95% interval on 2 degrees of freedom is 2.9200.
    assert claims.margin([0.3, 0.1, 0.2]) == pytest.approx(0.2 - 2.9200 * 0.1 / 3 ** 0.5, abs=1e-4)
    assert claims.margin([0.05]) == pytest.approx(0.05)
    assert claims.margin([0.0, 0.0, 0.0]) == 0.0  # no effect is not an effect
    assert claims.margin([0.02, 0.02, 0.02]) == pytest.approx(0.02)  # the same gain on every seed


def simulated_pass_rate(effect, sd, trials=40_000, seed=0):
    """The share of simulated claims, with normal gains around `effect`, that the rule passes."""
    gains = np.random.default_rng(seed).normal(effect, sd, size=(trials, N))
    t = stats.t.ppf(1 - claims.ALPHA, N - 1)
    margins = gains.mean(1) - t * gains.std(1, ddof=1) / np.sqrt(N)
    assert np.allclose(margins[:50], [claims.margin(g) for g in gains[:50]])  # the rule itself
    return float((margins > 0).mean())


@pytest.mark.parametrize("sd", [0.001, 1.0, 30.0])
def test_a_claim_of_no_effect_holds_at_the_stated_false_alarm_rate(sd):
    # 40,000 simulated claims: the rate's standard error is 0.0011, so 0.006 is over five of them.
    assert simulated_pass_rate(0.0, sd) == pytest.approx(claims.ALPHA, abs=0.006)


@pytest.mark.parametrize("effect", [0.5, 1.0, 2.0, 4.0])
def test_a_real_effect_holds_as_often_as_the_stated_power(effect):
    assert simulated_pass_rate(effect, 1.0, seed=1) == pytest.approx(claims.power(effect, 1.0, N),
                                                                     abs=0.01)
    assert claims.power(effect, 0.0, N) == 1.0 and claims.power(-effect, 0.0, N) == 0.0


def fake_claim(effect, higher_is_better=True):
    """A claim whose technique adds `effect` to a score, with seed noise of spread 0.005."""
    def run(side, seed):
        noise = np.random.default_rng([seed, side == "with"]).normal(0, 0.005)
        return 0.5 + (effect if side == "with" else 0.0) + noise
    return claims.Claim(0, "fake", "with beats without", ("without", "with"), "score",
                        higher_is_better, run)


def test_a_fake_claim_of_a_real_effect_holds_and_one_of_no_effect_does_not():
    assert claims.measure(fake_claim(0.1), claims.TEST_SEEDS).holds
    assert claims.power(0.1, 0.005 * 2 ** 0.5, N) > 0.999  # gains: differences of two noises
    assert not claims.measure(fake_claim(0.0), claims.TEST_SEEDS).holds
    assert not claims.measure(fake_claim(0.1, higher_is_better=False), claims.TEST_SEEDS).holds


def test_at_least_fifteen_rows_across_the_lessons():
    assert len(ALL) >= 15, [c.key for c in ALL]
    assert len({c.key for c in ALL}) == len(ALL)
    assert {c.lesson for c in ALL} == set(claims.LESSONS)


@pytest.mark.notebook
@pytest.mark.parametrize("claim", ALL, ids=[c.key for c in ALL])
def test_claim_holds_on_the_test_seeds(claim, float32_policy):
    result = claims.measure(claim, claims.TEST_SEEDS)
    print(result.line())
    assert result.holds, result.line()


NOTES_SAY_NOT = re.compile(r"\b(margin|negative control|seeds?|holds|rows?)\b", re.IGNORECASE)


@pytest.mark.parametrize("lesson", list(claims.LESSONS))
def test_each_notebook_draws_its_effects_after_saying_in_plain_words_what_they_compare(lesson):
    """One cell tagged `claims` draws the lesson's effects, after markdown that explains them in
    the learner's words: none of the tests' and the bench's vocabulary."""
    import nbformat

    from utils.runner import NBS
    cells = nbformat.read(NBS / f"lesson{lesson}.ipynb", as_version=4).cells
    found = [i for i, c in enumerate(cells) if "claims" in c.metadata.get("tags", [])]
    assert len(found) == 1, f"lesson {lesson} has {len(found)} cells tagged 'claims'"
    cell, before = cells[found[0]], cells[found[0] - 1]
    assert cell.cell_type == "code" and f"claims.show_effects({lesson}, seed=info.seed)" in cell.source
    assert before.cell_type == "markdown"
    assert not NOTES_SAY_NOT.findall(before.source), NOTES_SAY_NOT.findall(before.source)


def test_the_vocabulary_check_catches_the_tests_words():
    for text in ("the margin", "a negative control", "on three seeds", "this notebook's seed",
                 "the claim holds", "the table's second row", "the rows below"):
        assert NOTES_SAY_NOT.search(text), text
    assert not NOTES_SAY_NOT.search("a narrower CNN, trained on 300 digits, gains")


def test_show_effects_draws_a_panel_per_claim_and_a_sentence_per_miss(monkeypatch, capsys):
    """The picture: one panel per effect the stand-in shows, its two sides as labelled ticks, one
    line per run, titled with the claim; each miss is one sentence with the course's figure."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = [fake_claim(0.1), fake_claim(0.2, higher_is_better=False)]
    missed = replace(fake_claim(0.0), name="fake-miss", says="a claim too small to see",
                     course="the course's real data: 0.9745")
    monkeypatch.setattr(claims, "claims", lambda lesson=None, misses=False:
                        shown + ([missed] if misses else []))
    fig = claims.show_effects(0, seeds=(0, 1))
    try:
        axes = [ax for ax in fig.axes if ax.axison]
        assert len(axes) == len(shown)
        for ax, claim, better in zip(axes, shown, ("higher", "lower")):
            assert ax.get_title().replace("\n", " ") == "With beats without"
            assert [t.get_text() for t in ax.get_xticklabels()] == list(claim.sides)
            assert ax.get_xlabel()
            assert ax.get_ylabel().replace("\n", " ") == f"score ({better} is better)"
            assert len(ax.get_lines()) == 2  # one line per run, joining its two sides
            for line, seed in zip(ax.get_lines(), (0, 1)):
                assert list(line.get_ydata()) == [claim.run(side, seed) for side in claim.sides]
    finally:
        plt.close(fig)
    out = capsys.readouterr().out
    assert out.count("Panel ") == len(shown) and "With beats without." in out
    miss = [line for line in out.splitlines() if "A claim too small to see." in line]
    assert len(miss) == 1 and "0.9745" in miss[0] and "too small to show" in miss[0]
    assert not re.search(r"\b(margin|holds|FAILS|L0:)", out), out


MISSES = [c for c in claims.claims(misses=True) if c not in ALL]


@pytest.mark.parametrize("claim", MISSES, ids=[c.key for c in MISSES])
def test_an_effect_the_stand_in_cannot_show_is_said_so_in_the_notes(claim):
    """A MISS is not run in the notes: the lesson's claims cell prints one sentence for it, which
    gives the course's real-data figures."""
    import nbformat

    from utils.runner import NBS
    assert claim.course, f"{claim.key} gives no real-data figures"
    cells = nbformat.read(NBS / f"lesson{claim.lesson}.ipynb", as_version=4).cells
    assert any(f"claims.show_effects({claim.lesson}," in c.source for c in cells
               if c.cell_type == "code" and "claims" in c.metadata.get("tags", [])), (
        f"lesson {claim.lesson}'s notes never say that the stand-in cannot show {claim.key}")
    sentence = [s for s in claims.miss_sentences(claim.lesson) if claims._sentence(claim.says) in s]
    assert len(sentence) == 1, claims.miss_sentences(claim.lesson)
    assert "too small to show" in sentence[0]
    assert claims._sentence(claim.course.removeprefix("Real data: ")) in sentence[0]
