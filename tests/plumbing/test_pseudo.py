"""utils/pseudo.py: MixIterator on the streaming layer, chunked predictions, and lesson 4's
mix_with_pseudo (utils.lessons.lesson4) built on it, fitted on."""
import numpy as np
import pytest

from utils.arrays import ArrayWriter
from utils.lessons.lesson4 import mix_with_pseudo, pseudo_rows
from utils.pseudo import LeakError, MixIterator, predict_rows, pseudo_label


def test_mix_iterator_joins_a_batch_of_each_source_and_covers_every_row(tmp_path):
    x1, y1 = np.arange(10)[:, None] * 1.0, np.eye(2)[np.arange(10) % 2]
    x2, y2 = 100 + np.arange(7)[:, None] * 1.0, np.full((7, 2), 0.5)
    np.save(tmp_path / "x2.npy", x2)
    it = MixIterator([(x1, y1), (tmp_path / "x2.npy", y2)], [4, 2], seed=0)
    assert len(it) == 3  # passes over the first source: ceil(10 / 4)
    seen1, seen2 = [], []
    for _ in range(len(it)):
        x, y = next(it)
        assert x.shape == (6, 1) and y.shape == (6, 2)
        assert (x[:4] < 100).all() and (x[4:] >= 100).all()
        np.testing.assert_array_equal(y[4:], 0.5)
        seen1 += x[:4, 0].tolist()
        seen2 += x[4:, 0].tolist()
    assert set(seen1) == set(range(10))  # one pass (plus wrap-around) covers every row
    # 6 rows drawn from the second source's first shuffled pass: no row twice.
    assert len(set(seen2)) == 6 and set(seen2) <= set(x2[:, 0])


def test_mix_iterator_takes_course_style_batch_iterators():
    def batches():
        while True:
            yield np.ones((3, 2)), np.zeros((3, 4))
    it = MixIterator([batches(), (np.zeros((8, 2)), np.ones((8, 4)))], [None, 2], steps=5)
    x, y = next(it)
    assert x.shape == (5, 2) and y[:3].sum() == 0 and y[3:].sum() == 8
    with pytest.raises(ValueError, match="steps"):
        MixIterator([batches()])


def test_mix_iterator_refuses_bad_sources():
    with pytest.raises(ValueError, match="at least one"):
        MixIterator([])
    with pytest.raises(ValueError, match="rows of x"):
        MixIterator([(np.zeros((5, 2)), np.zeros((4, 1)))], [2])
    with pytest.raises(ValueError, match="batch size"):
        MixIterator([(np.zeros((5, 2)), np.zeros((5, 1)))])
    with pytest.raises(ValueError, match="2 sources but 1"):
        MixIterator([(np.zeros((5, 2)), np.zeros((5, 1)))] * 2, [2])


def test_mix_with_pseudo_shares_each_batch(tmp_path):
    lab = (np.zeros((40, 3), "float32"), np.eye(4, dtype="float32")[np.arange(40) % 4])
    with ArrayWriter(tmp_path / "test.bc") as w:
        for _ in range(5):
            w.append(np.ones((20, 3), "float32"))
    pseudo = np.full((100, 4), 0.25, "float32")
    it = mix_with_pseudo(lab, tmp_path / "test.bc", pseudo, batch_size=16, pseudo_share=0.25)
    x, y = next(it)
    assert x.shape == (16, 3) and x[:12].sum() == 0 and x[12:].sum() == 4 * 3
    assert len(it) == 4  # 40 labelled rows, 12 a batch


def test_every_batch_holds_at_least_one_pseudo_labelled_row():
    assert pseudo_rows(64, 0.25) == 16 and pseudo_rows(20, 0.5) == 10
    assert pseudo_rows(8, 0.01) == 1  # a share that rounds to none still mixes one in
    x, _ = next(mix_with_pseudo((np.zeros((9, 2)), np.zeros((9, 3))), np.ones((5, 2)),
                                np.zeros((5, 3)), batch_size=8, pseudo_share=0.01))
    assert x.shape == (8, 2) and x.sum() == 2  # seven labelled rows, one test row


def test_predict_rows_goes_chunk_by_chunk(tmp_path):
    class Count:
        output_shape = (None, 1)
        sizes = []

        def predict_on_batch(self, x):
            self.sizes.append(len(x))
            return x.sum(axis=1, keepdims=True)
    np.save(tmp_path / "f.npy", np.ones((25, 4), "float32"))
    model = Count()
    out = predict_rows(model, tmp_path / "f.npy", batch_size=10)
    assert out.shape == (25, 1) and (out == 4).all() and model.sizes == [10, 10, 5]


def test_mix_iterator_is_a_pydataset_that_trains_a_keras_model():
    import keras
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype("float32")
    y = np.eye(2, dtype="float32")[(x[:, 0] > 0).astype(int)]
    it = mix_with_pseudo((x[:100], y[:100]), x[100:], y[100:], batch_size=20, pseudo_share=0.5)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    assert isinstance(it, keras.utils.PyDataset)
    hist = model.fit(it, epochs=8, verbose=0)
    assert len(it) == 10 and hist.history["accuracy"][-1] > 0.9


def test_iterable_sources_start_over_when_they_end():
    it = MixIterator([[(np.ones((2, 1)), np.zeros((2, 3)))], (np.zeros((4, 1)), np.ones((4, 3)))],
                     [None, 2], steps=3)
    for _ in range(3):  # the one-batch list is read again each time
        x, y = it[0]
        assert x.shape == (4, 1) and x[:2].sum() == 2 and y[2:].sum() == 6


def test_validation_rows_are_still_refused_as_pseudo_label_sources(tmp_path):
    class Echo:
        output_shape = (None, 2)

        def predict_on_batch(self, x):
            return np.tile([0.5, 0.5], (len(x), 1))
    val = np.arange(12, dtype="float32").reshape(6, 2)
    np.save(tmp_path / "val.npy", val)
    with pytest.raises(LeakError, match="validation"):
        pseudo_label(Echo(), np.concatenate([val[:2] + 100, val[3:4]]), validation=tmp_path / "val.npy")
    with pytest.raises(LeakError, match="validation images"):
        pseudo_label(Echo(), val + 100, validation=val, names=["a/1.jpg"], validation_names=["1.jpg"])
    assert pseudo_label(Echo(), val + 100, validation=val).shape == (6, 2)
