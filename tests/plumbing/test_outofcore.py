"""utils/outofcore.py: the one reader of batches from arrays on disk, and why fit needs it."""
import keras
import numpy as np
import pytest

from utils.arrays import ArrayWriter, load_array, save_array
from utils.memory import PeakSampler, rss_anon
from utils.outofcore import ArrayBatches, Rows


def test_rows_read_arrays_npy_files_folders_and_memmaps_alike(tmp_path):
    x = np.arange(60, dtype="float32").reshape(20, 3)
    np.save(tmp_path / "x.npy", x)
    save_array(tmp_path / "x.bc", x)
    for data in (x, tmp_path / "x.npy", tmp_path / "x.bc", str(tmp_path / "x.bc"),
                 load_array(tmp_path / "x.bc", mmap=True)):
        rows = Rows(data)
        assert len(rows) == 20 and rows.shape == (20, 3) and rows.dtype == np.float32
        got = rows.take(np.array([2, 5, 19]))
        np.testing.assert_array_equal(got, x[[2, 5, 19]])
        assert not isinstance(got, np.memmap)  # a private copy, no map left open
    assert Rows(load_array(tmp_path / "x.bc", mmap=True)).path == tmp_path / "x.bc/array.npy"


def test_rows_check_a_folder_against_its_marker_as_load_array_does(tmp_path):
    """Streaming from disk meets the same damaged files as load_array, and says so the same way."""
    save_array(tmp_path / "a.bc", np.zeros((6, 4), "float32"))
    save_array(tmp_path / "b.bc", np.zeros((5, 4), "float32"))
    (tmp_path / "a.bc/array.npy").write_bytes((tmp_path / "b.bc/array.npy").read_bytes())
    with pytest.raises(ValueError, match="does not match its"):
        Rows(tmp_path / "a.bc")
    (tmp_path / "a.bc/array.npy").write_bytes(b"<html>Service Unavailable</html>" * 10)
    with pytest.raises(ValueError, match="damaged") as err:
        Rows(tmp_path / "a.bc")
    assert "pickle" not in str(err.value)


def test_rows_explain_missing_features(tmp_path):
    with pytest.raises(FileNotFoundError, match="precompute"):
        Rows(tmp_path / "nothing.bc")
    (tmp_path / "empty.bc").mkdir()
    with pytest.raises(ValueError, match="precompute"):
        Rows(tmp_path / "empty.bc")


def test_several_inputs_and_outputs_stay_row_aligned(tmp_path):
    """Lesson 7's heads: features + size one-hot in, class + box out."""
    n = 11
    feats = np.arange(n * 4, dtype="float32").reshape(n, 2, 2, 1)
    np.save(tmp_path / "f.npy", feats)
    sizes = np.eye(n, dtype="float32")
    cls, box = np.arange(n, dtype="float32"), np.arange(n * 4, dtype="float32").reshape(n, 4)
    b = ArrayBatches([tmp_path / "f.npy", sizes], {"class": cls, "bb": box}, batch_size=4, seed=2)
    assert len(b) == 3 and b.n == n
    seen = []
    for i in range(len(b)):
        (xf, xs), y = b[i]
        rows = xs.argmax(1)
        np.testing.assert_array_equal(xf[:, 0, 0, 0], rows * 4)
        np.testing.assert_array_equal(y["class"], rows)
        np.testing.assert_array_equal(y["bb"][:, 0], rows * 4)
        seen += rows.tolist()
    assert sorted(seen) == list(range(n))
    (only,) = ArrayBatches([feats, sizes], batch_size=4, shuffle=False)[0]  # inputs alone
    assert [a.shape for a in only] == [(4, 2, 2, 1), (4, n)]
    with pytest.raises(ValueError, match="rows"):
        ArrayBatches([feats, sizes[:3]], cls)


def test_a_two_input_two_output_model_trains_on_the_stream(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, s = rng.normal(size=(64, 3)).astype("float32"), np.eye(2, dtype="float32")[np.arange(64) % 2]
    y = np.eye(2, dtype="float32")[(x[:, 0] > 0).astype(int)]
    xi, si = keras.Input((3,), name="features"), keras.Input((2,), name="size")
    h = keras.layers.Concatenate()([xi, si])
    model = keras.Model([xi, si], {"class": keras.layers.Dense(2, activation="softmax", name="class")(h),
                                   "bb": keras.layers.Dense(1, name="bb")(h)})
    model.compile(keras.optimizers.Adam(0.05), loss={"class": "categorical_crossentropy", "bb": "mse"})
    hist = model.fit(ArrayBatches([x, s], {"class": y, "bb": x[:, :1]}, batch_size=16), epochs=3,
                     verbose=0)
    assert len(hist.history["loss"]) == 3 and np.isfinite(hist.history["loss"][-1])
    pred = model.predict(ArrayBatches([x, s], batch_size=16, shuffle=False), verbose=0)
    assert pred["class"].shape == (64, 2)


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="Linux only")
def test_fit_copies_a_memmap_into_memory_and_the_stream_does_not(tmp_path):
    """Why lesson 7 streams: 'passing the memmap to fit' grows the process by about the array's
    size (Colab's 12 GB run out at 360x640); ArrayBatches grows it by a few batches."""
    n, shape = 400, (24, 24, 64)  # 59 MB of float32
    with ArrayWriter(tmp_path / "f.bc") as w:
        for _ in range(n // 100):
            w.append(np.ones((100, *shape), "float32"))
    x = load_array(tmp_path / "f.bc", mmap=True)
    y = np.eye(2, dtype="float32")[np.arange(n) % 2]
    size = x.nbytes
    model = keras.Sequential([keras.Input(shape), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    model.fit(ArrayBatches(x, y, batch_size=8), epochs=1, steps_per_epoch=2, verbose=0)  # warm-up

    def growth(*args, **kwargs):
        # The peak during fit, not the level after it: a copy freed at the end leaves no trace.
        before = rss_anon()
        with PeakSampler() as peak:
            model.fit(*args, epochs=1, steps_per_epoch=10, verbose=0, **kwargs)
        return (peak.peak - before) / size

    streamed = growth(ArrayBatches(x, y, batch_size=8))
    copied = growth(x, y, batch_size=8)
    assert streamed < 0.25 and copied > 0.8, (streamed, copied)


def test_lesson7_trains_no_head_on_a_memory_mapped_array():
    """Lesson 7's heads once took the precomputed features (memmaps) straight into fit, which
    copies them whole: every fit there must read through a stream instead."""
    import json
    import re
    from pathlib import Path
    nb = json.loads((Path(__file__).parents[2] / "nbs" / "lesson7.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    firsts = re.findall(r"\.fit\(\s*([^,)]+)", code)
    assert len(firsts) >= 6, firsts  # the heads, the size model, boxes, the FCN, pseudo-labels
    features = re.compile(r"^\[?\s*(trn|val|tst)_l?x\b")
    assert not [arg for arg in firsts if features.match(arg)], firsts
