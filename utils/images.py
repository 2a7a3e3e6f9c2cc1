"""Images from folders into models: batches, whole arrays, labels, and corrupt-file screening.

The course read images with Keras 1's ImageDataGenerator. That class is gone from Keras 3 (a
legacy copy survives; it decodes on one core, so it falls further behind the more cores a machine
has), so batches here come from a `tf.data.Dataset` built by
`keras.utils.image_dataset_from_directory`, which decodes on every core and prefetches.
`get_batches` returns a `Batches` object: a Keras `PyDataset` that `model.fit` / `model.predict`
take as they are, holding that dataset as `.dataset` and the attributes course code reads
(`samples`, `num_classes`, `class_indices`, `classes`, `filenames`, `shuffle`...). Nothing is stuck
onto the tf.data.Dataset itself: such attributes vanish after any `.map`, and a bool named
`shuffle` would hide `Dataset.shuffle()`.
"""
import functools
import math
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from utils.paths import UNWRITABLE

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


def _refuse_unreadable_names(files):
    """Raise, naming the file, at the first name TensorFlow cannot take: one that is not UTF-8."""
    for path in files:
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:  # bytes Python could not decode, kept as surrogate escapes
            shown = os.fsencode(path).decode("utf-8", "backslashreplace")
            raise ValueError(f"{shown}: the name is not UTF-8 text, which TensorFlow cannot read. "
                             "Rename it (plain letters and digits are safe), then re-run.") from None
    return files


def is_corrupt(path):
    """True when an image file is a dangling link, empty, or undecodable by the pipeline; lessons 1-7."""
    path = Path(path)
    if not path.exists():  # a symlink whose target is gone
        return True
    if path.stat().st_size == 0:
        return True
    try:
        with Image.open(path) as im:
            fmt = im.format
            im.verify()
    except Exception:
        return True
    # verify() reads headers only, and PIL's own decoder forgives data that TensorFlow's refuses
    # mid-epoch (InvalidArgumentError: jpeg::Uncompress failed), so JPEGs get TensorFlow's full
    # decode. At 1/8 scale it still decodes every byte of entropy-coded data, a third faster.
    return fmt == "JPEG" and not _tf_decodes_jpeg(path)


def _tf_decodes_jpeg(path):
    """True when TensorFlow's JPEG decoder, the one training uses, reads the whole file."""
    import tensorflow as tf  # tf.data: models alone import with Keras only
    try:
        tf.io.decode_jpeg(tf.io.read_file(str(path)), ratio=8)
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError):
        return False
    return True


# Files already screened in this process, by (path, size, mtime): a notebook calls get_batches on
# the same folders many times, and decoding every JPEG costs about 1 ms each.
_SCREENED = set()
# Corrupt files a screen could not move, their folder being read-only: batches leave them out.
_LEFT_OUT = set()


def _screen_key(path):
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _needs_moving(path):
    """True for a corrupt file; a good one is remembered so it is not decoded again."""
    if not path.exists():
        return True
    key = _screen_key(path)
    if key in _SCREENED:
        return False
    if is_corrupt(path):
        return True
    _SCREENED.add(key)
    return False


def screen_images(dirname, quarantine=None):
    """Move corrupt images and dangling links out of `dirname` so no fit crashes; return what moved.

    In a folder that cannot be written (a read-only mount) they stay, named, and batches leave
    them out.
    """
    dirname = Path(dirname)
    quarantine = Path(quarantine or f"{dirname}.corrupt")
    files = _refuse_unreadable_names(image_files(dirname))
    # Every verdict first, then the moves: a file that cannot be read stops nothing half-way.
    # TensorFlow's decoder releases the GIL, so threads decode on every core.
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        verdicts = list(pool.map(_needs_moving, files))
    moved, kept, dangling = [], [], 0
    for path, bad in zip(files, verdicts):
        target, gone = quarantine / path.relative_to(dirname), not path.exists()
        if not bad:
            _LEFT_OUT.discard(str(path))
        elif _move_aside(path, target):
            moved.append(target)
            dangling += gone
        else:
            _LEFT_OUT.add(str(path))
            kept.append(path)
    _say_screened(dirname, quarantine, moved, dangling, kept)
    return moved


def _move_aside(path, target):
    """Move a file (a dangling link as the link) to `target`; False, with nothing written, when
    its folder or the quarantine's cannot be written."""
    if not os.access(path.parent, os.W_OK):  # shutil.move would copy it, then fail to delete it
        return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        return False
    shutil.move(path, target)
    return True


def _say_screened(dirname, quarantine, moved, dangling, kept):
    """Say which corrupt files were moved aside, and name those a read-only folder keeps."""
    if moved:
        links = f", {dangling} of them link(s) to missing files" if dangling else ""
        print(f"Moved {len(moved)} corrupt or empty image(s){links} from {dirname} to "
              f"{quarantine} (e.g. {moved[0].name}); they are left out of training and prediction.")
    if kept:
        names = ", ".join(p.relative_to(dirname).as_posix() for p in kept[:10])
        more = f" and {len(kept) - 10} more" if len(kept) > 10 else ""
        print(f"Left out {len(kept)} corrupt or empty image(s) (or links to missing files) of "
              f"{dirname}: {names}{more}. The folder cannot be written, so they stay where they "
              "are, left out of training and prediction. To be rid of them, delete them where "
              "the folder can be written, or copy the folder somewhere writable.")


def _left_out(dirname):
    """The files under `dirname` a screen could not move, if they are still corrupt."""
    if not _LEFT_OUT:
        return set()
    return {p for p in map(str, image_files(dirname)) if p in _LEFT_OUT and is_corrupt(p)}


@functools.cache
def _random_affine_layer():
    """The RandomAffine class, made on first use so that importing this module stays light."""
    import keras  # tf.data: models alone import with Keras only
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="dl1kit")
    class RandomAffine(keras.layers.Layer):
        """Random turn, shift, zoom, shear and mirror in ONE resampling pass per image; lessons 1-7.

        rotation and shear are the largest angles in degrees, shift and zoom fractions of the size;
        each is off unless given (the course's settings are lesson 3's `default_augmentation`).
        """

        def __init__(self, rotation=0, shift=0.0, zoom=0.0, flip=False, shear=0, **kwargs):
            super().__init__(**kwargs)
            self.rotation, self.shift, self.zoom, self.flip = rotation, shift, zoom, flip
            self.shear = shear

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
            shear = tf.random.uniform([n], -1, 1) * self.shear * np.pi / 180
            # M = turn @ shear @ mirror / scale, with the legacy generator's shear [[1, -sin], [0, cos]].
            a0, b0 = mirror * tf.cos(turn) / scale, mirror * tf.sin(turn) / scale
            a1, b1 = -tf.sin(turn + shear) / scale, tf.cos(turn + shear) / scale
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
                    "zoom": self.zoom, "flip": self.flip, "shear": self.shear}

    return RandomAffine


@functools.cache
def _batches_class():
    """The Batches class, made on first use (it subclasses Keras's PyDataset)."""
    import keras  # tf.data: models alone import with Keras only

    class Batches(keras.utils.PyDataset):
        """Batches of images from a folder and what course code reads about them; lessons 1-7.

        `fit`, `predict` and `for x, y in batches` read `.dataset`, a tf.data.Dataset, one pass
        an epoch. Item i of this PyDataset is the next batch of that pass whatever i is: the order
        is the dataset's own (reshuffled each pass when `shuffle`, file order when not), and each
        batch keeps its images with their labels.
        """

        def __init__(self, dataset, *, directory, filenames, class_names, batch_size, shuffle):
            super().__init__()
            self.dataset = dataset
            self.directory = str(directory)
            self.filenames = list(filenames)
            self.samples = self.nb_sample = self.n = len(self.filenames)
            self.batch_size, self.shuffle = int(batch_size), bool(shuffle)
            self.class_names = list(class_names)
            self.class_indices = {name: i for i, name in enumerate(self.class_names)}
            self.num_classes = self.nb_class = len(self.class_names)
            # Labels follow `filenames`; both match the order of predictions only when shuffle=False.
            self.classes = np.array([self.class_indices[Path(f).parts[0]] for f in self.filenames]
                                    if self.class_names else [], dtype="int32")
            self._pass, self._served = None, 0

        def map(self, fn, **kwargs):
            """The same batches with `fn` applied by tf.data, still described."""
            return type(self)(self.dataset.map(fn, **kwargs), directory=self.directory,
                              filenames=self.filenames, class_names=self.class_names,
                              batch_size=self.batch_size, shuffle=self.shuffle)

        def __len__(self):
            return math.ceil(self.samples / self.batch_size)

        def __iter__(self):
            return iter(self.dataset)

        def __getitem__(self, i):
            if self._pass is None or self._served >= len(self):
                self.on_epoch_begin()
            self._served += 1
            batch = next(self._pass)
            return tuple(b.numpy() for b in batch) if isinstance(batch, tuple) else batch.numpy()

        def on_epoch_begin(self):
            """Start a fresh pass of the dataset, so every epoch sees every image once."""
            self._pass, self._served = iter(self.dataset), 0

        def __repr__(self):
            return (f"<Batches of {self.directory}: {self.samples} images, {self.num_classes} "
                    f"classes, batch_size={self.batch_size}, shuffle={self.shuffle}>")

    return Batches


def __getattr__(name):
    """Build RandomAffine and Batches on first access (they need Keras; the rest does not)."""
    if name == "RandomAffine":
        return _random_affine_layer()
    if name == "Batches":
        return _batches_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def as_dataset(batches):
    """The tf.data.Dataset of get_batches' Batches (anything else as it is), for fit's fast path."""
    # fit takes Batches too, as a PyDataset, but feeds it through one Python generator: about a
    # third more CPU per image than reading the dataset itself (`bench/bench_images.py`).
    return batches.dataset if isinstance(batches, _batches_class()) else batches


def get_batches(dirname, augment=None, shuffle=True, batch_size=64, class_mode="categorical",
                target_size=(224, 224), seed=0, screen=True):
    """Batches of images from class subfolders, ready for fit/predict; lessons 1-5, 7."""
    import keras  # tf.data: models alone import with Keras only
    import tensorflow as tf
    dirname = Path(dirname)
    if class_mode not in CLASS_MODES:
        raise ValueError(f"class_mode must be one of {list(CLASS_MODES)}, not {class_mode!r}")
    if not dirname.is_dir():
        raise FileNotFoundError(f"No image folder at {dirname}")
    if screen:
        screen_images(dirname)
    else:
        _refuse_unreadable_names(image_files(dirname))
    labels = "inferred" if class_mode else None
    classes = _class_folders(dirname) if class_mode else None
    if class_mode:
        _say_empty_classes(dirname, classes)
    left_out = _left_out(dirname)
    ds = keras.utils.image_dataset_from_directory(
        dirname, labels=labels, label_mode=CLASS_MODES[class_mode], class_names=classes,
        batch_size=None if left_out else batch_size, image_size=tuple(target_size),
        shuffle=shuffle, seed=seed, verbose=False)
    class_names = getattr(ds, "class_names", None) or []
    paths = [p for p in ds.file_paths if p not in left_out]
    if left_out:
        # Keras reads every file of the folder. The left-out ones fail to decode (each was found
        # corrupt again just now) and the rest were screened good, so dropping the images that
        # fail, before batching, drops those files and nothing else.
        ds = ds.ignore_errors().batch(batch_size).prefetch(tf.data.AUTOTUNE)
    if augment is not None:
        if not callable(augment):
            raise TypeError(f"augment takes an augmentation layer, such as lesson 3's default_augmentation(), "
                            f"not {augment!r}")
        aug = augment
        if class_mode:
            ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(lambda x: aug(x, training=True), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return _batches_class()(ds, directory=dirname, filenames=[os.path.relpath(p, dirname) for p in paths],
                            class_names=class_names, batch_size=batch_size, shuffle=shuffle)


def _class_folders(dirname):
    """Names of a folder's class subfolders, sorted: neither hidden ones nor macOS's __MACOSX."""
    return sorted(d.name for d in dirname.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and d.name != "__MACOSX")


def _say_empty_classes(dirname, classes):
    """Say which class folders hold no image: each still counts as a class, and numbers shift."""
    empty = [name for name in classes if not image_files(dirname / name)]
    if empty:
        numbers = ", ".join(f"{name}={classes.index(name)}" for name in empty)
        print(f"{len(empty)} class folder(s) of {dirname} hold no image: {numbers}. Each still "
              "counts as a class (so class numbers match the other splits); delete the folder if "
              "it is not a class, or put its images back.")


def get_data(path, target_size=(224, 224), batch_size=64):
    """All images of a folder as one float32 array, in `filenames` order; lessons 2-3."""
    screen_images(path)
    if not image_files(path):
        return np.zeros((0, *target_size, 3), "float32")
    batches = get_batches(path, shuffle=False, batch_size=batch_size, class_mode=None,
                          target_size=target_size, screen=False)
    return np.concatenate([np.asarray(b) for b in batches])


def get_classes(path):
    """Labels, one-hot labels and file names of a prepared dataset's train/valid/test; lesson 2."""
    from utils.lessons.lesson1 import onehot  # lesson 1's module loads Keras: here, only once batches are read
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
