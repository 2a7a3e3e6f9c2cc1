"""Model surgery: cutting a network in two, new heads, and copying or extending models.

Lessons 2 and 3 treat VGG16 as two parts: the convolutional layers, which find patterns and are
slow, and the dense layers on top, which decide and are fast. Cutting the model where the two
meet lets us run the slow part once, keep its outputs, and retrain the fast part many times.
The course's names are kept: `split_at`, `vgg_ft`, `adjust_dropout`, `copy_layers`,
`copy_weights`, `copy_model`, `insert_layer`.
"""
import keras
import numpy as np
from keras import layers as kl

from utils.models.vgg16 import Vgg16, vgg16_model
from utils.training import compile_classifier


def _split_index(model, layer_type):
    """Index in model.layers of the layer named layer_type, or else of its last layer of that type."""
    names = [layer.name for layer in model.layers]
    if isinstance(layer_type, str) and layer_type in names:
        return names.index(layer_type)
    def matches(layer):
        if isinstance(layer_type, str):
            return type(layer).__name__ == layer_type
        return isinstance(layer, layer_type)
    found = [i for i, layer in enumerate(model.layers) if matches(layer)]
    if not found:
        what = layer_type if isinstance(layer_type, str) else layer_type.__name__
        raise ValueError(f"{model.name} has no layer named or of type {what!r}; its layer types "
                         f"are {sorted({type(layer).__name__ for layer in model.layers})}")
    return found[-1]


def split_at(model, layer_type):
    """Cut a model after its last layer of a type (or the named layer): (bottom, top); lessons 2-3."""
    # The course returned two lists of layers; Keras 3 needs models, and `bottom.layers` and
    # `top.layers` still give those lists. Both parts share the layers, and so the weights.
    idx = _split_index(model, layer_type)
    cut = model.layers[idx].output
    if idx == len(model.layers) - 1:
        raise ValueError(f"{model.layers[idx].name} is the last layer of {model.name}: "
                         "nothing would be left on top")
    bottom = keras.Model(model.inputs, cut, name=f"{model.name}_bottom")
    top = keras.Model(cut, model.outputs, name=f"{model.name}_top")
    return bottom, top


def dense_head(input_shape, out_dim, units=4096, n_dense=2, bn=False, dropout=0.0, lr=0.001,
               name="head"):
    """Flatten, dense ReLU layers (batch norm, dropout optional), softmax; compiled; lessons 2-3."""
    inputs = keras.Input(tuple(input_shape))
    x = kl.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for i in range(n_dense):
        x = kl.Dense(units, use_bias=not bn, name=f"{name}_fc{i + 1}")(x)
        if bn:  # normalise each unit's input over the batch, before the ReLU
            # momentum 0.9: the running averages used when predicting settle within an epoch
            x = kl.BatchNormalization(momentum=0.9, name=f"{name}_bn{i + 1}")(x)
        x = kl.Activation("relu")(x)
        if dropout:
            x = kl.Dropout(dropout)(x)
    out = kl.Dense(out_dim, activation="softmax", dtype="float32", name=f"{name}_out")(x)
    return compile_classifier(keras.Model(inputs, out, name=name), lr)


def vgg_ft(out_dim, weights="imagenet", size=(224, 224)):
    """VGG16 with a new `out_dim`-way last layer and every other layer frozen; lessons 2-3."""
    vgg = Vgg16(weights=weights, size=size)
    vgg.ft(out_dim)
    return vgg.model


def vgg_ft_fresh_bn(out_dim, weights="imagenet", size=(224, 224), units=4096, dropout=0.5, lr=0.001):
    """VGG16's frozen conv layers under new dense layers with batch norm; lesson 3."""
    # Keras ships no ImageNet weights for a batch-normed VGG, so the dense layers start fresh.
    base = vgg16_model(weights, size, include_top=False)
    base.trainable = False
    head = dense_head(base.output_shape[1:], out_dim, units, bn=True, dropout=dropout,
                      name="bn_head")
    model = keras.Model(base.input, head(base.output), name="vgg16_bn_ft")
    return compile_classifier(model, lr)


def adjust_dropout(weights, prev_p, new_p):
    """Return the weights unchanged: a no-op kept for the course's code; lesson 3."""
    # The course scaled the weights after a layer by (1 - prev_p) / (1 - new_p) when it changed
    # the dropout rate. Keras's dropout is "inverted": while training it divides the units it
    # keeps by (1 - p), so the layer's expected output is the same at every p and when
    # predicting. A changed rate therefore needs no rescaling, and rescaling would be wrong.
    for p in (prev_p, new_p):
        if not 0 <= p < 1:
            raise ValueError(f"dropout rates are in [0, 1), got {p}")
    return list(weights)


def copy_layers(layers):
    """Fresh, unconnected copies of layers (same settings, new weights); lesson 3."""
    return [layer.__class__.from_config(layer.get_config()) for layer in layers
            if not isinstance(layer, kl.InputLayer)]


def copy_weights(from_layers, to_layers):
    """Copy each layer's weights into the matching layer of another list; lesson 3."""
    from_layers = [layer for layer in from_layers if not isinstance(layer, kl.InputLayer)]
    to_layers = [layer for layer in to_layers if not isinstance(layer, kl.InputLayer)]
    if len(from_layers) != len(to_layers):
        raise ValueError(f"cannot pair {len(from_layers)} layers with {len(to_layers)}")
    for src, dst in zip(from_layers, to_layers):
        dst.set_weights(src.get_weights())


def copy_model(model):
    """An independent copy of a model with the same weights (compile it to train); lesson 3."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _chain(model, new_layers):
    """Apply new_layers one after another to a fresh input shaped like the model's."""
    if len(model.inputs) != 1:
        raise ValueError("only models with one input can be rebuilt layer by layer")
    inputs = keras.Input(model.inputs[0].shape[1:])
    x = inputs
    try:
        for layer in new_layers:
            x = layer(x)
    except Exception as err:
        raise ValueError(f"{model.name}'s layers do not form a single chain (like VGG's), so "
                         f"they cannot be rebuilt one after another: {err}") from None
    return keras.Model(inputs, x, name=model.name)


def insert_layer(model, new_layer, index):
    """A copy of a chain-shaped model with new_layer placed before model.layers[index]; lesson 3."""
    old = model.layers
    if not 0 <= index <= len(old):
        raise ValueError(f"index must be between 0 and {len(old)}, got {index}")
    copies = dict(zip([id(layer) for layer in old if not isinstance(layer, kl.InputLayer)],
                      copy_layers(old)))
    order = []
    for i, layer in enumerate(old):
        if i == index:
            order.append(new_layer)
        if not isinstance(layer, kl.InputLayer):
            order.append(copies[id(layer)])
    if index == len(old):
        order.append(new_layer)
    res = _chain(model, order)
    for layer in old:
        if id(layer) in copies:
            copies[id(layer)].set_weights(layer.get_weights())
    return res


def set_trainable(model, from_layer):
    """Freeze every layer before `from_layer` (a name or index), train it and all after; lessons 2-3."""
    names = [layer.name for layer in model.layers]
    if isinstance(from_layer, str):
        if from_layer not in names:
            raise ValueError(f"{model.name} has no layer named {from_layer!r}")
        from_layer = names.index(from_layer)
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= from_layer
    # Keras reads trainable flags when compiling: compile again before the next fit.
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)
