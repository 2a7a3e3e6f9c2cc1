"""Batch norm added to VGG16 (the notes' add_batchnorm, utils.lessons.lesson5) leaves its output
unchanged at first; utils/models/vgg16bn.py gives it the course's Vgg16 API."""
import keras
import numpy as np
import pytest

from utils.lessons.lesson5 import DENSE_LAYERS, add_batchnorm
from utils.models import vgg16bn
from utils.models.vgg16 import vgg16_model
from utils.models.vgg16bn import Vgg16BN, random_images

SIZE = (48, 48)


@pytest.fixture(scope="module")
def pair():
    keras.utils.set_random_seed(0)
    base = vgg16_model(weights=None, size=SIZE)
    stats = random_images(SIZE, n=12, seed=1)
    return base, add_batchnorm(base, stats), stats


def test_batchnorm_follows_each_dense_layer(pair):
    _, bn, _ = pair
    names = [layer.name for layer in bn.layers]
    for dense in DENSE_LAYERS:
        assert names[names.index(dense) + 1] == f"{dense}_bn"
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in bn.layers) == 2


def test_output_is_unchanged_on_new_random_images(pair):
    base, bn, _ = pair
    imgs = random_images(SIZE, n=6, seed=7)
    want = base.predict(imgs, verbose=0)
    got = bn.predict(imgs, verbose=0)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-6)
    # and not by accident: the batch norm layers really transform their input
    fc1 = keras.Model(bn.input, bn.get_layer("fc1").output).predict(imgs, verbose=0)
    layer = bn.get_layer("fc1_bn")
    gamma, beta, mean, var = layer.get_weights()
    assert not np.allclose(gamma, 1) and not np.allclose(mean, 0)
    assert np.allclose((fc1 - mean) / np.sqrt(var + layer.epsilon) * gamma + beta, fc1,
                       rtol=1e-4, atol=1e-4)


def test_statistics_come_from_the_activations(pair):
    base, bn, stats = pair
    fc2 = keras.Model(base.input, base.get_layer("fc2").output).predict(stats, verbose=0)
    _, _, mean, var = bn.get_layer("fc2_bn").get_weights()
    assert np.allclose(mean, fc2.mean(axis=0), rtol=1e-4, atol=1e-5)
    assert np.allclose(var, fc2.var(axis=0), rtol=1e-3, atol=1e-5)
    # in training mode on those same images, batch statistics equal the stored ones
    train_out = bn(stats, training=True)
    assert np.allclose(keras.ops.convert_to_numpy(train_out), base.predict(stats, verbose=0),
                       rtol=1e-3, atol=1e-5)


def test_vgg16bn_adds_batch_norm_with_the_notes_step():
    assert vgg16bn.add_batchnorm is add_batchnorm  # one definition: the notes'


def test_vgg16bn_has_the_vgg16_api():
    keras.utils.set_random_seed(0)
    vgg = Vgg16BN(size=SIZE, weights=None)
    assert vgg.model.output_shape == (None, 1000) and len(vgg.classes) == 1000
    assert "fc2_bn" in [layer.name for layer in vgg.model.layers]
    preds, idxs, classes = vgg.predict(random_images(SIZE, n=2))
    assert preds.shape == (2,) and classes[0] == f"class_{idxs[0]}"
    vgg.ft(3)
    assert vgg.model.output_shape == (None, 3)
    trainable = [layer.name for layer in vgg.model.layers if layer.trainable]
    assert trainable == ["finetune_3"]
    conv = Vgg16BN(size=SIZE, include_top=False, weights=None)
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in conv.model.layers)  # no dense layers, nothing to add
