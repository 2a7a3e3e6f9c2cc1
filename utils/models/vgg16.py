"""VGG16 with the course's API, built on `keras.applications.VGG16`, or the kit's small stand-in.

The 2014 ImageNet winner-runner-up is the model of lessons 1-3: 13 convolutions in five blocks,
then three dense layers. The course's preprocessing (RGB to BGR, subtract the ImageNet channel
means) lives inside the model as its first layer, so callers pass plain 0-255 RGB images and their
arrays are never changed in place (Keras's own `preprocess_input` mutates float arrays).

`weights` is 'imagenet' (the real, downloaded weights), None (random weights), or 'standin': the
same layer stack and names at an eighth of the width, with weights the kit trained on synthetic
pictures (`utils.models.vgg16_standin`), for the stand-in datasets offline. It is not ImageNet.
"""
import json
from pathlib import Path

import keras
import numpy as np

from utils.download import download, keras_cache
from utils.env import precision_scope, strategy
from utils.lessons.lesson1 import vgg16_by_hand
from utils.models import vgg16_standin
from utils.models.vgg16_input import VggPreprocess, WeightsUnavailable
from utils.training import compile_classifier, set_lr

CLASS_INDEX_URL = ("https://storage.googleapis.com/download.tensorflow.org/data/"
                   "imagenet_class_index.json")
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"  # as keras.applications pins it
WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"


def _applications_vgg16(weights, size, include_top):
    """keras.applications.VGG16, with an offline weights failure turned into advice."""
    try:
        return keras.applications.VGG16(include_top=include_top, weights=weights,
                                        input_shape=(*size, 3))
    except Exception as err:
        if weights != "imagenet":
            raise
        raise WeightsUnavailable(
            f"Could not get VGG16's ImageNet weights ({err}). On a machine with internet run "
            "`python -c \"import keras; keras.applications.VGG16()\"` once (it caches "
            f"{WEIGHTS_FILE}, 528 MB, in ~/.keras/models/), or copy that file there by hand. "
            "For stand-in data and tests use weights=None.") from None


WEIGHTS = ("imagenet", None, "standin")


def check_weights(weights):
    """Reject weights the kit does not know, saying which it does."""
    if not (weights is None or (isinstance(weights, str) and weights in WEIGHTS)):
        raise ValueError(f"weights must be 'imagenet' (ImageNet's, downloaded), None (random) or "
                         f"'standin' (the kit's small VGG16 for stand-in data), not {weights!r}")
    return weights


def vgg16_model(weights="imagenet", size=(224, 224), include_top=True):
    """VGG16 as one flat Keras model taking 0-255 RGB images; lessons 1-5."""
    size = tuple(size)
    if check_weights(weights) == "standin":
        return vgg16_standin.load(size, include_top)
    if weights == "imagenet" and include_top and size != (224, 224):
        raise ValueError("ImageNet's dense layers need 224x224 images: use size=(224, 224), "
                         "include_top=False, or weights=None.")
    base = _applications_vgg16(weights, size, include_top)
    inputs = keras.Input((*size, 3), name="image")
    x = VggPreprocess(name="vgg_preprocess")(inputs)
    for layer in base.layers[1:]:
        # Fresh copies, so each layer belongs to this graph alone and course code such as
        # `model.layers[-2].output` finds the tensor of this model, not of the one it came from.
        config = layer.get_config()
        if layer is base.layers[-1] and include_top:
            config["dtype"] = "float32"  # softmax in half precision rounds small probabilities
        twin = layer.__class__.from_config(config)
        x = twin(x)
        twin.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name="vgg16")


def sharpen(model, factor=100.0):
    """Scale a model's last layer so its softmax is as sure as a trained model's; lesson 1."""
    # With random weights every class gets about 1/1000, so any two models agree to within
    # 0.01 and a comparison proves little; trained weights give a few classes most of it.
    last = model.layers[-1]
    last.set_weights([w * factor for w in last.get_weights()])
    return model


def by_hand_gap(size=(224, 224), build_policy="float32", n=4, seed=0):
    """Lesson 1's check: (largest gap, mean top probability) of the notes' vgg16_by_hand vs Keras's
    VGG16, both built under `build_policy`, with sharpened random weights, on random images."""
    with precision_scope(build_policy):
        hand, reference = vgg16_by_hand(size), vgg16_model(None, size)
    sharpen(reference)
    hand.set_weights(reference.get_weights())
    imgs = np.random.default_rng(seed).uniform(0, 255, (n, *size, 3)).astype("float32")
    expected = reference.predict(imgs, verbose=0)
    gap = np.abs(hand.predict(imgs, verbose=0).astype("float32") - expected).max()
    return float(gap), float(expected.max(axis=1).mean())


def imagenet_classes():
    """The 1,000 ImageNet class names in output order (placeholders offline); lesson 1."""
    try:
        path = download(CLASS_INDEX_URL, keras_cache("models") / "imagenet_class_index.json",
                        file_hash=CLASS_INDEX_MD5)
        index = json.loads(Path(path).read_text())
        return [index[str(i)][1] for i in range(1000)]
    except Exception:
        return [f"imagenet_{i}" for i in range(1000)]


class Vgg16:
    """The course's Vgg16 object: a model plus the few calls lessons 1-3 make on it."""

    def __init__(self, weights="imagenet", size=(224, 224), include_top=True):
        self.size = tuple(size)
        with strategy().scope():  # on several GPUs, one copy of the model per GPU
            self.model = vgg16_model(weights, self.size, include_top)
        if weights == "imagenet":
            self.classes = imagenet_classes()
        elif weights == "standin":
            self.classes = vgg16_standin.classes()
        else:
            self.classes = [f"class_{i}" for i in range(self.model.output_shape[-1])]

    def get_batches(self, path, augment=None, shuffle=True, batch_size=8,
                    class_mode="categorical"):
        """Batches from a folder at this model's size, `batch_size` per GPU; lesson 1."""
        from utils.images import get_batches  # tf.data: models alone import with Keras only
        # Several GPUs split each batch between them, so the batch grows with their number.
        return get_batches(path, augment=augment, shuffle=shuffle,
                           batch_size=batch_size * strategy().num_replicas_in_sync,
                           class_mode=class_mode, target_size=self.size)

    def predict(self, imgs, details=False):
        """Top class probability, index and name for each image; lesson 1."""
        probs = self.model.predict(np.asarray(imgs), verbose=0)
        idxs = np.argmax(probs, axis=1)
        preds = probs[np.arange(len(idxs)), idxs]
        classes = [self.classes[i] for i in idxs]
        if details:
            for p, c in zip(preds, classes):
                print(f"{c:<24}{p:.4f}")
        return preds, idxs, classes

    def ft(self, num):
        """Freeze every layer and swap the last one for a new `num`-way softmax; lessons 1-2."""
        for layer in self.model.layers:
            layer.trainable = False
        x = self.model.layers[-2].output
        with strategy().scope():
            out = keras.layers.Dense(num, activation="softmax", dtype="float32",
                                     name=f"finetune_{num}")(x)
            self.model = keras.Model(self.model.input, out, name=self.model.name)
        self.compile()  # trainable flags take effect only at compile time

    def finetune(self, batches):
        """Retarget the model to the classes of `batches`; lesson 1."""
        self.ft(batches.num_classes)
        self.classes = list(batches.class_names)

    def compile(self, lr=0.001):
        """(Re)compile with Adam at `lr`, cross-entropy and accuracy; lessons 1-2."""
        with strategy().scope():
            compile_classifier(self.model, lr)

    def set_lr(self, lr):
        """Change the learning rate between fits, for real; lessons 1-2."""
        return set_lr(self.model, lr)

    def fit(self, batches, val_batches, nb_epoch=1, epochs=None, **kwargs):
        """Train on batches, validating each epoch; lesson 1."""
        # Batches shuffle themselves each epoch; Keras's own shuffle flag does not apply to them.
        kwargs.setdefault("shuffle", False)
        from utils.images import as_dataset  # their tf.data.Dataset: fit's fast path
        return self.model.fit(as_dataset(batches), validation_data=as_dataset(val_batches),
                              epochs=epochs or nb_epoch, **kwargs)

    def fit_data(self, trn, labels, val, val_labels, nb_epoch=1, batch_size=64, epochs=None):
        """Train on in-memory arrays; lessons 2-3."""
        return self.model.fit(trn, labels, validation_data=(val, val_labels),
                              epochs=epochs or nb_epoch, batch_size=batch_size)

    def test(self, path, batch_size=8):
        """Predict every image under `path` in file order: (batches, predictions); lesson 1."""
        batches = self.get_batches(path, shuffle=False, batch_size=batch_size, class_mode=None)
        from utils.images import as_dataset  # tf.data: models alone import with Keras only
        return batches, self.model.predict(as_dataset(batches), verbose=0)
