"""Experiment files: a TOML description of a sweep, validated once, expanded into tasks.

An experiment file has one ``[experiment]`` table. ``kind`` names the task kind (see
:data:`theory.sweeps.registry.TASK_KINDS`), ``seed`` the experiment seed, ``replicates`` the number of
independent replicates per grid point; every other key is a parameter of the kind
(:mod:`theory.sweeps.schema`). Parameters marked as *grid* axes may be given as a list, and the
experiment is the Cartesian product of all grid axes times the replicates, e.g. ::

    [experiment]
    kind = "posterior"
    c = 6
    n = [200, 400, 800]          # grid axis: one task per n (and replicate)
    chains = 2
    warmup = 150
    samples = 150
    seed = 3

Each task carries its own configuration (one value per axis), and a *task seed* derived from a hash
of (kind, task configuration, experiment seed, replicate). The task seed does not depend on the
order, number or placement of tasks, so every executor (local processes, a Dask cluster) computes
identical results, and adding a value to a grid axis leaves the seeds of the existing tasks alone
(their stored results are reused, see :mod:`theory.sweeps.store`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from theory.sweeps.registry import TASK_KINDS, TaskKind
from theory.sweeps.schema import TASK_FORMAT, Field, canonical_json, grid_points, resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Experiment", "Task", "load_experiment", "parse_experiment"]


@dataclass(frozen=True)
class Task:
    """One unit of work of a sweep.

    Attributes
    ----------
    kind : str
        The task kind (a key of :data:`TASK_KINDS`).
    config_json : str
        The task's parameters as canonical JSON (one value per grid axis); see :attr:`config`.
    experiment_seed : int
        The experiment's ``seed``.
    replicate : int
        The replicate index, 0 .. replicates-1.
    index : int
        Position in the experiment's grid order (grid axes in schema order, then replicates).
    key : str
        Store key: sha256 (hex, 32 chars) of (format, kind, config, experiment seed, replicate).
    seed : int
        Task seed in [0, 2**31): from a second hash of the same data, so identical whatever
        executor, worker or order runs the task.
    """

    kind: str
    config_json: str
    experiment_seed: int
    replicate: int
    index: int
    key: str
    seed: int

    @classmethod
    def make(cls, kind: str, config: Mapping, *, experiment_seed: int, replicate: int, index: int = 0) -> "Task":
        """Build a task, deriving its key and seed from the hashed identity."""
        config_json = canonical_json(dict(config))
        identity = canonical_json(
            {
                "format": TASK_FORMAT,
                "kind": kind,
                "config": json.loads(config_json),
                "experiment_seed": int(experiment_seed),
                "replicate": int(replicate),
            }
        ).encode()
        key = hashlib.sha256(identity).hexdigest()[:32]
        seed = int(hashlib.sha256(b"tmsphase-task-seed:" + identity).hexdigest()[:8], 16) >> 1
        return cls(kind, config_json, int(experiment_seed), int(replicate), int(index), key, seed)

    @property
    def config(self) -> dict:
        """The task's parameters as a fresh dict."""
        return json.loads(self.config_json)

    def identity(self) -> dict:
        """What the key hashes: kind, config, experiment seed and replicate (JSON-able)."""
        return {
            "kind": self.kind,
            "config": self.config,
            "experiment_seed": self.experiment_seed,
            "replicate": self.replicate,
        }


@dataclass(frozen=True)
class Experiment:
    """A validated experiment.

    Attributes
    ----------
    kind : str
        Task kind.
    seed : int
        Experiment seed (task seeds derive from it, see :class:`Task`).
    replicates : int
        Independent replicates per grid point.
    params_json : str
        Validated parameters, defaults filled in, as canonical JSON (lists for grid axes); see
        :attr:`params`.
    name : str or None
        Optional name from the file.
    source : str or None
        The file it was read from.
    """

    kind: str
    seed: int
    replicates: int
    params_json: str
    name: str | None = None
    source: str | None = None

    @property
    def params(self) -> dict:
        return json.loads(self.params_json)

    @property
    def task_kind(self) -> TaskKind:
        return TASK_KINDS[self.kind]

    def grid(self) -> list[dict]:
        """The grid points: one config per combination of the list-valued grid axes (schema order;
        parameters that are ``None`` are left out)."""
        return grid_points(self.params, self.task_kind.schema)

    def task_configs(self) -> list[tuple[dict, int]]:
        """(config, replicate) of every task before preparation: the kind's ``expand`` hook, or the
        grid points times the replicates (replicates innermost)."""
        kind = self.task_kind
        if kind.expand is not None:
            return [(dict(cfg), int(rep)) for cfg, rep in resolve(kind.expand)(self)]
        return [(cfg, rep) for cfg in self.grid() for rep in range(self.replicates)]

    def tasks(self, *, prepare: bool = True) -> tuple[Task, ...]:
        """The tasks, in grid order, with their keys and seeds.

        Parameters
        ----------
        prepare : bool
            Run the kind's ``prepare`` hook on each config (for the posterior and SGD kinds this
            loads or computes the critical-point catalogue and puts it into the config). Tasks
            built with ``prepare=False`` are for inspection: their keys differ from the prepared
            ones that :func:`theory.run_sweep` stores.
        """
        kind = self.task_kind
        hook = resolve(kind.prepare) if (prepare and kind.prepare is not None) else None
        base = str(Path(self.source).resolve().parent) if self.source else None
        out = []
        for config, rep in self.task_configs():
            if hook is not None:
                config = hook(dict(config), base)
            out.append(Task.make(self.kind, config, experiment_seed=self.seed, replicate=rep, index=len(out)))
        return tuple(out)

    def to_dict(self) -> dict:
        """JSON-able description (what ``experiment.json`` in a store holds)."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "replicates": self.replicates,
            "name": self.name,
            "params": self.params,
            "source": self.source,
        }


_COMMON = {
    "kind": "the task kind",
    "seed": "experiment seed (non-negative integer)",
    "replicates": "independent replicates per grid point (positive integer, default 1)",
    "name": "a label for the experiment (string, optional)",
}


def parse_experiment(data: Mapping | str, *, source: str | None = None) -> Experiment:
    """Validate an experiment given as TOML text or as the parsed mapping.

    Parameters
    ----------
    data : str or mapping
        TOML text, or a mapping with an ``"experiment"`` table.
    source : str, optional
        Shown at the start of error messages (the file name).

    Returns
    -------
    Experiment

    Raises
    ------
    ValueError
        On a TOML syntax error, a missing or unknown table or key, or a value of the wrong type or
        range; the message names the file, the key, the bad value and what is allowed.
    """
    where = f"{source}: " if source else ""
    if isinstance(data, str):
        try:
            data = tomllib.loads(data)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{where}invalid TOML: {exc}.") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}an experiment must be a TOML table; got {type(data).__name__}.")
    extra = sorted(set(data) - {"experiment"})
    if extra:
        raise ValueError(f"{where}unknown table or key {extra[0]!r}; an experiment file has one [experiment] table.")
    if "experiment" not in data or not isinstance(data["experiment"], Mapping):
        raise ValueError(f"{where}missing the [experiment] table.")
    table = dict(data["experiment"])
    where = f"{where}[experiment] "
    if "kind" not in table:
        raise ValueError(f"{where}missing required key `kind`; one of {', '.join(repr(k) for k in TASK_KINDS)}.")
    kind_name = table.pop("kind")
    if kind_name not in TASK_KINDS:
        raise ValueError(
            f"{where}`kind` must be one of {', '.join(repr(k) for k in TASK_KINDS)}; got {kind_name!r}."
        )
    kind = TASK_KINDS[kind_name]
    if "seed" not in table:
        raise ValueError(f"{where}missing required key `seed` (the experiment seed, a non-negative integer).")
    seed = Field("seed", "int", _COMMON["seed"], minimum=0).check(table.pop("seed"), where)
    replicates = Field("replicates", "int", _COMMON["replicates"], minimum=1).check(table.pop("replicates", 1), where)
    if replicates != 1 and not kind.replicates:
        raise ValueError(f"{where}`replicates` is not used by kind {kind_name!r}; got {replicates}.")
    name = table.pop("name", None)
    if name is not None:
        name = Field("name", "str", _COMMON["name"]).check(name, where)
    known = {f.name for f in kind.schema}
    unknown = sorted(set(table) - known)
    if unknown:
        allowed = ", ".join(sorted(known | set(_COMMON)))
        raise ValueError(f"{where}unknown key `{unknown[0]}` for kind {kind_name!r}; allowed keys: {allowed}.")
    params = {}
    for f in kind.schema:
        if f.name in table:
            params[f.name] = f.check(table[f.name], where)
        elif f.required:
            raise ValueError(f"{where}missing required key `{f.name}` ({f.doc}; {f.describe()}).")
        else:
            params[f.name] = f.default
    if kind.check is not None:
        try:
            resolve(kind.check)(dict(params))
        except ValueError as exc:
            raise ValueError(f"{where}{exc}") from None
    return Experiment(kind_name, seed, replicates, canonical_json(params), name=name, source=source)


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and validate an experiment file (TOML); see :func:`parse_experiment`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"experiment file {str(path)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read experiment file {str(path)!r}: {exc}.") from None
    return parse_experiment(text, source=str(path))
