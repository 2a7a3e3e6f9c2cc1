"""Lesson 1's ideas as the notes define them (utils.lessons.lesson1, generated from the export
cells): the validation split of Kaggle's flat folder, the one-hot encoding, and the hand-built
VGG16; and the notes' own cells that show them working."""
import keras
import numpy as np
import pytest

import utils
from utils.lessons import lesson1
from utils.models import VggPreprocess, vgg16
from utils.models.vgg16 import sharpen

from notebook_cells import run_cell

SIZE = 32  # five 2x2 pools leave 1x1x512: the smallest VGG16 there is, quick to build


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def images(n=3, seed=0, size=SIZE):
    """Random 0-255 RGB images, as uint8: the preprocessing must not wrap them around."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype("uint8")


# ---------------------------------------------------------------------------------------------
# Making our own validation set

def flat_folder(root, n_per_class=6):
    """Kaggle's layout in miniature: train/cat.N.jpg and train/dog.N.jpg, each file its own name."""
    flat = root / "train"
    flat.mkdir(parents=True)
    for kind in ("cat", "dog"):
        for i in range(n_per_class):
            (flat / f"{kind}.{i}.jpg").write_text(f"{kind} {i}")
    return flat


def layout(root):
    """Every file under `root`, relative, with its content."""
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_split_moves_each_image_once_into_its_class_folder_and_samples_its_own_split(tmp_path):
    flat = flat_folder(tmp_path / "a")
    placed = lesson1.split_train_valid(tmp_path / "a", flat.glob("*.jpg"), n_valid=4, n_sample=(3, 2))
    assert list(flat.glob("*.jpg")) == []  # moved, not copied
    assert [len(placed["train"]), len(placed["valid"])] == [8, 4]
    names = [p.name for p in placed["train"] + placed["valid"]]
    assert sorted(names) == sorted(f"{k}.{i}.jpg" for k in ("cat", "dog") for i in range(6))
    files = layout(tmp_path / "a")
    for rel, text in files.items():
        split, cls, name = rel.rsplit("/", 3)[-3:]
        assert cls == name.split(".")[0] + "s" and text == name.removesuffix(".jpg").replace(".", " ")
        if rel.startswith("sample/"):
            assert f"{split}/{cls}/{name}" in files  # a copy of an image of the same split
    assert sum(rel.startswith("sample/train/") for rel in files) == 3
    assert sum(rel.startswith("sample/valid/") for rel in files) == 2


def test_split_is_seeded_and_a_second_run_leaves_the_layout_as_it_was(tmp_path):
    def valid(where, seed):
        flat = flat_folder(tmp_path / where)
        lesson1.split_train_valid(tmp_path / where, flat.glob("*.jpg"), 4, (3, 2), seed)
        return sorted(p.name for p in (tmp_path / where).glob("valid/*/*"))
    first = valid("a", 0)
    assert valid("b", 0) == first and valid("c", 1) != first
    before = layout(tmp_path / "a")
    again = (tmp_path / "a").glob("*/*/*.jpg")  # in train/ and valid/ already (sample/ is deeper)
    lesson1.split_train_valid(tmp_path / "a", again, 4, (3, 2))
    assert layout(tmp_path / "a") == before


# ---------------------------------------------------------------------------------------------
# One-hot labels

def test_onehot_is_the_course_name_and_takes_the_course_arguments():
    assert utils.onehot is lesson1.onehot
    np.testing.assert_array_equal(lesson1.onehot([0, 2, 1]), [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert lesson1.onehot(np.array([[1], [0]])).shape == (2, 2)
    assert lesson1.onehot([0, 1], num_classes=4).shape == (2, 4)
    assert lesson1.onehot([1, 1]).dtype == np.float32
    assert lesson1.onehot([]).shape == (0, 0)
    labels = np.array([0, 2, 1, 2, 0, 3])
    np.testing.assert_array_equal(lesson1.onehot(labels, 5), np.eye(5)[labels])


def test_onehot_check_cell_finds_get_batches_labels_and_keras_loss():
    cell = run_cell("lesson1", "onehot", np=np, keras=keras, onehot=lesson1.onehot, **_notebook_names())
    assert cell["onehot_same"] and cell["xent_gap"] < 1e-5


def _notebook_names():
    """What the one-hot check reads from the notebook: a model and unshuffled labelled batches."""
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 2, 10)
    x = rng.uniform(0, 255, (10, 4)).astype("float32")

    class Batches:  # the two things the cell reads, and iteration giving (images, one-hot labels)
        num_classes = 2

        def __iter__(self):
            yield x[:8], np.eye(2, dtype="float32")[classes[:8]]

    Batches.classes = classes
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])

    class Vgg:
        pass

    vgg = Vgg()
    vgg.model = model
    return {"val_batches": Batches(), "vgg": vgg}


# ---------------------------------------------------------------------------------------------
# VGG16, layer by layer

def test_the_kits_vgg16s_start_with_the_notes_preprocessing():
    assert VggPreprocess is lesson1.VggPreprocess
    assert isinstance(vgg16.vgg16_model(None, (SIZE, SIZE), include_top=False).layers[1], lesson1.VggPreprocess)


def test_dropout_adds_no_weights_and_changes_no_prediction():
    keras.utils.set_random_seed(0)  # the same random weights whatever ran before
    plain = sharpen(lesson1.vgg16_by_hand((SIZE, SIZE)))  # sure answers: differences show
    trained_form = lesson1.vgg16_by_hand((SIZE, SIZE), dropout=0.5)
    assert [l.rate for l in trained_form.layers if isinstance(l, keras.layers.Dropout)] == [0.5, 0.5]
    assert not any(isinstance(l, keras.layers.Dropout) for l in plain.layers)
    assert [w.shape for w in trained_form.weights] == [w.shape for w in plain.weights]
    trained_form.set_weights(plain.get_weights())
    expected = plain.predict(images(), verbose=0)
    assert expected.max(axis=1).min() > 0.2  # far from 1/1000 each: a real test
    np.testing.assert_allclose(trained_form.predict(images(), verbose=0), expected, atol=1e-5)


def test_vgg16_by_hand_at_width_8_is_the_standin_vgg16():
    """The notes' VGG16 with `width=8` takes the kit's stand-in weights and gives its answers."""
    from utils.models import vgg16_standin
    kit = vgg16.vgg16_model("standin", (64, 64))
    ours = lesson1.vgg16_by_hand((64, 64), kit.output_shape[-1], width=8)
    assert [w.shape for w in ours.weights] == [w.shape for w in kit.weights]
    ours.set_weights(kit.get_weights())
    ims = images(3, seed=1, size=64)
    np.testing.assert_allclose(ours.predict(ims, verbose=0), kit.predict(ims, verbose=0), atol=1e-5)
    assert kit.get_layer("fc1").units == 4096 // 8 == 4096 // vgg16_standin.RECIPE["width"]


def test_the_summary_the_notes_show_is_the_course_training_form():
    hand = run_cell("lesson1", "vgg16-summary", vgg16_by_hand=lesson1.vgg16_by_hand, IMAGE_SIZE=SIZE)["hand"]
    assert sum(isinstance(l, keras.layers.Dropout) for l in hand.layers) == 2
    assert hand.output_shape == (None, 1000)
