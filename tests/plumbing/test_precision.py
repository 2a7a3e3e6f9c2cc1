"""Mixed precision, as a GPU runs the kit: the policy setup() puts in force, the course's `.lr`
idiom on every model builder, losses that must not overflow float16, and lesson 1's comparison.

float16 is slow on a CPU, so every model here is tiny; the policies are set around each build
with `precision_scope` and put back after.
"""
import keras
import numpy as np
import pytest

from utils.env import POLICIES, precision_scope
from utils.lessons import lesson3, lesson4, lesson5, lesson6, lesson7
from utils.models import collab, inception, surgery, text as tm
from utils.models.resnet50 import Resnet50
from utils.models.vgg16 import Vgg16, by_hand_gap
from utils.models.vgg16bn import Vgg16BN
from utils.paths import ROOT
from utils.training import compile_model

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def fresh_rng():
    """Each test draws the same data however the tests are ordered or spread over processes."""
    global RNG
    RNG = np.random.default_rng(0)


def ints(high, *shape):
    return RNG.integers(0, high, shape)


def floats(*shape):
    return RNG.normal(size=shape).astype("float32")


def onehot(n, k):
    return np.eye(k, dtype="float32")[ints(k, n)]


def vgg_like(cls, **kw):
    """A course model object (Vgg16, Vgg16BN, Resnet50) at 32 px with a new 2-way head."""
    obj = cls(weights=None, size=(32, 32), **kw)
    obj.ft(2)
    return obj.model, floats(2, 32, 32, 3) * 50 + 128, onehot(2, 2)


def sentiment(model):
    """A lesson 5 sentiment model compiled as the notes compile it."""
    return compile_model(model, 0.001, "binary_crossentropy", metrics=["accuracy"])


def chars(model):
    """A lesson 6 character model compiled as the notes compile it."""
    return compile_model(model, 0.001, "sparse_categorical_crossentropy")


# Every builder in utils/models that returns a compiled model: (model, x, y) at toy sizes.
BUILDERS = {
    # lesson 5's exported builders, compiled as its notes compile them
    "sentiment_nn": lambda: (sentiment(lesson5.sentiment_nn(20, 6, dim=4)), ints(20, 4, 6), ints(2, 4)),
    "sentiment_conv1d": lambda: (sentiment(lesson5.sentiment_conv1d(20, 6, dim=4)), ints(20, 4, 6), ints(2, 4)),
    "sentiment_multi_cnn": lambda: (sentiment(lesson5.sentiment_multi_cnn(20, 6, dim=4)), ints(20, 4, 6),
                                    ints(2, 4)),
    "sentiment_lstm": lambda: (sentiment(lesson5.sentiment_lstm(20, 6, dim=4, units=4)), ints(20, 4, 6),
                               ints(2, 4)),
    "unfreeze_embedding": lambda: (tm.unfreeze_embedding(lesson5.sentiment_conv1d(
        20, 6, dim=4, trainable=False)), ints(20, 4, 6), ints(2, 4)),
    # lesson 6's exported builders, compiled as its notes compile them
    "char3_model": lambda: (chars(lesson6.char3_model(5, 3, 8)), [ints(5, 4, 1)] * 3, ints(5, 4)),
    "unrolled_rnn": lambda: (chars(lesson6.unrolled_rnn(5, 4, 3, 8)), ints(5, 4, 4), ints(5, 4)),
    "simple_rnn_model": lambda: (chars(lesson6.simple_rnn_model(5, 4, 3, 8)), ints(5, 4, 4), ints(5, 4)),
    "stateful_model": lambda: (chars(lesson6.stateful_model(5, 4, 4, 3, 8)), ints(5, 4, 4), ints(5, 4, 4)),
    "char_rnn": lambda: (chars(lesson6.char_rnn(5, 3, 8)), ints(5, 4, 4), ints(5, 4, 4)),
    "collab.dot_model": lambda: (collab.compile_collab(lesson4.dot_model(6, 7, 3)),
                                 [ints(6, 4, 1), ints(7, 4, 1)], floats(4, 1)),
    "collab.bias_model": lambda: (collab.compile_collab(lesson4.bias_model(6, 7, 3, mean=3.5)),
                                  [ints(6, 4, 1), ints(7, 4, 1)], floats(4, 1)),
    # 16 ratings, not 4: behind dropouts of 0.3 and 0.75, four rows leave some weights a gradient
    # so small that Adam's first step falls short of the rate, and the check would hang on chance.
    "collab.nn_model": lambda: (collab.compile_collab(lesson4.nn_model(6, 7, 3, hidden=5)),
                                [ints(6, 16, 1), ints(7, 16, 1)], floats(16, 1)),
    # lesson 7's exported heads
    "bn_head": lambda: (lesson7.bn_head((2, 2, 6), 3, 4, 8), floats(4, 2, 2, 6), onehot(4, 3)),
    "size_head": lambda: (lesson7.size_head((2, 2, 6), 2, 3, 4, 8),
                          [floats(4, 2, 2, 6), onehot(4, 2)], onehot(4, 3)),
    "box_class_head": lambda: (lesson7.box_class_head((2, 2, 6), 3, channels=4, units=8),
                               floats(4, 2, 2, 6),
                               {"bb": floats(4, 4) * 100 + 200, "class": onehot(4, 3)}),
    "fcn_head": lambda: (lesson7.fcn_head((3, 4, 6), 3, filters=4), floats(4, 3, 4, 6),
                         onehot(4, 3)),
    # lesson 3's exported MNIST rungs
    "mnist.linear": lambda: (lesson3.linear(), floats(4, 28, 28, 1) * 255, ints(10, 4)),
    "mnist.cnn": lambda: (lesson3.cnn(bn=True, filters=(4,), dense=8), floats(4, 28, 28, 1) * 255,
                          ints(10, 4)),
    "inception_net": lambda: (inception.inception_net((16, 16), 3, blocks=1, width=4),
                              floats(4, 16, 16, 3) * 255, onehot(4, 3)),
    "inception_head": lambda: (inception.inception_head((4, 4, 6), 3, width=4),
                               floats(4, 4, 4, 6), onehot(4, 3)),
    "surgery.dense_head": lambda: (surgery.dense_head((2, 2, 6), 3, units=8), floats(4, 2, 2, 6),
                                   onehot(4, 3)),
    "Vgg16.ft": lambda: vgg_like(Vgg16),
    "Vgg16BN.ft": lambda: vgg_like(Vgg16BN, stats_images=floats(2, 32, 32, 3) * 50 + 128),
    "Resnet50.ft": lambda: vgg_like(Resnet50, include_top=False),
}


def trainable_values(model):
    return [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]


def applied_step(model, x, y, tries=12):
    """The typical largest change per weight variable in the first step really applied."""
    # Adam's first step moves each weight that has a gradient by about the rate: each moved
    # variable's largest change is the rate (an embedding row seen twice in a batch, more).
    # Under mixed_float16 the loss scaler skips a step whose float16 gradients overflowed and
    # halves its scale; Adam's own step counter tells the applied steps apart.
    inner = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    for _ in range(tries):
        before, done = trainable_values(model), int(inner.iterations.numpy())
        model.train_on_batch(x, y)
        if int(inner.iterations.numpy()) > done:
            moved = [float(np.abs(a - b).max()) for a, b in zip(trainable_values(model), before)]
            return float(np.median([m for m in moved if m > 0]))
    raise AssertionError(f"no step applied in {tries} tries: the gradients never got finite")


# Before the kit compiled every model itself, no builder honoured `.lr` under mixed_float16 (Keras
# wrapped the optimizer), so every builder trains under it here. Under float32 only those that
# compiled with Keras's own Adam failed; all compile through utils.training now (checked below), so
# one builder of each kind of model and loss stands for the rest: a classifier, a character model,
# a rating model, a two-output head.
CASES = ([(name, "mixed_float16") for name in BUILDERS]
         + [(name, "float32") for name in ("sentiment_nn", "char_rnn", "collab.dot_model",
                                           "box_class_head")])


@pytest.mark.parametrize("name, policy", CASES)
def test_course_lr_assignment_changes_the_rate_each_builder_trains_at(name, policy):
    """`model.optimizer.lr = 0.5` is the rate the next train step uses, on every builder."""
    keras.utils.set_random_seed(0)
    with precision_scope(policy):
        model, x, y = BUILDERS[name]()
        if policy == "mixed_float16":  # Keras's loss scaling is there, and answers .lr too
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        model.optimizer.lr = 0.5  # the course's spelling
        assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == 0.5
        assert model.optimizer.lr == 0.5
        # Adam's first step moves each weight with a gradient by about the rate itself.
        assert applied_step(model, x, y) == pytest.approx(0.5, rel=0.05)


def test_every_builder_module_compiles_through_the_kit():
    """No model module, hand-written or made from the notes, compiles with an optimizer of its own:
    all go through utils.training."""
    paths = sorted((ROOT / "utils/models").glob("*.py")) + sorted((ROOT / "utils/lessons").glob("*.py"))
    assert len(paths) > 7
    for path in paths:
        text = path.read_text()
        assert "keras.optimizers." not in text and "model.compile(" not in text, path.name


def test_box_loss_is_finite_in_float16_on_pixel_sized_boxes():
    """A 600 px miss squared is 360,000: past float16's 65,504, so the loss works in float32."""
    y_true = keras.ops.convert_to_tensor(np.array([[600, 400, 500, 300], [0, 0, 0, 0]]), "float16")
    y_pred = keras.ops.zeros((2, 4), "float16")
    loss = keras.ops.convert_to_numpy(lesson7.box_loss(y_true, y_pred))
    assert np.isfinite(loss).all()
    assert loss == pytest.approx([(600**2 + 400**2 + 500**2 + 300**2) / 4, 0])  # NoF: no box


def test_box_head_trains_on_pixel_boxes_under_mixed_float16():
    """Large boxes under mixed_float16: finite losses, and the box loss falls as training goes."""
    keras.utils.set_random_seed(0)
    with precision_scope("mixed_float16"):
        model = lesson7.box_class_head((2, 2, 6), 3, mean_box=(0, 0, 0, 0), box_weight=1.0,
                                       channels=4, units=8, lr=0.5)
    x, boxes = floats(16, 2, 2, 6), np.full((16, 4), 900.0, "float32")
    history = model.fit(x, {"bb": boxes, "class": onehot(16, 3)}, epochs=30, batch_size=16,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # The box output moves from 0 towards 900. Judged on the training loss: after 30 steps batch
    # norm's running statistics are still far from the batch's, so predict() is no measure yet.
    box_loss = history.history["bb_loss"]
    assert box_loss[-1] < 0.8 * box_loss[0]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_every_model_output_and_loss_is_float32_under_mixed_precision(policy):
    """Predictions come back as float32 numpy arrays: no float16 reaches numpy code or a file."""
    keras.utils.set_random_seed(0)
    with precision_scope(policy):
        for name in ("sentiment_nn", "char_rnn", "collab.bias_model", "box_class_head",
                     "mnist.linear", "surgery.dense_head"):
            model, x, _ = BUILDERS[name]()
            out = model.predict(x, verbose=0)
            for part in (out.values() if isinstance(out, dict) else [out]):
                assert part.dtype == np.float32, (name, part.dtype)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_class_maps_and_batchnorm_statistics_are_float_numpy_under_mixed_precision(policy):
    """Class activation maps (plotted) and VGG's batch-norm statistics leave 16 bits behind."""
    keras.utils.set_random_seed(0)
    with precision_scope(policy):
        fcn, x, _ = BUILDERS["fcn_head"]()
        head = surgery.dense_head((2, 2, 6), 3, units=8, name="probe")
    assert lesson7.class_maps(fcn, x).dtype == np.float32
    mean, var = lesson5.activation_stats(head, ["probe_fc1"], floats(8, 2, 2, 6))["probe_fc1"]
    assert mean.dtype == var.dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Lesson 1: the hand-built VGG16 against Keras's, under the mixed policy a GPU turns on

def test_lesson1_comparison_fails_under_the_gpu_policy_and_passes_in_a_float32_scope():
    keras.utils.set_random_seed(0)
    with precision_scope("mixed_float16"):  # what setup() turns on on a T4
        old, peak = by_hand_gap((32, 32), keras.mixed_precision.global_policy().name)
        new, _ = by_hand_gap((32, 32), "float32")
        assert keras.mixed_precision.global_policy().name == "mixed_float16"  # scope restored
    assert peak > 0.1  # trained-like: uniform outputs would give 0.001 each
    assert old > 1e-5  # the notebook's old cell: same architecture, and yet "different"
    assert new <= 1e-5


# ---------------------------------------------------------------------------------------------
# setup(): the policy forced by DL1_PRECISION, and the one reported being the one in force

@pytest.fixture
def cpu_setup(monkeypatch):
    """setup() as a notebook calls it, on this CPU; the global policy is restored after."""
    from utils.env import setup

    def run(policy=None, **kwargs):
        monkeypatch.setenv("DL1_PRECISION", policy or "")
        return setup(**kwargs)
    with precision_scope(keras.mixed_precision.global_policy().name):
        yield run


@pytest.mark.parametrize("policy", POLICIES)
def test_setup_puts_the_forced_policy_in_force_and_says_so(cpu_setup, capsys, policy):
    info = cpu_setup(policy)
    assert keras.mixed_precision.global_policy().name == info.policy == policy
    assert f"precision {policy}," in capsys.readouterr().out  # the line a notebook shows


def test_setup_reports_a_policy_set_before_it_not_float32(cpu_setup):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    assert cpu_setup(quiet=True).policy == "mixed_bfloat16"


def test_setup_refuses_an_unknown_forced_policy_with_the_choices(cpu_setup):
    with pytest.raises(ValueError, match="DL1_PRECISION='half' is not a precision policy.*"
                                         "mixed_bfloat16"):
        cpu_setup("half")
