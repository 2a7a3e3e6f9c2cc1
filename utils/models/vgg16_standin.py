"""The offline pretrained backbone: VGG16's own layers at an eighth of its width, trained by the kit.

The ImageNet weights need a 528 MB download, and the stand-in datasets' synthetic photos are not
ImageNet's. So the kit trains its own small VGG16 on a synthetic "ImageNet stand-in"
(`utils.standins.imagenet`: many classes of cartoon animals with pointed, floppy, round or
long ears, fish on boat decks, drivers, everyday objects, over cluttered backgrounds) and commits
the weights (`tools/make_standin_backbone.py` makes them, seeded, in a few minutes on a CPU).
It is NOT ImageNet: its features know only the parts those pictures are made of. But they are the
parts the dogs-vs-cats, State Farm and Fisheries stand-ins are made of too, so fine-tuning on those
shows what pretrained features buy, as ImageNet's do on the real photos.

The model has VGG16's layer stack and names (block1_conv1 ... block5_pool, flatten, fc1, fc2,
predictions), each convolution and dense layer with an eighth of VGG16's units, so lessons 1-3's
code (`get_layer("fc1")`, `layers[-2]`, cutting at the last MaxPooling2D) runs unchanged; read
`model.get_layer("fc1").units` for the width of its dense layers. Its dense layers need the
training size, 64x64 pixels; without them (`include_top=False`) any size works.
"""
import hashlib
import json
from pathlib import Path

import keras

from utils.models.vgg16_input import VggPreprocess, WeightsUnavailable

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "vgg16-standin.weights.h5"
RECIPE_FILE = WEIGHTS_DIR / "vgg16-standin.json"
MAKE = "python -m tools.make_standin_backbone"
VGG16_FILTERS = (64, 128, 256, 512, 512)
VGG16_CONVS = (2, 2, 3, 3, 3)
VGG16_UNITS = 4096

# Everything the weights depend on; its hash names them. Change anything here (or the pictures'
# drawing code, then bump `imagenet_version`) and the committed weights must be made again.
RECIPE = {
    "name": "vgg16-standin",
    "imagenet_version": 2,     # utils.standins.imagenet.VERSION the weights were made from
    "size": 64,                # pixels per side of the training images
    "width": 8,                # VGG16's filters and units divided by this
    "per_class": 250,          # training pictures per class
    "n_valid": 24,             # held-out pictures per class, to report accuracy
    "epochs": 16,
    "batch_size": 64,
    "lr": 0.001,               # Adam
    "seed": 0,
}


class StandinWeightsError(WeightsUnavailable):
    """The committed stand-in weights are missing, damaged or made by another recipe."""


def recipe_hash(recipe=None):
    """The SHA-256 of a recipe's canonical JSON: what names a set of stand-in weights."""
    text = json.dumps(RECIPE if recipe is None else recipe, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path):
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def widths(recipe=None):
    """(filters per block, dense units) of the stand-in: VGG16's divided by the recipe's width."""
    w = (RECIPE if recipe is None else recipe)["width"]
    return tuple(f // w for f in VGG16_FILTERS), VGG16_UNITS // w


def build(size=(64, 64), include_top=True, n_classes=None, recipe=None):
    """VGG16's layer stack and names at reduced width, the kit's preprocessing first; random
    weights."""
    from utils.standins import imagenet  # the drawing needs Pillow: models import with Keras alone
    filters, units = widths(recipe)
    inputs = keras.Input((*size, 3), name="image")
    x = VggPreprocess(name="vgg_preprocess")(inputs)
    for block, (n, f) in enumerate(zip(VGG16_CONVS, filters), start=1):
        for i in range(1, n + 1):
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu",
                                    name=f"block{block}_conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(units, activation="relu", name="fc1")(x)
        x = keras.layers.Dense(units, activation="relu", name="fc2")(x)
        # softmax in float32: half precision rounds small probabilities
        x = keras.layers.Dense(n_classes or len(imagenet.CLASSES), activation="softmax", dtype="float32",
                               name="predictions")(x)
    return keras.Model(inputs, x, name="vgg16")


def check(weights_file=None, recipe_file=None):
    """The recipe record of the committed weights, after checking they are the kit's recipe's."""
    weights_file, recipe_file = Path(weights_file or WEIGHTS_FILE), Path(recipe_file or RECIPE_FILE)
    for path in (weights_file, recipe_file):
        if not path.is_file():
            raise StandinWeightsError(
                f"The stand-in VGG16 weights are missing: no {path}. They come with the kit "
                f"(git checkout {path.parent}), or make them again with `{MAKE}` (minutes on a "
                "CPU). Or use weights=None for random weights.")
    record = json.loads(recipe_file.read_text())
    expected = recipe_hash()
    if record.get("recipe_hash") != expected or recipe_hash(record.get("recipe", {})) != expected:
        raise StandinWeightsError(
            f"{weights_file.name} was made by another recipe (hash "
            f"{str(record.get('recipe_hash'))[:12]}) than the kit's (hash {expected[:12]}, "
            f"utils/models/vgg16_standin.RECIPE). Make them again: `{MAKE}`.")
    if record.get("classes") != classes():
        raise StandinWeightsError(
            f"{weights_file.name} was trained on other classes than the ImageNet stand-in's "
            f"(utils/standins/imagenet.CLASSES). Make them again: `{MAKE}`.")
    if file_sha256(weights_file) != record.get("weights_sha256"):
        raise StandinWeightsError(
            f"{weights_file} does not match its record {recipe_file.name} (a damaged or "
            f"half-written file?). Restore it from git or make it again: `{MAKE}`.")
    return record


def classes():
    """The stand-in ImageNet's class names, in the model's output order."""
    from utils.standins import imagenet  # the drawing needs Pillow: models import with Keras alone
    return list(imagenet.CLASSES)


def load(size=(64, 64), include_top=True):
    """The stand-in VGG16 with its committed, checked weights; dense layers need 64x64 images."""
    record = check()
    trained_size = (RECIPE["size"],) * 2
    if include_top and tuple(size) != trained_size:
        raise ValueError(f"The stand-in VGG16's dense layers were trained on {trained_size[0]}x"
                         f"{trained_size[1]} images: use size={trained_size}, or "
                         "include_top=False for other sizes.")
    trained = build(trained_size, True, len(record["classes"]))
    trained.load_weights(WEIGHTS_FILE)
    model = build(tuple(size), include_top, len(record["classes"]))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    return model
