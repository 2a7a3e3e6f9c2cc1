"""Cartoon pets: the dogs-vs-cats stand-in's photos, and the animals of the ImageNet stand-in.

The parts (fur colours and textures, ears, faces, bodies, a cluttered room, uneven light) are shared
by both, as ImageNet's photos share theirs with Kaggle's: the kit pretrains its small VGG16 on the
ImageNet stand-in and fine-tunes it on the dogs and cats. `pet_photo` draws one of them.
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Fur colours cats and dogs both come in (RGB), so that colour alone says little of the class.
FURS = {"black": (38, 34, 32), "white": (232, 230, 222), "grey": (128, 128, 134),
        "ginger": (205, 118, 52), "brown": (118, 74, 42), "cream": (226, 200, 152),
        "golden": (198, 158, 82)}
TEXTURES = ("plain", "stripes", "spots", "patches")
EARS = ("pointed", "floppy", "round", "long", "none")
FACES = ("whiskers", "muzzle", "plain")
CAT = {"ears": ("pointed",), "face": ("whiskers",)}
DOG = {"ears": ("floppy", "floppy", "floppy", "pointed"), "face": ("muzzle",)}


def shade(colour, rng, spread=18):
    """A colour with a little random variation, as no two animals have quite the same fur."""
    return tuple(int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in colour)


def clutter(draw, rng, side, n):
    """n objects of any colour, anywhere: furniture, cushions, toys, table legs."""
    for _ in range(n):
        colour = shade(list(FURS.values())[int(rng.integers(len(FURS)))], rng, 60) \
            if rng.random() < 0.3 else tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.uniform(-0.1, 1.0, 2) * side
        w, h = rng.uniform(0.05, 0.45, 2) * side
        shape = rng.integers(3)
        if shape == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        elif shape == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.line([x0, y0, x0 + w, y0 + h], fill=colour, width=int(rng.integers(1, 4)))


def room(rng, side):
    """A cluttered background: a two-colour gradient and a few objects of any colour; lessons 1-3."""
    a, b = (rng.integers(30, 230, 3) for _ in range(2))
    t = np.linspace(0, 1, side)[:, None, None]
    grad = a + (b - a) * (t if rng.random() < 0.5 else t.transpose(1, 0, 2))
    im = Image.fromarray(np.broadcast_to(grad, (side, side, 3)).astype(np.uint8))
    clutter(ImageDraw.Draw(im), rng, side, int(rng.integers(3, 8)))
    return im


def draw_ears(draw, ears, cx, cy, r, colour, inner, rng):
    """Two ears of a kind around a head centred at (cx, cy) of radius r."""
    tip = rng.uniform(1.3, 1.6)
    for sx in (-1, 1):
        if ears == "pointed":
            draw.polygon([(cx + sx * r * 0.95, cy - r * 0.25), (cx + sx * r * 0.15, cy - r * 0.8),
                          (cx + sx * r * 0.8, cy - r * tip)], fill=colour)
            draw.polygon([(cx + sx * r * 0.78, cy - r * 0.45), (cx + sx * r * 0.35, cy - r * 0.75),
                          (cx + sx * r * 0.75, cy - r * (tip - 0.3))], fill=inner)
        elif ears == "floppy":
            drop = rng.uniform(0.6, 1.1)
            draw.ellipse([cx + sx * r * 1.0 - r * 0.33, cy - r * 0.75,
                          cx + sx * r * 1.0 + r * 0.33, cy + r * drop], fill=inner)
        elif ears == "round":
            draw.ellipse([cx + sx * r * 0.72 - r * 0.3, cy - r * 1.05,
                          cx + sx * r * 0.72 + r * 0.3, cy - r * 0.45], fill=colour)
        elif ears == "long":
            draw.ellipse([cx + sx * r * 0.35 - r * 0.2, cy - r * 2.1,
                          cx + sx * r * 0.35 + r * 0.2, cy - r * 0.5], fill=colour)


def draw_texture(draw, texture, cx, cy, r, dark, rng):
    """Stripes, spots or a patch drawn inside the head's circle."""
    if texture == "stripes":
        for h in np.linspace(-0.75, 0.15, int(rng.integers(3, 6))):
            half = r * np.sqrt(1 - h * h) * 0.9
            draw.line([cx - half, cy + h * r, cx + half, cy + h * r + r * 0.1], fill=dark,
                      width=max(1, int(r * 0.09)))
    elif texture == "spots":
        for _ in range(int(rng.integers(5, 10))):
            a, d = rng.uniform(0, 2 * np.pi), r * np.sqrt(rng.uniform(0, 0.7))
            s = r * rng.uniform(0.07, 0.14)
            x, y = cx + d * np.cos(a), cy + d * np.sin(a)
            draw.ellipse([x - s, y - s, x + s, y + s], fill=dark)
    elif texture == "patches":
        sx = rng.choice((-1, 1))
        draw.ellipse([cx + sx * r * 0.45 - r * 0.4, cy - r * 0.55, cx + sx * r * 0.45 + r * 0.4,
                      cy + r * 0.25], fill=dark)


def draw_face(draw, face, cx, cy, r, colour, rng):
    """Eyes, and a cat's small nose and whiskers or a dog's muzzle and big nose."""
    eye = tuple(int(c) for c in rng.choice([(20, 20, 20), (60, 140, 60), (170, 150, 40),
                                             (60, 90, 160)]))
    for sx in (-1, 1):
        x, y, s = cx + sx * r * 0.38, cy - r * 0.12, r * 0.11
        draw.ellipse([x - s, y - s, x + s, y + s], fill=eye)
    if face == "whiskers":
        draw.polygon([(cx - r * 0.1, cy + r * 0.18), (cx + r * 0.1, cy + r * 0.18),
                      (cx, cy + r * 0.3)], fill=(200, 110, 120))
        light = (235, 235, 235) if sum(colour) < 300 else (40, 40, 40)
        for sx in (-1, 1):
            for dy in (-0.08, 0.05, 0.18):
                draw.line([cx + sx * r * 0.15, cy + r * 0.35, cx + sx * r * 0.95,
                           cy + r * (0.35 + dy * 2)], fill=light, width=1)
    elif face == "muzzle":
        pale = tuple(int(min(255, c * 0.6 + 110)) for c in colour)
        draw.ellipse([cx - r * 0.42, cy + r * 0.02, cx + r * 0.42, cy + r * 0.78], fill=pale)
        draw.ellipse([cx - r * 0.17, cy + r * 0.1, cx + r * 0.17, cy + r * 0.34],
                     fill=(25, 20, 20))
        if rng.random() < 0.3:  # a tongue
            draw.ellipse([cx - r * 0.1, cy + r * 0.55, cx + r * 0.1, cy + r * 0.9],
                         fill=(220, 90, 110))


def animal(rng, side, ears, face, fur, texture, scale=(0.14, 0.3)):
    """An RGBA layer: one cartoon animal (body, head, ears, face, fur) at a random pose; lessons 1-3.

    `fur` is an RGB colour; the animal's size, place, tilt and body vary picture to picture.
    """
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = shade(fur, rng) + (255,)
    dark = tuple(int(c * 0.45) for c in colour[:3]) + (255,)
    inner = tuple(int(c * 0.75) for c in colour[:3]) + (255,)
    r = side * rng.uniform(*scale)
    cx, cy = side * rng.uniform(0.15, 0.85), side * rng.uniform(0.25, 0.75)  # some half out
    if rng.random() < 0.7:  # a body behind the head, sitting or lying
        bx, w, h = cx + r * rng.uniform(-0.8, 0.8), r * rng.uniform(1.2, 2.2), r * rng.uniform(0.9, 1.6)
        draw.ellipse([bx - w, cy + r * 0.5, bx + w, cy + r * 0.5 + 2 * h], fill=colour)
    draw_ears(draw, ears, cx, cy, r, colour, dark if ears == "floppy" else inner, rng)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    draw_texture(draw, texture, cx, cy, r, dark, rng)
    draw_face(draw, face, cx, cy, r, colour[:3], rng)
    return layer.rotate(rng.uniform(-30, 30), resample=Image.BILINEAR, center=(cx, cy))


def lit(im, rng, noise=8):
    """A picture under uneven light: brightness, a gradient, a colour cast and sensor noise."""
    side_h, side_w = im.size[1], im.size[0]
    ramp = np.linspace(-1, 1, side_w)[None, :] * np.cos(a := rng.uniform(0, 2 * np.pi)) \
        + np.linspace(-1, 1, side_h)[:, None] * np.sin(a)
    gain = rng.uniform(0.6, 1.25) * (1 + rng.uniform(0, 0.35) * ramp)[..., None]
    cast = 1 + rng.normal(0, 0.06, 3)
    arr = np.asarray(im.convert("RGB"), float) * gain * cast + rng.normal(0, noise, (side_h, side_w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def photo(rng, size, ears, face, fur, texture, scale=(0.1, 0.3)):
    """A photo of one animal in a cluttered room under uneven light, of a random size; lessons 1-3.

    Some have a thing in front of the animal, and some are a little out of focus.
    """
    side = int(size * rng.uniform(0.8, 1.25))  # real photos vary in size
    im = room(rng, side).convert("RGBA")
    im.alpha_composite(animal(rng, side, ears, face, fur, texture, scale))
    im = im.convert("RGB")
    if rng.random() < 0.4:  # a chair leg or a cushion between the camera and the animal
        clutter(ImageDraw.Draw(im), rng, side, int(rng.integers(1, 3)))
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))  # focus and camera shake
    return lit(im, rng)


def pet_photo(kind, rng, size):
    """One synthetic photo: cats have pointed ears and whiskers, dogs mostly floppy ears and a
    muzzle; both come in every fur colour and texture, in any pose, room and light."""
    parts = CAT if kind == "cat" else DOG
    fur = list(FURS.values())[int(rng.integers(len(FURS)))]
    return photo(rng, size, str(rng.choice(parts["ears"])), str(rng.choice(parts["face"])), fur,
                 str(rng.choice(TEXTURES)))


DRAWING = (shade, clutter, room, draw_ears, draw_texture, draw_face, animal, lit, photo, pet_photo)
