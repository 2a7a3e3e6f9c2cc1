"""The MNIST models of lesson 3, from a linear model up to a VGG-style CNN with batch norm.

Every model takes 28x28 grey images with values 0-255 (MNIST's own arrays, with a channel axis)
and scales them itself, so callers never normalise by hand. Augmentation is a set of Keras layers
at the model's input: they shift, turn and zoom each training batch and do nothing when predicting.
"""
import keras
from keras import layers

from utils.training import compile_classifier

INPUT_SHAPE = (28, 28, 1)


def augmentation(rotate=8, shift=0.08, zoom=0.08, seed=None):
    """Random small turns (degrees), shifts and zooms of digits, training only; lesson 3."""
    return keras.Sequential([
        layers.RandomRotation(rotate / 360, fill_mode="constant", seed=seed),
        layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed),
        layers.RandomZoom(zoom, fill_mode="constant", seed=seed),
    ], name="augment")


def _start(input_shape, augment):
    """Input, optional augmentation, and 0-255 scaled to 0-1."""
    inputs = keras.Input(input_shape)
    x = augmentation() if augment is True else augment
    x = x(inputs) if x else inputs
    return inputs, layers.Rescaling(1 / 255)(x)


def _finish(inputs, x, num_classes, lr, name):
    """Softmax output, model, and the course's Adam with sparse cross-entropy."""
    out = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, out, name=name)
    return compile_classifier(model, lr, loss="sparse_categorical_crossentropy")


def linear_model(input_shape=INPUT_SHAPE, num_classes=10, lr=0.001):
    """Pixels straight into a softmax: a linear model; lesson 3."""
    inputs, x = _start(input_shape, None)
    return _finish(inputs, layers.Flatten()(x), num_classes, lr, "linear")


def hidden_model(units=512, input_shape=INPUT_SHAPE, num_classes=10, lr=0.001):
    """One hidden ReLU layer between the pixels and the softmax; lesson 3."""
    inputs, x = _start(input_shape, None)
    x = layers.Dense(units, activation="relu")(layers.Flatten()(x))
    return _finish(inputs, x, num_classes, lr, "one_hidden_layer")


def _bn(x):
    """Batch norm whose running averages settle within an epoch of a small dataset."""
    # Keras's default momentum 0.99 needs hundreds of steps before its running mean and variance,
    # used when predicting, catch up; the digits stand-in has about 20 batches per epoch.
    return layers.BatchNormalization(momentum=0.9)(x)


def _conv(x, filters, bn):
    """3x3 convolution, then batch norm before the ReLU when bn is set."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=not bn)(x)
    if bn:
        x = _bn(x)
    return layers.Activation("relu")(x)


def cnn(augment=False, bn=False, dropout=0.0, filters=(32, 64), dense=512,
        input_shape=INPUT_SHAPE, num_classes=10, lr=0.001, name="cnn"):
    """VGG-style CNN: blocks of two 3x3 convolutions and a max-pool, a dense layer; lesson 3."""
    inputs, x = _start(input_shape, augment)
    for f in filters:
        x = layers.MaxPooling2D()(_conv(_conv(x, f, bn), f, bn))
    x = layers.Flatten()(x)
    x = layers.Dense(dense, use_bias=not bn)(x)
    if bn:
        x = _bn(x)
    x = layers.Activation("relu")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return _finish(inputs, x, num_classes, lr, name)


# The ensemble recipe of lesson 3 and bench/bench_lesson3.py: small CNNs with augmentation, batch
# norm and dropout, sized to train six in a few minutes on two CPU cores.
ENSEMBLE_RECIPE = {"filters": (32, 64), "dense": 256, "dropout": 0.5, "batch_size": 64,
                   "schedule": ((0.003, 8), (0.001, 7), (0.0003, 5)), "n": 6}


def ensemble_member(recipe=None):
    """One CNN of the lesson's ensemble, built and compiled from the recipe; lesson 3."""
    r = {**ENSEMBLE_RECIPE, **(recipe or {})}
    return cnn(augment=True, bn=True, dropout=r["dropout"], filters=r["filters"],
               dense=r["dense"], lr=r["schedule"][0][0], name="ensemble_cnn")
