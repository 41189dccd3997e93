"""What several task kinds share: the catalogue parameters and hook, the SGD config of a task, the
generic aggregator."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Sequence

from theory.sweeps.schema import Field, canonical_json

__all__ = [
    "CATALOGUE_FIELDS",
    "SGD_CONFIG_GRID",
    "aggregate_results",
    "catalogue_json",
    "load_catalogue",
    "prepare_catalogue",
    "sgd_config",
]

#: The catalogue parameters of the kinds that classify into catalogue phases (posterior, sgd).
CATALOGUE_FIELDS = (
    Field("max_loss", "float", "catalogue: keep critical points with loss <= max_loss", default=None, minimum=0.0),
    Field("catalogue", "str", "catalogue JSON file (Catalogue.to_json; default kgon.default_catalogue(c))",
          default=None),
)

SGD_CONFIG_GRID = ("c", "r", "n", "batch_size", "lr", "epochs", "init_k", "init_noise", "sparsity")
"""SGDConfig fields a sweep may grid over (the sgd and general_sgd kinds)."""


def aggregate_results(tasks: Sequence, results: Sequence[dict]) -> dict:
    """``{"results": [...]}``: each task's result in grid order, with its ``replicate`` and ``seed``
    (the task seed, unless the result carries its own ``seed``).

    This is the structure of ``tmsphase posterior --json`` (one entry per (n, ...) point), extended
    by the two keys that tell replicates apart; any kind may use it as its aggregator.
    """
    entries = []
    for task, res in zip(tasks, results):
        entry = dict(res)
        entry["replicate"] = task.replicate
        entry.setdefault("seed", task.seed)  # kinds with their own seed convention report it themselves
        entries.append(entry)
    return {"results": entries}


@functools.lru_cache(maxsize=16)
def catalogue_json(c: int, r: int, max_loss: float | None, path: str | None) -> str:
    """The catalogue as canonical JSON: from a file (Catalogue.to_json), or kgon.default_catalogue."""
    import kgon  # deferred: kgon's catalogue pulls in jax; reading an experiment stays light

    if path is None:
        cat = kgon.default_catalogue(c, r=r, max_loss=max_loss)
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the catalogue file {path!r} (`catalogue`): {exc.strerror or exc}.") from None
        try:
            cat = kgon.Catalogue.from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path!r} (`catalogue`) is not a catalogue written by Catalogue.to_json: {exc!r}."
            ) from None
        if (cat.c, cat.r) != (c, r):
            raise ValueError(f"the catalogue {path!r} is for (c, r) = ({cat.c}, {cat.r}); the tasks need ({c}, {r}).")
        if max_loss is not None:
            cat = dataclasses.replace(cat, points=tuple(p for p in cat.points if p.loss <= max_loss), max_loss=max_loss)
    if not cat.points:
        raise ValueError(f"the catalogue for c = {c}, r = {r} has no points (max_loss = {max_loss}).")
    return canonical_json(cat.to_dict())


def prepare_catalogue(config: dict, base_dir: str | None) -> dict:
    """Prepare hook of the posterior and SGD kinds: put the critical-point catalogue into the config.

    ``catalogue`` (a path, relative to the experiment file) and ``max_loss`` are replaced by
    ``catalogue`` = ``Catalogue.to_dict()`` of the catalogue they select (default
    ``kgon.default_catalogue(c, r=r, max_loss=max_loss)``). The task key thus depends on the catalogue
    actually used, and workers need neither the file nor kgon's catalogue cache.
    """
    path = config.pop("catalogue", None)
    max_loss = config.pop("max_loss", None)
    if path is not None and base_dir is not None and not Path(path).is_absolute():
        path = str(Path(base_dir) / path)
    config["catalogue"] = json.loads(
        catalogue_json(int(config["c"]), int(config.get("r", 2)), max_loss, path)
    )
    return config


def load_catalogue(config: dict):
    """The kgon.Catalogue that :func:`prepare_catalogue` put into a task config."""
    import kgon  # deferred: kgon's catalogue pulls in jax; reading an experiment stays light

    return kgon.Catalogue.from_dict(config["catalogue"])


def sgd_config(config: dict):
    """The ``sampling.SGDConfig`` of a task config (its keys that are SGDConfig fields; lists of
    numbers become the tuples the config holds)."""
    from sampling.dynamics.sgd import SGDConfig  # deferred: sampling pulls in torch; parsing stays light

    names = [f.name for f in dataclasses.fields(SGDConfig)]
    return SGDConfig(**{k: tuple(config[k]) if isinstance(config[k], list) else config[k]
                        for k in names if config.get(k) is not None})
