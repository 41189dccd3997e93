"""The default catalogue: computed once per model and code version, cached in memory and on disk.

:func:`default_catalogue` runs :func:`kgon.critical.driver.find_critical_points` with the default
settings (seed 0) and keeps the result in memory and in a :class:`kgon.io.ResultStore` under
``$TMSPHASE_CACHE/catalogues`` (default ``~/.cache/tmsphase/catalogues``), keyed by (c, r, max_loss,
importance, input distribution) and a hash of the source of the modules the search runs, so a code change starts a new
entry. An entry that fails the store's checks, or whose result is not a catalogue, is moved aside with
a warning and recomputed (the store's repair, :mod:`kgon.io`); a cache location that cannot be
written leaves the result in memory only.
"""

from __future__ import annotations

import hashlib
import math
import os
from functools import lru_cache
from pathlib import Path

from kgon.critical.catalogue import Catalogue, SearchConfig
from kgon.critical.driver import default_n_starts, find_critical_points
from kgon.critical.search import ModelSpec
from kgon.io import EntryMovedAside, ResultStore, move_aside
from kgon.validation import check_int

__all__ = ["cache_dir", "default_catalogue", "default_catalogue_config", "default_catalogue_path",
           "store_default_catalogue"]

_CACHE_VERSION = "1"
"""Part of the code hash: raise it to retire every cached catalogue without a change of the sources."""

_SOURCE_FILES = (  # relative to the kgon package: every module whose code decides a catalogue
    "critical/search.py",
    "critical/catalogue.py",
    "critical/refine.py",
    "critical/variants.py",
    "critical/levels.py",
    "critical/explore.py",
    "critical/measure.py",
    "critical/driver.py",
    "symmetry.py",
    "naming.py",
    "geometry.py",
    "llc.py",
    "polygons.py",
    "memorization.py",
    "evaluators.py",
    "symbolic.py",
)


def _code_hash() -> str:
    h = hashlib.sha1(_CACHE_VERSION.encode())
    package = Path(__file__).resolve().parents[1]
    for name in _SOURCE_FILES:
        h.update((package / name).read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """``$TMSPHASE_CACHE``, or ``~/.cache/tmsphase`` when it is not set."""
    root = os.environ.get("TMSPHASE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "tmsphase"


def _store() -> ResultStore:
    return ResultStore(cache_dir() / "catalogues")


def default_catalogue_config(c: int, *, r: int = 2, max_loss: float | None = None, importance=None,
                             input_dist: str = "uniform") -> dict:
    """The store configuration of the default catalogue at (c, r, max_loss, importance, input_dist): those
    values, the code hash and ``"kind": "default_catalogue"`` (the importance only when it is not uniform,
    ``"input_dist"`` only for point inputs, so the uniform model's key does not mention it)."""
    model = ModelSpec(c=c, r=r, importance=importance, input_dist=input_dist)
    max_loss = None if max_loss is None else float(max_loss)
    config = {"kind": "default_catalogue", "code": _code_hash(), "c": model.c, "r": model.r, "max_loss": max_loss}
    if not model.uniform:
        config["importance"] = list(model.importance)
    if model.point:
        config["input_dist"] = model.input_dist
    return config


def default_catalogue_path(c: int, *, r: int = 2, max_loss: float | None = None, importance=None,
                           input_dist: str = "uniform") -> Path:
    """The record file under which :func:`default_catalogue` caches the catalogue at (c, r, max_loss,
    importance, input_dist): ``<cache_dir()>/catalogues/<key>.json``, a :class:`kgon.io.ResultStore` entry
    whose key hashes :func:`default_catalogue_config`."""
    config = default_catalogue_config(c, r=r, max_loss=max_loss, importance=importance, input_dist=input_dist)
    return cache_dir() / "catalogues" / f"{ResultStore.key(config)}.json"


def store_default_catalogue(catalogue: Catalogue) -> Path:
    """Put ``catalogue``, the result of a default search computed elsewhere (e.g. a frozen file), in the
    disk cache under its key; returns the record file.

    Raises ``ValueError`` unless ``catalogue.config`` holds the settings of :func:`default_catalogue`
    (seed 0, default ``n_starts``, ``max_index``, ``explore_rounds`` and ``numerical_llc``).
    """
    model = catalogue.model
    expected = SearchConfig(model, n_starts=default_n_starts(model.c, model.r), max_loss=catalogue.max_loss)
    if catalogue.config != expected:
        raise ValueError(f"`catalogue` is not a default search's result: its settings are {catalogue.config!r}, "
                         f"the default catalogue's {expected!r}.")
    config = default_catalogue_config(model.c, r=model.r, max_loss=catalogue.max_loss, importance=model.importance,
                                      input_dist=model.input_dist)
    return _store().put(config, catalogue.to_dict()).path


@lru_cache(maxsize=None)
def _default_catalogue_cached(c: int, r: int, max_loss: float | None, importance=None,
                              input_dist: str = "uniform") -> Catalogue:
    config = default_catalogue_config(c, r=r, max_loss=max_loss, importance=importance, input_dist=input_dist)
    try:
        store = _store()
    except OSError:  # no cache location (read-only home, ...): keep the result in memory only
        store = None
    if store is not None:
        try:
            entry = store.get(config)
        except (KeyError, EntryMovedAside):
            pass
        else:
            try:
                return Catalogue.from_dict(entry.result)
            except (KeyError, TypeError, ValueError) as exc:
                move_aside(entry.path, f"its result is not a catalogue ({type(exc).__name__}: {exc})")
    cat = find_critical_points(c, r=r, seed=0, max_loss=max_loss, importance=importance, input_dist=input_dist)
    if store is not None:
        try:
            store.put(config, cat.to_dict())
        except OSError:
            pass  # read-only cache location: keep the in-memory result
    return cat


def default_catalogue(c: int = 6, *, r: int = 2, max_loss: float | None = None, importance=None,
                      input_dist: str = "uniform") -> Catalogue:
    """The catalogue at (c, r) with default search settings (seed 0), computed once and cached.

    Cached in memory and on disk (module docstring): under ``$TMSPHASE_CACHE`` (default
    ``~/.cache/tmsphase``), keyed by a hash of the code of the search modules and the arguments; a
    missing entry is computed, a corrupt one moved aside (with a warning) and recomputed.

    Parameters
    ----------
    c : int
        Number of features (>= 2).
    r : int, keyword-only
        Hidden dimension (>= 1).
    max_loss : float, keyword-only
        Keep only points with loss <= max_loss.
    importance : sequence of c floats > 0, keyword-only
        Feature importance (:func:`kgon.critical.driver.find_critical_points`); None or all ones: uniform.
    input_dist : {"uniform", "point"}, keyword-only
        Input distribution (:func:`kgon.critical.driver.find_critical_points`); default ``"uniform"``.
    """
    c = check_int("c", c, minimum=2)
    r = check_int("r", r, minimum=1)
    importance = ModelSpec(c=c, r=r, importance=importance, input_dist=input_dist).importance
    if max_loss is not None:
        if isinstance(max_loss, bool) or not isinstance(max_loss, (int, float)) or not math.isfinite(max_loss):
            raise ValueError(f"`max_loss` must be a finite number or None; got {max_loss!r}.")
        max_loss = float(max_loss)
    if input_dist == "uniform":  # the uniform model's in-memory cache entry as without the argument
        return _default_catalogue_cached(c, r, max_loss, importance)
    return _default_catalogue_cached(c, r, max_loss, importance, input_dist)
