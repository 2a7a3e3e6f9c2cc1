"""Lesson 7's models and GRU as the notes write them (each tagged cell's own source, executed)
compute what the kit's helpers compute, given the same weights and inputs."""
import keras
import numpy as np
import pytest
from keras import layers

from utils.models import fisheries as fm, inception
from utils.scratch import gru, rnn as nprnn
from utils.training import compile_classifier, compile_model

from notebook_cells import run_cell

FEATURES, CLASSES = (5, 7, 24), 8
KERAS_NAMES = {"keras": keras, "layers": layers, "np": np, "fm": fm,
               "compile_classifier": compile_classifier, "compile_model": compile_model}


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def cell(tag, **names):
    """The namespace left by lesson 7's cell tagged `tag`, run with what the notebook imports."""
    return run_cell("lesson7", tag, **{**KERAS_NAMES, **names})


def heads():
    """The namespace after the BN-head cell and the box-head cell that builds on it."""
    return cell("def-box-class-head", **cell("def-bn-head"))


def randomise(model, seed=0):
    """Weights far from their initial values, so that any difference in the maths shows."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path
                       else rng.uniform(-0.6, 0.6, w.shape) for w in model.weights])


def copy_into(src, dst):
    """Copy weights layer by layer between two models built from the same kinds of layer."""
    a, b = [l for l in src.layers if l.weights], [l for l in dst.layers if l.weights]
    assert [type(x) for x in a] == [type(x) for x in b]
    for x, y in zip(a, b):
        y.set_weights(x.get_weights())


def features(n=6, seed=1):
    return np.random.default_rng(seed).normal(size=(n, *FEATURES)).astype("float32")


def assert_same(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-5)


def test_inception_cell_is_the_helpers_block():
    block = cell("def-inception-block")["inception_block"]
    x_in = keras.Input(FEATURES)
    ours = keras.Model(x_in, block(x_in, 8, (6, 10), (4, 6), 5))
    ref = keras.Model(x_in, inception.inception_block(x_in, 8, (6, 10), (4, 6), 5))
    randomise(ref)
    copy_into(ref, ours)
    x = features()
    assert ours.output.shape[-1] == 8 + 10 + 6 + 5
    assert_same(ours.predict(x, verbose=0), ref.predict(x, verbose=0))


def test_bn_head_cell_is_the_helpers_head():
    ours = heads()["bn_head"](FEATURES, CLASSES)
    ref = fm.bn_head(FEATURES, CLASSES)
    randomise(ref)
    copy_into(ref, ours)
    x = features()
    assert ours.count_params() == ref.count_params()
    assert_same(ours.predict(x, verbose=0), ref.predict(x, verbose=0))


def test_box_class_cell_is_the_helpers_model_outputs_and_loss():
    mean_box, weight = (10.0, 20.0, 30.0, 40.0), 0.01
    ours = heads()["box_class_head"](FEATURES, CLASSES, mean_box, weight)
    ref = fm.box_class_head(FEATURES, CLASSES, mean_box, weight)
    np.testing.assert_allclose(ours.get_layer("bb").bias.numpy(), mean_box)  # the average box
    randomise(ref)
    copy_into(ref, ours)
    x = features()
    rng = np.random.default_rng(2)
    y = {"bb": rng.uniform(0, 60, (6, 4)).astype("float32"),
         "class": np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, 6)]}
    y["bb"][:2] = 0  # photos without a fish: no box, no box error
    out, ref_out = ours.predict(x, verbose=0), ref.predict(x, verbose=0)
    for k in ("bb", "class"):
        assert_same(out[k], ref_out[k])
    # The same losses and loss weights: the same total, box and class losses.
    got = ours.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    want = ref.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    for k in ("loss", "bb_loss", "class_loss"):
        assert got[k] == pytest.approx(want[k], rel=1e-5), k


def test_fcn_cell_all_convolutional_is_the_helpers_head():
    ours = cell("def-fcn-head")["fcn_head"](FEATURES, CLASSES)
    ref = fm.fcn_head(FEATURES, CLASSES)
    randomise(ref)
    copy_into(ref, ours)
    x = features()
    assert_same(ours.predict(x, verbose=0), ref.predict(x, verbose=0))
    assert_same(fm.class_maps(ours, x), fm.class_maps(ref, x))
    assert fm.class_maps(ours, x).shape[1:] == FEATURES[:2]  # the features' own resolution


def test_fcn_cell_pooled_map_is_coarser():
    build = cell("def-fcn-head")["fcn_head"]
    shape = (12, 20, 24)
    sharp, coarse = build(shape, CLASSES), build(shape, CLASSES, pool=True)
    assert sharp.get_layer(fm.CAM_LAYER).output.shape[1:3] == (12, 20)
    assert coarse.get_layer(fm.CAM_LAYER).output.shape[1:3] == (3, 5)  # halved twice
    assert coarse.count_params() == sharp.count_params()  # pooling has no weights


def gru_cells():
    """The namespace after lesson 7's GRU forward and backward cells, run in order."""
    ns = cell("def-gru-forward", gru=gru, nprnn=nprnn)
    return cell("def-gru-backward", **ns)


def float64_gru(seed=0):
    """A small GRU's weights, a batch of text, and a carried-in state."""
    params = gru.init_gru(vocab=7, hidden=5, seed=seed)
    for k in params:  # non-zero biases, so their gradients are tested too
        params[k] = params[k] + np.random.default_rng(seed + 7).normal(0, 0.1, params[k].shape)
    rng = np.random.default_rng(seed + 1)
    x, y = rng.integers(0, 7, (3, 9)), rng.integers(0, 7, (3, 9))
    return params, x, y, np.tanh(rng.normal(size=(3, 5)))


def test_gru_cells_are_the_helpers_forward_and_backward_passes():
    ns = gru_cells()
    params, x, y, h0 = float64_gru()
    loss, cache = ns["gru_forward"](params, x, y, h0)
    ref_loss, ref_cache = gru.gru_forward(params, x, y, h0)
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    for a, b in zip(cache["hs"] + cache["ps"], ref_cache["hs"] + ref_cache["ps"]):
        np.testing.assert_allclose(a, b, atol=1e-13)
    for g, ref_g in zip(cache["gates"], ref_cache["gates"]):
        for a, b in zip(g, ref_g):
            np.testing.assert_allclose(a, b, atol=1e-13)
    loss, grads, h = ns["loss_and_grads"](params, x, y, h0)
    ref_loss, ref_grads, ref_h = gru.loss_and_grads(params, x, y, h0)
    np.testing.assert_allclose(h, ref_h, atol=1e-13)
    assert set(grads) == set(gru.PARAMS)
    for k in gru.PARAMS:
        np.testing.assert_allclose(grads[k], ref_grads[k], atol=1e-13, err_msg=k)


def test_gru_cells_backward_pass_passes_the_gradient_check():
    ns = gru_cells()
    params, x, y, h0 = float64_gru(5)
    _, analytic, _ = ns["loss_and_grads"](params, x, y, h0)
    numeric = nprnn.central_differences(lambda p, i, t: ns["gru_forward"](p, i, t, h0),
                                        gru.PARAMS, params, x, y)
    for k in gru.PARAMS:
        assert nprnn.relative_error(analytic[k], numeric[k]) < 1e-6, k


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_head_cells_keep_float32_outputs_and_box_loss_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)  # as on a GPU; the fixture restores float32 after
    ns = heads()
    ns.update(cell("def-fcn-head"))
    for model in (ns["bn_head"](FEATURES, CLASSES), ns["fcn_head"](FEATURES, CLASSES),
                  ns["box_class_head"](FEATURES, CLASSES, (0, 0, 0, 0), 0.01)):
        assert all(o.dtype == "float32" for o in model.outputs), model.name
    # A 300-pixel box error squared is 90,000: past float16's largest number, fine in float32.
    model = ns["box_class_head"](FEATURES, CLASSES, (0, 0, 0, 0), 0.01)
    y = {"bb": np.full((6, 4), 300.0, "float32"), "class": np.eye(CLASSES, dtype="float32")[:6]}
    result = model.evaluate(features(), y, batch_size=6, verbose=0, return_dict=True)
    pred = model.predict(features(), verbose=0)["bb"]
    want = np.mean((y["bb"] - pred.astype("float64")) ** 2)
    assert np.isfinite(result["bb_loss"]) and result["bb_loss"] == pytest.approx(want, rel=1e-3)
