"""Collaborative filtering models in Keras: dot product, with biases, and a neural net; lesson 4.

Every user and every movie gets a short vector of learned numbers (an *embedding*, "latent
factors"). The dot product model predicts a rating as user vector . movie vector; the bias model
adds a learned number per user (some people rate everything high) and per movie (some films are
liked by nearly everyone), plus the overall average; the neural net puts the two vectors side by
side and lets dense layers find the rating.

Embeddings need consecutive row numbers, while MovieLens ids have gaps (movieId goes to 193,609
for 9,742 movies). `Ids` makes the mapping from the training ratings, and refuses, or skips and
counts, users and movies it never saw: a model has learned nothing about them.
"""
import keras
import numpy as np
import pandas as pd

from utils.training import compile_model


class UnknownIdError(ValueError):
    """Ratings name users or movies the model was not trained on."""


class Ids:
    """Raw user and movie ids <-> embedding rows, learned from the training ratings; lesson 4."""

    def __init__(self, ratings, user="userId", item="movieId"):
        self.user, self.item = user, item
        self.users = pd.Index(np.unique(ratings[user]))
        self.movies = pd.Index(np.unique(ratings[item]))

    @property
    def n_users(self):
        """How many users the embeddings have rows for."""
        return len(self.users)

    @property
    def n_movies(self):
        """How many movies the embeddings have rows for."""
        return len(self.movies)

    def encode(self, ratings, unknown="error"):
        """Embedding rows (users, movies) and a mask of rows kept; unknown='error' or 'skip'."""
        if unknown not in ("error", "skip"):
            raise ValueError(f"unknown must be 'error' or 'skip', not {unknown!r}")
        u = self.users.get_indexer(ratings[self.user])
        m = self.movies.get_indexer(ratings[self.item])
        keep = (u >= 0) & (m >= 0)
        if not keep.all():
            n_u, n_m = int((u < 0).sum()), int((m < 0).sum())
            examples = ratings.loc[~keep, [self.user, self.item]].head(3).to_dict("records")
            what = (f"{int((~keep).sum())} of {len(ratings)} ratings name users or movies the model"
                    f" never saw in training ({n_u} with an unknown user, {n_m} with an unknown"
                    f" movie; e.g. {examples})")
            if unknown == "error":
                raise UnknownIdError(f"{what}. A model cannot predict for them: train on ratings"
                                     " that include them, or pass unknown='skip' to leave them out.")
            print(f"Skipped {what}.")
        return u[keep], m[keep], keep


@keras.saving.register_keras_serializable(package="dl1kit")
class Offset(keras.layers.Layer):
    """Adds one learned number to its input: the average rating; lesson 4."""

    def __init__(self, initial=0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(), initializer=keras.initializers.Constant(
            self.initial), name="offset")

    def call(self, x):
        return x + self.offset

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


def _inputs():
    return keras.Input((1,), dtype="int32", name="user"), keras.Input((1,), dtype="int32",
                                                                      name="movie")


# Each model's rating comes out in float32 under mixed precision too: numpy code such as rmse()
# and the lesson's tables read it, and float16 would round a 4.5-star rating to 0.004.

def _embed(x, n, dim, name, l2):
    reg = keras.regularizers.l2(l2) if l2 else None
    emb = keras.layers.Embedding(n, dim, embeddings_regularizer=reg, name=name)(x)
    return keras.layers.Flatten(name=f"{name}_flat")(emb)


def dot_model(n_users, n_movies, n_factors=50, l2=1e-4):
    """Rating = user factors . movie factors; lesson 4."""
    user, movie = _inputs()
    u = _embed(user, n_users, n_factors, "user_factors", l2)
    m = _embed(movie, n_movies, n_factors, "movie_factors", l2)
    out = keras.layers.Dot(axes=1, name="rating", dtype="float32")([u, m])
    return keras.Model([user, movie], out, name="dot_product")


def bias_model(n_users, n_movies, n_factors=50, l2=1e-4, mean=0.0):
    """Rating = factors . factors + user bias + movie bias + average; lesson 4."""
    user, movie = _inputs()
    u = _embed(user, n_users, n_factors, "user_factors", l2)
    m = _embed(movie, n_movies, n_factors, "movie_factors", l2)
    dot = keras.layers.Dot(axes=1)([u, m])
    ub = _embed(user, n_users, 1, "user_bias", 0)
    mb = _embed(movie, n_movies, 1, "movie_bias", 0)
    out = Offset(mean, name="rating", dtype="float32")(keras.layers.Add()([dot, ub, mb]))
    return keras.Model([user, movie], out, name="dot_with_biases")


def nn_model(n_users, n_movies, n_factors=50, hidden=70, dropout=(0.3, 0.75), l2=1e-4, mean=0.0):
    """A dense net on the user and movie factors side by side; lesson 4."""
    user, movie = _inputs()
    u = _embed(user, n_users, n_factors, "user_factors", l2)
    m = _embed(movie, n_movies, n_factors, "movie_factors", l2)
    x = keras.layers.Dropout(dropout[0])(keras.layers.Concatenate()([u, m]))
    x = keras.layers.Dense(hidden, activation="relu")(x)
    x = keras.layers.Dropout(dropout[1])(x)
    out = Offset(mean, name="rating", dtype="float32")(keras.layers.Dense(1)(x))
    return keras.Model([user, movie], out, name="neural_net")


def compile_collab(model, lr=0.001):
    """Adam and mean squared error, the course's choice for ratings; lesson 4."""
    return compile_model(model, lr, "mse")


def fit_ratings(model, ids, train, valid, epochs=5, batch_size=64, verbose=2, value="rating"):
    """Train on training ratings, validating on held-out ones; returns the History; lesson 4."""
    u, m, keep = ids.encode(train)
    uv, mv, keep_v = ids.encode(valid)
    y, yv = train[value].to_numpy("float32")[keep], valid[value].to_numpy("float32")[keep_v]
    return model.fit([u, m], y, validation_data=([uv, mv], yv), epochs=epochs,
                     batch_size=batch_size, verbose=verbose)


def predict_ratings(model, ids, ratings, unknown="error", batch_size=4096):
    """Predicted ratings for rows of (user, movie); returns (predictions, kept mask); lesson 4."""
    u, m, keep = ids.encode(ratings, unknown)
    if not keep.any():
        return np.zeros(0, "float32"), keep
    return model.predict([u, m], batch_size=batch_size, verbose=0).ravel(), keep


def rmse(model, ids, ratings, unknown="error", value="rating"):
    """Root mean squared error of the model's predictions on rated rows; lesson 4."""
    pred, keep = predict_ratings(model, ids, ratings, unknown)
    return float(np.sqrt(np.mean((pred - ratings[value].to_numpy()[keep]) ** 2)))


def movie_table(model, ids, layer):
    """One row per movie of an embedding layer's weights, indexed by movieId; lesson 4."""
    weights = model.get_layer(layer).get_weights()[0]
    return pd.DataFrame(weights, index=ids.movies)


def factor_pca(factors, n_components=3):
    """Principal components of movie factors: the few directions they vary most; lesson 4."""
    from sklearn.decomposition import PCA  # scikit-learn only for the factor map
    pca = PCA(n_components=n_components, random_state=0)
    return pd.DataFrame(pca.fit_transform(np.asarray(factors)), index=getattr(factors, "index",
                        None)), pca.explained_variance_ratio_


def plot_factor_map(xy, labels, title="movies on the first two components"):
    """Scatter of two components with a text label beside each point; lesson 4."""
    import matplotlib.pyplot as plt  # matplotlib only for the picture
    xy = np.asarray(xy)
    fig, ax = plt.subplots(figsize=(11, 8))
    ax.scatter(xy[:, 0], xy[:, 1], s=12, c="tab:blue")
    for (x, y), label in zip(xy, labels):
        ax.annotate(str(label)[:32], (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.set(xlabel="component 1", ylabel="component 2", title=title)
    return fig
