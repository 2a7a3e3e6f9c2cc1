"""The plumbing around lesson 4's spreadsheet demo: the small user x movie table, and its picture.

The course's spreadsheet took the 15 users who rated most and the 15 most rated movies and fitted
latent factors and biases to the ratings by gradient descent. The model, its loss and gradient and
the fitting loop are cells of nbs/lesson4.ipynb (`crosstab_predict`, `crosstab_loss_grad`,
`fit_table` in `utils.lessons.lesson4`); here are the table they fit and the plot of the result.
"""
import numpy as np


def top_crosstab(ratings, n=15, user="userId", item="movieId", value="rating"):
    """The n most active users x n most rated movies; missing ratings are NaN; lesson 4."""
    top_users = ratings[user].value_counts().index[:n]
    top_items = ratings[item].value_counts().index[:n]
    subset = ratings[ratings[user].isin(top_users) & ratings[item].isin(top_items)]
    return subset.pivot_table(index=user, columns=item, values=value, aggfunc="mean")


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
