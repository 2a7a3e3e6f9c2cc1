"""utils/images.py: batches from class folders, file order, labels, and corrupt-file screening.

Every image is tiny (32 px) and written by PIL into tmp_path. Images whose pixels all hold their
own id prove that batches come back in `filenames` order when shuffle=False.
"""
import io
import os
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from utils.images import JPEG_END, get_batches, get_classes, get_data, image_files, is_corrupt, screen_images
from utils.lessons.lesson1 import onehot
from utils.lessons.lesson3 import default_augmentation

SIZE = (32, 32)
# File names that sort differently as text (1, 10, 100, 2) and as numbers (1, 2, 10, 100).
CATS = (1, 2, 10, 100)
DOGS = (3, 20, 200)


def write_const(path, value, fmt="PNG", size=SIZE):
    """An image whose every pixel is (value, value, value): its id can be read off its pixels."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, value, value)).save(path, fmt)
    return path


def jpeg_bytes(value=128, size=SIZE):
    """A valid, noisy JPEG (noise so it has real entropy-coded data to cut in half)."""
    rng = np.random.default_rng(value)
    arr = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_classes(root, classes=(("cats", CATS), ("dogs", DOGS)), ext=".png"):
    """root/<class>/<id><ext>, each image filled with its id."""
    for name, ids in classes:
        for i in ids:
            write_const(root / name / f"{i}{ext}", i, "PNG" if ext == ".png" else "JPEG")
    return root


def ids_of(filenames):
    """Ids parsed from file names such as 'cats/10.png'."""
    return [int(Path(f).stem) for f in filenames]


def pixel_ids(images):
    """The id each image carries in its pixels (all pixels of an image hold the same value)."""
    images = np.asarray(images)
    assert np.all(images == images[:, :1, :1, :1]), "images should be constant"
    return [int(round(v)) for v in images[:, 0, 0, 0]]


def tiny_model(num_classes=2):
    model = keras.Sequential([
        keras.Input((*SIZE, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile("sgd", "categorical_crossentropy")
    return model


# ---------------------------------------------------------------------------------------------
# Batches and their attributes


def test_get_batches_describes_the_folder(tmp_path):
    root = make_classes(tmp_path / "train")
    b = get_batches(root, shuffle=False, batch_size=3, target_size=SIZE)
    assert b.samples == b.nb_sample == 7
    assert b.num_classes == b.nb_class == 2
    assert b.class_names == ["cats", "dogs"]
    assert b.class_indices == {"cats": 0, "dogs": 1}
    assert b.batch_size == 3
    assert b.directory == str(root)
    assert b.filenames == ["cats/1.png", "cats/10.png", "cats/100.png", "cats/2.png",
                           "dogs/20.png", "dogs/200.png", "dogs/3.png"]
    assert b.classes.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert b.classes.dtype == np.int32


def test_unshuffled_batches_come_in_filenames_order(tmp_path):
    root = make_classes(tmp_path / "train")
    b = get_batches(root, shuffle=False, batch_size=3, target_size=SIZE)
    images, labels = [], []
    for x, y in b:  # 3 + 3 + 1: the order must hold across batch boundaries
        images.append(np.asarray(x))
        labels.append(np.asarray(y))
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (7, *SIZE, 3)
    assert pixel_ids(images) == ids_of(b.filenames) == [1, 10, 100, 2, 20, 200, 3]
    assert labels.shape == (7, 2)
    np.testing.assert_array_equal(labels.argmax(1), b.classes)
    np.testing.assert_array_equal(labels, onehot(b.classes, 2))


def test_predictions_follow_filenames_order(tmp_path):
    """What a model predicts for batch row k belongs to filenames[k]: here the model's 'prediction'
    is the pixel value itself, so each row must carry the id parsed from its file name."""
    root = make_classes(tmp_path / "test", classes=(("unknown", (5, 1, 10, 100, 2, 42)),))
    b = get_batches(root, shuffle=False, batch_size=4, class_mode=None, target_size=SIZE)
    echo = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.GlobalAveragePooling2D()])
    preds = echo.predict(b, verbose=0)
    assert preds.shape == (6, 3)
    assert [int(round(p)) for p in preds[:, 0]] == ids_of(b.filenames)
    assert ids_of(b.filenames) == [1, 10, 100, 2, 42, 5]


def test_class_mode_none_yields_images_only(tmp_path):
    root = make_classes(tmp_path / "test", classes=(("unknown", (7, 8, 9)),), ext=".jpg")
    b = get_batches(root, shuffle=False, batch_size=2, class_mode=None, target_size=SIZE)
    first = next(iter(b))
    assert not isinstance(first, tuple)
    assert tuple(first.shape) == (2, *SIZE, 3)
    assert b.samples == 3
    assert b.filenames == ["unknown/7.jpg", "unknown/8.jpg", "unknown/9.jpg"]
    assert b.class_names == [] and b.num_classes == 0 and b.classes.size == 0


@pytest.mark.parametrize("mode, shape, dtype", [
    ("categorical", (7, 2), "float32"),
    ("binary", (7, 1), "float32"),
    ("sparse", (7,), "int32"),
])
def test_label_shapes_per_class_mode(tmp_path, mode, shape, dtype):
    root = make_classes(tmp_path / "train")
    b = get_batches(root, shuffle=False, batch_size=7, class_mode=mode, target_size=SIZE)
    x, y = next(iter(b))
    assert tuple(x.shape) == (7, *SIZE, 3)
    assert tuple(y.shape) == shape
    assert y.dtype.name == dtype
    flat = np.asarray(y).reshape(7, -1)
    got = flat.argmax(1) if mode == "categorical" else flat[:, 0].astype(int)
    np.testing.assert_array_equal(got, b.classes)


@pytest.mark.parametrize("class_mode", ["categorical", None])
def test_augmentation_keeps_shapes(tmp_path, class_mode):
    root = make_classes(tmp_path / "train")
    b = get_batches(root, augment=default_augmentation(), batch_size=4, class_mode=class_mode,
                    target_size=SIZE)
    first = next(iter(b))
    x = first[0] if class_mode else first
    assert tuple(x.shape) == (4, *SIZE, 3)
    assert np.isfinite(np.asarray(x)).all()
    if class_mode:
        assert tuple(first[1].shape) == (4, 2)
    assert b.samples == 7 and b.num_classes == (2 if class_mode else 0)


def test_augment_takes_a_layer_and_says_so_when_given_a_flag(tmp_path):
    root = make_classes(tmp_path / "train")
    with pytest.raises(TypeError, match="default_augmentation"):
        get_batches(root, augment=True, batch_size=4, target_size=SIZE)


def test_shuffled_batches_still_describe_the_folder(tmp_path):
    root = make_classes(tmp_path / "train")
    b = get_batches(root, shuffle=True, batch_size=7, target_size=SIZE, seed=3)
    assert sorted(b.filenames) == sorted(get_batches(root, shuffle=False, target_size=SIZE).filenames)
    # classes follow filenames, whatever their order
    assert [b.class_indices[Path(f).parts[0]] for f in b.filenames] == b.classes.tolist()
    x, y = next(iter(b))
    assert sorted(pixel_ids(x)) == sorted(CATS + DOGS)


def test_bad_class_mode_and_missing_folder(tmp_path):
    root = make_classes(tmp_path / "train")
    with pytest.raises(ValueError, match="class_mode"):
        get_batches(root, class_mode="multi", target_size=SIZE)
    with pytest.raises(FileNotFoundError, match="No image folder"):
        get_batches(tmp_path / "nowhere", target_size=SIZE)


# ---------------------------------------------------------------------------------------------
# Corrupt files


def corrupt_files(folder):
    """An empty file, random bytes named .jpg, and a valid JPEG cut in half."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    noise = folder / "noise.jpg"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    cut = folder / "cut.jpg"
    whole = jpeg_bytes(7)
    cut.write_bytes(whole[: len(whole) // 2])
    return [empty, noise, cut]


def test_is_corrupt(tmp_path):
    bad = corrupt_files(tmp_path / "bad")
    for path in bad:
        assert is_corrupt(path), path.name
    good_jpg = tmp_path / "good.jpg"
    good_jpg.write_bytes(jpeg_bytes(7))
    assert not is_corrupt(good_jpg)
    assert not is_corrupt(write_const(tmp_path / "good.png", 9))
    with Image.open(good_jpg) as im:  # the bytes the cut file came from, whole, are fine
        assert im.size == SIZE


def test_a_jpeg_with_bytes_after_its_end_marker_is_not_corrupt(tmp_path):
    """Cameras and phones append data after a JPEG's end-of-image marker (maker notes, the video
    of a 'motion photo'); TensorFlow decodes such files fine, so screening must keep them."""
    import tensorflow as tf
    path = tmp_path / "trailer.jpg"
    path.write_bytes(jpeg_bytes(7) + b"\x00" * 200)
    assert tuple(tf.io.decode_image(tf.io.read_file(str(path))).shape) == (*SIZE, 3)
    assert not is_corrupt(path)


def test_screen_images_moves_corrupt_files_aside(tmp_path, capsys):
    root = make_classes(tmp_path / "train", ext=".jpg")
    bad = corrupt_files(root / "cats")
    moved = screen_images(root)
    assert len(moved) == 3
    quarantine = tmp_path / "train.corrupt"
    assert sorted(p.relative_to(quarantine).as_posix() for p in moved) == [
        "cats/cut.jpg", "cats/empty.jpg", "cats/noise.jpg"]
    assert all(p.exists() for p in moved)
    assert not any(p.exists() for p in bad)
    assert "Moved 3 corrupt" in capsys.readouterr().out
    assert len(image_files(root)) == 7
    assert screen_images(root) == []  # nothing left to move, and nothing said
    assert capsys.readouterr().out == ""


def test_fit_over_a_folder_with_corrupt_files_does_not_crash(tmp_path, capsys):
    root = make_classes(tmp_path / "train", ext=".jpg")
    corrupt_files(root / "dogs")
    b = get_batches(root, batch_size=4, target_size=SIZE)
    assert "Moved 3 corrupt" in capsys.readouterr().out
    assert b.samples == 7
    assert sorted(p.name for p in (tmp_path / "train.corrupt" / "dogs").iterdir()) == [
        "cut.jpg", "empty.jpg", "noise.jpg"]
    history = tiny_model().fit(b, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("kind", ["empty.jpg", "noise.jpg", "cut.jpg"])
def test_without_screening_each_corrupt_file_crashes_a_fit(tmp_path, kind):
    """The control for the test above: every kind of file screened aside really breaks a fit."""
    import tensorflow as tf
    root = make_classes(tmp_path / "train", ext=".jpg")
    bad = {p.name: p for p in corrupt_files(tmp_path / "bad")}
    bad[kind].rename(root / "dogs" / kind)
    b = get_batches(root, batch_size=4, target_size=SIZE, screen=False)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tiny_model().fit(b, epochs=1, verbose=0)


# ---------------------------------------------------------------------------------------------
# Whole arrays and labels


def test_get_data_returns_every_image_in_filenames_order(tmp_path):
    root = make_classes(tmp_path / "train")
    data = get_data(root, target_size=SIZE, batch_size=3)
    assert data.shape == (7, *SIZE, 3)
    assert data.dtype == np.float32
    b = get_batches(root, shuffle=False, target_size=SIZE)
    assert pixel_ids(data) == ids_of(b.filenames)


def test_get_data_resizes(tmp_path):
    root = make_classes(tmp_path / "train", classes=(("a", (4, 5)),))
    assert get_data(root, target_size=(16, 24)).shape == (2, 16, 24, 3)


def test_get_data_of_an_empty_folder_is_an_empty_array(tmp_path):
    """get_data's own code returns zeros((0, h, w, 3)) when a folder holds no images (for example
    after screening moved all of them aside); the folder must not make it raise first."""
    root = tmp_path / "test" / "unknown"
    root.mkdir(parents=True)
    data = get_data(tmp_path / "test", target_size=SIZE)
    assert data.shape == (0, *SIZE, 3)


def test_get_classes_on_a_prepared_layout(tmp_path):
    make_classes(tmp_path / "train", classes=(("cats", (1, 2, 3)), ("dogs", (4, 5))))
    make_classes(tmp_path / "valid", classes=(("cats", (6,)), ("dogs", (7, 8))))
    make_classes(tmp_path / "test", classes=(("unknown", (10, 9)),))
    (val_classes, trn_classes, val_labels, trn_labels,
     val_filenames, filenames, test_filenames) = get_classes(tmp_path)
    assert trn_classes.tolist() == [0, 0, 0, 1, 1]
    assert val_classes.tolist() == [0, 1, 1]
    np.testing.assert_array_equal(trn_labels, onehot([0, 0, 0, 1, 1]))
    np.testing.assert_array_equal(val_labels, [[1, 0], [0, 1], [0, 1]])
    assert filenames == ["cats/1.png", "cats/2.png", "cats/3.png", "dogs/4.png", "dogs/5.png"]
    assert val_filenames == ["cats/6.png", "dogs/7.png", "dogs/8.png"]
    assert test_filenames == ["unknown/10.png", "unknown/9.png"]


def test_get_classes_without_test_folder(tmp_path):
    make_classes(tmp_path / "train", classes=(("a", (1,)), ("b", (2,))))
    make_classes(tmp_path / "valid", classes=(("a", (3,)), ("b", (4,))))
    assert get_classes(tmp_path)[-1] == []


def test_random_affine_without_randomness_is_the_identity_and_mirror():
    import tensorflow as tf

    from utils.images import RandomAffine
    x = tf.constant(np.arange(2 * 6 * 8 * 3, dtype="float32").reshape(2, 6, 8, 3))
    assert np.allclose(RandomAffine(0, 0, 0, False)(x, training=True), x, atol=1e-3)
    flipped = RandomAffine(0, 0, 0, True)(x, training=True).numpy()
    for out, src in zip(flipped, x.numpy()):
        assert np.allclose(out, src, atol=1e-3) or np.allclose(out, src[:, ::-1], atol=1e-3)
    assert np.array_equal(RandomAffine()(x, training=False), x)


def test_random_affine_moves_pixels_and_keeps_shape_and_range():
    import tensorflow as tf

    from utils.images import RandomAffine
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"))
    y = RandomAffine(10, 0.1, 0.1, True)(x, training=True).numpy()
    assert y.shape == x.shape
    assert 0 <= y.min() and y.max() <= 255  # bilinear mixes and edge fill never leave 0-255
    assert not np.allclose(y, x.numpy())


def test_random_affine_shears_a_vertical_line_into_a_slanted_one():
    import tensorflow as tf

    from utils.images import RandomAffine
    x = np.zeros((4, 33, 33, 3), "float32")
    x[:, :, 16] = 255
    tf.random.set_seed(0)
    y = RandomAffine(0, 0, 0, False, shear=30)(tf.constant(x), training=True).numpy()
    top, bottom = y[:, 2, :, 0].argmax(1), y[:, -3, :, 0].argmax(1)
    assert (top - 16 == 16 - bottom).all()  # a slant about the centre, not a shift
    assert len(set(top)) > 2  # each image by its own random angle
    assert np.allclose(y[:, 16], x[:, 16], atol=1)  # the centre row stays put
    assert RandomAffine(shear=5).get_config()["shear"] == 5


# ---------------------------------------------------------------------------------------------
# Bad input the screen used to let through


def garbled_jpeg(value=7):
    """A valid JPEG with its middle overwritten: the end marker is still there."""
    whole = bytearray(jpeg_bytes(value, size=(64, 64)))
    mid = len(whole) // 2
    whole[mid:mid + 50] = b"\xff" * 50
    return bytes(whole)


def test_a_jpeg_garbled_in_the_middle_is_screened_before_it_stops_a_fit(tmp_path):
    """Its end marker is intact, so a header check passes it; TensorFlow's decoder then fails in
    the middle of an epoch. The screen decodes fully and moves it aside."""
    import tensorflow as tf
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(garbled_jpeg())
    assert JPEG_END in bad.read_bytes()[-64:]
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.io.decode_jpeg(tf.io.read_file(str(bad)))
    assert is_corrupt(bad)
    root = make_classes(tmp_path / "train", ext=".jpg")
    (root / "dogs" / "garbled.jpg").write_bytes(garbled_jpeg())
    b = get_batches(root, batch_size=4, target_size=SIZE)
    assert b.samples == 7 and (tmp_path / "train.corrupt" / "dogs" / "garbled.jpg").exists()
    assert np.isfinite(tiny_model().fit(b, epochs=1, verbose=0).history["loss"][0])


def test_a_dangling_link_is_moved_aside_and_the_screen_goes_on(tmp_path, capsys):
    """A link whose target is gone used to raise FileNotFoundError half-way through the screen,
    leaving later corrupt files in place. Now it is moved aside as the link, like a corrupt file."""
    root = make_classes(tmp_path / "train", ext=".jpg")
    (root / "cats" / "0gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    corrupt_files(root / "dogs")
    moved = screen_images(root)
    assert sorted(p.name for p in moved) == ["0gone.jpg", "cut.jpg", "empty.jpg", "noise.jpg"]
    link = tmp_path / "train.corrupt" / "cats" / "0gone.jpg"
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "nowhere.jpg")
    out = capsys.readouterr().out
    assert "Moved 4 corrupt" in out and "1 of them link(s) to missing files" in out
    assert len(image_files(root)) == 7


def listing(folder):
    """Every entry under a folder, and the folder itself, with its size and modification time."""
    return {p: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in (folder, *folder.rglob("*"))}


def test_a_read_only_folder_keeps_its_corrupt_files_named_and_out_of_every_batch(tmp_path, capsys,
                                                                                  read_only):
    """A read-only folder (a Kaggle Notebooks mount, another user's folder) cannot give its
    corrupt files up: they stay where they are, each named, and no batch reads them."""
    root = make_classes(tmp_path / "mount" / "train")
    (root / "dogs" / "0gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    corrupt_files(root / "dogs")
    before = listing(read_only(tmp_path / "mount"))
    assert screen_images(root) == []
    out = capsys.readouterr().out
    assert "Left out 4 corrupt" in out
    for name in ("dogs/0gone.jpg", "dogs/cut.jpg", "dogs/empty.jpg", "dogs/noise.jpg"):
        assert name in out
    b = get_batches(root, shuffle=False, batch_size=3, target_size=SIZE)
    assert b.samples == 7 and len(b) == 3 and b.classes.tolist() == [0, 0, 0, 0, 1, 1, 1]
    images, labels = (np.concatenate(parts) for parts in zip(*b))
    assert pixel_ids(images) == ids_of(b.filenames) == [1, 10, 100, 2, 20, 200, 3]
    np.testing.assert_array_equal(labels.argmax(1), b.classes)
    shuffled = get_batches(root, batch_size=3, target_size=SIZE, screen=False)
    assert shuffled.samples == 7 and sorted(shuffled.filenames) == sorted(b.filenames)
    assert np.isfinite(tiny_model().fit(shuffled, epochs=1, verbose=0).history["loss"][0])
    assert pixel_ids(get_data(root / "dogs", target_size=SIZE)) == [20, 200, 3]
    assert listing(tmp_path / "mount") == before


def test_a_file_name_tensorflow_cannot_read_is_named_with_what_to_do(tmp_path):
    """A name that is not UTF-8 (copied from an old Windows or Latin-1 disk) reaches Python as
    surrogate escapes, which TensorFlow cannot take as a path."""
    root = make_classes(tmp_path / "train")
    bad = write_const(os.fsdecode(os.fsencode(root / "cats") + b"/caf\xe9.png"), 5)
    calls = {"get_batches": lambda: get_batches(root, target_size=SIZE),
             "unscreened": lambda: get_batches(root, target_size=SIZE, screen=False),
             "screen_images": lambda: screen_images(root),
             "get_data": lambda: get_data(root / "cats", target_size=SIZE)}
    for name, call in calls.items():
        with pytest.raises(ValueError, match="not UTF-8") as caught:
            call()
        message = str(caught.value)
        assert f"{root}/cats/caf\\xe9.png" in message and "Rename it" in message, name
        message.encode("utf-8")  # printable as it is
    assert bad.exists() and not (tmp_path / "train.corrupt").exists()


def test_an_empty_class_folder_is_named_not_silently_class_0(tmp_path, capsys):
    root = make_classes(tmp_path / "train")
    (root / "aardvarks").mkdir()
    b = get_batches(root, shuffle=False, target_size=SIZE)
    out = capsys.readouterr().out
    assert "1 class folder(s)" in out and "aardvarks=0" in out
    # the class numbers stay those of the folders, so they match a split that has the images
    assert b.class_indices == {"aardvarks": 0, "cats": 1, "dogs": 2}


# ---------------------------------------------------------------------------------------------
# The batches object


def test_batches_carry_the_course_attributes_and_leave_the_dataset_alone(tmp_path):
    import tensorflow as tf
    root = make_classes(tmp_path / "train")
    b = get_batches(root, shuffle=False, batch_size=3, target_size=SIZE)
    assert b.shuffle is False and b.n == b.samples == 7 and b.batch_size == 3 and len(b) == 3
    assert isinstance(b, keras.utils.PyDataset) and isinstance(b.dataset, tf.data.Dataset)
    for ds in (b.dataset, b.dataset.map(lambda x, y: (x, y)), b.map(lambda x, y: (x, y)).dataset):
        assert callable(ds.shuffle) and not hasattr(ds, "samples")
    mapped = b.map(lambda x, y: (x / 255, y))
    assert mapped.filenames == b.filenames and mapped.shuffle is False
    x, y = next(iter(mapped))
    assert pixel_ids(np.asarray(x) * 255) == ids_of(b.filenames)[:3]


def test_fit_reads_every_image_once_an_epoch_with_labels_kept(tmp_path):
    """Keras shuffles a PyDataset's batch indices; each epoch must still be one pass in which
    every image keeps its own label."""
    root = make_classes(tmp_path / "train")
    b = get_batches(root, shuffle=True, batch_size=3, target_size=SIZE)
    for _ in range(2):
        b.on_epoch_begin()
        got = [b[i] for i in (2, 0, 1)]  # any index: the next batch of this pass
        ids = sum((pixel_ids(x) for x, _ in got), [])
        labels = np.concatenate([y for _, y in got]).argmax(1)
        assert sorted(ids) == sorted(CATS + DOGS)
        assert [0 if i in CATS else 1 for i in ids] == labels.tolist()
    assert np.isfinite(tiny_model().fit(b, epochs=2, verbose=0).history["loss"][-1])
