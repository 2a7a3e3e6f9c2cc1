"""ResNet50 with the course's `Vgg16` API, built on `keras.applications.ResNet50`; lesson 7.

ResNet50 (the 2015 ImageNet winner) stacks 16 *residual blocks*: each block adds its input back to
what its three convolutions computed, so a block only has to learn a correction, and gradients
reach the first layers through the additions. Every convolution is followed by BatchNormalization.
One such block written out by hand, `identity_block`, is in nbs/lesson7.ipynb (section 1), whose
export cells `make sync` writes into `utils.lessons.lesson7`.

Its ImageNet weights expect the same preprocessing as VGG16 (RGB to BGR, subtract the ImageNet
channel means). As in `Vgg16`, that step is the model's first layer, so callers pass plain 0-255
RGB images and their arrays are never changed in place.

BatchNormalization and fine-tuning in Keras 3: a BN layer whose `trainable` is False runs in
inference mode even while the model trains, normalising with the mean and variance it learnt on
ImageNet and leaving them alone. That is what fine-tuning wants (Keras 1 instead renormalised with
each batch's own statistics). `Resnet50.ft` freezes everything; `Resnet50.unfreeze_from` makes
later convolutions trainable but keeps every BN layer frozen, so a small batch of new photos never
overwrites the ImageNet statistics. `bn_modes` shows the difference on one layer.
"""
import keras
import numpy as np

from utils.env import strategy
from utils.models.vgg16 import Vgg16, imagenet_classes
from utils.models.vgg16_input import VggPreprocess, WeightsUnavailable

WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_FILE_NOTOP = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _applications_resnet50(weights, x, include_top, pooling):
    """keras.applications.ResNet50 on tensor `x`, with an offline weights failure as advice."""
    try:
        return keras.applications.ResNet50(include_top=include_top, weights=weights,
                                           input_tensor=x, pooling=pooling)
    except Exception as err:
        if weights != "imagenet":
            raise
        name = WEIGHTS_FILE if include_top else WEIGHTS_FILE_NOTOP
        raise WeightsUnavailable(
            f"Could not get ResNet50's ImageNet weights ({err}). On a machine with internet run "
            "`python -c \"import keras; keras.applications.ResNet50()\"` once (it caches "
            f"{name}, about 100 MB, in ~/.keras/models/), or copy that file there by hand. "
            "For stand-in data and tests use weights=None.") from None


def resnet50_model(weights="imagenet", size=(224, 224), include_top=True, pooling=None):
    """ResNet50 as one flat Keras model taking 0-255 RGB images; lesson 7."""
    size = tuple(size)
    if weights == "imagenet" and include_top and size != (224, 224):
        raise ValueError("ImageNet's classifier needs 224x224 images: use size=(224, 224), "
                         "include_top=False, or weights=None.")
    inputs = keras.Input((*size, 3), name="image")
    x = VggPreprocess(name="resnet_preprocess")(inputs)  # ResNet50 uses VGG's caffe-style input
    # Built on our preprocessing tensor, the application's layers join this one flat graph, so
    # `model.layers[-2].output` and `model.get_layer("conv4_block6_out")` work as on VGG16.
    base = _applications_resnet50(weights, x, include_top, pooling)
    return keras.Model(inputs, base.output, name="resnet50")


def bn_layers(model):
    """The BatchNormalization layers of a model, nested models included; lesson 7."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += bn_layers(layer)
    return found


def bn_modes(seed=0):
    """What one BN layer outputs and learns when trainable vs frozen, while training; lesson 7."""
    rng = np.random.default_rng(seed)
    # Pretend the layer learnt on other data: mean 5, variance 4. New batches have mean 0, var 1.
    x = rng.normal(0, 1, (64, 3)).astype("float32")
    out = {}
    for state in ("trainable", "frozen"):
        bn = keras.layers.BatchNormalization(momentum=0.5)
        bn.build((None, 3))
        bn.moving_mean.assign(np.full(3, 5.0, "float32"))
        bn.moving_variance.assign(np.full(3, 4.0, "float32"))
        bn.trainable = state == "trainable"
        in_inference = keras.ops.convert_to_numpy(bn(x, training=False))
        in_training = keras.ops.convert_to_numpy(bn(x, training=True))  # as inside model.fit
        out[state] = {"output_mean_training": float(in_training.mean()),
                      "output_mean_inference": float(in_inference.mean()),
                      "moving_mean_after": float(bn.moving_mean.numpy()[0])}
    return out


class Resnet50(Vgg16):
    """The course's Resnet50(size, include_top): ResNet50 with the Vgg16 calls; lesson 7."""

    def __init__(self, size=(224, 224), include_top=True, weights="imagenet", pooling=None):
        self.size = tuple(size)
        self.include_top = include_top
        with strategy().scope():
            self.model = resnet50_model(weights, self.size, include_top, pooling)
        self.classes = imagenet_classes() if weights == "imagenet" and include_top else [
            f"class_{i}" for i in range(self.model.output_shape[-1])]

    def ft(self, num):
        """Freeze every layer (BN then runs in inference), add a `num`-way softmax; lesson 7."""
        for layer in self.model.layers:
            layer.trainable = False
        last = self.model.layers[-1]
        x = self.model.layers[-2].output if isinstance(last, keras.layers.Dense) else last.output
        with strategy().scope():
            if len(x.shape) == 4:  # no classifier yet: average the last feature map
                x = keras.layers.GlobalAveragePooling2D(name="ft_pool")(x)
            out = keras.layers.Dense(num, activation="softmax", dtype="float32",
                                     name=f"finetune_{num}")(x)
            self.model = keras.Model(self.model.input, out, name=self.model.name)
        self.compile()

    def unfreeze_from(self, layer_name, keep_bn_frozen=True, lr=None):
        """Train every layer from `layer_name` on, keeping BN frozen unless told; lesson 7."""
        names = [layer.name for layer in self.model.layers]
        if layer_name not in names:
            raise ValueError(f"No layer named {layer_name!r}; e.g. {names[-40:-35]} "
                             "(see model.summary()).")
        start = names.index(layer_name)
        for i, layer in enumerate(self.model.layers):
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = i >= start and not (is_bn and keep_bn_frozen)
        self.compile(lr if lr is not None else 1e-4)  # trainable flags apply at compile time
        return sum(layer.trainable for layer in self.model.layers)
