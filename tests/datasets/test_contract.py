"""Every dataset module's `get` keeps one contract: the same keyword-only names for the same
ideas, stand-in settings as a named record with defaults."""
import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import utils.datasets

# Modules of shared machinery, not datasets.
SHARED = {"base", "competition", "csvcompetition", "standin"}
DATASETS = sorted(m.name for m in pkgutil.iter_modules(utils.datasets.__path__) if m.name not in SHARED)
ENTRY_POINTS = [(name, "get") for name in DATASETS] + [("glove", "get_fasttext")]
# What each name means is in utils/datasets/base.py; these are the names used before, each for an
# idea the contract names otherwise.
RETIRED = {"cache_dir", "n_valid", "valid_frac", "valid_fraction", "base_url", "url", "folder"}


def test_every_dataset_module_is_checked():
    assert {"dogscats", "statefarm", "fisheries", "mnist", "digitrecognizer", "imdb", "glove",
            "disastertweets", "movielens", "text"} <= set(DATASETS)


@pytest.mark.parametrize("module, entry", ENTRY_POINTS)
def test_get_takes_data_then_keywords_only_with_the_contracts_names(module, entry):
    get = getattr(importlib.import_module(f"utils.datasets.{module}"), entry)
    params = list(inspect.signature(get).parameters.values())
    assert params[0].name == "data" and params[0].default == "auto"
    assert all(p.kind is p.KEYWORD_ONLY for p in params[1:]), [p.name for p in params[1:]]
    names = {p.name for p in params}
    assert not names & RETIRED, names & RETIRED
    assert {"n_sample", "standin"} <= names


@pytest.mark.parametrize("module, entry", ENTRY_POINTS)
def test_the_standin_settings_are_a_named_record_with_defaults(module, entry):
    get = getattr(importlib.import_module(f"utils.datasets.{module}"), entry)
    default = inspect.signature(get).parameters["standin"].default
    assert dataclasses.is_dataclass(default) and not isinstance(default, type)
    assert type(default)() == default  # every setting has a default
    assert type(default).__dataclass_params__.frozen  # a default shared by every call stays as it is
