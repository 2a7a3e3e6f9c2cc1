"""An Inception block built by hand, and a small Inception network from scratch; lesson 7.

GoogLeNet's idea (the 2014 ImageNet winner): instead of choosing one filter size per layer, run
several side by side on the same input (1x1, 3x3, a wider 5x5 view, and a max-pool) and stack
their outputs along the channels. The next layer then picks whichever scale helps. Cheap 1x1
convolutions first shrink the channels, so the wide filters cost little.
"""
import keras
from keras import layers

from utils.training import compile_classifier


def conv_bn(x, filters, kernel, strides=1):
    """Convolution, batch norm, ReLU: the unit every branch is made of; lesson 7."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def inception_block(x, f1=16, f3=(16, 24), f5=(8, 12), fpool=8):
    """Four branches over one input (1x1, 3x3, 5x5-wide, pool), joined channel-wise; lesson 7."""
    b1 = conv_bn(x, f1, 1)
    b3 = conv_bn(conv_bn(x, f3[0], 1), f3[1], 3)
    # Two 3x3 convolutions see a 5x5 patch with fewer weights than one 5x5 (as in Inception v2).
    b5 = conv_bn(conv_bn(conv_bn(x, f5[0], 1), f5[1], 3), f5[1], 3)
    bp = conv_bn(layers.MaxPooling2D(3, strides=1, padding="same")(x), fpool, 1)
    return layers.Concatenate()([b1, b3, b5, bp])


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
