"""Collaborative filtering by gradient descent on a small user x movie table, in numpy; lesson 4.

The course's spreadsheet took the 15 users who rated most and the 15 most rated movies, gave every
user and every movie a few random numbers ("latent factors") plus a bias, and predicted each rating
as the dot product of the user's and the movie's factors plus both biases. Gradient descent then
moved all those numbers to make the predictions match the ratings that exist; the empty cells get
predictions too, which is the point: they are guesses at how a user would rate a film unseen.
"""
import numpy as np

from utils.lessons.lesson4 import adam


def top_crosstab(ratings, n=15, user="userId", item="movieId", value="rating"):
    """The n most active users x n most rated movies; missing ratings are NaN; lesson 4."""
    top_users = ratings[user].value_counts().index[:n]
    top_items = ratings[item].value_counts().index[:n]
    subset = ratings[ratings[user].isin(top_users) & ratings[item].isin(top_items)]
    return subset.pivot_table(index=user, columns=item, values=value, aggfunc="mean")


def _unpack(theta, n_users, n_items, k):
    """Split one flat parameter vector into user factors, movie factors and the two biases."""
    sizes = np.cumsum([n_users * k, n_items * k, n_users])
    users, items, ub, ib = np.split(theta, sizes)
    return users.reshape(n_users, k), items.reshape(n_items, k), ub, ib


def predict(theta, shape, k):
    """Every cell of the table: user factors . movie factors + user bias + movie bias; lesson 4."""
    users, items, ub, ib = _unpack(theta, *shape, k)
    return users @ items.T + ub[:, None] + ib[None, :]


def loss_and_grad(theta, table, k, l2=0.0):
    """Mean squared error over the filled cells (+ l2 on the factors) and its gradient; lesson 4."""
    table = np.asarray(table, np.float64)
    filled = ~np.isnan(table)
    users, items, ub, ib = _unpack(theta, *table.shape, k)
    err = np.where(filled, predict(theta, table.shape, k) - np.nan_to_num(table), 0.0)
    n = filled.sum()
    loss = np.sum(err ** 2) / n + l2 * (np.sum(users ** 2) + np.sum(items ** 2))
    d = 2 * err / n  # how the loss changes with each prediction
    grads = [d @ items + 2 * l2 * users, d.T @ users + 2 * l2 * items, d.sum(1), d.sum(0)]
    return float(loss), np.concatenate([g.ravel() for g in grads])


def fit_crosstab(table, k=3, steps=500, lr=0.05, l2=0.0, seed=0):
    """Fit factors and biases to a table's filled cells with Adam; returns a result dict; lesson 4."""
    table = np.asarray(table, np.float64)
    if np.isnan(table).all():
        raise ValueError("the table has no ratings to learn from")
    rng = np.random.default_rng(seed)
    n_users, n_items = table.shape
    start_bias = np.nanmean(table) / 2  # the two biases together start at the average rating
    theta = np.concatenate([rng.normal(0, 0.1, (n_users + n_items) * k),
                            np.full(n_users + n_items, start_bias)])
    memory, losses = {}, []  # Adam's running averages, kept between steps
    for _ in range(steps):
        loss, grad = loss_and_grad(theta, table, k, l2)
        losses.append(loss)
        theta = adam(theta, grad, memory, lr)
    users, items, ub, ib = _unpack(theta, n_users, n_items, k)
    filled = ~np.isnan(table)
    pred = predict(theta, table.shape, k)
    rmse = float(np.sqrt(np.mean((pred[filled] - table[filled]) ** 2)))
    return {"theta": theta, "pred": pred, "loss": np.array(losses), "rmse": rmse,
            "user_factors": users, "movie_factors": items, "user_bias": ub, "movie_bias": ib}


def plot_crosstab_fit(table, result):
    """The table, the model's predictions (empty cells filled in) and the loss curve; lesson 4."""
    import matplotlib.pyplot as plt  # matplotlib only for the picture
    table = np.asarray(table, np.float64)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    lo, hi = np.nanmin(table), np.nanmax(table)
    for ax, data, title in ((axes[0], table, "ratings (white: none)"),
                            (axes[1], result["pred"], "predictions")):
        im = ax.imshow(data, cmap="viridis", vmin=lo, vmax=hi)
        ax.set(title=title, xlabel="movie", ylabel="user")
    fig.colorbar(im, ax=axes[:2], shrink=0.8)
    axes[2].plot(result["loss"])
    axes[2].set(yscale="log", xlabel="step", ylabel="mean squared error", title="training loss")
    return fig
