"""Every effect a lesson claims holds on the stand-ins, on seeds 0 and 1, beside a negative control."""
import numpy as np
import pytest

from utils import claims

ALL = claims.claims()


def test_margin_is_mean_minus_twice_the_spread():
    assert claims.margin([0.3, 0.1]) == pytest.approx(0.2 - 2 * 0.1414213, abs=1e-6)
    assert claims.margin([0.05]) == pytest.approx(0.05)
    assert claims.margin([0.0, 0.0]) == 0.0  # no effect is not an effect


def test_a_fake_claim_holds_and_its_noise_does_not():
    """The machinery on a known effect: +0.1 for the technique, seed noise far smaller."""
    def run(side, seed):
        noise = np.random.default_rng([seed, side == "with"]).normal(0, 0.005)
        return 0.5 + (0.1 if side == "with" else 0.0) + noise
    result = claims.measure(claims.Claim(0, "fake", "with beats without", ("without", "with"),
                                         "score", True, run), seeds=(0, 1))
    assert result.margin > 0 and result.control_margin <= 0 and result.holds
    flipped = claims.Claim(0, "fake", "lower is better", ("without", "with"), "loss", False, run)
    assert not claims.measure(flipped, seeds=(0, 1)).holds


def test_at_least_fifteen_rows_across_the_lessons():
    assert len(ALL) >= 15, [c.key for c in ALL]
    assert len({c.key for c in ALL}) == len(ALL)
    assert {c.lesson for c in ALL} == set(claims.LESSONS)


@pytest.mark.parametrize("claim", ALL, ids=[c.key for c in ALL])
def test_claim_holds_on_the_test_seeds(claim, float32_policy):
    result = claims.measure(claim, claims.TEST_SEEDS)
    print(result.line())
    assert result.control_margin <= 0, f"the negative control shows an effect: {result.line()}"
    assert result.margin > 0, result.line()


@pytest.mark.parametrize("lesson", list(claims.LESSONS))
def test_each_notebook_shows_its_claims_after_saying_what_they_compare(lesson):
    """One cell tagged `claims` shows the lesson's rows, after markdown that explains them."""
    import nbformat
    from utils.runner import NBS
    cells = nbformat.read(NBS / f"lesson{lesson}.ipynb", as_version=4).cells
    found = [i for i, c in enumerate(cells) if "claims" in c.metadata.get("tags", [])]
    assert len(found) == 1, f"lesson {lesson} has {len(found)} cells tagged 'claims'"
    cell, before = cells[found[0]], cells[found[0] - 1]
    assert cell.cell_type == "code" and f"claims.show({lesson}" in cell.source
    assert before.cell_type == "markdown" and "seeds 0 and 1" in before.source


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
