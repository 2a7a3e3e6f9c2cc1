"""The offline pretrained backbone: the stand-in VGG16's layers, its committed weights and their
recipe check, and the script that trains it (on a tiny recipe, in seconds)."""
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from utils.models import Vgg16, WeightsUnavailable, vgg16_model, vgg16_standin as vs
from utils.standins import imagenet as imagenet_standin

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("float32_policy")


def script():
    """tools/make_standin_backbone.py, the developers' tool that trains the stand-in backbone."""
    from tools import make_standin_backbone
    return make_standin_backbone


@pytest.fixture(scope="module")
def standin():
    return vgg16_model("standin", (64, 64))


def test_committed_weights_are_small_and_match_the_kits_recipe():
    record = vs.check()
    assert record["recipe"] == vs.RECIPE and record["recipe_hash"] == vs.recipe_hash()
    assert record["weights_sha256"] == vs.file_sha256(vs.WEIGHTS_FILE)
    assert record["classes"] == list(imagenet_standin.CLASSES)
    assert vs.WEIGHTS_FILE.stat().st_size < 5e6
    assert "NOT ImageNet" in record["what"]


def test_it_has_vgg16s_layers_and_names_at_an_eighth_of_the_width(standin):
    keras.utils.set_random_seed(0)
    reference = keras.applications.VGG16(weights=None, input_shape=(64, 64, 3))
    names = [layer.name for layer in standin.layers]
    assert names[1] == "vgg_preprocess"
    assert names[2:] == [layer.name for layer in reference.layers[1:-1]] + ["predictions"]
    assert [type(l) for l in standin.layers[2:]] == [type(l) for l in reference.layers[1:]]
    for ours, theirs in zip(standin.layers[2:], reference.layers[1:-1]):
        if isinstance(ours, (keras.layers.Conv2D, keras.layers.Dense)):
            assert getattr(ours, "filters", None) or ours.units  # a width to compare
            ours_w = getattr(ours, "filters", None) or ours.units
            theirs_w = getattr(theirs, "filters", None) or theirs.units
            assert ours_w * vs.RECIPE["width"] == theirs_w, ours.name
    assert standin.get_layer("fc1").units == 4096 // vs.RECIPE["width"]
    assert standin.output_shape == (None, len(imagenet_standin.CLASSES))


def test_vgg16_object_with_standin_weights_has_the_standin_classes():
    vgg = Vgg16(weights="standin", size=(64, 64))
    assert vgg.classes == list(imagenet_standin.CLASSES) and "tabby_cat" in vgg.classes
    assert vgg.model.layers[-2].name == "fc2"


def test_without_its_top_it_ends_at_block5_pool_and_takes_any_size(standin):
    bottom = vgg16_model("standin", (96, 96), include_top=False)
    assert bottom.layers[-1].name == "block5_pool"
    assert bottom.output_shape == (None, 3, 3, 64)
    np.testing.assert_array_equal(bottom.get_layer("block5_conv3").get_weights()[0],
                                  standin.get_layer("block5_conv3").get_weights()[0])


def test_it_recognises_fresh_pictures_of_its_classes(standin):
    """Pictures it was not trained on (another seed): ten times chance (1/28) and more; its
    record says about 0.56 on its own held-out pictures."""
    x, y = imagenet_standin.make(5, seed=12345)
    guess = np.asarray(standin(x, training=False)).argmax(axis=1)
    assert (guess == y).mean() > 10 / len(imagenet_standin.CLASSES)


def test_unknown_weights_and_a_wrong_size_are_refused_clearly():
    with pytest.raises(ValueError, match="'standin'"):
        vgg16_model("imagenet21k", (64, 64))
    with pytest.raises(ValueError, match="64x64"):
        vgg16_model("standin", (224, 224))


@pytest.fixture
def copy_of_weights(tmp_path, monkeypatch):
    """The committed weights and record copied to tmp_path, and the kit pointed at the copies."""
    weights, record = tmp_path / vs.WEIGHTS_FILE.name, tmp_path / vs.RECIPE_FILE.name
    shutil.copy(vs.WEIGHTS_FILE, weights)
    shutil.copy(vs.RECIPE_FILE, record)
    monkeypatch.setattr(vs, "WEIGHTS_FILE", weights)
    monkeypatch.setattr(vs, "RECIPE_FILE", record)
    return weights, record


def test_missing_weights_say_how_to_get_them(copy_of_weights):
    copy_of_weights[0].unlink()
    with pytest.raises(WeightsUnavailable, match="make_standin_backbone"):
        vgg16_model("standin", (64, 64))


def test_weights_of_another_recipe_are_refused(copy_of_weights, monkeypatch):
    monkeypatch.setattr(vs, "RECIPE", dict(vs.RECIPE, epochs=vs.RECIPE["epochs"] + 1))
    with pytest.raises(vs.StandinWeightsError, match="another recipe"):
        vs.check()


def test_weights_of_other_classes_are_refused(copy_of_weights, monkeypatch):
    monkeypatch.setattr(imagenet_standin, "CLASSES", imagenet_standin.CLASSES[:-1])
    with pytest.raises(vs.StandinWeightsError, match="other classes"):
        vs.check()


def test_a_damaged_weights_file_is_refused(copy_of_weights):
    weights = copy_of_weights[0]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(vs.StandinWeightsError, match="does not match"):
        vs.check()


def test_the_script_trains_a_tiny_recipe_and_records_its_hash(tmp_path):
    recipe = dict(vs.RECIPE, per_class=3, n_valid=1, epochs=1, size=32, batch_size=16,
                  classes=list(imagenet_standin.CLASSES[:4]))
    make = script()
    records = [make.train(recipe, tmp_path / name, verbose=0) for name in ("a", "b")]
    record = json.loads((tmp_path / "a" / vs.RECIPE_FILE.name).read_text())
    assert record == records[0] and record["recipe"] == recipe
    assert record["recipe_hash"] == vs.recipe_hash(recipe) != vs.recipe_hash()
    assert record["weights_sha256"] == vs.file_sha256(tmp_path / "a" / vs.WEIGHTS_FILE.name)
    models = []
    for name in ("a", "b"):  # seeded: the same recipe gives the same weights
        model = vs.build((32, 32), True, 4, recipe)
        model.load_weights(tmp_path / name / vs.WEIGHTS_FILE.name)
        models.append(model)
    for w1, w2 in zip(*(m.get_weights() for m in models)):
        np.testing.assert_array_equal(w1, w2)


def test_every_class_of_the_imagenet_standin_draws():
    """One picture of each class, the borrowed Fisheries and State Farm drawings included."""
    x, y = imagenet_standin.make(1, size=32, seed=3)
    assert x.shape == (len(imagenet_standin.CLASSES), 32, 32, 3) and x.dtype == np.uint8
    assert sorted(y) == list(range(len(imagenet_standin.CLASSES)))
    assert x.std(axis=(1, 2, 3)).min() > 5  # each a picture, not a blank
