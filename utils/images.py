"""Images from folders into models: batches, whole arrays, labels, and corrupt-file screening.

The course read images with Keras 1's ImageDataGenerator. That class is gone from Keras 3 (a
legacy copy survives and is about ten times slower), so batches here are a `tf.data.Dataset`
built by `keras.utils.image_dataset_from_directory`, which decodes in parallel and prefetches.
The dataset is handed straight to `model.fit` / `model.predict` and also carries the attributes
course code reads: `samples`, `num_classes`, `class_indices`, `classes` and `filenames`.
"""
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
CLASS_MODES = {"categorical": "categorical", "binary": "binary", "sparse": "int", None: None}
JPEG_END = b"\xff\xd9"


def image_files(dirname):
    """Image paths under a folder, sorted as Keras lists them; lessons 1-7."""
    found = []
    for root, dirs, files in os.walk(dirname):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
    return found


def is_corrupt(path):
    """True when an image file is empty, undecodable or a truncated JPEG; lessons 1-7."""
    path = Path(path)
    if path.stat().st_size == 0:
        return True
    try:
        with Image.open(path) as im:
            fmt = im.format
            im.verify()
    except Exception:
        return True
    if fmt == "JPEG" and not _ends_like_a_jpeg(path):
        # verify() reads headers only. A download cut short loses the end-of-image marker, and
        # TensorFlow's decoder then trips over it mid-epoch; but cameras may append data after
        # the marker, so only a full decode tells a truncated file from one with extras.
        try:
            with Image.open(path) as im:
                im.load()
        except Exception:
            return True
    return False


def _ends_like_a_jpeg(path):
    """True when the end-of-image marker sits in a JPEG's last bytes, as it usually does."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 64))
        return JPEG_END in f.read()


def screen_images(dirname, quarantine=None):
    """Move corrupt images out of `dirname` so no fit can crash on them; return what moved."""
    dirname = Path(dirname)
    quarantine = Path(quarantine or f"{dirname}.corrupt")
    moved = []
    for path in image_files(dirname):
        if is_corrupt(path):
            target = quarantine / path.relative_to(dirname)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            moved.append(target)
    if moved:
        print(f"Moved {len(moved)} corrupt or empty image(s) from {dirname} to {quarantine} "
              f"(e.g. {moved[0].name}); they are left out of training and prediction.")
    return moved


def default_augmentation():
    """The course's usual augmentation as Keras layers: shifts, flips, small turns and zooms."""
    import keras
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(10 / 360),  # Keras takes a fraction of a full turn
        keras.layers.RandomTranslation(0.1, 0.1),
        keras.layers.RandomZoom(0.1),
    ], name="augment")


def get_batches(dirname, augment=None, shuffle=True, batch_size=64, class_mode="categorical",
                target_size=(224, 224), seed=0, screen=True):
    """Batches of images from class subfolders, ready for fit/predict; lessons 1-7."""
    import keras
    import tensorflow as tf
    dirname = Path(dirname)
    if class_mode not in CLASS_MODES:
        raise ValueError(f"class_mode must be one of {list(CLASS_MODES)}, not {class_mode!r}")
    if not dirname.is_dir():
        raise FileNotFoundError(f"No image folder at {dirname}")
    if screen:
        screen_images(dirname)
    labels = "inferred" if class_mode else None
    ds = keras.utils.image_dataset_from_directory(
        dirname, labels=labels, label_mode=CLASS_MODES[class_mode], batch_size=batch_size,
        image_size=tuple(target_size), shuffle=shuffle, seed=seed, verbose=False)
    class_names = getattr(ds, "class_names", None) or []
    paths = list(ds.file_paths)
    if augment is not None:
        aug = default_augmentation() if augment is True else augment
        if class_mode:
            ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(lambda x: aug(x, training=True), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return _describe(ds, dirname, paths, class_names, batch_size, shuffle)


def _describe(ds, dirname, paths, class_names, batch_size, shuffle):
    """Attach the attributes course code reads to a dataset of batches."""
    ds.directory = str(dirname)
    ds.filenames = [os.path.relpath(p, dirname) for p in paths]
    ds.samples = ds.nb_sample = len(paths)
    ds.batch_size = batch_size
    ds.shuffle = shuffle
    ds.class_names = list(class_names)
    ds.class_indices = {name: i for i, name in enumerate(class_names)}
    ds.num_classes = ds.nb_class = len(class_names)
    # Labels follow `filenames`; both match the order of predictions only when shuffle=False.
    ds.classes = np.array([ds.class_indices[Path(f).parts[0]] for f in ds.filenames]
                          if class_names else [], dtype="int32")
    return ds


def get_data(path, target_size=(224, 224), batch_size=64):
    """All images of a folder as one float32 array, in `filenames` order; lessons 2-3."""
    screen_images(path)
    if not image_files(path):
        return np.zeros((0, *target_size, 3), "float32")
    batches = get_batches(path, shuffle=False, batch_size=batch_size, class_mode=None,
                          target_size=target_size, screen=False)
    return np.concatenate([np.asarray(b) for b in batches])


def onehot(x, num_classes=None):
    """Integer labels as one-hot float rows; lessons 2-7."""
    x = np.asarray(x, dtype="int64").ravel()
    n = num_classes or (int(x.max()) + 1 if x.size else 0)
    return np.eye(n, dtype="float32")[x]


def get_classes(path):
    """Labels, one-hot labels and file names of a prepared dataset's train/valid/test; lesson 2."""
    path = Path(path)
    parts = {}
    for split in ("train", "valid"):
        b = get_batches(path / split, shuffle=False, batch_size=1, target_size=(32, 32))
        parts[split] = b
    test = get_batches(path / "test", shuffle=False, batch_size=1, class_mode=None,
                       target_size=(32, 32)) if (path / "test").is_dir() else None
    val, trn = parts["valid"], parts["train"]
    return (val.classes, trn.classes, onehot(val.classes, val.num_classes),
            onehot(trn.classes, trn.num_classes), val.filenames, trn.filenames,
            test.filenames if test is not None else [])
