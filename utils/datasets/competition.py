"""What the three Kaggle competitions (dogs vs cats, State Farm, Fisheries) share; lessons 1-4, 7.

The rule every dataset follows says when the stand-in is used instead of the real data
(`standin.by_mode`, here with Kaggle's errors); `utils.kaggle.fetch` says in which order the real
data's sources are tried (already fetched or extracted by hand under the data folder, the Kaggle
Notebooks mount, a hand-downloaded zip, the API). Whatever the source, the prepared folders live under the data folder:
files are placed there by linking or copying (`place`), never by writing to a read-only source.
`sample_test` gives a sample its own test images and a sample submission for exactly those, and
`record` turns a prepared folder into the `Data` record a lesson reads.
"""
import os
import shutil
from pathlib import Path

import numpy as np

from utils.datasets.base import Data
from utils.datasets.standin import by_mode, kind
from utils.kaggle.api import KaggleError
from utils.kaggle.submission import read_sample  # its errors say what is wrong with the file


def real_or_standin(mode, title, get_real, get_standin):
    """A competition by data mode (`standin.by_mode`, the rule every dataset follows): in 'auto'
    a KaggleError (no mount, no zip, no credentials, no network) is printed, then the stand-in."""
    return by_mode(mode, title, get_real, get_standin, KaggleError)


def place(src, dst):
    """Put `src`'s content at `dst` without writing to `src`: hard link, else symlink, else copy."""
    dst = Path(dst)
    if os.path.lexists(dst):
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(f".{dst.name}.part")  # a copy cut short never takes the name
    part.unlink(missing_ok=True)
    # A hard link or symlink costs no space; a read-only mount on another disk refuses the first.
    for link in (os.link, lambda s, d: os.symlink(Path(s).resolve(), d)):
        try:
            link(src, dst)
            return dst
        except OSError:
            continue
    shutil.copy2(src, part)
    os.replace(part, dst)
    return dst


def read_ids(sample_submission):
    """The ids (first column, as text) of a sample submission, in its order."""
    return [i.strip() for i in read_sample(sample_submission).iloc[:, 0]]


def sample_test(test_files, dest, sample_submission, sample_csv, id_of, n, seed=0, also=()):
    """Place a seeded `n` of the test images in `dest` and write the sample submission's rows for
    exactly those, and for the ids in `also` (another folder's, sampled before), to `sample_csv`;
    returns the sample's ids."""
    test_files = sorted(test_files, key=lambda p: p.name)
    chosen = sorted(np.random.default_rng(seed + 2).permutation(len(test_files))[:n])
    picked = [test_files[i] for i in chosen]
    table = read_sample(sample_submission)
    wanted = {id_of(p.name) for p in picked} | set(also)
    rows = table[table.iloc[:, 0].str.strip().isin(wanted)]
    if len(rows) != len(wanted):
        missing = sorted(wanted - set(rows.iloc[:, 0].str.strip()))
        raise ValueError(f"{sample_submission} has no row for the test images {missing[:3]}: the "
                         "test folder and the sample submission disagree; fetch the data again.")
    Path(dest).mkdir(parents=True, exist_ok=True)
    for p in picked:
        place(p, Path(dest) / p.name)
    sample_csv, text = Path(sample_csv), rows.to_csv(index=False)
    if not (sample_csv.is_file() and sample_csv.read_text() == text):  # a re-run leaves it be
        tmp = sample_csv.with_name(f".{sample_csv.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, sample_csv)
    return list(rows.iloc[:, 0].str.strip())


def count_images(folder):
    """JPEG files anywhere under a folder."""
    return sum(1 for _ in Path(folder).rglob("*.jpg"))


def record(name, folder, mode, standin, parts, sample_submission, info=None):
    """The Data record of a prepared competition folder, its test ids read from the sample."""
    counts = {part: count_images(where) for part, where in parts.items()}
    summary = (f"{name}: {kind(mode, standin)}, " + ", ".join(f"{n} {part}" for part, n in counts.items())
               + f" images, at {folder}")
    return Data(name=name, path=Path(folder), standin=standin, mode=mode, parts=dict(parts),
                sample_submission=Path(sample_submission),
                test_ids=read_ids(sample_submission), info={**(info or {}), "counts": counts},
                summary=summary)
