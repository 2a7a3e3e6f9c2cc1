"""The Fisheries models of lesson 7, all small heads trained on precomputed conv features.

* `bn_head`: batch-normalised dense layers that classify the photo;
* `size_head`: the same, plus the photo's size as a second input (a leak: see the lesson);
* `box_class_head`: two outputs, the fish's class and its bounding box, with weighted losses;
* `fcn_head`: a fully convolutional head for large photos, whose last convolution gives one map
  per class; averaged, the maps are the prediction, and drawn over the photo they show where the
  model saw each class (class activation maps, `class_maps`).

Every head starts with a 1x1 convolution that shrinks the conv features' many channels to a few:
with a few thousand photos, a dense layer on all of them would learn the training set by heart.
"""
import keras
import numpy as np
from keras import layers

from utils.training import compile_classifier, compile_model

CAM_LAYER = "class_maps"


def conv_base(model, layer=None, name="conv_base"):
    """The part of `model` from its input up to `layer` (default: its output); lesson 7."""
    out = model.output if layer is None else model.get_layer(layer).output
    if out.dtype != "float32":
        # Under mixed precision the features come out in 16 bits, which .npy files cannot hold.
        out = layers.Activation("linear", dtype="float32", name="features_float32")(out)
    return keras.Model(model.input, out, name=name)


def _squeeze(x, channels, p):
    """BN, a 1x1 convolution to `channels` and flattening, with light dropout."""
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(channels, 1, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    return layers.Dropout(p / 4)(x)


def _dense_bn(x, units, p):
    """A ReLU dense layer, batch-normalised, then dropout."""
    x = layers.Dense(units, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    return layers.Dropout(p)(x)


def bn_head(feature_shape, num_classes, channels=32, units=128, p=0.5, lr=1e-3):
    """A batch-normalised dense classifier on conv features, compiled; lesson 7."""
    inputs = keras.Input(feature_shape, name="features")
    x = _dense_bn(_squeeze(inputs, channels, p), units, p)
    out = layers.Dense(num_classes, activation="softmax", dtype="float32", name="class")(x)
    return compile_classifier(keras.Model(inputs, out, name="bn_head"), lr)


def size_head(feature_shape, n_sizes, num_classes, channels=32, units=128, p=0.5, lr=1e-3):
    """`bn_head` with the photo's size (one-hot) as a second input; lesson 7."""
    feats = keras.Input(feature_shape, name="features")
    size = keras.Input((n_sizes,), name="size")
    x = _dense_bn(_squeeze(feats, channels, p), units, p)
    x = layers.Concatenate()([x, layers.BatchNormalization()(size)])
    out = layers.Dense(num_classes, activation="softmax", dtype="float32", name="class")(x)
    return compile_classifier(keras.Model([feats, size], out, name="size_head"), lr)


@keras.saving.register_keras_serializable(package="dl1kit")
def box_loss(y_true, y_pred):
    """Squared error of a box, counted only for photos that have one (NoF has none); lesson 7."""
    # Boxes are in pixels: a 300 px error squared is 90,000, past float16's largest number
    # (65,504). Under mixed_float16 the loss would be inf, so it is always worked out in float32.
    y_true = keras.ops.cast(y_true, "float32")
    y_pred = keras.ops.cast(y_pred, "float32")
    has_box = keras.ops.cast(keras.ops.sum(keras.ops.abs(y_true), axis=-1) > 0, "float32")
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * has_box


def box_class_head(feature_shape, num_classes, mean_box=(0, 0, 0, 0), box_weight=0.01,
                   channels=32, units=128, p=0.5, lr=1e-3):
    """Two outputs from shared layers, box ('bb') and class, with weighted losses; lesson 7."""
    inputs = keras.Input(feature_shape, name="features")
    x = _dense_bn(_squeeze(inputs, channels, p), units, p)
    # Starting from the average box, the box output begins with a sensible guess.
    bb = layers.Dense(4, name="bb", dtype="float32",
                      bias_initializer=keras.initializers.Constant(np.asarray(mean_box, float)))(x)
    cls = layers.Dense(num_classes, activation="softmax", dtype="float32", name="class")(x)
    model = keras.Model(inputs, {"bb": bb, "class": cls}, name="box_class_head")
    # A box error is in squared pixels (hundreds), a class error in nats (about 1): the weight
    # brings them to a similar size so neither task drowns the other.
    return compile_model(model, lr, {"bb": box_loss, "class": "categorical_crossentropy"},
                         loss_weights={"bb": box_weight, "class": 1.0},
                         metrics={"class": ["accuracy"]})


def fcn_head(feature_shape, num_classes, filters=64, p=0.0, lr=1e-3):
    """A fully convolutional classifier whose last conv makes one map per class; lesson 7."""
    inputs = keras.Input(feature_shape, name="features")
    x = layers.BatchNormalization()(inputs)
    x = layers.Conv2D(filters, 1, activation="relu")(x)  # fewer channels: cheaper, less overfit
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(num_classes, 3, padding="same", name=CAM_LAYER)(x)
    x = layers.Dropout(p)(x)
    x = layers.GlobalAveragePooling2D()(x)  # each class's score: its map's average
    out = layers.Activation("softmax", dtype="float32", name="class")(x)
    return compile_classifier(keras.Model(inputs, out, name="fcn_head"), lr)


def class_maps(fcn, features, class_idx=None):
    """Each photo's activation map for one class (default: the predicted one); lesson 7."""
    maps = keras.Model(fcn.input, fcn.get_layer(CAM_LAYER).output).predict(features, verbose=0)
    maps = maps.astype("float32")  # 16 bits under mixed precision, which plots cannot draw
    if class_idx is None:
        class_idx = maps.mean(axis=(1, 2)).argmax(axis=-1)
    class_idx = np.broadcast_to(class_idx, (len(maps),))
    return maps[np.arange(len(maps)), :, :, class_idx]


def size_lookup(train_sizes, train_labels, num_classes):
    """For each photo size, the class shares among training photos of that size; lesson 7."""
    table = {}
    for s, y in zip(map(tuple, np.asarray(train_sizes)), np.asarray(train_labels)):
        table.setdefault(s, np.zeros(num_classes))[int(y)] += 1
    return {s: counts / counts.sum() for s, counts in table.items()}


def predict_from_size(table, sizes, num_classes):
    """Class probabilities from the photo's size alone (uniform for an unseen size); lesson 7."""
    uniform = np.full(num_classes, 1 / num_classes)
    return np.stack([table.get(tuple(s), uniform) for s in np.asarray(sizes)])


def box_iou(a, b):
    """Overlap / union of matching (x, y, w, h) boxes: 1 is perfect, 0 misses; lesson 7."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None) + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def cam_hits(maps, boxes, image_size):
    """Whether each map's hottest cell falls inside the photo's box (x, y, w, h); lesson 7."""
    maps, boxes = np.asarray(maps), np.asarray(boxes)
    h, w = image_size
    mh, mw = maps.shape[1:3]
    flat = maps.reshape(len(maps), -1).argmax(axis=1)
    cy, cx = (flat // mw + 0.5) * h / mh, (flat % mw + 0.5) * w / mw  # the cell's centre, in px
    return ((cx >= boxes[:, 0]) & (cx <= boxes[:, 0] + boxes[:, 2])
            & (cy >= boxes[:, 1]) & (cy <= boxes[:, 1] + boxes[:, 3]))


def cell_chance(boxes, map_shape, image_size):
    """For each box (x, y, w, h), the share of a map's cell centres inside it: the hit rate
    of a cell picked at random, chance for `cam_hits`; lesson 7."""
    boxes = np.asarray(boxes, float)
    (h, w), (mh, mw) = image_size, map_shape
    cy, cx = (np.arange(mh) + 0.5) * h / mh, (np.arange(mw) + 0.5) * w / mw
    in_x = (cx >= boxes[:, :1]) & (cx <= boxes[:, :1] + boxes[:, 2:3])
    in_y = (cy >= boxes[:, 1:2]) & (cy <= boxes[:, 1:2] + boxes[:, 3:4])
    return in_x.mean(axis=1) * in_y.mean(axis=1)
