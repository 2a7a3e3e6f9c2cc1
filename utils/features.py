"""Precomputing a frozen model's outputs once, so the layers after it train in seconds.

Lessons 2-7 freeze the convolutional part of a pretrained network and train only what comes after.
Running every image through the frozen part each epoch wastes almost all the time, so we run it
once, save its outputs ("features") with `save_array`, and train the small head on those. The
features of a large dataset can be bigger than RAM: with `fname` they stream to disk batch by batch
and come back memory-mapped.
"""
import numpy as np
from tqdm import tqdm  # a text bar: it reads the same in a terminal and in HTML notes

from utils.arrays import ArrayWriter, load_array


def _batches_with_labels(batches):
    """(images, labels or None) for each batch of a dataset, whether or not it is labelled."""
    for item in batches:
        if isinstance(item, tuple):
            yield item[0], item[1]
        else:
            yield item, None


def precompute(model, batches, fname=None, progress=True):
    """Run `batches` through `model` once; returns (features, labels); lessons 2-4, 7."""
    # Only a plain True counts: on a tf.data.Dataset `shuffle` is the method, which says nothing
    # about the order (get_batches' Batches says it with a bool).
    if getattr(batches, "shuffle", False) is True:
        raise ValueError("Precompute from batches made with shuffle=False, or features and "
                         "file names will not line up.")
    total = getattr(batches, "samples", None)
    writer = ArrayWriter(fname) if fname else None
    chunks, labels = [], []
    # A few updates, not dozens: each one is a line in the HTML notes.
    with tqdm(total=total, unit="img", disable=not progress, desc="features", mininterval=3) as bar:
        for images, y in _batches_with_labels(batches):
            out = np.asarray(model.predict_on_batch(images))
            if out.dtype.kind == "V" or (out.dtype.kind == "f" and out.dtype.itemsize < 4):
                # Mixed precision on GPUs yields bfloat16, which .npy files cannot hold.
                out = out.astype("float32")
            if writer:
                writer.append(out)
            else:
                chunks.append(out)
            if y is not None:
                labels.append(np.asarray(y))
            bar.update(len(out))
    if writer:
        writer.close()
        features = load_array(fname, mmap=True)
    else:
        features = np.concatenate(chunks) if chunks else np.zeros((0,) + model.output_shape[1:])
    return features, (np.concatenate(labels) if labels else None)
