"""Compiling and re-tuning models the way the course did, with Keras 3's names.

The course lowered the learning rate between fits with `model.optimizer.lr = 0.01`. In Keras 2
and 3 that assignment sets a plain Python attribute and the optimizer keeps its old rate, so the
lesson silently trained at the wrong rate. Here both that spelling and `set_lr` really change it.
"""
import keras


@keras.saving.register_keras_serializable(package="dl1kit")
class Adam(keras.optimizers.Adam):
    """Adam whose course-style `optimizer.lr = x` changes the real learning rate; lessons 1-7."""

    @property
    def lr(self):
        """The current learning rate as a float."""
        return float(keras.ops.convert_to_numpy(self.learning_rate))

    @lr.setter
    def lr(self, value):
        self.learning_rate = value  # Keras assigns the optimizer's variable


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


def compile_classifier(model, lr=0.001, loss="categorical_crossentropy"):
    """Compile with the course's Adam, a cross-entropy loss and accuracy; lessons 1-7."""
    model.compile(optimizer=Adam(learning_rate=lr), loss=loss, metrics=["accuracy"])
    return model
