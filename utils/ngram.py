"""Count-based character n-grams: the baseline a character RNN has to beat; lesson 6.

An n-gram model predicts the next character from the n-1 before it by counting, in the training
text, how often each character followed that context. Unseen pairs would get probability zero, so
add-k smoothing pretends every character was seen k extra times after every context:

    P(c | context) = (count(context + c) + k) / (count(context) + k * V)     V = alphabet size

k is tuned on a held-out slice, never on the test text. Quality is measured in bits per character:
the average number of yes/no questions the model needs to guess each next character (lower is
better; 1 nat = 1.4427 bits).
"""
import numpy as np

K_GRID = tuple(float(k) for k in np.logspace(-4, 0.5, 19))


def _codes(idx, width, vocab):
    """Each window of `width` characters as one integer in base `vocab`."""
    idx = np.asarray(idx, dtype=np.int64)
    if vocab ** width >= 2 ** 62:
        raise ValueError(f"{width}-character windows over {vocab} symbols overflow int64.")
    codes = np.zeros(len(idx) - width + 1, dtype=np.int64)
    for j in range(width):
        codes = codes * vocab + idx[j:len(idx) - width + 1 + j]
    return codes


class CharNGram:
    """Counts of n-character windows and their (n-1)-character contexts; lesson 6."""

    def __init__(self, n, vocab, k=1.0):
        if n < 1:
            raise ValueError(f"n must be 1 or more, not {n}")
        self.n, self.vocab, self.k = n, vocab, k

    def fit(self, idx):
        """Count every window of the training text; lesson 6."""
        if len(idx) < self.n:
            raise ValueError(f"A text of {len(idx)} characters has no {self.n}-character windows.")
        self.grams, self.gram_counts = np.unique(_codes(idx, self.n, self.vocab),
                                                 return_counts=True)
        if self.n > 1:
            # contexts counted where a next character follows, so counts match the windows
            ctx = _codes(idx[:-1], self.n - 1, self.vocab)
            self.ctxs, self.ctx_counts = np.unique(ctx, return_counts=True)
        else:
            self.total = len(idx)
        return self

    @staticmethod
    def _lookup(keys, table, counts):
        """Counts of each key in a sorted table, 0 for keys never seen."""
        pos = np.clip(np.searchsorted(table, keys), 0, len(table) - 1)
        return np.where(table[pos] == keys, counts[pos], 0)

    def log2_probs(self, idx, k=None):
        """log2 P(next char | previous n-1 chars) for each char after the first n-1; lesson 6."""
        k = self.k if k is None else k
        if k <= 0:
            raise ValueError("k must be positive, or unseen characters get probability 0.")
        num = self._lookup(_codes(idx, self.n, self.vocab), self.grams, self.gram_counts)
        if self.n > 1:
            den = self._lookup(_codes(idx[:-1], self.n - 1, self.vocab), self.ctxs,
                               self.ctx_counts)
        else:
            den = np.full(len(num), self.total)
        return np.log2(num + k) - np.log2(den + k * self.vocab)

    def bits_per_char(self, idx, k=None, skip=None):
        """Average bits per character, scoring from position `skip` on (default n-1); lesson 6."""
        logp = self.log2_probs(idx, k)
        # Every model is scored on the same characters: those after the first `skip` ones.
        skip = self.n - 1 if skip is None else skip
        return float(-logp[skip - (self.n - 1):].mean())


def tune_k(model, tune_idx, grid=K_GRID, skip=None):
    """The k of `grid` with the fewest bits per character on the tuning slice; lesson 6."""
    scores = {k: model.bits_per_char(tune_idx, k, skip) for k in grid}
    best = min(scores, key=scores.get)
    model.k = best
    return best, scores[best]


def best_ngram(train_idx, tune_idx, vocab, orders=range(1, 7), grid=K_GRID):
    """Fit n = 1..6, tune k for each on the tuning slice, keep the best; lesson 6.

    Returns (best model, table) where table maps n to (k, tuning bits per char). Every order is
    scored on the same characters of the tuning slice (after the first max(orders)-1).
    """
    skip = max(orders) - 1
    table, best = {}, None
    for n in orders:
        model = CharNGram(n, vocab).fit(train_idx)
        k, bpc = tune_k(model, tune_idx, grid, skip)
        table[n] = (k, bpc)
        if best is None or bpc < table[best.n][1]:
            best = model
    return best, table
