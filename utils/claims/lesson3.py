"""Lesson 3's claimed effects, each measured side by side on the MNIST stand-in.

The stand-in is real handwriting (scikit-learn's 1,797 digits, enlarged to 28x28), so it shows
lesson 3's effects honestly once the runs are set up as the lesson's are. Two settings, one for
each kind of row, every row scored on all 540 test digits with the lesson's own model builders
(the notes' cells, `utils.lessons.lesson3`):

* the ladder (linear, one hidden layer, CNN) and an ensemble of its CNNs: all 1,257 training
  digits and the ladder's three epochs of the lesson's schedule, as in the notes, at 14x14 pixels
  (the digits were drawn at 8x8, so halving 28x28 loses nothing and quarters the cost);
* the rows about overfitting and its cures (dropout, augmentation, batch norm): only 300
  training digits drawn by the seed, so that a model can learn them by heart, and 20 epochs at
  one learning rate, with a narrower CNN (8 and 16 filters) at 28x28.

Each (model, seed) is trained once per process and its figures kept, because several rows compare
against the same model. Tracing a fresh Keras model's training step costs most of a second, so
each kind of model is built and traced once; every run gives it the weights, batch-norm
statistics, random-layer states and a fresh optimizer of a model newly built from the run's seed:
the same start as a fresh model, without the tracing.
"""
import functools

import keras
import numpy as np
import tensorflow as tf

from utils.claims import Claim
from utils.datasets import mnist
from utils.ensemble import accuracy, average_predictions
from utils.learning_rate import fit_schedule, scale_schedule
from utils.lessons import lesson3 as notes

LADDER = {"size": 14, "epochs": 3, "batch_size": 64}  # the lesson's schedule over 3 epochs
FEW = {"size": 28, "n_train": 300, "epochs": 20, "batch_size": 32, "lr": 0.001,
       "filters": (8, 16), "dense": 512}
REACH = 0.95       # batch norm's row: epochs until this test accuracy
N_MEMBERS = 3      # CNNs in the ensemble's row
MEMBER_SEED = 10_000  # member i of an ensemble starts from keras seed `seed + i * MEMBER_SEED`


def _schedule():
    """The ladder's learning rates: the lesson's schedule shrunk to its epochs."""
    return scale_schedule(notes.SCHEDULE, LADDER["epochs"])


def _builders():
    """The lesson's models by name, built by the notes' cells, with each setting's sizes."""
    ladder, few = (LADDER["size"],) * 2 + (1,), (FEW["size"],) * 2 + (1,)
    lr = _schedule()[0][0]
    cnn = functools.partial(notes.cnn, filters=FEW["filters"], dense=FEW["dense"],
                            lr=FEW["lr"], input_shape=few)
    return {"linear": lambda: notes.linear(lr, input_shape=ladder),
            "one hidden layer": lambda: notes.hidden(lr, input_shape=ladder),
            "CNN": lambda: notes.cnn(input_shape=ladder, lr=lr),
            "small CNN": cnn,
            "small CNN + dropout": lambda: cnn(dropout=0.5),
            "small CNN + augmentation": lambda: cnn(augment=True),
            "small CNN + batch norm": lambda: cnn(bn=True)}


LADDER_KINDS = ("linear", "one hidden layer", "CNN")


def _standin_file():
    """Where the MNIST stand-in lives now, got through `get` (the data folder may move between tests)."""
    return str(mnist.get("standin").path)


@functools.lru_cache(maxsize=4)
def _digits(path, size):
    """The stand-in's (x_train, y_train, x_test, y_test) at size x size, with a channel axis."""
    (x_trn, y_trn), (x_test, y_test) = mnist.read(path)
    return (_shrink(x_trn, size), y_trn.astype("int64"), _shrink(x_test, size),
            y_test.astype("int64"))


def _shrink(images, size):
    """28x28 digits as size x size, averaging blocks of pixels (28 must be a multiple of size)."""
    k = images.shape[1] // size
    blocks = images.reshape(len(images), size, k, size, k).astype("float32")
    return blocks.mean(axis=(2, 4))[..., None]


def _data(kind, seed):
    """The run's training digits (all for the ladder, `n_train` drawn by the seed otherwise)."""
    setting = LADDER if kind in LADDER_KINDS else FEW
    x_trn, y_trn, x_test, y_test = _digits(_standin_file(), setting["size"])
    if kind in LADDER_KINDS:
        return x_trn, y_trn, x_test, y_test
    pick = np.random.default_rng(seed).permutation(len(x_trn))[:FEW["n_train"]]
    return x_trn[pick], y_trn[pick], x_test, y_test


def _traced(kind):
    """One compiled model of each kind (per precision policy) and its traced predict step."""
    return _traced_under(kind, keras.config.dtype_policy().name)


@functools.lru_cache(maxsize=None)
def _traced_under(kind, policy):
    """The model `_traced` hands out, built once under the policy in force."""
    model = _builders()[kind]()
    return model, tf.function(lambda x: model(x, training=False))


def _start_afresh(model, fresh):
    """Give `model` the start `fresh` has: weights, statistics, random states; Adam from zero."""
    for mine, theirs in zip(model.variables, fresh.variables, strict=True):
        mine.assign(theirs)  # non-trainable ones too: batch-norm averages, seed-generator states
    rate = model.optimizer.learning_rate
    for v in model.optimizer.variables:
        if v is not rate:  # the step count and Adam's moment estimates
            v.assign(np.zeros(v.shape, v.dtype))
    model.optimizer.learning_rate = fresh.optimizer.learning_rate


def _accuracy_curve(predict, x, y):
    """A callback that keeps the accuracy on (x, y) after each epoch, in `.curve`."""

    class AccuracyCurve(keras.callbacks.Callback):
        """Scores the model at the end of every epoch, as it predicts (batch norm's averages)."""
        def on_train_begin(self, logs=None):
            self.curve = []

        def on_epoch_end(self, epoch, logs=None):
            self.curve.append(_accuracy(predict(x), y))
    return AccuracyCurve()


def _accuracy(probs, labels):
    """Share of digits whose most probable class is the label."""
    return float(np.mean(np.asarray(probs).argmax(axis=-1) == labels))


def _log_loss(probs, labels):
    """Mean cross-entropy of the true digit (what training minimises)."""
    p = np.asarray(probs, "float64")[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, 1e-7, 1.0))))


@functools.lru_cache(maxsize=None)
def train_figures(kind, seed, member=0):
    """Train one model from the seed; its figures (train and test accuracy and loss, curve)."""
    x, y, x_test, y_test = _data(kind, seed)
    start = seed + member * MEMBER_SEED
    keras.utils.set_random_seed(start)
    fresh = _builders()[kind]()  # the seeded start: its weights and random-layer states
    model, predict = _traced(kind)
    _start_afresh(model, fresh)
    ladder = kind in LADDER_KINDS
    setting = LADDER if ladder else FEW
    batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=start)
    # Scoring the test digits after every epoch costs a fifth of a small CNN's run: only where read
    curves = [_accuracy_curve(predict, x_test, y_test)] if kind in _curved() else []
    schedule = _schedule() if ladder else ((FEW["lr"], FEW["epochs"]),)
    fit_schedule(model, batches.batch(setting["batch_size"]), schedule=schedule,
                 callbacks=curves, shuffle=False, verbose=0)  # the batches come shuffled
    p_trn, p_test = np.asarray(predict(x)), np.asarray(predict(x_test))
    return {"train_accuracy": _accuracy(p_trn, y), "test_accuracy": _accuracy(p_test, y_test),
            "train_loss": _log_loss(p_trn, y), "test_loss": _log_loss(p_test, y_test),
            "curve": tuple(curves[0].curve) if curves else (), "test_probs": p_test}


def _test_accuracy(side, seed):
    """Test accuracy of the model named by the side."""
    return train_figures(side, seed)["test_accuracy"]


def _loss_gap(side, seed):
    """Test log loss minus training log loss: how much worse the model does on unseen digits."""
    figures = train_figures(side, seed)
    return figures["test_loss"] - figures["train_loss"]


def _overfit(side, seed):
    """The small CNN's accuracy on the test digits or on its own training digits."""
    figures = train_figures("small CNN", seed)
    return figures["train_accuracy" if side == "training digits" else "test_accuracy"]


def _curved():
    """The sides whose test accuracy is read epoch by epoch: those of the row that counts epochs to REACH."""
    return {side for claim in CLAIMS if claim.run is _epochs_to_reach for side in claim.sides}


def _epochs_to_reach(side, seed):
    """Epochs until the test accuracy first reaches REACH, read between epochs (linearly)."""
    curve = (0.0, *train_figures(side, seed)["curve"])
    for epoch in range(1, len(curve)):
        if curve[epoch] >= REACH:
            before, after = curve[epoch - 1], curve[epoch]
            return epoch - 1 + (REACH - before) / (after - before)
    return float(len(curve))  # not reached: one epoch more than trained, as a floor


def _members(seed):
    """The ensemble's CNNs (the ladder's), each from its own start: test labels, probabilities."""
    y_test = _data("CNN", seed)[3]
    return y_test, [train_figures("CNN", seed, i)["test_probs"] for i in range(N_MEMBERS)]


def _ensemble_loss(side, seed):
    """Test log loss of the ensemble's averaged probabilities, or of its average member."""
    y_test, probs = _members(seed)
    if side == "ensemble":
        return _log_loss(average_predictions(probs), y_test)
    return float(np.mean([_log_loss(p, y_test) for p in probs]))


def _ensemble_accuracy(side, seed):
    """Test accuracy of the ensemble's averaged probabilities, or of its average member."""
    y_test, probs = _members(seed)
    if side == "ensemble":
        return accuracy(average_predictions(probs), y_test)
    return float(np.mean([accuracy(p, y_test) for p in probs]))


ENSEMBLE_COURSE = ("Real data: MNIST, an ensemble of 6 CNNs 0.9969 against 0.9945 for one; dogs "
                   "vs cats, an ensemble of 5 models 0.9895.")

CLAIMS = [
    Claim(3, "overfit-gap",
          f"Without dropout or augmentation a CNN overfits {FEW['n_train']} training digits: "
          "far more accurate on them than on new digits",
          ("test digits", "training digits"), "accuracy of the same small CNN", True, _overfit,
          course="Real data: the course's dogs-vs-cats VGG16 underfitted with dropout, so "
                 "removing it helped (0.985); its MNIST CNNs were regularised with augmentation, "
                 "batch norm and dropout (0.9945)."),
    Claim(3, "dropout",
          "Dropout 0.5 before the output shrinks the gap between test and training loss",
          ("small CNN", "small CNN + dropout"), "test minus training log loss", False, _loss_gap,
          course="Real data: dogs vs cats 0.985 without dropout (VGG16 underfitted with it); "
                 "MNIST CNN with augmentation, batch norm and dropout 0.9945."),
    Claim(3, "augmentation",
          "Augmentation (small turns, shifts and zooms) shrinks the gap between test and "
          "training loss",
          ("small CNN", "small CNN + augmentation"), "test minus training log loss", False,
          _loss_gap,
          course="Real data: dogs vs cats with batch norm and augmentation 0.986; MNIST CNN "
                 "0.9926, with augmentation and batch norm 0.9945."),
    Claim(3, "batchnorm-speed",
          f"Batch norm reaches {REACH:.0%} test accuracy in fewer epochs, at the same learning "
          "rate",
          ("small CNN", "small CNN + batch norm"), f"epochs to {REACH:.0%} test accuracy", False,
          _epochs_to_reach,
          course="Real data: the course added batch norm for faster, steadier training; MNIST "
                 "with batch norm and augmentation 0.9945, dogs vs cats 0.986."),
    Claim(3, "ensemble",
          f"An ensemble of {N_MEMBERS} CNNs (probabilities averaged) beats its average member in "
          "test log loss (never worse, the log being concave; the figure says by how much)",
          ("average member", "ensemble"), "test log loss", False, _ensemble_loss,
          course=ENSEMBLE_COURSE),
    Claim(3, "mnist-linear-hidden",
          "One hidden layer beats a linear model (the ladder's epochs, all training digits)",
          ("linear", "one hidden layer"), "test accuracy", True, _test_accuracy,
          course="Real data: linear 0.924 on MNIST."),
    Claim(3, "mnist-hidden-cnn",
          "A CNN beats one hidden layer (the ladder's epochs, all training digits)",
          ("one hidden layer", "CNN"), "test accuracy", True, _test_accuracy,
          course="Real data: CNN 0.9926 on MNIST, linear 0.924."),
]

# Measured and known not to hold reliably on the stand-in: the ensemble's accuracy beat its
# average member's on every seed tried (by 0.2 to 1.6 points, on 540 test digits), but those gains
# vary from seed to seed nearly as much as they average, so the rule finds it on three seeds only
# about half the time (its power, estimated on seeds 0 to 3, is 0.5). Its log loss (the
# `ensemble` row) holds.
MISSES = [
    Claim(3, "ensemble-accuracy",
          f"An ensemble of {N_MEMBERS} CNNs (probabilities averaged) beats its average member in "
          "test accuracy",
          ("average member", "ensemble"), "test accuracy", True, _ensemble_accuracy,
          course=ENSEMBLE_COURSE),
]
