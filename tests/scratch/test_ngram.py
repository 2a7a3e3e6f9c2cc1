"""utils/ngram.py: counting character n-grams, add-k smoothing, tuning k, bits per character."""
from collections import Counter

import numpy as np
import pytest

from utils.ngram import CharNGram, best_ngram, tune_k


def test_probabilities_over_the_alphabet_sum_to_one_for_every_context():
    rng = np.random.default_rng(0)
    text = rng.integers(0, 5, 300)
    for n in (1, 2, 3):
        model = CharNGram(n, vocab=5, k=0.3).fit(text)
        for context in ([], [0], [4, 4], [1, 2]):
            if len(context) != n - 1:
                continue
            probs = [2.0 ** model.log2_probs(np.array(context + [c]))[0] for c in range(5)]
            assert abs(sum(probs) - 1) < 1e-12


def test_counts_match_a_plain_python_count():
    text = np.array([0, 1, 2, 0, 1, 2, 0, 1, 1, 2])
    model = CharNGram(3, vocab=3, k=1.0).fit(text)
    grams = Counter(tuple(text[i:i + 3]) for i in range(len(text) - 2))
    ctxs = Counter(tuple(text[i:i + 2]) for i in range(len(text) - 2))
    for (a, b, c), count in grams.items():
        p = 2.0 ** model.log2_probs(np.array([a, b, c]))[0]
        assert p == pytest.approx((count + 1) / (ctxs[(a, b)] + 3))
    unseen = 2.0 ** model.log2_probs(np.array([2, 2, 2]))[0]
    assert unseen == pytest.approx(1 / 3)  # never-seen context: uniform


def test_longer_contexts_win_on_text_with_structure_and_k_is_tuned_on_held_out_text():
    pattern = np.array([0, 1, 2, 3, 1, 0, 2])
    text = np.tile(pattern, 200)
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(text)) < 0.02, rng.integers(0, 4, len(text)), text)
    model, table = best_ngram(noisy[:1000], noisy[1000:1200], vocab=4, orders=range(1, 7))
    assert sorted(table) == [1, 2, 3, 4, 5, 6]
    assert table[3][1] < table[2][1] < table[1][1]
    assert model.n >= 3
    assert model.bits_per_char(noisy[1200:], skip=5) < 0.5
    assert table[1][1] == pytest.approx(2.0, abs=0.1)  # a unigram over 4 symbols: ~2 bits
    # a pattern without noise wants the least smoothing on offer
    clean = CharNGram(3, vocab=4).fit(text[:1000])
    assert tune_k(clean, text[1000:], grid=(0.001, 0.1, 1.0))[0] == 0.001


def test_tune_k_picks_the_k_with_fewest_held_out_bits():
    rng = np.random.default_rng(1)
    text = rng.integers(0, 8, 2000)
    model = CharNGram(3, vocab=8).fit(text[:1500])
    grid = (0.001, 0.1, 1.0, 10.0)
    k, bpc = tune_k(model, text[1500:], grid)
    scores = [model.bits_per_char(text[1500:], g) for g in grid]
    assert bpc == min(scores) and k == grid[int(np.argmin(scores))] and model.k == k
    assert k >= 1.0  # random text: the counts are noise, so heavy smoothing wins
    assert bpc == pytest.approx(3.0, abs=0.1)  # about log2(8)


def test_bad_settings_say_what_to_do():
    with pytest.raises(ValueError, match="positive"):
        CharNGram(2, 4).fit(np.arange(4)).log2_probs(np.arange(4), k=0)
    with pytest.raises(ValueError, match="n must be"):
        CharNGram(0, 4)
    with pytest.raises(ValueError, match="no 5-character"):
        CharNGram(5, 4).fit(np.arange(3))
