"""Compiling and re-tuning models the way the course did, with Keras 3's names.

Every model the kit builds is compiled by `compile_model`, so every model answers the course's
`model.optimizer.lr = 0.01` between fits. In Keras 2 and 3 that assignment sets a plain Python
attribute and the optimizer keeps its old rate, so the lesson silently trained at the wrong rate.
Under the `mixed_float16` policy (a T4, Colab's and Kaggle's usual GPU) Keras also wraps the
optimizer in a `LossScaleOptimizer`, which `model.optimizer` then is: we wrap it ourselves with
one that answers `.lr` too, and hands the rate to the Adam inside.
"""
import keras


class CourseLr:
    """`optimizer.lr` read and set as the real learning rate, as the course's code does."""

    @property
    def lr(self):
        """The current learning rate as a float."""
        return float(keras.ops.convert_to_numpy(self.learning_rate))

    @lr.setter
    def lr(self, value):
        self.learning_rate = value  # Keras assigns the optimizer's variable


@keras.saving.register_keras_serializable(package="dl1kit")
class Adam(CourseLr, keras.optimizers.Adam):
    """Adam whose course-style `optimizer.lr = x` changes the real learning rate; lessons 1-7."""


@keras.saving.register_keras_serializable(package="dl1kit")
class LossScaleOptimizer(CourseLr, keras.optimizers.LossScaleOptimizer):
    """Keras's float16 loss scaling, whose `.lr` is its inner optimizer's rate; lessons 1-7."""


def course_optimizer(model, lr=0.001):
    """The course's Adam at `lr`, loss-scaled when the model computes in float16; lessons 1-7."""
    optimizer = Adam(learning_rate=lr)
    # The same test Keras's compile makes before wrapping an optimizer itself: given ours, it
    # keeps it, and `model.optimizer.lr` reaches the rate.
    if model.dtype_policy.name == "mixed_float16":
        optimizer = LossScaleOptimizer(optimizer)
    return optimizer


def compile_model(model, lr=0.001, loss="categorical_crossentropy", metrics=None, **kwargs):
    """Compile with the course's Adam at `lr` (so `.lr` works), any loss; every model builder."""
    model.compile(optimizer=course_optimizer(model, lr), loss=loss, metrics=metrics, **kwargs)
    return model


def compile_classifier(model, lr=0.001, loss="categorical_crossentropy"):
    """Compile with the course's Adam, a cross-entropy loss and accuracy; lessons 1-7."""
    return compile_model(model, lr, loss, metrics=["accuracy"])


def set_lr(model, lr):
    """Change a compiled model's learning rate in place, between fits; lessons 1-7."""
    if getattr(model, "optimizer", None) is None:  # Keras 3 adds the attribute at compile
        raise ValueError("Compile the model before setting its learning rate.")
    model.optimizer.learning_rate = lr
    return get_lr(model)


def get_lr(model):
    """A compiled model's current learning rate; lessons 1-7."""
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model before reading its learning rate.")
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
