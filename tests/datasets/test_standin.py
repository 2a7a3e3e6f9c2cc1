"""Stand-in folders: marked, and written anew when the code that makes them changes."""
from utils.datasets import standin
from utils.standins.recipe import recipe


def _make(folder, recipe):
    standin.mark(folder, "test stand-in", recipe)
    (folder / "train.zip").write_bytes(b"old")


def test_a_stand_in_from_another_recipe_is_removed(tmp_path):
    folder = tmp_path / "standin" / "things"
    _make(folder, "aaaa")
    assert standin.renew(folder, "aaaa").joinpath("train.zip").exists()  # same recipe: kept
    standin.renew(folder, "bbbb")
    assert not folder.exists()


def test_a_stand_in_from_before_recipes_is_removed(tmp_path):
    folder = tmp_path / "old"
    standin.mark(folder, "written by a kit without recipes")
    standin.renew(folder, "cccc")
    assert not folder.exists()


def test_real_data_is_never_removed(tmp_path):
    folder = tmp_path / "dogs-vs-cats-redux-kernels-edition"
    folder.mkdir()
    (folder / "train.zip").write_bytes(b"real")
    standin.renew(folder, "dddd")
    assert (folder / "train.zip").read_bytes() == b"real"


def test_the_recipe_follows_code_and_settings():
    def draw(x):
        return x + 1

    def draw_other(x):
        return x + 2
    assert recipe(draw, n=10) == recipe(draw, n=10)
    assert recipe(draw, n=10) != recipe(draw, n=11)
    assert recipe(draw, n=10) != recipe(draw_other, n=10)
