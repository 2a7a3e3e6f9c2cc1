"""Drivers at the wheel, seen by a dashboard camera: the State Farm stand-in's photos.

`driver_look` draws what stays the same across one driver's photos; `dashboard_photo` draws one
photo of that driver doing one of the ten behaviours.
"""
import numpy as np
from PIL import Image, ImageDraw


def driver_look(rng):
    """What stays the same across one driver's photos, as in the real series taken seconds apart.

    The driver's own appearance (background, shirt, skin, hair), their car and camera mount (where
    the camera points, how far away it is), the light in their car (brightness and colour cast),
    and their habits: where each of them holds a phone or a cup for each behaviour, and the colour
    and size of their own phone and cup. A model can learn these instead of the behaviour, and a
    random split rewards it for that: a validation photo's near twins are in training.
    """
    return {"back": tuple(int(c) for c in rng.integers(30, 120, 3)),
            "shirt": tuple(int(c) for c in rng.integers(60, 230, 3)),
            "skin": tuple(int(c) for c in (rng.uniform(150, 240), rng.uniform(110, 180), 100)),
            "hair": tuple(int(c) for c in rng.integers(10, 120, 3)),
            "shift": rng.uniform(-0.05, 0.05, 2), "zoom": rng.uniform(0.85, 1.15),
            "light": rng.uniform(0.75, 1.2) * rng.uniform(0.85, 1.15, 3),
            "habit": rng.normal(0, 0.08, (10, 2)), "hue": rng.normal(0, 10, 10),
            "size": rng.uniform(0.8, 1.2)}


def dashboard_photo(look, cls, rng, size):
    """A cartoon driver whose hand, and the coloured thing in it, say what they are doing."""
    w, h = size
    im = Image.new("RGB", (w, h), look["back"])
    d = ImageDraw.Draw(im)
    off, zoom = look["shift"] + rng.uniform(-0.02, 0.02, 2), look["zoom"]  # the camera, jiggled

    def at(x, y):
        """A point of the scene (0..1 across and down) where this driver's camera sees it."""
        return ((x - 0.5) * zoom + 0.5 + off[0]) * w, ((y - 0.5) * zoom + 0.5 + off[1]) * h

    def box(x0, y0, x1, y1):
        return [*at(x0, y0), *at(x1, y1)]

    d.rectangle(box(0.35, 0.45, 0.75, 1.2), fill=look["shirt"])                        # body
    d.ellipse(box(0.45, 0.1, 0.65, 0.42), fill=look["skin"])                           # head
    d.chord(box(0.44, 0.07, 0.66, 0.35), 180, 360, fill=look["hair"])
    d.ellipse(box(0.02, 0.45, 0.32, 0.95), outline=(20, 20, 20), width=3)              # wheel
    # Ten hand positions on a 5 x 2 grid, moved by the driver's habit, and an object whose hue
    # is the class's own, shifted a little by the colour of this driver's phone or cup.
    col, row = cls % 5, cls // 5
    hx, hy = at(*(np.array([0.1 + 0.2 * col, 0.3 + 0.4 * row]) + look["habit"][cls]
                  + rng.normal(0, 0.01, 2)))
    r = 0.09 * w * zoom * look["size"]
    hue = Image.new("HSV", (1, 1), (int(cls * 25.5 + look["hue"][cls]) % 256, 230, 230)
                    ).convert("RGB").getpixel((0, 0))
    d.ellipse([hx - r, hy - r, hx + r, hy + r], fill=look["skin"])
    d.rectangle([hx - r / 2, hy - 1.6 * r, hx + r / 2, hy - 0.5 * r], fill=hue)
    lit = np.asarray(im, float) * look["light"] + rng.normal(0, 10, (h, w, 3))
    return Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8))
