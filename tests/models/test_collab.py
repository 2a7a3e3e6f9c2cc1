"""Lesson 4's three models (utils.lessons.lesson4, from the notes' export cells) and utils/models/collab.py
around them: id mapping with unknown ids, the models, training, analysis."""
import keras
import numpy as np
import pandas as pd
import pytest

from utils.lessons import lesson4 as L4
from utils.models import collab as cm


def ratings_frame(users, movies, ratings=None):
    ratings = np.full(len(users), 3.0) if ratings is None else ratings
    return pd.DataFrame({"userId": users, "movieId": movies, "rating": ratings})


TRAIN = ratings_frame([5, 5, 9, 12, 12], [100, 7, 7, 100, 2000])


def test_ids_map_gappy_raw_ids_to_consecutive_rows():
    ids = cm.Ids(TRAIN)
    assert (ids.n_users, ids.n_movies) == (3, 3)
    u, m, keep = ids.encode(ratings_frame([12, 5], [2000, 7]))
    assert u.tolist() == [2, 0] and m.tolist() == [2, 0] and keep.all()


def test_unknown_ids_raise_a_clear_error_by_default():
    ids = cm.Ids(TRAIN)
    with pytest.raises(cm.UnknownIdError, match=r"2 of 3 ratings.*1 with an unknown user, "
                                               r"1 with an unknown movie.*unknown='skip'"):
        ids.encode(ratings_frame([5, 77, 9], [7, 7, 8]))


def test_unknown_ids_can_be_skipped_and_are_counted(capsys):
    ids = cm.Ids(TRAIN)
    u, m, keep = ids.encode(ratings_frame([5, 77, 9], [7, 7, 8]), unknown="skip")
    assert keep.tolist() == [True, False, False] and len(u) == len(m) == 1
    assert "Skipped 2 of 3 ratings" in capsys.readouterr().out
    with pytest.raises(ValueError, match="'error' or 'skip'"):
        ids.encode(TRAIN, unknown="ignore")


def test_predict_ratings_skips_unknown_rows_and_returns_the_mask():
    ids = cm.Ids(TRAIN)
    model = L4.bias_model(ids.n_users, ids.n_movies, 2, mean=3.0)
    with pytest.raises(cm.UnknownIdError):
        cm.predict_ratings(model, ids, ratings_frame([5, 77], [7, 7]))
    pred, keep = cm.predict_ratings(model, ids, ratings_frame([5, 77], [7, 7]), unknown="skip")
    assert pred.shape == (1,) and keep.tolist() == [True, False]


def test_the_models_compute_what_they_say():
    rng = np.random.default_rng(0)
    dot, bias = L4.dot_model(4, 6, 3, l2=0), L4.bias_model(4, 6, 3, l2=0, mean=2.5)
    uf, mf = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    ub, mb = rng.normal(size=(4, 1)), rng.normal(size=(6, 1))
    for model in (dot, bias):
        model.get_layer("user_factors").set_weights([uf])
        model.get_layer("movie_factors").set_weights([mf])
    bias.get_layer("user_bias").set_weights([ub])
    bias.get_layer("movie_bias").set_weights([mb])
    u, m = np.array([0, 3, 2]), np.array([5, 0, 2])
    expected = np.sum(uf[u] * mf[m], axis=1)
    np.testing.assert_allclose(dot.predict([u, m], verbose=0).ravel(), expected, rtol=1e-5)
    np.testing.assert_allclose(bias.predict([u, m], verbose=0).ravel(),
                               expected + ub[u, 0] + mb[m, 0] + 2.5, rtol=1e-5)
    nn = L4.nn_model(4, 6, 3, hidden=8)
    assert nn.predict([u, m], verbose=0).shape == (3, 1)


def test_the_models_keep_the_courses_layers_defaults_and_l2_penalty():
    """50 factors and l2 1e-4 by default, dropout 0.3 then 0.75 in the net, and the L2 penalty on
    the factor embeddings only (Keras adds it to the loss it reports, as Keras 1 did to val_loss)."""
    rng = np.random.default_rng(2)
    u, m = np.array([[0], [3], [2]], "int32"), np.array([[5], [0], [2]], "int32")
    for name in ("dot_model", "bias_model", "nn_model"):
        model = getattr(L4, name)(4, 6)
        assert model.get_layer("user_factors").get_weights()[0].shape == (4, 50)
        model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
        model([u, m])
        factors = sum(float(np.sum(model.get_layer(n).get_weights()[0] ** 2))
                      for n in ("user_factors", "movie_factors"))
        np.testing.assert_allclose(float(sum(model.losses)), 1e-4 * factors, rtol=1e-5)
    nn = L4.nn_model(4, 6, 3)
    assert [l.rate for l in nn.layers if isinstance(l, keras.layers.Dropout)] == [0.3, 0.75]
    assert [L4.dot_model(4, 6).name, L4.bias_model(4, 6).name, nn.name] == \
        ["dot_product", "dot_with_biases", "neural_net"]


@pytest.mark.usefixtures("float32_policy")
@pytest.mark.parametrize("name", ["dot_model", "bias_model", "nn_model"])
def test_the_models_rate_in_float32_under_mixed_precision(name):
    keras.config.set_dtype_policy("mixed_bfloat16")  # the fixture puts the policy back after
    kwargs = {} if name == "dot_model" else {"mean": 3.5}
    model = getattr(L4, name)(13, 17, 4, l2=1e-4, **kwargs)
    out = model.predict([np.zeros((3, 1), "int32"), np.ones((3, 1), "int32")], verbose=0)
    assert out.dtype == np.float32 and out.shape == (3, 1)


def test_bias_model_learns_user_and_movie_effects():
    rng = np.random.default_rng(1)
    users, movies = rng.integers(0, 30, 3000), rng.integers(0, 20, 3000)
    truth = 3 + np.linspace(-1, 1, 30)[users] + np.linspace(-0.8, 0.8, 20)[movies]
    df = ratings_frame(users, movies, truth + rng.normal(0, 0.1, 3000))
    train, valid = df[:2400], df[2400:]
    ids = cm.Ids(train)
    model = cm.compile_collab(L4.bias_model(ids.n_users, ids.n_movies, 2, l2=0,
                                            mean=train.rating.mean()), lr=0.05)
    history = cm.fit_ratings(model, ids, train, valid, epochs=6, batch_size=128, verbose=0)
    assert history.history["val_loss"][-1] < 0.1 * np.var(valid.rating)
    assert cm.rmse(model, ids, valid) < 0.2
    biases = cm.movie_table(model, ids, "movie_bias")[0]
    assert list(biases.index) == list(ids.movies)
    assert np.corrcoef(biases, np.linspace(-0.8, 0.8, 20))[0, 1] > 0.95


def test_models_with_the_offset_layer_save_and_load(tmp_path):
    model = L4.bias_model(3, 4, 2, mean=3.7)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    u, m = np.array([0, 2]), np.array([1, 3])
    np.testing.assert_allclose(again.predict([u, m], verbose=0), model.predict([u, m], verbose=0))


def test_factor_pca_keeps_the_movie_index_and_orders_components():
    rng = np.random.default_rng(0)
    factors = pd.DataFrame(rng.normal(size=(50, 6)) * [5, 2, 1, 0.1, 0.1, 0.1],
                           index=np.arange(50) * 3)
    comps, ratio = cm.factor_pca(factors, 3)
    assert list(comps.index) == list(factors.index) and comps.shape == (50, 3)
    assert ratio[0] > ratio[1] > ratio[2] and ratio[0] > 0.6
    fig = cm.plot_factor_map(comps.values[:, :2], [f"movie {i}" for i in comps.index])
    assert len(fig.axes[0].texts) == 50
