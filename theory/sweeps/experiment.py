"""Experiment files: a TOML description of a sweep, validated once, expanded into tasks.

An experiment file has one ``[experiment]`` table. ``kind`` names the task kind (see
:data:`TASK_KINDS`), ``seed`` the experiment seed, ``replicates`` the number of independent
replicates per grid point; every other key is a parameter of the kind. Parameters marked as *grid*
axes may be given as a list, and the experiment is the Cartesian product of all grid axes times the
replicates, e.g. ::

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

The kinds are a registry of :class:`TaskKind` (name, parameter schema, and the dotted paths of the
task function and of the aggregator). Paths are resolved lazily, so a worker process can run any
task from its kind name alone, and parsing an experiment imports no jax, torch or numpyro except
for a kind whose parameters are generated from a config dataclass (``TaskKind.config``: the sgd kind
imports ``sampling.dynamics.sgd`` for ``SGDConfig``, whose fields it does not copy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import itertools
import json
import numbers
import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "Experiment",
    "Field",
    "Task",
    "TaskKind",
    "TASK_KINDS",
    "TASK_FORMAT",
    "canonical_json",
    "config_fields",
    "load_experiment",
    "parse_experiment",
    "register_task_kind",
    "resolve",
]

#: Version of the task-key / stored-record format; bump it when a task kind changes meaning so that
#: old stored results are not reused.
TASK_FORMAT = 1

_REQUIRED = object()


def canonical_json(obj: Any) -> str:
    """Strict JSON text with sorted keys and no whitespace (:func:`kgon.io.dumps_json`; NaN -> null):
    equal objects give equal strings (for hashing)."""
    from kgon.io import dumps_json

    return dumps_json(obj, sort_keys=True, compact=True)


def resolve(path: str) -> Callable:
    """Import ``"package.module:attribute"`` and return the attribute (lazy registry lookups)."""
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ValueError(f"`path` must look like 'package.module:attribute'; got {path!r}.")
    return getattr(importlib.import_module(module), attr)


# --------------------------------------------------------------------------------------------------
# parameter schema


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class Field:
    """One parameter of a task kind.

    Attributes
    ----------
    name : str
        The key in the ``[experiment]`` table.
    type : str
        ``"int"``, ``"float"``, ``"str"``, ``"bool"`` or ``"floats"`` (a list of numbers; never a
        grid axis).
    doc : str
        One line shown in error messages and the docs.
    default : object
        The value used when the key is absent; absent from the task config when ``None``.
        Required when not given.
    grid : bool
        Whether a list of values makes this a grid axis (one task per value).
    minimum, maximum : float or None
        Inclusive bounds for numbers.
    choices : tuple or None
        Allowed values for strings.
    """

    name: str
    type: str
    doc: str
    default: Any = _REQUIRED
    grid: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe(self) -> str:
        """What values are allowed, in words ("a positive integer", "one of 'nuts', 'tempered'")."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        word = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                "floats": "a list of numbers"}[self.type]
        if self.type == "int" and self.minimum == 1 and self.maximum is None:
            word = "a positive integer"
        elif self.type == "int" and self.minimum == 0 and self.maximum is None:
            word = "a non-negative integer"
        elif self.minimum is not None and self.maximum is not None:
            word += f" in [{self.minimum}, {self.maximum}]"
        elif self.minimum is not None:
            word += f" >= {self.minimum}"
        elif self.maximum is not None:
            word += f" <= {self.maximum}"
        return word

    def check_scalar(self, value, where: str):
        """Validate one value; return it normalised (ints as int, numbers as float)."""
        if self.type == "floats":
            if isinstance(value, list) and value and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v for v in value
            ):
                return [float(v) for v in value]
            raise ValueError(f"{where}`{self.name}` must be a non-empty list of numbers; got {value!r}.")
        ok = {
            "int": _is_int(value),
            "float": isinstance(value, numbers.Real) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
        }[self.type]
        if ok and self.type in ("int", "float"):
            value = int(value) if self.type == "int" else float(value)
            if self.type == "float" and value != value:
                ok = False
            if self.minimum is not None and value < self.minimum:
                ok = False
            if self.maximum is not None and value > self.maximum:
                ok = False
        if ok and self.choices is not None and value not in self.choices:
            ok = False
        if not ok:
            allowed = self.describe()
            if self.grid:
                allowed += " (or a non-empty list of them)"
            raise ValueError(f"{where}`{self.name}` must be {allowed}; got {value!r}.")
        return value

    def check(self, value, where: str):
        """Validate a value from the file: a scalar, or for grid axes a non-empty duplicate-free list."""
        if isinstance(value, list) and self.type != "floats":
            if not self.grid:
                raise ValueError(
                    f"{where}`{self.name}` must be {self.describe()}; got the list {value!r} "
                    f"(`{self.name}` is not a grid axis)."
                )
            if not value:
                raise ValueError(f"{where}`{self.name}` must be a non-empty list; got [].")
            values = [self.check_scalar(v, where) for v in value]
            if len(set(map(canonical_json, values))) != len(values):
                raise ValueError(f"{where}`{self.name}` must not repeat values; got {value!r}.")
            return values
        return self.check_scalar(value, where)


_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "tuple[float, ...]": "floats"}


def _attribute_docs(cls) -> dict[str, str]:
    """name -> first line of its description in the numpy-style ``Attributes`` section of ``cls``."""
    doc = (cls.__doc__ or "").split("Attributes\n", 1)
    if len(doc) < 2:
        return {}
    out: dict[str, str] = {}
    names: list[str] = []
    for line in doc[1].splitlines():
        head = re.match(r"^    (\w+(?:, \w+)*) :", line)
        if head:
            names = head.group(1).split(", ")
        elif names and line.startswith("        ") and line.strip():
            for name in names:
                out.setdefault(name, line.strip())
            names = []
        elif line.strip() and not line.startswith(" "):
            break
    return out


def config_fields(cls, *, grid: tuple[str, ...] = ()) -> tuple[Field, ...]:
    """Task-kind parameters generated from the fields of a config dataclass.

    Each field ``x: T = default`` becomes ``Field(x, type, doc, default)``: the type from the
    annotation (int, float, str, bool, ``tuple[float, ...]`` -> ``"floats"``; ``| None`` allowed),
    the doc from the first line of ``x``'s entry in the class's ``Attributes`` section, the default
    from the dataclass (required when it has none); names in ``grid`` are grid axes. Bounds are left
    to the class's ``__post_init__``, which validates every task config.
    """
    docs = _attribute_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        base = annotation.replace(" | None", "").strip()
        if base not in _TYPES:
            raise ValueError(f"config field `{cls.__name__}.{f.name}` has type {annotation!r}; a task kind "
                             f"needs one of {', '.join(_TYPES)} (optionally | None).")
        default = _REQUIRED if f.default is dataclasses.MISSING else f.default
        if isinstance(default, tuple):
            default = list(default)
        out.append(Field(f.name, _TYPES[base], docs.get(f.name, f.name), default=default, grid=f.name in grid))
    return tuple(out)


@dataclass(frozen=True)
class TaskKind:
    """A kind of task: its parameters and where its code lives.

    Attributes
    ----------
    name : str
        The value of ``kind`` in experiment files.
    doc : str
        One line describing what a task computes.
    fields : tuple of Field
        The parameters (besides ``kind``, ``seed``, ``replicates`` and ``name``).
    function : str
        ``"module:attr"`` of the task function ``f(config: dict, seed: int) -> dict`` (a pure
        function of its arguments returning a JSON-able dict).
    aggregate : str
        ``"module:attr"`` of ``g(tasks, results) -> dict``: the sweep's output (the same structure
        as the matching ``tmsphase`` command's ``--json``).
    check : str or None
        ``"module:attr"`` of ``h(params: dict) -> None``, extra validation of the whole parameter
        set (raises ``ValueError``), run when the experiment is parsed (keep it light: no jax/torch).
    expand : str or None
        ``"module:attr"`` of ``e(experiment) -> list[tuple[dict, int]]``: the (config, replicate)
        pairs of the tasks, replacing the default expansion (the grid times the replicates,
        :meth:`Experiment.grid`).
    prepare : str or None
        ``"module:attr"`` of ``p(config: dict, base_dir: str | None) -> dict``, run in the driver on
        each task config before the task is keyed and sent out: it may replace references by content
        (the posterior and SGD kinds put the critical-point catalogue itself into the config, so the
        key depends on the catalogue used and workers need no catalogue cache). ``base_dir`` is the
        directory of the experiment file (for relative paths).
    config : str or None
        ``"module:Class"`` of a frozen config dataclass (e.g. ``sampling.SGDConfig``) whose fields are
        parameters of the kind too, generated by :func:`config_fields` (names, types, defaults and the
        one-line docs of its ``Attributes`` section) when the schema is first used, so the kind never
        copies them; the class's ``__post_init__`` validates the values in the task.
    config_grid : tuple of str
        The generated fields that are grid axes.
    replicates : bool
        Whether ``replicates`` may be larger than 1 for this kind.
    report : str or None
        ``"module:attr"`` of ``f(output: dict, out_dir, *, name) -> list[str]``: figures of a finished
        sweep, written into the store directory by ``tmsphase run`` (the ``general_sgd`` kind: one
        figure per run).
    """

    name: str
    doc: str
    fields: tuple[Field, ...]
    function: str
    aggregate: str
    check: str | None = None
    expand: str | None = None
    prepare: str | None = None
    replicates: bool = True
    config: str | None = None
    config_grid: tuple[str, ...] = ()
    report: str | None = None

    @cached_property
    def schema(self) -> tuple[Field, ...]:
        """All parameters: the fields generated from ``config`` (if any), then ``fields``."""
        generated = config_fields(resolve(self.config), grid=self.config_grid) if self.config else ()
        return tuple(generated) + tuple(self.fields)

    def field(self, name: str) -> Field:
        for f in self.schema:
            if f.name == name:
                return f
        raise KeyError(name)


#: The registry of task kinds, by name. Extend it with :func:`register_task_kind`.
TASK_KINDS: dict[str, TaskKind] = {}


def register_task_kind(kind: TaskKind) -> TaskKind:
    """Add (or replace) a task kind in :data:`TASK_KINDS`; returns it."""
    if not isinstance(kind, TaskKind):
        raise ValueError(f"`kind` must be a TaskKind; got {type(kind).__name__}.")
    TASK_KINDS[kind.name] = kind
    return kind


#: The catalogue parameters of the kinds that classify into catalogue phases (posterior, sgd).
_CATALOGUE_FIELDS = (
    Field("max_loss", "float", "catalogue: keep critical points with loss <= max_loss", default=None, minimum=0.0),
    Field("catalogue", "str", "catalogue JSON file (Catalogue.to_json; default kgon.default_catalogue(c))",
          default=None),
)

register_task_kind(
    TaskKind(
        name="potential",
        doc="prior draws of the TMS potential: loss statistics and a Monte Carlo free energy F_n",
        fields=(
            Field("c", "int", "number of features", grid=True, minimum=2),
            Field("r", "int", "number of hidden dimensions", default=2, grid=True, minimum=1),
            Field("n", "int", "sample size of the free energy F_n", grid=True, minimum=1),
            Field("draws", "int", "prior draws per task", default=10000, minimum=2),
        ),
        function="theory.sweeps.sweep:potential_task",
        aggregate="theory.sweeps.sweep:aggregate_results",
    )
)

register_task_kind(
    TaskKind(
        name="posterior",
        doc="posterior phase occupancy at sample size n (sampling.run_occupancy)",
        fields=(
            # sampling.run_occupancy; defaults are its defaults (a test keeps them in sync)
            Field("c", "int", "number of features", grid=True, minimum=2),
            Field("n", "int", "sample size", grid=True, minimum=1),
            Field("method", "str", "sampler", default="nuts", grid=True, choices=("nuts", "tempered")),
            Field("chains", "int", "chains (nuts) or tempering ladders per task", default=4, minimum=1),
            Field("warmup", "int", "warm-up steps (sweeps) per chain", default=500, minimum=0),
            Field("samples", "int", "draws (sweeps) per chain", default=500, minimum=1),
            Field("r", "int", "number of hidden dimensions", default=2, grid=True, minimum=1),
            Field("init", "str", "chain initialisation: 'prior', 'catalogue' or a catalogue label",
                  default="prior"),
            Field("data_seed", "int", "seed of the data stream (default: the run seed; nested D_n over n)",
                  default=None, minimum=0),
            Field("threshold", "float", "classification threshold (default max(0.5, 25/sqrt(n)))", default=None,
                  minimum=0.0),
            Field("n_temps", "int", "tempering ladder size (default: sampling's)", default=None, minimum=2),
            Field("max_tree_depth", "int", "NUTS tree depth (default 10 nuts, 6 tempered)", default=None,
                  minimum=1),
            Field("beta", "float", "inverse temperature of the likelihood, phi exp(-beta n L_n) (default 1)",
                  default=None, grid=True, minimum=0.0),
        ) + _CATALOGUE_FIELDS,
        function="theory.sweeps.sweep:posterior_task",
        aggregate="theory.sweeps.sweep:aggregate_results",
        expand="theory.sweeps.sweep:expand_posterior",
        prepare="theory.sweeps.sweep:prepare_catalogue",
    )
)


_SGD_CONFIG_GRID = ("c", "r", "n", "batch_size", "lr", "epochs", "init_k", "init_noise", "sparsity")
"""SGDConfig fields a sweep may grid over (the sgd and general_sgd kinds)."""


register_task_kind(
    TaskKind(
        name="sgd",
        doc="batched SGD runs (sampling.train_sgd) matched to catalogue plateaus (theory.analyze_sgd)",
        # the fields of sampling.SGDConfig (defaults = the paper's protocol, docs/dynamics.md) are
        # generated from the dataclass (``config``); these are the kind's own
        fields=(
            # runs and their split into tasks
            Field("runs", "int", "SGD runs per grid point (seeds seed, seed+1, ...)", minimum=1),
            Field("runs_per_task", "int", "runs trained together in one task", default=5, minimum=1),
            # theory.analyze_sgd
            Field("threshold", "float", "largest phase distance to a catalogue point", default=None, minimum=0.0),
            Field("slope_tol", "float", "flatness threshold on |d log L / d log t|", default=0.05, minimum=0.0),
            Field("min_length", "int", "shortest plateau in checkpoints", default=3, minimum=1),
            Field("llc_per_plateau", "int", "SGLD LLC estimates per plateau for the antecedent check (0: skip)",
                  default=3, minimum=0),
        ) + _CATALOGUE_FIELDS,
        function="theory.sweeps.sweep:sgd_task",
        aggregate="theory.sweeps.sweep:aggregate_sgd",
        check="theory.sweeps.sweep:check_sgd",
        expand="theory.sweeps.sweep:expand_sgd",
        prepare="theory.sweeps.sweep:prepare_catalogue",
        replicates=False,
        config="sampling.dynamics.sgd:SGDConfig",
        config_grid=_SGD_CONFIG_GRID,
    )
)


register_task_kind(
    TaskKind(
        name="general_sgd",
        doc="SGD runs of the general TMS (r, sparsity, importance, input scale), one task per run: plateaus "
            "(matched to a catalogue where one exists) and the calibrated SGLD LLC along training",
        # the fields of sampling.SGDConfig are generated from the dataclass (``config``)
        fields=(
            Field("runs", "int", "SGD runs per grid point (seeds seed, seed+1, ...; one task each)", default=1,
                  minimum=1),
            Field("slope_tol", "float", "plateau: |d log L_n / d log t| at most this", default=0.05, minimum=0.0),
            Field("min_length", "int", "plateau: at least this many consecutive flat checkpoints", default=3,
                  minimum=1),
            Field("threshold", "float", "largest phase distance to a catalogue point", default=None, minimum=0.0),
            Field("catalogue", "str", "catalogue JSON file for plateau matching (high sparsity only; 'default': "
                  "kgon.default_catalogue(c, r=r))", default=None),
            Field("llc_checkpoints", "int", "checkpoints with a calibrated SGLD LLC, spread evenly (default all; "
                  "0: none)", default=None, minimum=0),
            Field("llc_chains", "int", "SGLD chains per estimate", default=4, minimum=1),
            Field("llc_burnin", "int", "SGLD burn-in steps at the reference step 1/(8 n beta)", default=1000,
                  minimum=0),
            Field("llc_draws", "int", "SGLD draws at the reference step 1/(8 n beta)", default=4000, minimum=1),
            Field("llc_batch_size", "int", "SGLD minibatch size (default: full batch)", default=None, minimum=1),
        ),
        function="theory.sweeps.general:general_sgd_task",
        aggregate="theory.sweeps.general:aggregate_general_sgd",
        check="theory.sweeps.general:check_general_sgd",
        expand="theory.sweeps.general:expand_general_sgd",
        prepare="theory.sweeps.general:prepare_general_sgd",
        replicates=False,
        config="sampling.dynamics.sgd:SGDConfig",
        config_grid=_SGD_CONFIG_GRID,
        report="theory.sweeps.general:general_sgd_report",
    )
)


# --------------------------------------------------------------------------------------------------
# tasks and experiments


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
        params = self.params
        axes = [f.name for f in self.task_kind.schema if f.grid and isinstance(params.get(f.name), list)]
        out = []
        for combo in itertools.product(*(params[a] for a in axes)):
            config = {k: v for k, v in params.items() if v is not None}
            config.update(zip(axes, combo))
            out.append(config)
        return out

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
