"""A small Inception network from scratch, and an Inception block as a classifier head; lesson 7.

GoogLeNet's idea (the 2014 ImageNet winner): instead of choosing one filter size per layer, run
several side by side on the same input (1x1, 3x3, a wider 5x5 view, and a max-pool) and stack
their outputs along the channels. The next layer then picks whichever scale helps. Cheap 1x1
convolutions first shrink the channels, so the wide filters cost little.

The block itself, `inception_block`, and its unit `conv_bn` are defined in nbs/lesson7.ipynb,
section 2, whose export cells `make sync` writes into `utils.lessons.lesson7`; both models here are
built from them.
"""
import keras
from keras import layers

from utils.lessons.lesson7 import conv_bn, inception_block
from utils.training import compile_classifier


def inception_net(size, num_classes, blocks=2, width=16, p=0.3, lr=1e-3):
    """A small Inception network for 0-255 RGB images, compiled; lesson 7."""
    inputs = keras.Input((*size, 3), name="image")
    x = layers.Rescaling(1 / 255)(inputs)
    x = conv_bn(x, 2 * width, 3, strides=2)
    x = layers.MaxPooling2D(2)(x)
    for i in range(blocks):
        x = inception_block(x, width, (width, width * 3 // 2), (width // 2, width * 3 // 4),
                            width // 2)
        if i < blocks - 1:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(p)(x)
    out = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return compile_classifier(keras.Model(inputs, out, name="inception_net"), lr)


def inception_head(feature_shape, num_classes, width=32, p=0.5, lr=1e-3):
    """An Inception block as a classifier head on precomputed conv features, compiled; lesson 7."""
    inputs = keras.Input(feature_shape, name="features")
    x = layers.BatchNormalization()(inputs)
    x = inception_block(x, width, (width, width * 3 // 2), (width // 2, width * 3 // 4), width // 2)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(p)(x)
    out = layers.Dense(num_classes, activation="softmax", dtype="float32", name="class")(x)
    return compile_classifier(keras.Model(inputs, out, name="inception_head"), lr)
