"""Tests for utils/arrays.py: the course's save_array / load_array cache and ArrayWriter."""
import contextlib
import errno
import os
import re
import resource
import shutil
import signal
import sys
import traceback

import numpy as np
import pytest

from utils import arrays
from utils.arrays import ArrayWriter, load_array, save_array

try:
    import bcolz
except ImportError:  # optional: it has no wheels for Python 3.13, where these tests cannot write one
    bcolz = None
needs_bcolz = pytest.mark.skipif(bcolz is None, reason="bcolz (optional) is not installed")

RNG = np.random.default_rng(0)
# About 6 MB of VGG-like conv features: ReLU output, so half zeros.
FEATS = np.maximum(RNG.standard_normal((64, 512, 7, 7), dtype=np.float32), 0)

ARRAYS = {
    "relu_features_4d": FEATS,
    "int_labels": RNG.integers(0, 10, size=1000),
    "float64_1d": RNG.standard_normal(777),
    "uint8_images": RNG.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8),
    "bool_1d": RNG.random(50) > 0.5,
    "empty": np.zeros((0, 10), np.float32),
}


def leftovers(folder):
    """Hidden staging files or folders that a save left behind."""
    return [name for name in os.listdir(folder) if name.startswith(".")]


def assert_same(got, want):
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ARRAYS)
def test_round_trip_keeps_dtype_shape_values(tmp_path, name):
    arr = ARRAYS[name]
    save_array(tmp_path / "a.bc", arr)
    got = load_array(tmp_path / "a.bc")
    assert type(got) is np.ndarray  # a full load is in memory, not a memmap
    assert_same(got, arr)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["results/train_data.bc", "results/conv_feat.dat",
                                  "results/deep/er/val_labels.bc"])
def test_course_style_names_and_parent_folders(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    save_array(name, FEATS[:4])
    # Like bcolz, the name is a folder, now holding a raw .npy and the marker.
    assert (tmp_path / name).is_dir()
    assert sorted(os.listdir(name)) == [arrays.DATA_FILE, arrays.MARKER_FILE]
    assert_same(load_array(name), FEATS[:4])
    # The inner file is plain NumPy, readable without this module.
    assert_same(np.load(os.path.join(name, arrays.DATA_FILE)), FEATS[:4])


def test_npy_paths_are_single_files(tmp_path):
    save_array(tmp_path / "sub" / "x.npy", ARRAYS["int_labels"])
    assert (tmp_path / "sub" / "x.npy").is_file()
    assert_same(np.load(tmp_path / "sub" / "x.npy"), ARRAYS["int_labels"])
    np.save(tmp_path / "plain.npy", ARRAYS["float64_1d"])
    assert_same(load_array(tmp_path / "plain.npy"), ARRAYS["float64_1d"])
    assert_same(load_array(str(tmp_path / "plain.npy"), mmap=True), ARRAYS["float64_1d"])


def test_overwrite_replaces_old_array(tmp_path):
    path = tmp_path / "a.bc"
    save_array(path, FEATS)
    save_array(path, ARRAYS["int_labels"])
    assert_same(load_array(path), ARRAYS["int_labels"])
    save_array(tmp_path / "x.npy", FEATS[:2])
    save_array(tmp_path / "x.npy", FEATS[2:3])
    assert_same(load_array(tmp_path / "x.npy"), FEATS[2:3])
    assert leftovers(tmp_path) == []


def write_bcolz(path, arr):
    """Write a rootdir the way the 2017 course's save_array did."""
    path.parent.mkdir(parents=True, exist_ok=True)
    c = bcolz.carray(arr, rootdir=str(path), mode="w")
    c.flush()


@needs_bcolz
def test_reads_old_course_bcolz_folders(tmp_path):
    path = tmp_path / "results" / "train_data.bc"
    write_bcolz(path, FEATS)
    assert (path / "meta").is_dir() and (path / "data").is_dir()
    assert_same(load_array(path), FEATS)
    assert_same(load_array(str(path)), FEATS)


@needs_bcolz
def test_old_bcolz_folder_opens_lazily_as_carray(tmp_path):
    path = tmp_path / "conv_feat.dat"
    write_bcolz(path, FEATS)
    lazy = load_array(path, mmap=True)
    assert isinstance(lazy, bcolz.carray) and not isinstance(lazy, np.ndarray)
    assert lazy.shape == FEATS.shape and lazy.dtype == FEATS.dtype
    np.testing.assert_array_equal(lazy[10:20], FEATS[10:20])
    np.testing.assert_array_equal(lazy[-1], FEATS[-1])


@needs_bcolz
def test_save_array_replaces_an_old_bcolz_folder(tmp_path):
    path = tmp_path / "train_data.bc"
    write_bcolz(path, FEATS)
    save_array(path, FEATS[:3])
    assert (path / arrays.MARKER_FILE).is_file()
    assert_same(load_array(path), FEATS[:3])


def without_bcolz(monkeypatch):
    """Make `import bcolz` fail, as on a Python where it is not installed."""
    monkeypatch.setitem(sys.modules, "bcolz", None)


def test_old_bcolz_folder_without_bcolz_says_how_to_convert(tmp_path, monkeypatch):
    path = tmp_path / "results" / "train_data.bc"
    for sub in ("meta", "data"):  # the rootdir layout is enough to be told apart
        (path / sub).mkdir(parents=True)
    (path / "__attrs__").write_text("{}")
    without_bcolz(monkeypatch)
    with pytest.raises(ImportError) as err:
        load_array(path)
    message = str(err.value)
    assert "pip install 'bcolz-zipline>=1.12'" in message
    assert f"save_array('{path}', load_array('{path}'))" in message
    assert (path / "__attrs__").is_file()  # nothing was touched


@needs_bcolz
def test_the_suggested_conversion_makes_a_folder_any_python_reads(tmp_path, monkeypatch):
    path = tmp_path / "conv_feat.bc"
    write_bcolz(path, FEATS)
    save_array(path, load_array(path))
    without_bcolz(monkeypatch)
    assert_same(load_array(path), FEATS)


def damage(path, how):
    """Break a bcolz rootdir the way an interrupted copy or save does."""
    if how == "no sizes":
        (path / "meta" / "sizes").unlink()
    elif how == "empty data":
        shutil.rmtree(path / "data")
        (path / "data").mkdir()
    elif how == "missing chunk":
        (path / "data" / "__0.blp").unlink()
    elif how == "truncated chunk":
        with open(path / "data" / "__0.blp", "r+b") as f:
            f.truncate(100)
    elif how == "garbage chunk":
        (path / "data" / "__0.blp").write_bytes(b"garbage")


# A lazy open (mmap) reads chunk contents only when sliced, so it can tell only missing files.
DAMAGE = [(how, False) for how in ("no sizes", "empty data", "missing chunk", "truncated chunk",
                                   "garbage chunk")] + [(how, True) for how in ("no sizes",
                                                                              "empty data",
                                                                              "missing chunk")]


@needs_bcolz
@pytest.mark.parametrize("how, mmap", DAMAGE, ids=[f"{h}-{'mmap' if m else 'load'}" for h, m in DAMAGE])
def test_damaged_bcolz_folder_is_one_clear_error(tmp_path, how, mmap):
    path = tmp_path / "train_data.bc"
    write_bcolz(path, FEATS)
    damage(path, how)
    with pytest.raises(ValueError, match="incomplete or damaged bcolz folder") as err:
        load_array(path, mmap=mmap)
    assert str(path) in str(err.value)
    assert one_traceback(err.value)  # bcolz's own reason is in the message already


def edit_header(npy, old, new):
    """Overwrite part of a .npy header in place, as a flipped byte or a bad copy does."""
    data = npy.read_bytes()
    assert len(old) == len(new) and data.count(old) == 1
    npy.write_bytes(data.replace(old, new))


def assert_damaged(err, npy):
    """One error naming the file, saying to save it again, and never offering to unpickle."""
    message = str(err.value)
    assert f"'{npy}' is damaged" in message and "run the step that saves it" in message
    assert "pickle" not in message.lower()
    assert one_traceback(err.value)


def one_traceback(exc):
    """True when exc prints as one traceback: no cause or context chained above it."""
    printed = "".join(traceback.format_exception(exc))
    return printed.count("Traceback (most recent call last)") == 1


MISMATCH = {
    "shape": lambda npy: edit_header(npy, b"(6, 512, 7, 7)", b"(3, 512, 7, 7)"),
    "dtype": lambda npy: edit_header(npy, b"'<f4'", b"'<i4'"),
    "swapped": lambda npy: np.save(npy, ARRAYS["int_labels"]),  # another step's array.npy
}


@pytest.mark.parametrize("mmap", [False, True], ids=["load", "mmap"])
@pytest.mark.parametrize("how", MISMATCH)
def test_data_that_does_not_match_its_marker_is_one_clear_error(tmp_path, how, mmap):
    # Each of these still parses as a .npy, so NumPy alone would load another shape or type.
    path = tmp_path / "train_data.bc"
    save_array(path, FEATS[:6])
    MISMATCH[how](path / arrays.DATA_FILE)
    with pytest.raises(ValueError, match=f"does not match its {arrays.MARKER_FILE}") as err:
        load_array(path, mmap=mmap)
    assert_damaged(err, path / arrays.DATA_FILE)
    assert "(6, 512, 7, 7) float32" in str(err.value)  # what the marker says it should be


@pytest.mark.parametrize("mmap", [False, True], ids=["load", "mmap"])
@pytest.mark.parametrize("how", ["not numpy", "truncated", "cut marker"])
def test_a_damaged_array_file_says_so_and_never_suggests_pickle(tmp_path, how, mmap):
    path = tmp_path / "train_data.bc"
    save_array(path, FEATS[:6])
    npy, marker = path / arrays.DATA_FILE, path / arrays.MARKER_FILE
    if how == "not numpy":
        npy.write_bytes(b"<html>Service Unavailable</html>" * 100)
    elif how == "truncated":
        npy.write_bytes(npy.read_bytes()[:100_000])
    else:
        marker.write_text(marker.read_text()[:40])
    with pytest.raises(ValueError) as err:
        load_array(path, mmap=mmap)
    assert_damaged(err, marker if how == "cut marker" else npy)


def test_mmap_load_returns_readonly_memmap_slices(tmp_path):
    path = tmp_path / "conv_feat.bc"
    save_array(path, FEATS)
    lazy = load_array(path, mmap=True)
    # A memmap maps the file; pages are read only when slices touch them.
    assert isinstance(lazy, np.memmap)
    assert lazy.shape == FEATS.shape and lazy.dtype == FEATS.dtype
    np.testing.assert_array_equal(lazy[5:9], FEATS[5:9])
    np.testing.assert_array_equal(lazy[:, 3], FEATS[:, 3])
    with pytest.raises(ValueError):
        lazy[0, 0, 0, 0] = 1  # read-only: a cache is not edited by accident


def test_array_writer_writes_batches(tmp_path):
    path = tmp_path / "results" / "conv_feat.bc"
    batches = [FEATS[:10], FEATS[10:11], FEATS[11:40], FEATS[40:]]
    with ArrayWriter(path) as w:
        for b in batches:
            w.append(b)
            assert not path.exists()  # appears only once complete
        assert w.shape == FEATS.shape
    assert_same(load_array(path), FEATS)
    lazy = load_array(path, mmap=True)
    assert isinstance(lazy, np.memmap)
    np.testing.assert_array_equal(lazy[30:50], FEATS[30:50])
    assert leftovers(path.parent) == []


def test_array_writer_npy_file_and_dtype_cast(tmp_path):
    w = ArrayWriter(tmp_path / "preds.npy")
    w.append(np.zeros((3, 2), np.float32))
    w.append(np.ones((2, 2), np.float64))  # float64 predictions go into the float32 file
    w.close()
    got = np.load(tmp_path / "preds.npy")
    assert_same(got, np.array([[0, 0]] * 3 + [[1, 1]] * 2, np.float32))


def test_array_writer_many_rows_header_grows_in_place(tmp_path):
    w = ArrayWriter(tmp_path / "labels.bc")
    for start in range(0, 123_457, 10_000):
        w.append(np.arange(start, min(start + 10_000, 123_457)))
    w.close()
    assert_same(load_array(tmp_path / "labels.bc"), np.arange(123_457))


def test_array_writer_rejects_bad_batches(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        with ArrayWriter(tmp_path / "a.bc") as w:
            w.append(np.zeros((2, 3)))
            w.append(np.zeros((2, 4)))
    with pytest.raises(TypeError):
        with ArrayWriter(tmp_path / "b.bc") as w:
            w.append(np.zeros((2, 3), np.int64))
            w.append(np.full((2, 3), 0.5))  # floats would be truncated into an int file
    with pytest.raises(ValueError, match="nothing was appended"):
        ArrayWriter(tmp_path / "c.bc").close()
    assert os.listdir(tmp_path) == []


def test_array_writer_interrupted_leaves_nothing(tmp_path):
    path = tmp_path / "conv_feat.bc"
    save_array(path, ARRAYS["int_labels"])  # an older complete array of the same name
    with pytest.raises(KeyboardInterrupt):
        with ArrayWriter(path) as w:
            w.append(FEATS[:10])
            raise KeyboardInterrupt  # the kernel is interrupted mid-precompute
    assert_same(load_array(path), ARRAYS["int_labels"])
    assert leftovers(tmp_path) == []


def half_save_then_fail(exc):
    """A stand-in for np.save that writes half the bytes, then fails like a full disk or ^C."""
    real_save = np.save

    def fake(f, arr, **kwargs):
        real_save(f, arr, **kwargs)
        f.truncate(f.tell() // 2)
        raise exc
    return fake


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("name", ["train_data.bc", "train_data.npy"])
def test_interrupted_save_leaves_no_loadable_half_file(tmp_path, monkeypatch, exc, name):
    path = tmp_path / name
    monkeypatch.setattr(arrays.np, "save", half_save_then_fail(exc))
    with pytest.raises(type(exc)):
        save_array(path, FEATS)
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError):
        load_array(path)
    assert os.listdir(tmp_path) == []


def test_interrupted_overwrite_keeps_the_old_array(tmp_path, monkeypatch):
    path = tmp_path / "train_data.bc"
    save_array(path, ARRAYS["int_labels"])
    monkeypatch.setattr(arrays.np, "save", half_save_then_fail(OSError("disk full")))
    with pytest.raises(OSError):
        save_array(path, FEATS)
    monkeypatch.undo()
    assert_same(load_array(path), ARRAYS["int_labels"])
    assert leftovers(tmp_path) == []


@contextlib.contextmanager
def full_disk(form, monkeypatch):
    """Make the save's writes fail as on a full disk, in one of the two forms NumPy gives."""
    if form == "ENOSPC":
        # /dev/full fails every write with ENOSPC; NumPy's flush of the header meets it first.
        real_open = open
        monkeypatch.setattr(arrays, "open", lambda path, mode="r": real_open(
            "/dev/full" if "w" in mode else path, mode), raising=False)
        yield
        return
    # A file-size limit makes writes past 1 MiB come up short, as a disk that fills there does:
    # tofile then raises NumPy's own "N requested and M written", with no errno.
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the default kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)


def write_in_batches(path, arr):
    """ArrayWriter without a with-block: a failed append alone must leave nothing behind."""
    w = ArrayWriter(path)
    for start in range(0, len(arr), 10):
        w.append(arr[start:start + 10])
    w.close()


@pytest.mark.parametrize("form", ["short write", "ENOSPC"])
@pytest.mark.parametrize("save", [save_array, write_in_batches], ids=["save_array", "ArrayWriter"])
@pytest.mark.parametrize("name", ["train_data.bc", "train_data.npy"])
def test_a_full_disk_says_so_where_and_how_much_and_keeps_the_old_array(tmp_path, monkeypatch,
                                                                       name, save, form):
    path = tmp_path / name
    save_array(path, ARRAYS["int_labels"])
    with pytest.raises(OSError) as err, full_disk(form, monkeypatch):
        save(path, FEATS)
    message = str(err.value)
    assert "disk is full" in message and f"'{path}'" in message
    assert re.search(r"needs (at least )?\d+(\.\d+)?[kMG]B", message)  # how much, readable
    assert err.value.errno == errno.ENOSPC and one_traceback(err.value)
    monkeypatch.undo()
    assert_same(load_array(path), ARRAYS["int_labels"])
    assert leftovers(tmp_path) == []


def test_missing_path_error_names_path_and_save_array(tmp_path):
    path = tmp_path / "results" / "train_data.bc"
    with pytest.raises(FileNotFoundError) as err:
        load_array(path)
    assert str(path) in str(err.value) and "save_array" in str(err.value)


def test_unknown_folder_or_file_is_a_clear_error(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not an array")
    with pytest.raises(ValueError, match="neither a save_array folder .* nor a bcolz rootdir"):
        load_array(tmp_path / "notes")
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="not a .npy file"):
        load_array(tmp_path / "x.csv")


def test_save_refuses_to_replace_a_folder_that_is_not_an_array(tmp_path):
    # Saving under a name like 'results' by mistake must not wipe that folder.
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "sub.csv").write_text("keep me")
    with pytest.raises(ValueError, match="neither"):
        save_array(tmp_path / "results", FEATS)
    assert (tmp_path / "results" / "sub.csv").read_text() == "keep me"
    assert leftovers(tmp_path) == []


def test_mixed_precision_outputs_are_saved_as_float32_numbers(tmp_path):
    # A model under mixed_bfloat16 can hand back bfloat16 arrays; np.save alone writes them as
    # raw two-byte voids that load back as no numbers at all.
    ml_dtypes = pytest.importorskip("ml_dtypes")
    preds = RNG.random((6, 3)).astype(ml_dtypes.bfloat16)
    save_array(tmp_path / "preds.bc", preds)
    back = load_array(tmp_path / "preds.bc")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, preds.astype(np.float32))
    with ArrayWriter(tmp_path / "rows.npy") as w:
        w.append(preds[:4])
        w.append(preds[4:])
    assert load_array(tmp_path / "rows.npy").dtype == np.float32
    np.testing.assert_array_equal(load_array(tmp_path / "rows.npy"), preds.astype(np.float32))
