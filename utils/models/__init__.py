"""Model builders the lessons share: VGG16 with the course's API."""
from utils.models.vgg16 import Vgg16, VggPreprocess, WeightsUnavailable, vgg16_model

__all__ = ["Vgg16", "VggPreprocess", "WeightsUnavailable", "vgg16_model"]
