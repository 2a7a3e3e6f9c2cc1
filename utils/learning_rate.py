"""Training at a planned sequence of learning rates, the way the course's notebooks did.

The course trained in stages: a few epochs at one learning rate, then `model.optimizer.lr = x`
and more epochs at a smaller one. `fit_schedule` runs such a plan as one `fit`, changing the
optimizer's real learning rate at the start of each epoch (see `utils.training.set_lr` for why
the course's own assignment silently did nothing in Keras 2 and 3).
"""
import keras


def expand_schedule(schedule):
    """[(lr, epochs), ...] as one learning rate per epoch; lessons 2-3."""
    rates = []
    for stage in schedule:
        try:
            lr, epochs = stage
        except (TypeError, ValueError):
            raise ValueError(f"each stage of a schedule is (learning_rate, epochs), not {stage!r}") from None
        if not (lr > 0 and int(epochs) == epochs and epochs >= 0):
            raise ValueError(f"stage {stage!r}: the learning rate must be > 0 and epochs a "
                             "whole number >= 0")
        rates += [float(lr)] * int(epochs)
    if not rates:
        raise ValueError("the schedule has no epochs to train")
    return rates


def fit_schedule(model, x, y=None, schedule=((0.001, 1),), **fit_kwargs):
    """Fit a compiled model for each (learning rate, epochs) stage in turn, in one fit; lesson 3."""
    if model.optimizer is None:
        raise ValueError("Compile the model before fitting it.")
    rates = expand_schedule(schedule)
    change = keras.callbacks.LearningRateScheduler(lambda epoch, lr: rates[epoch])
    callbacks = [change, *fit_kwargs.pop("callbacks", [])]  # theirs see the new rate
    return model.fit(x, y, epochs=len(rates), callbacks=callbacks, **fit_kwargs)


def scale_schedule(schedule, epochs):
    """The same stages stretched or shrunk to about `epochs` in all, each at least one; lesson 3."""
    total = sum(e for _, e in schedule)
    if epochs < 1 or total < 1:
        raise ValueError("a schedule needs at least one epoch")
    if epochs >= total or epochs >= len(schedule):
        return tuple((lr, max(1, round(e * epochs / total))) for lr, e in schedule)
    return tuple((lr, 1) for lr, _ in schedule[:epochs])  # the first stages, one epoch each
