"""The search settings as a config (kgon.SearchConfig holds a ModelSpec) and the default catalogue's disk
cache (kgon.critical.cache): a kgon.io.ResultStore entry, read back exactly, repaired when corrupt."""

from __future__ import annotations

import dataclasses
import json

import pytest

import kgon
import kgon.critical.cache as cache
from kgon.critical.search import ModelSpec
from kgon.io import CORRUPT_SUFFIX, StoreRepairWarning


def test_search_config_holds_a_model_spec():
    by_model = kgon.SearchConfig(ModelSpec(6, r=3, importance=(1, 1, 1, 1, 1, 0.5)), n_starts=10)
    by_fields = kgon.SearchConfig(c=6, r=3, importance=[1, 1, 1, 1, 1, 0.5], n_starts=10)
    assert by_model == by_fields and hash(by_model) == hash(by_fields)
    assert by_model.model == ModelSpec(6, r=3, importance=(1, 1, 1, 1, 1, 0.5))
    assert (by_model.c, by_model.r, by_model.importance) == (6, 3, (1.0, 1.0, 1.0, 1.0, 1.0, 0.5))
    assert kgon.SearchConfig(c=6).model == ModelSpec(6, r=2)  # r defaults to 2
    # the flat dict of the catalogue JSON: model fields first, importance last and only when not uniform
    assert list(kgon.SearchConfig(c=6).to_dict()) == ["c", "r", "n_starts", "seed", "max_loss", "max_index",
                                                      "explore_rounds", "numerical_llc"]
    assert by_model.to_dict()["importance"] == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    assert kgon.SearchConfig.from_dict(by_model.to_dict()) == by_model
    assert dataclasses.replace(by_model, seed=3).model == by_model.model
    with pytest.raises(ValueError, match="not both"):
        kgon.SearchConfig(ModelSpec(6), c=6)
    with pytest.raises(ValueError, match="`model`"):
        kgon.SearchConfig(6)
    with pytest.raises(ValueError, match="`c` is required"):
        kgon.SearchConfig(n_starts=3)


def test_run_search_takes_the_config():
    config = kgon.SearchConfig(c=4, n_starts=3, explore_rounds=0, numerical_llc=False)
    cat = kgon.run_search(config)
    assert cat.config == dataclasses.replace(config, max_loss=None) and cat.n_starts == 3
    # n_converged counts the requested starts; the exact polygon starts are counted on their own (they
    # used to be added to n_converged)
    assert 0 <= cat.n_converged <= cat.n_starts
    assert cat.stats["exact_starts"] > 0 and 0 < cat.stats["exact_converged"] <= cat.stats["exact_starts"]
    same = kgon.find_critical_points(4, n_starts=3, explore_rounds=0, numerical_llc=False)
    assert same.to_json() == cat.to_json()


def _default_like(catalogue6, max_loss: float):
    """The frozen c = 6 catalogue relabelled as the default catalogue at ``max_loss`` (its points kept)."""
    config = dataclasses.replace(catalogue6.config, max_loss=max_loss)
    return dataclasses.replace(catalogue6, max_loss=max_loss, config=config)


@pytest.fixture
def fake_search(monkeypatch, catalogue6):
    """``find_critical_points`` in the cache replaced by a recorder returning the frozen catalogue."""
    calls = []

    def search(c, *, r, seed, max_loss, importance, input_dist="uniform"):
        calls.append(max_loss)
        return _default_like(catalogue6, max_loss)

    monkeypatch.setattr(cache, "find_critical_points", search)
    return calls


def test_default_catalogue_is_read_back_from_the_store(fake_search, catalogue6):
    cat = _default_like(catalogue6, 0.25)
    path = cache.store_default_catalogue(cat)
    assert path == cache.default_catalogue_path(6, max_loss=0.25) and path.parent.name == "catalogues"
    record = json.loads(path.read_text())
    assert record["config"] == cache.default_catalogue_config(6, max_loss=0.25) and record["store_format"] == 2
    got = kgon.default_catalogue(6, max_loss=0.25)
    assert fake_search == [] and got.to_json() == cat.to_json()  # from disk, not recomputed, bit for bit


def test_corrupt_default_catalogue_entry_is_moved_aside_and_recomputed(fake_search, catalogue6):
    path = cache.store_default_catalogue(_default_like(catalogue6, 0.375))
    path.write_text(path.read_text()[:100])  # a partial write
    with pytest.warns(StoreRepairWarning, match="not valid JSON"):
        got = kgon.default_catalogue(6, max_loss=0.375)
    assert fake_search == [0.375] and got.max_loss == 0.375
    assert [p.name.split(CORRUPT_SUFFIX)[0] for p in path.parent.glob(f"{path.stem}.*{CORRUPT_SUFFIX}*")] == [path.name]
    assert json.loads(path.read_text())["result"]["max_loss"] == 0.375  # stored again, sound


def test_only_default_searches_are_stored(catalogue6):
    odd = dataclasses.replace(catalogue6, config=dataclasses.replace(catalogue6.config, seed=1))
    with pytest.raises(ValueError, match="not a default search"):
        cache.store_default_catalogue(odd)
