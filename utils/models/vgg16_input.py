"""What every VGG16 of the kit shares: the input its weights expect, and the error when they are missing."""
import keras

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be downloaded or found in the Keras cache."""


@keras.saving.register_keras_serializable(package="dl1kit")
class VggPreprocess(keras.layers.Layer):
    """RGB 0-255 in, BGR minus the ImageNet means out: what VGG16's weights expect; lessons 1-3."""

    def call(self, x):
        x = keras.ops.cast(x, self.compute_dtype)  # uint8 pixels would wrap around below zero
        mean = keras.ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=x.dtype)
        return keras.ops.flip(x, axis=-1) - mean
