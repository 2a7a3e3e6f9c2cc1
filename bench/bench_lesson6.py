"""Lesson 6: the best Keras character model against the best count-based character n-gram.

Both are trained on the same first 90% of the corpus (Nietzsche, or the stand-in offline),
tuned on the next 5% (the n-gram's n and k; the network's best epoch) and scored on the last 5%,
on exactly the same characters, in bits per character (lower is better).
Run from the repo root: python -m bench.bench_lesson6  [training budget in seconds, default 450]
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from bench.benchline import bench_line  # noqa: E402

BURN = 64  # characters of context every model gets before its predictions count
LIMIT_S = 600


def main(budget_s=450.0):
    start = time.time()
    import numpy as np

    from utils.datasets import text as textdata
    from utils.ngram import best_ngram

    data = textdata.get("auto")
    corpus, standin = data["text"], data.standin
    chars = textdata.char_vocab(corpus)
    idx = textdata.encode(corpus, chars)
    train, tune, test = textdata.split_text(idx)
    print(f"corpus: {'stand-in (Python docs)' if standin else 'Nietzsche'}, {len(idx):,} chars, "
          f"{len(chars)} symbols; train {len(train):,} / tune {len(tune):,} / test {len(test):,}")

    ngram, table = best_ngram(train, tune, len(chars), orders=range(1, 7))
    for n, (k, bpc) in table.items():
        print(f"  {n}-gram: k = {k:.4g}, tuning bits/char {bpc:.3f}")
    ngram_bpc = ngram.bits_per_char(test, skip=BURN)
    print(f"best n-gram: n = {ngram.n}, k = {ngram.k:.4g}, test bits/char {ngram_bpc:.3f}")

    from utils.env import setup
    setup(quiet=True)
    from utils.lessons.lesson6 import char_rnn, seq_windows
    from utils.models.text import char_log2_probs
    from utils.training import compile_model

    model = compile_model(char_rnn(len(chars), n_fac=42, n_hidden=256, cell="GRU"), 0.003,
                          "sparse_categorical_crossentropy")
    x, y = seq_windows(train, 128, 128)
    best, best_w, epoch = np.inf, None, 0
    train_start = time.time()
    while time.time() - train_start < budget_s:
        epoch_start = time.time()
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=True)
        tune_bpc = -char_log2_probs(model, tune, BURN, BURN).mean()
        epoch += 1
        print(f"  GRU epoch {epoch}: tuning bits/char {tune_bpc:.3f} "
              f"({time.time() - epoch_start:.0f} s)", flush=True)
        if tune_bpc < best:
            best, best_w = tune_bpc, model.get_weights()
        elif epoch > 2:
            lr = model.optimizer.learning_rate
            lr.assign(lr * 0.5)  # no better than the best epoch: take smaller steps
        if time.time() - train_start + (time.time() - epoch_start) > budget_s:
            break  # another epoch would overrun the budget
    model.set_weights(best_w)
    rnn_bpc = float(-char_log2_probs(model, test, BURN, BURN).mean())
    wall = time.time() - start

    bench_line("lesson6 char GRU test bits/char", rnn_bpc, "<", ngram_bpc, "{:.3f}",
               "{:.3f}, the best n-gram")
    bench_line("lesson6 wall time s", wall, "<", LIMIT_S, "{:.0f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 450.0)
