"""Lesson 7's heads, box loss and CAMs (utils.lessons.lesson7), utils/models/fisheries.py's IoU
and map scores, utils/plotting.py's pictures."""
import keras
import matplotlib
import numpy as np

from utils.lessons import lesson7
from utils.models import fisheries as fm
from utils.plotting import plot_boxes, plot_cams, upsample

matplotlib.use("Agg")


def test_box_loss_ignores_photos_without_a_box():
    y_true = np.array([[10, 10, 20, 20], [0, 0, 0, 0]], "float32")
    y_pred = np.array([[12, 10, 20, 16], [50, 50, 5, 5]], "float32")
    loss = keras.ops.convert_to_numpy(lesson7.box_loss(y_true, y_pred))
    np.testing.assert_allclose(loss, [(4 + 16) / 4, 0.0])


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(fm.box_iou(a, b), [1.0, 50 / 150, 0.0])


def test_cam_hits_maps_the_hottest_cell_to_pixels():
    maps = np.zeros((2, 2, 4))
    maps[0, 1, 3] = 1.0  # bottom-right cell: centre (x=87.5, y=37.5) on a 100x50 photo
    maps[1, 0, 0] = 1.0  # top-left: centre (12.5, 12.5)
    boxes = np.array([[80, 30, 10, 10], [80, 30, 10, 10]])
    assert fm.cam_hits(maps, boxes, (50, 100)).tolist() == [True, False]


def test_cell_chance_is_the_share_of_cells_in_the_box():
    # A 2x4 map on a 50x100 photo: cell centres at x = 12.5, 37.5, 62.5, 87.5 and y = 12.5, 37.5.
    boxes = np.array([[0, 0, 100, 50], [30, 0, 40, 20], [0, 0, 5, 5]])
    np.testing.assert_allclose(fm.cell_chance(boxes, (2, 4), (50, 100)), [1.0, 2 / 8, 0.0])
    # It is the hit rate of a map whose hottest cell is anywhere: every cell in turn.
    maps = np.eye(8).reshape(8, 2, 4)
    hits = fm.cam_hits(maps, np.repeat(boxes[1:2], 8, axis=0), (50, 100))
    assert hits.mean() == fm.cell_chance(boxes[1:2], (2, 4), (50, 100))[0]


def test_size_lookup_predicts_from_size_alone():
    sizes = [(10, 5), (10, 5), (10, 5), (20, 8)]
    table = fm.size_lookup(sizes, [0, 0, 1, 2], 3)
    probs = fm.predict_from_size(table, [(10, 5), (20, 8), (99, 9)], 3)
    np.testing.assert_allclose(probs, [[2 / 3, 1 / 3, 0], [0, 0, 1], [1 / 3, 1 / 3, 1 / 3]])


def test_heads_build_and_box_head_learns_boxes():
    rng = np.random.default_rng(0)
    n, shape = 96, (4, 4, 8)
    # The "fish" is a bright cell in channel 0; its box follows that cell, class is its row.
    x = rng.normal(0, 0.1, (n, *shape)).astype("float32")
    cell = rng.integers(0, 4, (n, 2))
    x[np.arange(n), cell[:, 0], cell[:, 1], 0] += 3
    boxes = np.stack([cell[:, 1] * 16, cell[:, 0] * 16, np.full(n, 16), np.full(n, 16)], 1)
    boxes = boxes.astype("float32")
    y = np.eye(4, dtype="float32")[cell[:, 0]]
    keras.utils.set_random_seed(0)
    model = lesson7.box_class_head(shape, 4, boxes.mean(0), box_weight=0.05, units=64, p=0.1, lr=1e-2)
    start = fm.box_iou(model.predict(x, verbose=0)["bb"], boxes).mean()
    model.fit(x, {"bb": boxes, "class": y}, epochs=30, batch_size=32, verbose=0)
    pred = model.predict(x, verbose=0)
    assert fm.box_iou(pred["bb"], boxes).mean() > start + 0.2
    assert (pred["class"].argmax(1) == cell[:, 0]).mean() > 0.8
    assert lesson7.bn_head(shape, 4).output_shape == (None, 4)
    assert lesson7.size_head(shape, 3, 4).output_shape == (None, 4)


def test_fcn_class_maps_pick_the_predicted_class():
    fcn = lesson7.fcn_head((5, 8, 16), 3, filters=8)
    x = np.random.default_rng(0).normal(size=(4, 5, 8, 16)).astype("float32")
    maps = lesson7.class_maps(fcn, x)
    assert maps.shape == (4, 5, 8)
    full = keras.Model(fcn.input, fcn.get_layer(lesson7.CAM_LAYER).output).predict(x, verbose=0)
    chosen = fcn.predict(x, verbose=0).argmax(1)  # softmax of the maps' averages
    np.testing.assert_allclose(maps, full[np.arange(4), :, :, chosen], rtol=1e-5)
    np.testing.assert_allclose(lesson7.class_maps(fcn, x, 2), full[..., 2], rtol=1e-5)


def test_pictures_draw_boxes_and_maps():
    ims = np.full((3, 20, 40, 3), 100, "uint8")
    boxes = np.array([[2, 2, 10, 5], [0, 0, 0, 0], [5, 5, 5, 5]], float)
    fig = plot_boxes(ims, boxes, boxes + 1, titles=["a", "b", "c"])
    assert sum(len(ax.patches) for ax in fig.axes) == 2 + 3  # no true box for the second
    cams = np.random.default_rng(0).random((3, 2, 4))
    fig = plot_cams(ims, cams, boxes=boxes)
    assert all(len(ax.images) == 2 for ax in fig.axes[:3])
    big = upsample(cams[0], (20, 40))
    assert big.shape == (20, 40) and big.max() <= cams[0].max() + 1e-6


def test_pictures_title_the_figure_only_when_asked():
    ims = np.full((2, 20, 40, 3), 100, "uint8")
    boxes = np.array([[2, 2, 10, 5], [5, 5, 5, 5]], float)
    cams = np.random.default_rng(0).random((2, 2, 4))
    fig = plot_boxes(ims, boxes, titles=["a", "b"], title="true boxes")
    assert fig.get_suptitle() == "true boxes" and [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert plot_cams(ims, cams, title="where it looks").get_suptitle() == "where it looks"
    assert plot_boxes(ims, boxes).get_suptitle() == plot_cams(ims, cams).get_suptitle() == ""


def test_conv_base_cuts_and_stores_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        x_in = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, name="first")(x_in)
        model = keras.Model(x_in, keras.layers.Conv2D(2, 3, name="second")(x))
        base = fm.conv_base(model, "first")
        out = base.predict_on_batch(np.zeros((1, 8, 8, 3), "float32"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.shape == (1, 6, 6, 4) and out.dtype == np.float32
