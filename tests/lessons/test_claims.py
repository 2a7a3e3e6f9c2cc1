"""Every effect a lesson claims holds on the stand-ins, on the tests' seeds, by a rule whose
false-alarm rate and power are known."""
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


@pytest.mark.parametrize("lesson", list(claims.LESSONS))
def test_each_notebook_shows_its_claims_after_saying_what_they_compare(lesson):
    """One cell tagged `claims` shows the lesson's rows, after markdown that explains them."""
    import nbformat

    from utils.runner import NBS
    cells = nbformat.read(NBS / f"lesson{lesson}.ipynb", as_version=4).cells
    found = [i for i, c in enumerate(cells) if "claims" in c.metadata.get("tags", [])]
    assert len(found) == 1, f"lesson {lesson} has {len(found)} cells tagged 'claims'"
    cell, before = cells[found[0]], cells[found[0] - 1]
    assert cell.cell_type == "code" and f"claims.lesson_table({lesson}" in cell.source
    assert before.cell_type == "markdown"


MISSES = [c for c in claims.claims(misses=True) if c not in ALL]


@pytest.mark.parametrize("claim", MISSES, ids=[c.key for c in MISSES])
def test_a_row_the_stand_in_cannot_show_says_so_in_the_notes(claim):
    """A MISS is shown in its lesson's table, with the course's real-data figures beside it."""
    import nbformat

    from utils.runner import NBS
    assert claim.course, f"{claim.key} gives no real-data figures"
    text = "\n".join(c.source for c in nbformat.read(NBS / f"lesson{claim.lesson}.ipynb",
                                                       as_version=4).cells
                     if c.cell_type == "markdown")
    assert claim.name in text or claim.says in text, (
        f"lesson {claim.lesson}'s notes never say that the stand-in cannot show {claim.key}")
