"""A many-class synthetic "ImageNet stand-in", made in memory, to pretrain the kit's small VGG16.

ImageNet's 1,000 classes include over a hundred dog breeds, several cats, foxes, bears, fish,
cars and everyday things; that is why its features suit Dogs vs. Cats, State Farm and the
Fisheries. This stand-in is built the same way from the kit's own stand-ins' parts: cartoon
animals (`pets.photo`: pointed, floppy, round or long ears, whiskers or a muzzle, every fur
colour and texture, in cluttered rooms under uneven light), the Fisheries stand-in's fish on
boat decks, the State Farm stand-in's drivers, and a few objects. Nothing is written to disk:
`make` draws the pictures, seeded, into arrays. `tools/make_standin_backbone.py` trains on them.
It is NOT ImageNet and its classes are cartoons; only the kind of relation to the lessons' data
is the same.
"""
import numpy as np
from PIL import Image, ImageDraw

from utils.standins import boats, drivers, pets
from utils.standins.recipe import recipe

VERSION = 2  # bump when any drawing below (or in the stand-ins it borrows from) changes

F = pets.FURS
# name -> (ears, face, fur colours, textures): ImageNet-like animals made of the shared parts
ANIMALS = {
    "tabby_cat": ("pointed", "whiskers", ("grey", "brown"), ("stripes",)),
    "ginger_cat": ("pointed", "whiskers", ("ginger",), ("plain", "stripes")),
    "black_cat": ("pointed", "whiskers", ("black",), ("plain",)),
    "siamese_cat": ("pointed", "whiskers", ("cream",), ("patches",)),
    "beagle": ("floppy", "muzzle", ("brown", "white"), ("patches",)),
    "labrador": ("floppy", "muzzle", ("golden", "black", "cream"), ("plain",)),
    "dalmatian": ("floppy", "muzzle", ("white",), ("spots",)),
    "spaniel": ("floppy", "muzzle", ("brown", "ginger"), ("plain", "patches")),
    "husky": ("pointed", "muzzle", ("grey", "white"), ("patches",)),
    "red_fox": ("pointed", "muzzle", ("ginger",), ("plain",)),
    "hare": ("long", "whiskers", ("white", "grey", "brown"), ("plain",)),
    "brown_bear": ("round", "muzzle", ("brown", "black"), ("plain",)),
    "giant_panda": ("round", "muzzle", ("white",), ("patches",)),
    "tiger": ("round", "whiskers", ("ginger",), ("stripes",)),
    "leopard": ("round", "whiskers", ("golden",), ("spots",)),
    "mouse": ("round", "plain", ("grey", "brown"), ("plain",)),
}
FISH = {"albacore": "ALB", "bigeye_tuna": "BET", "dolphinfish": "DOL", "opah": "LAG",
        "shark": "SHARK", "yellowfin_tuna": "YFT"}
DRIVERS = {"steering_wheel": 0, "cellular_telephone": 2, "coffee_mug": 6}
OBJECTS = ("ball", "crate", "bottle")
CLASSES = (*ANIMALS, *FISH, *DRIVERS, *OBJECTS)


def _animal(name, rng, size):
    """A photo of one of the ANIMALS."""
    ears, face, furs, textures = ANIMALS[name]
    return pets.photo(rng, size, ears, face, F[str(rng.choice(furs))], str(rng.choice(textures)))


def _fish(name, rng, size):
    """A boat-deck photo with one fish, drawn by the Fisheries stand-in."""
    boat = int(rng.integers(len(boats.BOAT_SIZES)))
    im, _ = boats.deck_photo(FISH[name], boat, rng, scale=8)
    return im


def _driver(name, rng, size):
    """A dashboard photo of a driver, drawn by the State Farm stand-in."""
    return drivers.dashboard_photo(drivers.driver_look(rng), DRIVERS[name], rng, (size, size))


def _object(name, rng, size):
    """A ball, a crate or a bottle in the same cluttered rooms as the animals."""
    im = pets.room(rng, size)
    draw = ImageDraw.Draw(im)
    colour = tuple(int(c) for c in rng.integers(20, 250, 3))
    dark = tuple(c // 2 for c in colour)
    r = size * rng.uniform(0.14, 0.3)
    cx, cy = size * rng.uniform(0.25, 0.75, 2)
    if name == "ball":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        draw.arc([cx - r, cy - r * 0.4, cx + r, cy + r * 0.4], 0, 180, fill=dark, width=3)
    elif name == "crate":
        draw.rectangle([cx - r, cy - r * 0.8, cx + r, cy + r * 0.8], fill=colour)
        for k in (-0.4, 0.0, 0.4):
            draw.line([cx - r, cy + k * r, cx + r, cy + k * r], fill=dark, width=2)
    else:
        draw.rectangle([cx - r * 0.35, cy - r * 0.4, cx + r * 0.35, cy + r * 1.2], fill=colour)
        draw.rectangle([cx - r * 0.12, cy - r * 1.1, cx + r * 0.12, cy - r * 0.4], fill=colour)
    return pets.lit(im, rng)


def picture(name, rng, size=64):
    """One picture of class `name`, size x size RGB."""
    if name in ANIMALS:
        im = _animal(name, rng, size)
    elif name in FISH:
        im = _fish(name, rng, size)
    elif name in DRIVERS:
        im = _driver(name, rng, size)
    else:
        im = _object(name, rng, size)
    return im.convert("RGB").resize((size, size), Image.BILINEAR)


def make(per_class, size=64, seed=0, classes=CLASSES):
    """(images uint8 N x size x size x 3, labels) with `per_class` pictures of each class, shuffled."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classes)), per_class)
    labels = labels[rng.permutation(len(labels))]
    images = np.stack([np.asarray(picture(classes[k], rng, size)) for k in labels])
    return images, labels


def drawing_hash():
    """A short hash of every drawing these pictures use, the borrowed ones included: a record of
    what drew a set of weights' pictures (the stand-ins' drawings change more often than VERSION)."""
    return recipe(*pets.DRAWING, _animal, _fish, _driver, _object, picture, make,
                  boats.deck_photo, drivers.dashboard_photo, drivers.driver_look)
