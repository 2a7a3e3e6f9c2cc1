"""What lesson 7's Fisheries heads are measured with, and where their features come from.

The heads themselves (`bn_head`, `size_head`, `box_class_head` and its `box_loss`, `fcn_head` and
its `class_maps`) are defined in nbs/lesson7.ipynb, section 3, whose export cells `make sync` writes
into `utils.lessons.lesson7`. Here are the rest:

* `conv_base`: the frozen convolutional layers that turn photos into the heads' features;
* `size_lookup`, `predict_from_size`: the class from the photo's size alone (the leak);
* `box_iou`: how well a predicted box overlaps the true one;
* `cam_hits`, `cell_chance`: whether a class activation map is hottest on the fish, and how often
  a cell picked at random would be.
"""
import keras
import numpy as np
from keras import layers


def conv_base(model, layer=None, name="conv_base"):
    """The part of `model` from its input up to `layer` (default: its output); lesson 7."""
    out = model.output if layer is None else model.get_layer(layer).output
    if out.dtype != "float32":
        # Under mixed precision the features come out in 16 bits, which .npy files cannot hold.
        out = layers.Activation("linear", dtype="float32", name="features_float32")(out)
    return keras.Model(model.input, out, name=name)


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
