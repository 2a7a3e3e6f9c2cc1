"""Lesson 7's claimed effects, each measured side by side on the Fisheries stand-in.

Every row uses the stand-in the notebook uses by default (320 labelled photos from eight boats)
and features like the notebook's: a ResNet50 with random weights (seeded, so the same in every
process) cut after its third stage, at 64x64 for the box model and 72x128 for the fully
convolutional one, computed once per process. To keep each run near a second they are reduced
to their first 64 principal components, and the fully convolutional head has 32 filters (the
notebook's heads take all 512 channels; its FCN has 64). The held-out photos are the notebook's:
the stand-in's valid/ folder (a seeded 15% of each class), never trained on. The seed sets a
model's starting weights and the order of its batches; the baselines learn nothing, so they do
not change with it.
"""
import functools
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from utils.claims import Claim
from utils.datasets import fisheries as fish
from utils.lessons import lesson7
from utils.models import fisheries as fm
from utils.models.resnet50 import resnet50_model
from utils.paths import standin_dir

CHANNELS = 64                      # principal components of the features the heads take
SIZE, LARGE = (64, 64), (72, 128)  # the notebook's stand-in sizes (height, width)
LAYER = "conv3_block4_out"         # where the notebook cuts ResNet50 with random weights
EPOCHS, BATCH = 12, 32             # the notebook's epochs and batch size for every head
BOX_WEIGHT = 0.001 * (224 / SIZE[0]) ** 2  # the notebook's: the course's 0.001, scaled to 64 px
FEATURE_SEED = 0                   # ResNet50's random weights: one set, whatever seed a row runs


def _folder():
    """The Fisheries stand-in with the notebook's default settings, in a folder of its own.

    Its own, so that a notebook run with other settings keeps its stand-in as it is.
    """
    return str(fish.prepared_standin(standin_dir() / "claims" / fish.COMPETITION, fish.Standin()))


@functools.lru_cache(maxsize=2)
def _photos(folder):
    """Every labelled photo of a prepared folder: classes, file sizes, boxes at both sizes."""
    folder = Path(folder)
    names = sorted(str(p.relative_to(folder)) for split in ("train", "valid")
                   for p in (folder / split).glob("*/*.jpg"))
    box_dir = fish.get_boxes(folder, standin=True)
    boxes = {size: fish.load_boxes(box_dir, {"all": (folder, names)}, size)[0]["all"]
             for size in (SIZE, LARGE)}
    return {"names": names, "y": np.array([fish.CLASSES.index(Path(n).parts[-2]) for n in names]),
            "sizes": fish.image_sizes(folder, names), "boxes": boxes[SIZE][0],
            "has_box": boxes[SIZE][1], "large_boxes": boxes[LARGE][0]}


@functools.lru_cache(maxsize=2)
def _features(folder):
    """Conv features of every labelled photo at both sizes, as the notebook makes them, reduced."""
    keras.utils.set_random_seed(FEATURE_SEED)
    base = fm.conv_base(resnet50_model(None, (None, None), include_top=False), LAYER)
    out = {}
    for size in (SIZE, LARGE):
        photos = np.stack([np.asarray(Image.open(Path(folder) / n).convert("RGB")
                                      .resize(size[::-1], Image.BILINEAR), "float32")
                           for n in _photos(folder)["names"]])
        out[size] = _principal(base.predict(photos, batch_size=64, verbose=0), CHANNELS)
    return out


def _principal(features, k):
    """The features' first `k` principal components per map cell, each scaled to unit spread.

    Fitted on every photo's cells without their labels; it keeps the heads here small and quick
    (the notebook's heads take all 512 channels and shrink them with their own 1x1 convolution).
    """
    x = np.asarray(features, "float32").reshape(-1, features.shape[-1])
    centred = x - x.mean(axis=0)
    _, vectors = np.linalg.eigh(centred[::4].T @ centred[::4])  # eigenvalues rise: take the last
    z = centred @ vectors[:, ::-1][:, :k]
    return (z / z.std(axis=0)).reshape(*features.shape[:-1], k).astype("float32")


def _split():
    """Training and held-out photo indices: the stand-in's own train/ and valid/ folders."""
    held = np.array([n.startswith("valid") for n in _photos(_folder())["names"]])
    return np.flatnonzero(~held), np.flatnonzero(held)


_KEPT = {}


def _fresh(key, build, seed):
    """`build()`'s model with `seed`'s starting weights, reusing the first one's traced steps.

    Tracing a new model's training step costs more than training it here, so each kind of head
    is built and compiled once per process (and precision policy); later runs copy a freshly
    built model's variables (weights, batch norm statistics, dropout seeds) and its optimizer's
    starting state into it.
    """
    keras.utils.set_random_seed(seed)
    model = build()
    kept = _KEPT.setdefault((*key, keras.config.dtype_policy().name), model)
    if kept is not model:
        for m in (kept, model):
            if not m.optimizer.built:
                m.optimizer.build(m.trainable_variables)
        for mine, theirs in zip(kept.variables + kept.optimizer.variables,
                                model.variables + model.optimizer.variables, strict=True):
            mine.assign(theirs)
    keras.utils.set_random_seed(seed)  # the same shuffles whether the model is new or kept
    return kept


# ---------------------------------------------------------------------------------------------
# L7 size-leak: the photo's size alone predicts the fish


def _size_leak(side, seed):
    """Held-out accuracy of guessing the commonest training class, or the one a size suggests."""
    p = _photos(_folder())
    train, held = _split()
    y, classes = p["y"], 8
    if side == "class prior":
        guess = np.full(len(held), np.bincount(y[train], minlength=classes).argmax())
    else:
        table = fm.size_lookup(p["sizes"][train], y[train], classes)
        guess = fm.predict_from_size(table, p["sizes"][held], classes).argmax(1)
    return float((guess == y[held]).mean())


# ---------------------------------------------------------------------------------------------
# L7 boxes: the multi-output model's boxes beat the average box


def _boxes(side, seed):
    """Mean IoU on the held-out fish photos of the training photos' average box, or the model's."""
    p = _photos(_folder())
    train, held = _split()
    held = held[p["has_box"][held]]  # NoF and OTHER have no box to find
    mean_box = p["boxes"][train][p["has_box"][train]].mean(axis=0)
    if side == "mean box":
        guess = np.tile(mean_box, (len(held), 1))
    else:
        x = _features(_folder())[SIZE]
        y = np.eye(8, dtype="float32")[p["y"]]
        model = _fresh(("box", x.shape), lambda: lesson7.box_class_head(
            x.shape[1:], 8, mean_box, BOX_WEIGHT), seed)
        model.fit(x[train], {"bb": p["boxes"][train], "class": y[train]}, epochs=EPOCHS,
                  batch_size=BATCH, verbose=0)
        guess = np.asarray(model(x[held], training=False)["bb"])
    return float(fm.box_iou(guess, p["boxes"][held]).mean())


# ---------------------------------------------------------------------------------------------
# L7 cam-peak: the class activation map is hottest on the fish


def _cam_peak(side, seed):
    """How often a random map cell, or the predicted class's hottest one, lies in the fish's box."""
    p = _photos(_folder())
    train, held = _split()
    held = held[p["has_box"][held]]
    x = _features(_folder())[LARGE]
    boxes = p["large_boxes"][held]
    if side == "random cell":
        return float(fm.cell_chance(boxes, x.shape[1:3], LARGE).mean())
    y = np.eye(8, dtype="float32")[p["y"]]
    fcn = _fresh(("fcn", x.shape), lambda: lesson7.fcn_head(x.shape[1:], 8, filters=32), seed)
    fcn.fit(x[train], y[train], epochs=EPOCHS, batch_size=BATCH, verbose=0)
    cams = lesson7.class_maps(fcn, x[held])  # each photo's map of the class it predicts
    return float(fm.cam_hits(cams, boxes, LARGE).mean())


CLAIMS = [
    Claim(7, "size-leak",
          "the photo's size alone predicts the fish (a leak): it beats always the commonest class",
          ("class prior", "size only"), "held-out accuracy", True, _size_leak,
          "course: the real photos' sizes come from the boats' cameras, and it gave the size to "
          "its head as a second input (the head alone: 0.988 validation accuracy)"),
    Claim(7, "boxes",
          "the multi-output model's boxes overlap the fish better than the average box does",
          ("mean box", "multi-output"), "held-out IoU with the true box", True, _boxes,
          "course: the class and box model reached 0.978 class accuracy; its boxes were shown "
          "on photos, not scored"),
    Claim(7, "cam-peak",
          "the class activation map's hottest cell lies in the fish's box more often than chance",
          ("random cell", "CAM peak"), "held-out share of peaks in the box", True, _cam_peak,
          "course: the 640x360 fully convolutional model reached 0.976 accuracy; its maps were "
          "shown lighting up the fish, not counted"),
]
