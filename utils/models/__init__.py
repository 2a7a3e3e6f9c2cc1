"""Model builders the lessons share: VGG16 with the course's API."""
from utils.models.vgg16 import Vgg16, vgg16_model
from utils.models.vgg16_input import VggPreprocess, WeightsUnavailable

__all__ = ["Vgg16", "VggPreprocess", "WeightsUnavailable", "vgg16_model"]
