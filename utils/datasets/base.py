"""The one contract every dataset module keeps: `get(data, *, ...)` returns a `Data` record.

Every module in `utils/datasets/` has an entry point `get(data="auto", *, ...)` taking one of
`DATA_MODES` and returning a `Data`: where the prepared data is, whether it is the stand-in, its
parts by name, and (for Kaggle competitions) the sample submission and the test ids. A lesson
never works out a path of its own: it asks the record, and prints it to say what it got.

`get` prints nothing: why it fell back to the stand-in, and the stand-in's banner, are the
record's `notes`, shown when the record is printed. (Only a download that takes minutes, GloVe's or
fastText's vectors, shows Keras's progress bar, and a cached file found damaged is a warning.)
After `data` every argument is keyword-only, and the same idea has the same name in every module:
- `path`: the folder the real data is read from, or fetched into (default: under the data folder);
- `origin`: the URL a downloaded dataset comes from;
- `valid_size`: how much of the training data to hold out for validation: a float below 1 is a
  share, an int a count (as scikit-learn's `test_size`);
- `n_sample`: how much of the real data mode 'sample' keeps;
- `standin`: the module's `Standin` record, the stand-in's settings with their defaults;
- `seed`: the seed of every random choice the preparation makes.

Conventions every dataset keeps:
- `mode` 'sample' is a small subset of the REAL data with the same parts as the full set (for a
  competition: its own test images and a sample submission covering exactly them), made by the
  kit where the source has none; it is never the stand-in (`standin` is False).
- Image datasets' parts are folders: 'train' and 'valid' hold one subfolder per class; 'test' is
  the folder to read unlabelled (`class_mode=None`), its images in `test/unknown/` or flat.
- Prepared folders live under the data folder (`utils.paths.data_dir()`); a read-only source (a
  Kaggle Notebooks mount) is linked or copied from, never written to.
- `test_ids` are text, as the sample submission's first column spells them.
"""
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Data:
    """A dataset as a lesson uses it: where it is, what it is, and its parts; all lessons."""

    name: str                      # the dataset, e.g. Kaggle's competition name
    path: Path                     # the prepared folder (or file) everything else lives under
    standin: bool                  # True: synthetic data in the real layout, not the real thing
    mode: str                      # the mode served: 'full', 'sample' or 'standin'
    parts: dict = field(default_factory=dict)  # part name -> folder, file or arrays
    sample_submission: Path | None = None      # the competition's sample submission CSV
    test_ids: list | None = None               # ids of the test rows (text), in the sample's order
    info: dict = field(default_factory=dict)   # anything else worth keeping (counts, splits)
    summary: str = ""                          # one line saying what this is
    notes: tuple = ()                          # said before the summary: a fallback, a banner

    def __getitem__(self, part) -> Any:
        """A part by name (`data['train']`), or a KeyError naming the parts there are."""
        try:
            return self.parts[part]
        except KeyError:
            raise KeyError(f"{self.name} has no part {part!r}; it has {sorted(self.parts)}") from None

    def __str__(self):
        return "\n".join([*self.notes, self.summary or f"{self.name} ({self.mode}) at {self.path}"])


def valid_count(valid_size, total):
    """How many of `total` rows `valid_size` holds out: a float below 1 is a share, an int a count;
    at least one, and never all of them."""
    if isinstance(valid_size, float) and 0 < valid_size < 1:
        n = round(total * valid_size)
    elif isinstance(valid_size, numbers.Integral) and not isinstance(valid_size, bool):
        n = int(valid_size)
    else:
        n = None
    if n is None or not 0 < n < total:
        raise ValueError(f"valid_size={valid_size!r} must leave at least one of the {total:,} to validate "
                         "on and one to train on: give a share between 0 and 1, or a count")
    return n
