"""Fixtures of the Kaggle tests: `isolated` gives scratch folders, no credentials, and an API that
must not be touched; `kaggle_server` gives the real `api.connect` and the installed client,
imported afresh, pointed at a loopback server."""
import sys
import time

import pytest

import utils.kaggle as kg

from kaggle_fakes import COMP, REAL_CONNECT
from loopback import serve


@pytest.fixture
def isolated(offline_kaggle_env, monkeypatch):
    """Scratch data, home and Kaggle-input folders; no credentials; the API must not be touched."""
    monkeypatch.setattr(kg.api, "_warned", set())

    def no_api():
        raise AssertionError("the Kaggle API was called")
    monkeypatch.setattr(kg.api, "connect", no_api)


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data" / COMP


@pytest.fixture
def fresh_kaggle(monkeypatch):
    """Forget any imported kaggle package so the next import runs its __init__ again, and give
    back the real api.connect."""
    saved = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "kaggle"}
    for name in saved:
        del sys.modules[name]
    monkeypatch.setattr(kg.api, "connect", REAL_CONNECT)
    yield
    for name in [n for n in sys.modules if n.split(".")[0] == "kaggle"]:
        del sys.modules[name]
    sys.modules.update(saved)


@pytest.fixture
def kaggle_server(monkeypatch, fresh_kaggle):
    """A loopback Kaggle for the installed client: its API and downloads go to 127.0.0.1 only,
    and the client's own waits between retries take no time."""
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint
    with serve({}) as server:
        for env in KaggleEnv:  # every endpoint, so nothing can reach the real Kaggle
            monkeypatch.setitem(_env_to_endpoint, env, server.url(""))
        monkeypatch.setattr(time, "sleep", lambda seconds: None)
        yield server
