"""The one freshness rule: a stand-in is drawn anew when its settings or drawing code change,
and a folder not marked as a stand-in is never touched."""
from dataclasses import dataclass

import pytest

from utils.datasets import standin
from utils.datasets.standin import StandinError, made, recipe_of
from utils.standins.recipe import recipe


@dataclass(frozen=True)
class Size:
    n: int = 3


def draw(folder, settings, seed):
    (folder / "train.zip").write_text(f"{settings.n} drawn with seed {seed}")


def draw_otherwise(folder, settings, seed):
    (folder / "train.zip").write_text(f"{settings.n} drawn another way, seed {seed}")


def test_the_same_recipe_keeps_the_stand_in(tmp_path):
    dest = made(tmp_path / "things", draw, Size(), what="test", seed=0)
    stamp = (dest / "train.zip").stat().st_mtime_ns
    assert made(dest, draw, Size(), what="test", seed=0) == dest
    assert (dest / "train.zip").stat().st_mtime_ns == stamp
    assert standin.is_standin(dest) and recipe_of(dest)


@pytest.mark.parametrize("change", [
    dict(draw=draw_otherwise, settings=Size(), seed=0),   # the drawing code
    dict(draw=draw, settings=Size(4), seed=0),            # a setting
    dict(draw=draw, settings=Size(), seed=1),             # the seed
])
def test_a_stand_in_from_another_recipe_is_drawn_anew(tmp_path, change):
    dest = made(tmp_path / "things", draw, Size(), what="test", seed=0)
    (dest / "extracted.jpg").write_bytes(b"made from the old zip")
    made(dest, change["draw"], change["settings"], what="test", seed=change["seed"])
    assert not (dest / "extracted.jpg").exists()
    assert (dest / "train.zip").read_text() != "3 drawn with seed 0"


def test_a_stand_in_from_before_recipes_is_drawn_anew(tmp_path):
    dest = tmp_path / "old"
    dest.mkdir()
    (dest / standin.MARKER).write_text("STAND-IN DATA, not the real dataset.\nno recipe\n")
    (dest / "train.zip").write_text("old")
    made(dest, draw, Size(), what="test", seed=0)
    assert (dest / "train.zip").read_text() == "3 drawn with seed 0"


def test_real_data_is_never_touched(tmp_path):
    dest = tmp_path / "dogs-vs-cats-redux-kernels-edition"
    dest.mkdir()
    (dest / "train.zip").write_bytes(b"real")
    with pytest.raises(StandinError, match="not a stand-in and is left as it is"):
        made(dest, draw, Size(), what="test", seed=0)
    assert [p.name for p in dest.iterdir()] == ["train.zip"]
    assert (dest / "train.zip").read_bytes() == b"real"


def test_a_drawing_cut_short_never_takes_the_name(tmp_path):
    def broken(folder, settings, seed):
        (folder / "train.zip").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        made(tmp_path / "things", broken, Size(), what="test", seed=0)
    assert not (tmp_path / "things").exists()
    assert made(tmp_path / "things", draw, Size(), what="test", seed=0).joinpath("train.zip").read_text() \
        == "3 drawn with seed 0"


def test_the_recipe_follows_code_and_settings():
    def one(x):
        return x + 1

    def other(x):
        return x + 2
    assert recipe(one, n=10) == recipe(one, n=10)
    assert recipe(one, n=10) != recipe(one, n=11)
    assert recipe(one, n=10) != recipe(other, n=10)
