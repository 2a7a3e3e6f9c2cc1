"""Dogs vs. Cats Redux (lessons 1-3): Kaggle's flat layout, the course's folders, a stand-in.

Kaggle ships `train/cat.N.jpg`, `train/dog.N.jpg` (25,000) and `test/N.jpg` (12,500).
`prepare` turns that into the folders Keras reads classes from:
`train/{cats,dogs}`, `valid/{cats,dogs}` (a seeded held-out split), `test/unknown/`, and
`sample/`, a small subset with the same parts (`sample/{train,valid}/{cats,dogs}`,
`sample/test/unknown/` and a `sample/sample_submission.csv` for exactly those test images) for
quick experiments. `get` returns it as a `Data` record.
"""
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from utils.datasets.competition import place, real_or_standin, record, sample_test
from utils.datasets.standin import banner, mark, recipe, renew
from utils.kaggle.api import how_to_get
from utils.kaggle.fetching import fetch
from utils.paths import data_dir, standin_dir

COMPETITION = "dogs-vs-cats-redux-kernels-edition"
TITLE = "Kaggle's Dogs vs. Cats Redux"
CLASSES = {"cat": "cats", "dog": "dogs"}
DONE = ".prepared"
SAMPLE_SUBMISSION = "sample_submission.csv"
HOW_TO_GET = how_to_get(COMPETITION)


def _jpegs(path, pattern):
    """JPEGs matching a glob pattern, less what macOS adds when it zips or copies a folder: '._'
    files (metadata, not images, whatever their name) and __MACOSX/ folders."""
    return [p for p in path.glob(pattern)
            if not (p.name.startswith("._") or p.parent.name == "__MACOSX")]


def _is_class_image(p):
    """True for Kaggle's cat.N.jpg and dog.N.jpg."""
    return p.name.split(".")[0] in CLASSES


def _where_train_images_are(path):
    """Every cat.N/dog.N image under train/ or valid/, flat or already in class folders."""
    found = {}
    for pattern in ("train/*.jpg", "train/*/*.jpg", "valid/*/*.jpg"):
        for p in _jpegs(path, pattern):
            if _is_class_image(p):
                found[p.name] = p
    return found


def _refuse_strays(path):
    """Name the JPEGs in train/ or valid/ folders that are not Kaggle's, before anything moves."""
    strays = sorted(str(p) for pattern in ("train/*/*.jpg", "valid/*/*.jpg")
                    for p in _jpegs(path, pattern) if not _is_class_image(p))
    if strays:
        more = f" and {len(strays) - 3} more" if len(strays) > 3 else ""
        it = "it" if len(strays) == 1 else "them"
        raise ValueError(f"{', '.join(strays[:3])}{more}: not Kaggle's training images "
                         f"(cat.N.jpg or dog.N.jpg), so the course's layout has no place for "
                         f"{it}. Move {it} out of {path} (or delete {it}), then re-run.")


def _move(src, dst):
    """Move a file (the kit's own: extracted or linked by fetch) unless it is already in place."""
    if src != dst:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dst)


def prepare(path, n_valid=2000, n_sample=(200, 50, 50), seed=0):
    """Split Kaggle's flat dogs/cats files into train/valid/test and a sample of each; lesson 1.

    `path` is a folder `fetch` filled (extracted files or links to a read-only mount);
    `n_sample` counts the sample's (train, valid, test) images.
    """
    path = Path(path)
    if (path / DONE).exists():
        return path
    _refuse_strays(path)
    images = _where_train_images_are(path)
    if n_valid >= len(images):
        raise ValueError(f"{path} has {len(images)} training images; n_valid={n_valid} "
                         "leaves none to train on.")
    # A fixed permutation of the sorted names: a re-run after an interruption plans the same
    # split, so every file is moved at most once.
    order = np.random.default_rng(seed).permutation(sorted(images))
    valid = set(order[:n_valid])
    for name, src in images.items():
        split = "valid" if name in valid else "train"
        _move(src, path / split / CLASSES[name.split(".")[0]] / name)
    for src in _jpegs(path, "test/*.jpg"):
        _move(src, path / "test" / "unknown" / src.name)
    for split, n in zip(("train", "valid"), n_sample):
        _copy_sample(path, split, n, seed)
    sample_test(_jpegs(path, "test/unknown/*.jpg"), path / "sample" / "test" / "unknown",
                path / SAMPLE_SUBMISSION, path / "sample" / SAMPLE_SUBMISSION, id_of,
                n_sample[2], seed)
    counts = _check(path, len(images), n_valid, n_sample)
    (path / DONE).write_text(json.dumps(counts))
    return path


def _copy_sample(path, split, n, seed):
    """Link (or copy) a seeded subset of a split into sample/, skipping files already there."""
    files = sorted(_jpegs(path / split, "*/*.jpg"))
    for i in np.random.default_rng(seed + 1).permutation(len(files))[:n]:
        place(files[i], path / "sample" / split / files[i].parent.name / files[i].name)


def id_of(filename):
    """The sample submission's id of a test image: `12.jpg` -> `12`; lesson 1."""
    return Path(filename).stem


def _count(folder):
    """Number of JPEGs in a folder's class subfolders."""
    return len(_jpegs(folder, "*/*.jpg"))


def _check(path, total, n_valid, n_sample):
    """Verify the split's numbers after preparing, and return them."""
    counts = {"train": _count(path / "train"), "valid": _count(path / "valid"),
              "sample/train": _count(path / "sample/train"),
              "sample/valid": _count(path / "sample/valid"), "test": _count(path / "test"),
              "sample/test": _count(path / "sample/test")}
    expected = {"train": total - n_valid, "valid": n_valid, "sample/train": n_sample[0],
                "sample/valid": n_sample[1], "sample/test": min(n_sample[2], counts["test"])}
    wrong = {k: (counts[k], v) for k, v in expected.items() if counts[k] != v}
    if wrong:
        raise RuntimeError(f"Preparing {path} went wrong: (found, expected) = {wrong}")
    return counts


# ---------------------------------------------------------------------------------------------
# Stand-in pictures. The parts (fur colours and textures, ears, faces, bodies, a cluttered room,
# uneven light) are shared with the ImageNet stand-in (utils.datasets.imagenet_standin), on which
# the kit pretrains its small VGG16, as ImageNet's photos share theirs with Kaggle's.

# Fur colours cats and dogs both come in (RGB), so that colour alone says little of the class.
FURS = {"black": (38, 34, 32), "white": (232, 230, 222), "grey": (128, 128, 134),
        "ginger": (205, 118, 52), "brown": (118, 74, 42), "cream": (226, 200, 152),
        "golden": (198, 158, 82)}
TEXTURES = ("plain", "stripes", "spots", "patches")
EARS = ("pointed", "floppy", "round", "long", "none")
FACES = ("whiskers", "muzzle", "plain")
MISLABELLED = 0.03  # share of training photos whose file name gives the other class, as on Kaggle
CAT = {"ears": ("pointed",), "face": ("whiskers",)}
DOG = {"ears": ("floppy", "floppy", "floppy", "pointed"), "face": ("muzzle",)}


def _shade(colour, rng, spread=18):
    """A colour with a little random variation, as no two animals have quite the same fur."""
    return tuple(int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in colour)


def _clutter(draw, rng, side, n):
    """n objects of any colour, anywhere: furniture, cushions, toys, table legs."""
    for _ in range(n):
        colour = _shade(list(FURS.values())[int(rng.integers(len(FURS)))], rng, 60) \
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
    _clutter(ImageDraw.Draw(im), rng, side, int(rng.integers(3, 8)))
    return im


def _ears(draw, ears, cx, cy, r, colour, inner, rng):
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


def _texture(draw, texture, cx, cy, r, dark, rng):
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


def _face(draw, face, cx, cy, r, colour, rng):
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
    colour = _shade(fur, rng) + (255,)
    dark = tuple(int(c * 0.45) for c in colour[:3]) + (255,)
    inner = tuple(int(c * 0.75) for c in colour[:3]) + (255,)
    r = side * rng.uniform(*scale)
    cx, cy = side * rng.uniform(0.15, 0.85), side * rng.uniform(0.25, 0.75)  # some half out
    if rng.random() < 0.7:  # a body behind the head, sitting or lying
        bx, w, h = cx + r * rng.uniform(-0.8, 0.8), r * rng.uniform(1.2, 2.2), r * rng.uniform(0.9, 1.6)
        draw.ellipse([bx - w, cy + r * 0.5, bx + w, cy + r * 0.5 + 2 * h], fill=colour)
    _ears(draw, ears, cx, cy, r, colour, dark if ears == "floppy" else inner, rng)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    _texture(draw, texture, cx, cy, r, dark, rng)
    _face(draw, face, cx, cy, r, colour[:3], rng)
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
        _clutter(ImageDraw.Draw(im), rng, side, int(rng.integers(1, 3)))
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))  # focus and camera shake
    return lit(im, rng)


def _standin_image(kind, rng, size):
    """One synthetic photo: cats have pointed ears and whiskers, dogs mostly floppy ears and a
    muzzle; both come in every fur colour and texture, in any pose, room and light."""
    parts = CAT if kind == "cat" else DOG
    fur = list(FURS.values())[int(rng.integers(len(FURS)))]
    return photo(rng, size, str(rng.choice(parts["ears"])), str(rng.choice(parts["face"])), fur,
                 str(rng.choice(TEXTURES)))


DRAWING = (_shade, _clutter, room, _ears, _texture, _face, animal, lit, photo, _standin_image)


def _jpeg(im):
    """Bytes of an image saved as JPEG."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_standin(dest, n_train=800, n_test=100, size=64, seed=0):
    """Write a learnable dogs/cats stand-in as Kaggle ships it: train.zip, test.zip, CSV; lesson 1."""
    made_by = recipe(*DRAWING, make_standin, n_train=n_train, n_test=n_test, size=size, seed=seed)
    dest = renew(Path(dest), made_by)  # an older kit's stand-in, drawn otherwise, is made anew
    if (dest / "train.zip").exists() and (dest / "test.zip").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(dest / "train.zip.tmp", "w") as z:
        for i in range(n_train):
            kind = ("cat", "dog")[i % 2]
            # A few photos under the other class's name, as Kaggle's training set has.
            drawn = ("dog", "cat")[i % 2] if rng.random() < MISLABELLED else kind
            z.writestr(f"train/{kind}.{i // 2}.jpg", _jpeg(_standin_image(drawn, rng, size)))
    with zipfile.ZipFile(dest / "test.zip.tmp", "w") as z:
        for i in range(1, n_test + 1):
            kind = ("cat", "dog")[int(rng.integers(2))]
            z.writestr(f"test/{i}.jpg", _jpeg(_standin_image(kind, rng, size)))
    pd.DataFrame({"id": range(1, n_test + 1), "label": 0.5}).to_csv(
        dest / "sample_submission.csv", index=False)
    mark(dest, f"Synthetic dogs vs cats, seed {seed}. " + HOW_TO_GET, made_by)
    for name in ("train.zip", "test.zip"):  # renamed last: a half-written stand-in is redone
        (dest / f"{name}.tmp").rename(dest / name)
    return dest


def get(data="auto", path=None, n_valid=2000, n_sample=(200, 50, 50), standin=(800, 100, 64),
        seed=0):
    """Dogs vs cats as a Data record: the real data (all of it or its sample), or the stand-in;
    lessons 1-3."""
    path = Path(path or data_dir() / COMPETITION)
    return real_or_standin(data, TITLE, lambda m: _get_real(path, m, n_valid, n_sample, seed),
                           lambda: _get_standin(standin, seed))


def _data(folder, mode, standin):
    """The Data record of a prepared folder (the whole set or its sample/)."""
    parts = {part: folder / part for part in ("train", "valid", "test")}
    return record(COMPETITION, folder, mode, standin, parts, folder / SAMPLE_SUBMISSION)


def _get_real(path, mode, n_valid, n_sample, seed):
    """The real competition data, fetched and prepared; its sample/ for mode 'sample'."""
    folder = prepare(fetch(COMPETITION, path), n_valid, n_sample, seed)
    return _data(folder / "sample" if mode == "sample" else folder, mode, False)


def _get_standin(standin, seed):
    """The stand-in, written once, then put through the same fetch and prepare as real data."""
    n_train, n_test, size = standin
    dest = make_standin(standin_dir() / COMPETITION, n_train, n_test, size, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    folder = prepare(fetch(COMPETITION, dest, use_mounted=False), n_valid=n_train // 4,
                     n_sample=(n_train // 10, n_train // 20, n_test // 4), seed=seed)
    banner(TITLE, HOW_TO_GET)
    return _data(folder, "standin", True)
