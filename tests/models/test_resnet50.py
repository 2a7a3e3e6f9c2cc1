"""utils/models/resnet50.py and inception.py: the Resnet50 wrapper, its BN handling, blocks by hand
(lesson 7's identity and Inception blocks, from utils.lessons.lesson7).

Random weights and 32-pixel images keep these quick; the ImageNet download is made to fail the way
it fails offline, so no test depends on (or uses) the network.
"""
import keras
import numpy as np
import pytest

from utils.lessons.lesson7 import identity_block, inception_block
from utils.models.inception import inception_head, inception_net
from utils.models.resnet50 import Resnet50, bn_layers, bn_modes, resnet50_model
from utils.models.vgg16_input import IMAGENET_MEAN_BGR, WeightsUnavailable


@pytest.fixture(scope="module")
def rn():
    return Resnet50((32, 32), include_top=False, weights=None)


def test_preprocessing_is_inside_and_leaves_inputs_alone(rn):
    assert rn.model.layers[1].name == "resnet_preprocess"
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    before = x.copy()
    first = keras.Model(rn.model.input, rn.model.layers[1].output)
    out = keras.ops.convert_to_numpy(first(x))
    expected = x[..., ::-1] - np.array(IMAGENET_MEAN_BGR)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)
    rn.model.predict(x, verbose=0)
    np.testing.assert_array_equal(x, before)
    assert rn.model.output_shape == (None, 1, 1, 2048)
    assert len(bn_layers(rn.model)) == 53


def test_model_is_flat_so_layers_can_be_cut_anywhere():
    model = resnet50_model(None, (None, None), include_top=False)
    cut = keras.Model(model.input, model.get_layer("conv3_block4_out").output)
    assert cut.predict(np.zeros((1, 64, 96, 3), "float32"), verbose=0).shape == (1, 8, 12, 512)


def test_imagenet_weights_offline_give_advice(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")
    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(WeightsUnavailable, match="tf_kernels_notop.h5"):
        Resnet50((32, 32), include_top=False, weights="imagenet")
    with pytest.raises(ValueError, match="224x224"):
        resnet50_model("imagenet", (64, 64), include_top=True)


def test_ft_freezes_everything_and_frozen_bn_runs_in_inference_mode(rn):
    rn.ft(3)
    assert rn.model.output_shape == (None, 3)
    assert [l.name for l in rn.model.layers if l.trainable] == ["ft_pool", "finetune_3"]
    x = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    train = keras.ops.convert_to_numpy(rn.model(x, training=True))
    infer = keras.ops.convert_to_numpy(rn.model(x, training=False))
    np.testing.assert_allclose(train, infer, atol=1e-5)


def test_unfreeze_keeps_bn_frozen_unless_told(rn):
    if rn.model.output_shape != (None, 3):
        rn.ft(3)
    n = rn.unfreeze_from("conv5_block1_1_conv")
    trainable = [l for l in rn.model.layers if l.trainable]
    assert n == len(trainable) and trainable
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in trainable)
    assert not rn.model.get_layer("conv4_block6_3_conv").trainable
    rn.unfreeze_from("conv5_block1_1_conv", keep_bn_frozen=False)
    assert rn.model.get_layer("conv5_block1_1_bn").trainable
    assert not rn.model.get_layer("conv4_block6_3_bn").trainable
    with pytest.raises(ValueError, match="No layer named"):
        rn.unfreeze_from("conv9_block1")


def test_include_top_ft_replaces_the_imagenet_classifier():
    top = Resnet50((32, 32), include_top=True, weights=None)
    assert top.model.output_shape == (None, 1000) and len(top.classes) == 1000
    top.ft(2)
    assert top.model.output_shape == (None, 2)
    assert top.model.layers[-2].name == "avg_pool"


def test_bn_modes_shows_keras3_frozen_behaviour():
    modes = bn_modes()
    frozen, trainable = modes["frozen"], modes["trainable"]
    assert frozen["output_mean_training"] == pytest.approx(frozen["output_mean_inference"])
    assert frozen["moving_mean_after"] == pytest.approx(5.0)
    assert abs(trainable["output_mean_training"]) < 0.05  # normalised with the batch's own mean
    assert trainable["moving_mean_after"] < 4.0            # and its stored mean moved


def test_identity_block_adds_its_input_back():
    x_in = keras.Input((8, 8, 64))
    block = keras.Model(x_in, identity_block(x_in, 16))
    assert block.output.shape[1:] == (8, 8, 64)
    assert any(isinstance(l, keras.layers.Add) for l in block.layers)


def test_inception_block_stacks_its_branches():
    x_in = keras.Input((8, 8, 32))
    block = keras.Model(x_in, inception_block(x_in, 4, (4, 6), (2, 3), 5))
    assert block.output.shape[1:] == (8, 8, 4 + 6 + 3 + 5)
    head = inception_head((8, 8, 32), 5)
    assert head.predict(np.zeros((2, 8, 8, 32), "float32"), verbose=0).shape == (2, 5)
    net = inception_net((32, 32), 3, blocks=2, width=8)
    probs = net.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
