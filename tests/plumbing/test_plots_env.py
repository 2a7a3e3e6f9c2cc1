"""utils/plotting.py (image grids, confusion matrices, training curves) and utils/env.py (platform,
seeds, doctor). Figures are drawn with the Agg backend and closed after each test."""
import os
import re

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import env  # noqa: E402
from utils.plotting import plot, plot_confusion_matrix, plot_history, plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def drawn(ax):
    """The array the first image of an axes shows."""
    return np.asarray(ax.get_images()[0].get_array())


# ---------------------------------------------------------------------------------------------
# plots


def test_plots_draws_one_titled_axes_per_image():
    ims = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3)).astype("uint8")
    fig = plots(ims, titles=["a", "b", "c", "d", 7], rows=2)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", "d", "7"]
    for ax, im in zip(fig.axes, ims):
        np.testing.assert_array_equal(drawn(ax), im)
        assert not ax.axison
    # two rows of three columns
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (2, 3)


def test_plots_without_titles():
    fig = plots(np.zeros((2, 4, 4, 3), "uint8"))
    assert len(fig.axes) == 2
    assert all(ax.get_title() == "" for ax in fig.axes)


def test_plots_titles_the_figure_only_when_asked():
    ims = np.zeros((3, 4, 4, 3), "uint8")
    fig = plots(ims, ["a", "b", "c"], 1, (6, 2), False, title="three black squares")
    assert fig.get_suptitle() == "three black squares"
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]  # the course's arguments still
    assert plots(ims).get_suptitle() == ""


def test_plots_converts_0_255_floats_to_uint8():
    """Batches come as float32 in 0-255; imshow would clip them to [0, 1] and show white."""
    ims = np.stack([np.full((4, 4, 3), 10.0), np.full((4, 4, 3), 200.7)]).astype("float32")
    fig = plots(ims)
    shown = [drawn(ax) for ax in fig.axes]
    assert all(s.dtype == np.uint8 for s in shown)
    assert shown[0].max() == 10 and shown[1].max() == 200


def test_plots_leaves_0_1_floats_alone_and_takes_one_image():
    im = np.full((4, 4, 3), 0.5, "float32")
    fig = plots(im)  # one image, no batch axis
    assert len(fig.axes) == 1
    assert drawn(fig.axes[0]).dtype == np.float32
    np.testing.assert_allclose(drawn(fig.axes[0]), im)
    assert len(plot(im).axes) == 1


def test_plots_greyscale_images_use_a_grey_map():
    fig = plots(np.zeros((2, 4, 4, 1), "uint8"))
    assert all(ax.get_images()[0].get_cmap().name == "gray" for ax in fig.axes)
    assert drawn(fig.axes[0]).shape == (4, 4)


def cell_texts(ax):
    return [t.get_text() for t in ax.texts]


def test_confusion_matrix_cells_show_the_counts():
    cm = np.array([[5, 2], [1, 12]])
    fig = plot_confusion_matrix(cm, ["cats", "dogs"])
    ax = fig.axes[0]
    assert cell_texts(ax) == ["5", "2", "1", "12"]
    positions = [t.get_position() for t in ax.texts]
    assert positions == [(0, 0), (1, 0), (0, 1), (1, 1)]  # (column, row)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cats", "dogs"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cats", "dogs"]
    assert ax.get_title() == "Confusion matrix"
    assert ax.get_ylabel() == "True label" and ax.get_xlabel() == "Predicted label"
    # dark cells get white text
    assert ax.texts[3].get_color() == "white" and ax.texts[0].get_color() == "black"


def test_confusion_matrix_normalized():
    fig = plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], normalize=True, title="norm")
    assert cell_texts(fig.axes[0]) == ["0.75", "0.25", "0.00", "1.00"]
    assert fig.axes[0].get_title() == "norm"


def test_confusion_matrix_three_classes():
    cm = np.arange(9).reshape(3, 3)
    fig = plot_confusion_matrix(cm, ["a", "b", "c"])
    assert cell_texts(fig.axes[0]) == [str(i) for i in range(9)]


def test_plot_history_draws_train_and_validation_curves():
    history = SimpleNamespace(history={"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6],
                                       "accuracy": [0.5, 0.7, 0.9],
                                       "val_accuracy": [0.4, 0.6, 0.7]})
    fig = plot_history(history)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title().startswith("loss after each epoch")
    assert acc_ax.get_title().startswith("accuracy after each epoch")
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "loss")
    assert (acc_ax.get_xlabel(), acc_ax.get_ylabel()) == ("epoch", "accuracy")
    assert [l.get_label() for l in loss_ax.get_lines()] == ["loss", "val_loss"]
    assert [l.get_label() for l in acc_ax.get_lines()] == ["accuracy", "val_accuracy"]
    train, val = loss_ax.get_lines()
    assert list(train.get_xdata()) == [1, 2, 3]
    assert list(train.get_ydata()) == [0.9, 0.5, 0.3]
    assert list(val.get_ydata()) == [1.0, 0.7, 0.6]
    assert loss_ax.get_legend() is not None


def test_plot_history_takes_a_dict_and_missing_validation():
    fig = plot_history({"loss": [1.0, 0.5]}, metrics=("loss",))
    assert len(fig.axes) == 1
    assert [l.get_label() for l in fig.axes[0].get_lines()] == ["loss"]


# ---------------------------------------------------------------------------------------------
# env


PLATFORM_VARS = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


@pytest.fixture
def plain_env(monkeypatch, tmp_path):
    """No platform variables, no Kaggle credentials, scratch DL1_DATA and HOME."""
    for name in [n for n in os.environ if n.startswith(("KAGGLE_", "COLAB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.delitem(__import__("sys").modules, "google.colab", raising=False)
    yield monkeypatch
    import keras  # setup() picks a mixed-precision policy on GPUs: leave float32 behind
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def jupyter_line(tmp_path_factory):
    """What `make doctor` says of Jupyter with no Jupyter settings in HOME, as plain_env leaves it:
    utils.jupyter_config.summary() starts a Python that loads Jupyter's settings, once here."""
    from utils import jupyter_config
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        mp.delenv("XDG_CONFIG_HOME", raising=False)
        return jupyter_config.summary()


@pytest.fixture
def doctor_env(plain_env, jupyter_line):
    """plain_env, with the doctor's Jupyter line the one found above (not a new Python each call)."""
    from utils import jupyter_config
    plain_env.setattr(jupyter_config, "summary", lambda: jupyter_line)
    return plain_env


def test_platform_local(plain_env):
    assert env.platform() == "local"


@pytest.mark.parametrize("var, value, expected", [
    ("COLAB_RELEASE_TAG", "release-colab_20240101", "colab"),
    ("KAGGLE_KERNEL_RUN_TYPE", "Interactive", "kaggle"),
    ("KAGGLE_URL_BASE", "https://www.kaggle.com", "kaggle"),
])
def test_platform_from_environment(plain_env, var, value, expected):
    plain_env.setenv(var, value)
    assert env.platform() == expected


def test_setup_makes_numpy_and_keras_reproducible(plain_env):
    import keras

    def draw():
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        return (np.random.rand(3), np.asarray(keras.random.uniform((3,))),
                layer.get_weights()[0])

    info = env.setup(7, quiet=True)
    first = draw()
    env.setup(7, quiet=True)
    second = draw()
    env.setup(8, quiet=True)
    third = draw()
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    assert info.seed == 7 and info.platform == "local"
    assert info.backend == "tensorflow" and info.keras == keras.__version__


def test_setup_says_what_it_found(plain_env, capsys, recwarn):
    info = env.setup(3)
    out = capsys.readouterr().out
    assert "seed 3" in out and "platform local" in out and info.keras in out
    if not info.gpus:
        assert "CPU only" in out
        assert any("No GPU found" in str(w.message) for w in recwarn)


def test_setup_quiet_prints_and_warns_nothing(plain_env, capsys, recwarn):
    env.setup(3, quiet=True)
    assert capsys.readouterr().out == ""
    assert not [w for w in recwarn if "GPU" in str(w.message) or "missing" in str(w.message)]


def test_doctor_reports_missing_credentials(doctor_env, jupyter_line, capsys):
    import keras
    env.doctor()
    out = capsys.readouterr().out
    assert re.search(rf"^keras\s+{re.escape(keras.__version__)}$", out, re.M)
    assert re.search(r"^tensorflow\s+\d", out, re.M) and re.search(r"^python\s+3\.", out, re.M)
    assert re.search(r"^kaggle\s+credentials MISSING$", out, re.M)
    assert "dogs-vs-cats-redux-kernels-edition: absent" in out
    assert "GiB free" in out
    assert re.search(rf"^jupyter\s+{re.escape(jupyter_line)}$", out, re.M)


@pytest.mark.parametrize("var", ["COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"])
def test_doctor_on_a_hosted_runtime_does_not_count_papermill_as_missing(doctor_env, capsys, var):
    real = env.package_version
    doctor_env.setattr(env, "package_version", lambda name: None if name == "papermill" else real(name))
    doctor_env.setenv(var, "1")
    env.doctor()
    out = capsys.readouterr().out
    # Colab and Kaggle run the notebooks in their own Jupyter: the kit's runner is not needed there.
    assert re.search(r"^papermill\s+not needed on a hosted runtime", out, re.M)
    doctor_env.delenv(var)
    env.doctor()
    assert re.search(r"^papermill\s+MISSING$", capsys.readouterr().out, re.M)


def test_doctor_says_credentials_present_without_showing_the_key(doctor_env, capsys):
    secret = "0123456789abcdef-very-secret-kaggle-key"
    doctor_env.setenv("KAGGLE_USERNAME", "student")
    doctor_env.setenv("KAGGLE_KEY", secret)
    (env.data_dir() / "dogs-vs-cats-redux-kernels-edition").mkdir(parents=True)
    env.doctor()
    out = capsys.readouterr().out
    assert re.search(r"^kaggle\s+credentials present$", out, re.M)
    assert secret not in out and secret[:8] not in out
    assert "dogs-vs-cats-redux-kernels-edition: present" in out


def test_doctor_with_a_kaggle_json_does_not_print_its_key(doctor_env, capsys, tmp_path):
    secret = "kaggle-json-secret-key-42"
    cfg = tmp_path / "home" / ".kaggle"
    cfg.mkdir(parents=True)
    (cfg / "kaggle.json").write_text(f'{{"username": "student", "key": "{secret}"}}')
    (cfg / "kaggle.json").chmod(0o600)
    env.doctor()
    out = capsys.readouterr().out
    assert "credentials present" in out
    assert secret not in out
