"""What every VGG16 of the kit shares: the input its weights expect, and the error when they are missing.

The input is lesson 1's preprocessing layer (RGB 0-255 in, BGR minus ImageNet's average pixel out),
defined in the notes (utils/lessons/lesson1.py) and given here to the kit's models.
"""
from utils.lessons.lesson1 import IMAGENET_MEAN_BGR, VggPreprocess

__all__ = ["IMAGENET_MEAN_BGR", "VggPreprocess", "WeightsUnavailable"]


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be downloaded or found in the Keras cache."""
