"""VGG16 with batch normalisation after its dense layers, with the course's Vgg16 API; lesson 5.

Batch norm rescales a layer's outputs to mean 0 and spread 1 over each batch, then applies a
learned scale (gamma) and shift (beta). Added to a trained network as is, it would change every
output. The course's weights for this model were hosted privately and are gone, so we build it from
the ImageNet VGG16 weights and initialise each new layer from the activations it will see: the
moving mean and variance are the statistics of those activations, and gamma and beta undo the
normalisation exactly (gamma = sqrt(variance + epsilon), beta = mean). At first the network's
output is therefore unchanged; fine-tuning then starts from a model that already works, and
trains faster and more stably thanks to the normalised activations. That step, `add_batchnorm`, is
defined in nbs/lesson5.ipynb, section "Batch norm inside a pretrained VGG16" (generated into
`utils.lessons.lesson5`); `Vgg16BN` gives it the course's API.
"""
import numpy as np

from utils.env import strategy
from utils.lessons.lesson5 import add_batchnorm
from utils.models.vgg16 import Vgg16


def random_images(size, n=16, seed=0):
    """Random 0-255 RGB images, for statistics when no real images are given; lesson 5."""
    return np.random.default_rng(seed).uniform(0, 255, (n, *size, 3)).astype(np.float32)


class Vgg16BN(Vgg16):
    """VGG16 with batch norm after its dense layers, and the same API as Vgg16; lesson 5.

    `stats_images` are the images whose activations set the batch-norm statistics (use a few
    hundred of your training images); without them, random images are used, which keeps the
    output unchanged but gives less useful statistics for training.
    """

    def __init__(self, size=(224, 224), include_top=True, weights="imagenet", stats_images=None):
        super().__init__(weights=weights, size=size, include_top=include_top)
        images = random_images(self.size) if stats_images is None else stats_images
        with strategy().scope():
            self.model = add_batchnorm(self.model, images)


def vgg_ft_bn(out_dim, size=(224, 224), weights="imagenet"):
    """Vgg16BN with its last layer replaced by an `out_dim`-way softmax: the model; lesson 5."""
    vgg = Vgg16BN(size=size, weights=weights)
    vgg.ft(out_dim)
    return vgg.model
