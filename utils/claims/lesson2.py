"""Lesson 2's claimed effects, each measured side by side on its stand-in.

"dense-layers": on the pretrained stand-in VGG16's conv features (block5_pool, computed once per
process), fc1 and fc2 start from their pretrained weights under a new 2-way last layer; one side
trains the last layer alone, the other all three dense layers, at the same rate and epochs. The
effect is small beside the seed-to-seed spread (over 8 seeds +0.012 at 6 epochs, spread 0.017;
the course saw +0.001 on 2,000 photos), so on some seed pairs the margin falls below zero.
"too-high-lr": lesson 2's SGD from scratch (`fit_line`) on y = a*x + b, at a good learning rate
and at ten times it, for the same epochs; the figure is the log10 of the final mean squared error.
"""
import keras
import numpy as np

from utils.claims import Claim
from utils.claims.lesson1 import backbone, features, fit_head, images, standin_folder
from utils.lessons.lesson2 import fit_line
from utils.scratch import sgd

EPOCHS = 6          # as long as lesson 2 trains its new last layer (2 x EPOCHS)
LR = 0.001
GOOD_LR, HIGH_LR = 0.1, 1.0
SGD_EPOCHS = 20


def dense_layers(side, seed):
    """Validation accuracy after training the last layer alone, or all the dense layers, from
    pretrained fc1 and fc2 under a new last layer."""
    folder = standin_folder()
    _, y_trn, _, y_val = images(folder)
    f_trn, f_val = features(folder, "standin", 0, "block5_pool")
    pretrained = backbone("standin", 0)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(f_trn.shape[1:])
    x = inputs
    for name in ("fc1", "fc2"):
        layer = keras.layers.Dense.from_config(pretrained.get_layer(name).get_config())
        x = layer(x)
        layer.set_weights(pretrained.get_layer(name).get_weights())
        layer.trainable = side == "all dense layers"
    out = keras.layers.Dense(2, activation="softmax", dtype="float32", name="dogscats")(x)
    return fit_head(keras.Model(inputs, out), f_trn, y_trn, f_val, y_val, seed, LR, EPOCHS)


def sgd_final_loss(side, seed):
    """log10 of the mean squared error after SGD_EPOCHS epochs of SGD on a line, at one rate."""
    lr = GOOD_LR if side.startswith(f"lr {GOOD_LR}") else HIGH_LR
    x, y = sgd.make_data(n=50, seed=seed)
    with np.errstate(over="ignore", invalid="ignore"):  # the high rate's loss may overflow
        loss = fit_line(x, y, a=-1.0, b=1.0, lr=lr, epochs=SGD_EPOCHS, batch_size=10, seed=seed)["loss"][-1]
    return float(np.log10(min(loss, 1e300)))  # a run that overflowed counts as 1e300


# Measured and not holding, so kept apart from CLAIMS (which the tests assert): over seeds 0-7
# the dense layers gain +0.012 validation accuracy on average at 6 epochs, from -0.015 to +0.035
# (a spread of 0.017), so on three seeds the rule finds it about one time in five (its power for
# that gain and spread, claims.power(0.012, 0.017), is 0.2). The course's real data showed +0.001.
MISSES = [
    Claim(2, "dense-layers",
          "retraining all the dense layers beats retraining the last layer alone",
          ("last layer", "all dense layers"), "validation accuracy", True, dense_layers,
          "ImageNet VGG16 on the real photos: last layer 0.9735; its 'all dense layers' 0.9745 "
          "still trained the last layer alone, as the layers it made trainable were never "
          "compiled again"),
]

CLAIMS = [
    Claim(2, "too-high-lr",
          "a learning rate ten times too high makes SGD's loss explode; the right one brings it "
          "down", (f"lr {HIGH_LR} (too high)", f"lr {GOOD_LR}"), "log10 final loss of SGD on a line", False,
          sgd_final_loss,
          "the course's animation converged at its small rate; the Keras 2 port's dense "
          "layers, really trained at the course's rate of 0.01, fell to 0.50 validation accuracy"),
]
