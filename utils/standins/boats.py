"""Boat decks seen by fixed cameras, with one fish or none: the Fisheries stand-in's photos.

Each boat has its own camera (a photo size from the real training set), deck colour, rail, hatch
and bin, so that a model can learn the boat instead of the fish, as on Kaggle's data.
`deck_photo` draws one photo and gives the fish's box.
"""

import numpy as np
from PIL import Image, ImageDraw

# The photo sizes of the real training set: each comes from the cameras of one or a few boats.
BOAT_SIZES = ((1280, 720), (1244, 700), (1276, 718), (1192, 670), (1280, 750), (1334, 750),
              (1518, 854), (1732, 974))

FISH = {  # hue (0-1), saturation, body length/height ratio, relative size
    "ALB": (0.60, 0.75, 3.2, 1.0), "BET": (0.76, 0.70, 2.4, 1.15), "DOL": (0.30, 0.85, 3.6, 0.9),
    "LAG": (0.00, 0.85, 1.5, 0.9), "SHARK": (0.00, 0.00, 4.2, 1.1), "YFT": (0.15, 0.95, 2.8, 1.0),
    "OTHER": (0.47, 0.80, 2.0, 0.7)}
DECKS = ((70, 70, 80), (120, 100, 80), (60, 90, 110), (140, 140, 130), (90, 60, 60),
         (50, 80, 60), (110, 110, 60), (80, 80, 130))


def rgb(hue, sat, value):
    """An RGB tuple from hue, saturation (0-1) and value (0-255)."""
    im = Image.new("HSV", (1, 1), (int(hue * 255), int(sat * 255), int(value)))
    return im.convert("RGB").getpixel((0, 0))


def boat_view(boat, w, h):
    """What one boat's fixed camera always sees: its rail, a hatch and a bin, and where the catch
    is laid. Drawn from the boat's number alone, so every photo of a boat shares it, as on the
    real boats, where each camera hangs in its own place over its own deck."""
    rng = np.random.default_rng([7, boat])

    def weathered():  # greys with a tint: never as vivid as a fish
        return tuple(int(c) for c in np.clip(rng.integers(40, 200) + rng.integers(-25, 26, 3),
                                             0, 255))
    rail = (rng.uniform(0.08, 0.18) * h, weathered())  # along the top edge
    fixtures = [(rng.uniform(0, 0.85) * w, rng.uniform(0.2, 0.85) * h, rng.uniform(0.08, 0.15) * w,
                 rng.uniform(0.1, 0.2) * h, weathered()) for _ in range(2)]
    # The catch lies on the open deck in view, around one spot: each camera frames it its own way.
    centre = (rng.uniform(0.35, 0.65), rng.uniform(0.45, 0.7))
    zoom = rng.uniform(0.85, 1.15)  # a camera nearer the deck sees bigger fish
    return {"rail": rail, "fixtures": fixtures, "centre": centre, "zoom": zoom}


def deck_photo(cls, boat, rng, scale):
    """One synthetic deck photo from `boat`, with a fish of class `cls`; returns (image, box)."""
    w, h = (round(s / scale) for s in BOAT_SIZES[boat])
    view = boat_view(boat, w, h)
    deck = np.array(DECKS[boat]) + rng.integers(-15, 16, 3)  # the light changes from photo to photo
    im = Image.new("RGB", (w, h), tuple(int(c) for c in deck))
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, w, view["rail"][0]], fill=view["rail"][1])
    for x, y, fw, fh, colour in view["fixtures"]:
        draw.rectangle([x, y, x + fw, y + fh], fill=colour)
    for _ in range(int(rng.integers(2, 5))):  # ropes, crates and boots: clutter in every photo
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        grey = int(rng.integers(20, 230))
        draw.rectangle([x, y, x + rng.uniform(3, w / 5), y + rng.uniform(3, h / 5)],
                       fill=(grey, grey, grey))
    box = None
    if cls != "NoF":
        hue, sat, ratio, rel = FISH[cls]
        length = w * rng.uniform(0.22, 0.32) * rel * view["zoom"]
        height = length / ratio
        tail = length * 0.3
        # Around the boat's usual spot, but spread over much of the frame, and always inside it.
        cx = w * (view["centre"][0] + rng.normal(0, 0.18))
        cy = h * (view["centre"][1] + rng.normal(0, 0.15))
        x0 = float(np.clip(cx - (length + tail) / 2, 2, w - length - tail - 2))
        y0 = float(np.clip(cy - height / 2, height * 0.4 + 2, h - height * 1.4 - 2))
        colour = rgb(hue, sat, rng.uniform(150, 235))
        tail_right = rng.random() < 0.5
        bx = x0 if tail_right else x0 + tail
        draw.ellipse([bx, y0, bx + length, y0 + height], fill=colour)
        base = bx + length * (0.95 if tail_right else 0.05)
        tip = x0 + length + tail if tail_right else x0
        draw.polygon([(base, y0 + height / 2), (tip, y0 - height * 0.3),
                      (tip, y0 + height * 1.3)], fill=colour)
        top = y0 - height * 0.3
        if cls == "SHARK":  # a dorsal fin
            fx = bx + length * 0.5
            draw.polygon([(fx - height * 0.4, y0 + 1), (fx, y0 - height * 0.4),
                          (fx + height * 0.4, y0 + 1)], fill=colour)
            top = y0 - height * 0.4
        box = (x0, top, length + tail, y0 + height * 1.3 - top)
    noise = rng.normal(0, 8, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(im) + noise, 0, 255).astype(np.uint8)), box


def boat_weights(n_classes, n_boats=len(BOAT_SIZES)):
    """How often each boat photographs each of n_classes classes: each boat favours two of them."""
    p = np.full((n_boats, n_classes), 0.4)
    for b in range(n_boats):
        p[b, b % n_classes] += 3.0
        p[b, (b + 3) % n_classes] += 2.0
    return p / p.sum(axis=1, keepdims=True)
