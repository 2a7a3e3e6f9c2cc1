"""utils.features.precompute: one pass of a frozen model, in memory or streamed to disk."""
import keras
import numpy as np
import pytest
from PIL import Image

from utils.arrays import load_array
from utils.features import precompute
from utils.images import get_batches


@pytest.fixture
def folder(tmp_path):
    for c in ("a", "b"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((20, 20, 3), 20 * i + (c == "b"), "uint8")).save(
                tmp_path / "imgs" / c / f"{i}.png")
    return tmp_path / "imgs"


def mean_colour(dtype="float32"):
    return keras.Sequential([keras.Input((16, 16, 3)),
                             keras.layers.GlobalAveragePooling2D(dtype=dtype)])


def test_features_follow_file_order_in_memory_and_on_disk(folder, tmp_path):
    batches = get_batches(folder, shuffle=False, batch_size=3, target_size=(16, 16))
    feats, labels = precompute(mean_colour(), batches, progress=False)
    streamed, labels2 = precompute(mean_colour(), batches, tmp_path / "f.bc", progress=False)
    assert isinstance(streamed, np.memmap)
    assert np.allclose(feats, streamed) and np.array_equal(labels, labels2)
    expected = [20 * int(f.split("/")[1][0]) + (f[0] == "b") for f in batches.filenames]
    assert np.allclose(feats[:, 0], expected, atol=0.5)
    assert labels.argmax(1).tolist() == batches.classes.tolist()


def test_half_precision_features_are_saved_as_float32(folder, tmp_path):
    batches = get_batches(folder, shuffle=False, batch_size=4, target_size=(16, 16))
    feats, _ = precompute(mean_colour("mixed_bfloat16"), batches, tmp_path / "f.bc", progress=False)
    assert load_array(tmp_path / "f.bc").dtype == np.float32 and feats.shape == (10, 3)


def test_shuffled_batches_are_refused(folder):
    with pytest.raises(ValueError, match="shuffle=False"):
        precompute(mean_colour(), get_batches(folder, target_size=(16, 16)), progress=False)


def test_a_mapped_or_rewrapped_unshuffled_dataset_is_not_refused(folder):
    """Attributes stuck on a tf.data.Dataset vanish after .map, and `shuffle` is then the
    Dataset's method (truthy): precompute refused an unshuffled dataset. Only a plain True counts."""
    batches = get_batches(folder, shuffle=False, batch_size=4, target_size=(16, 16))
    for ds in (batches.map(lambda x, y: (x, y)), batches.dataset.map(lambda x, y: (x, y)),
               batches.dataset):
        feats, labels = precompute(mean_colour(), ds, progress=False)
        assert feats.shape == (10, 3) and labels.argmax(1).tolist() == batches.classes.tolist()
    assert callable(batches.dataset.map(lambda x, y: (x, y)).shuffle)
