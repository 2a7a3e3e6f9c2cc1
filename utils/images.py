"""Images from folders into models: batches, whole arrays, labels, and corrupt-file screening.

The course read images with Keras 1's ImageDataGenerator. That class is gone from Keras 3 (a
legacy copy survives; it decodes on one core, so it falls further behind the more cores a machine
has), so batches here are a `tf.data.Dataset` built by `keras.utils.image_dataset_from_directory`,
which decodes on every core and prefetches.
The dataset is handed straight to `model.fit` / `model.predict` and also carries the attributes
course code reads: `samples`, `num_classes`, `class_indices`, `classes` and `filenames`.
"""
import functools
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


def default_augmentation(rotation=10, shift=0.1, zoom=0.1, flip=True):
    """The course's usual augmentation: small turns, shifts and zooms, and mirror images."""
    return _random_affine_layer()(rotation, shift, zoom, flip, name="augment")


@functools.cache
def _random_affine_layer():
    """The RandomAffine class, made on first use so that importing this module stays light."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="dl1kit")
    class RandomAffine(keras.layers.Layer):
        """Random turn, shift, zoom and mirror in ONE resampling pass per image; lessons 1-7."""

        def __init__(self, rotation=10, shift=0.1, zoom=0.1, flip=True, **kwargs):
            super().__init__(**kwargs)
            self.rotation, self.shift, self.zoom, self.flip = rotation, shift, zoom, flip

        def call(self, images, training=True):
            if not training:  # augmentation is for training only; predictions see real images
                return images
            # Keras's separate RandomRotation/Translation/Zoom layers resample the batch three
            # times; composing the three into one matrix costs a third and blurs less.
            n, h, w = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
            h, w = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
            turn = tf.random.uniform([n], -1, 1) * self.rotation * np.pi / 180
            scale = 1 + tf.random.uniform([n], -self.zoom, self.zoom)
            tx = tf.random.uniform([n], -self.shift, self.shift) * w
            ty = tf.random.uniform([n], -self.shift, self.shift) * h
            mirror = tf.where(tf.random.uniform([n]) < 0.5, -1.0, 1.0) if self.flip else tf.ones([n])
            cos, sin = tf.cos(turn) / scale, tf.sin(turn) / scale
            a0, a1, b0, b1 = mirror * cos, -sin, mirror * sin, cos
            cx, cy = (w - 1) / 2, (h - 1) / 2
            # Each output pixel reads the input at M @ (pixel - centre) + centre + shift.
            a2 = cx + tx - a0 * cx - a1 * cy
            b2 = cy + ty - b0 * cx - b1 * cy
            zeros = tf.zeros([n])
            transform = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
            out = keras.ops.image.affine_transform(tf.cast(images, tf.float32), transform,
                                                   interpolation="bilinear", fill_mode="nearest")
            return tf.cast(out, images.dtype)

        def get_config(self):
            return {**super().get_config(), "rotation": self.rotation, "shift": self.shift,
                    "zoom": self.zoom, "flip": self.flip}

    return RandomAffine


def __getattr__(name):
    """Build RandomAffine on first access (it needs Keras; the rest of this module does not)."""
    if name == "RandomAffine":
        return _random_affine_layer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
