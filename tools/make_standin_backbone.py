"""Make the kit's stand-in VGG16 weights: train the small VGG16 on the synthetic ImageNet stand-in.

    python -m tools.make_standin_backbone          # a few minutes on a CPU, seeded

It draws the pictures of `utils.standins.imagenet` in memory (the recipe's pictures per
class, and a held-out set to report accuracy on), trains `utils.models.vgg16_standin.build` on
them from random weights with Adam, and writes into utils/models/weights/ the weights
(`vgg16-standin.weights.h5`) and a record (`vgg16-standin.json`: the recipe, its hash, the weights
file's hash, the class names and the accuracies), which the kit checks before loading them. The
record also notes a hash of the drawing code (`drawing`), the borrowed Fisheries and State Farm
pictures included, which the kit does not check: those stand-ins may change their pictures, and
the weights stay usable, but only the same drawing code remakes the same weights.
Change the recipe in utils/models/vgg16_standin.py, run this, and commit both files.
"""
import json
import time
from pathlib import Path

import keras
import tensorflow as tf

from utils.models import vgg16_standin as vs
from utils.standins import imagenet as imagenet_standin


def train(recipe=None, out_dir=None, verbose=2):
    """Train the stand-in VGG16 by a recipe and write its weights and record; returns the record."""
    recipe = dict(vs.RECIPE if recipe is None else recipe)
    out_dir = Path(out_dir or vs.WEIGHTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.config.set_dtype_policy("float32")  # the same weights whatever a GPU would run
    keras.utils.set_random_seed(recipe["seed"])
    tf.config.experimental.enable_op_determinism()
    classes = recipe.get("classes", imagenet_standin.CLASSES)
    start = time.perf_counter()
    x, y = imagenet_standin.make(recipe["per_class"], recipe["size"], recipe["seed"], classes)
    x_val, y_val = imagenet_standin.make(recipe["n_valid"], recipe["size"], recipe["seed"] + 1,
                                         classes)
    model = vs.build((recipe["size"],) * 2, True, len(classes), recipe)
    model.compile(keras.optimizers.Adam(recipe["lr"]), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=recipe["batch_size"], epochs=recipe["epochs"],
                        validation_data=(x_val, y_val), verbose=verbose).history
    weights = out_dir / vs.WEIGHTS_FILE.name
    bare = vs.build((recipe["size"],) * 2, True, len(classes), recipe)  # uncompiled: no Adam state
    bare.set_weights(model.get_weights())
    bare.save_weights(weights)
    record = {"what": "VGG16's layers at 1/%d of its width, trained by the kit on the synthetic "
                      "ImageNet stand-in (utils/standins/imagenet.py); NOT ImageNet "
                      "weights" % recipe["width"],
              "recipe": recipe, "recipe_hash": vs.recipe_hash(recipe),
              "drawing": imagenet_standin.drawing_hash(),
              "weights_sha256": vs.file_sha256(weights), "classes": list(classes),
              "train_accuracy": round(float(history["accuracy"][-1]), 4),
              "val_accuracy": round(float(history["val_accuracy"][-1]), 4),
              "seconds": round(time.perf_counter() - start), "keras": keras.__version__,
              "tensorflow": tf.__version__, "params": int(model.count_params())}
    (out_dir / vs.RECIPE_FILE.name).write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    rec = train()
    print(json.dumps({k: v for k, v in rec.items() if k != "classes"}, indent=1))
