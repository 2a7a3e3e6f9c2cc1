"""Collaborative filtering in Keras around lesson 4's models: ids, training, scoring, analysis.

Every user and every movie gets a short vector of learned numbers (an *embedding*, "latent
factors"). The three models (dot product, with biases, a neural net: `dot_model`, `bias_model`,
`nn_model`, and the `Offset` layer) are defined once, in lesson 4's notes, and built from
`utils.lessons.lesson4`; this module maps ids, compiles, trains, scores and looks inside them.

Embeddings need consecutive row numbers, while MovieLens ids have gaps (movieId goes to 193,609
for 9,742 movies). `Ids` makes the mapping from the training ratings, and refuses, or skips and
counts, users and movies it never saw: a model has learned nothing about them.
"""
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
