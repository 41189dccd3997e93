"""The parameter schema of sweep task kinds: :class:`Field`, :class:`TaskKind` and what they share.

A task kind (:class:`TaskKind`) names its parameters (:class:`Field`: type, default, bounds, whether a
list makes it a grid axis) and the dotted ``"module:attribute"`` paths of its code (task function,
aggregator and optional hooks). Paths are resolved lazily (:func:`resolve`), so a worker process can
run any task from its kind name alone, and reading an experiment imports no jax, torch or numpyro
except for a kind whose parameters are generated from a config dataclass (``TaskKind.config``: the
SGD kinds import ``sampling.dynamics.sgd`` for ``SGDConfig``, whose fields they do not copy).

The registry of kinds is :mod:`theory.sweeps.registry`, the built-in kinds live in
:mod:`theory.sweeps.kinds`, and experiment files are read by :mod:`theory.sweeps.experiment`
(docs/sweeps.md).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import numbers
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from kgon.io import dumps_json

__all__ = [
    "Field",
    "REQUIRED",
    "TASK_FORMAT",
    "TaskKind",
    "canonical_json",
    "config_fields",
    "grid_points",
    "resolve",
]

#: Version of the task-key / stored-record format; bump it when a task kind changes meaning so that
#: old stored results are not reused.
TASK_FORMAT = 1

REQUIRED = object()
"""The default of a :class:`Field` that must be given."""


def canonical_json(obj: Any) -> str:
    """Strict JSON text with sorted keys and no whitespace (:func:`kgon.io.dumps_json`; NaN -> null):
    equal objects give equal strings (for hashing)."""
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
    default: Any = REQUIRED
    grid: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

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
        default = REQUIRED if f.default is dataclasses.MISSING else f.default
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


def grid_points(params: dict, fields: tuple[Field, ...]) -> list[dict]:
    """The grid points of validated parameters: one config per combination of the list-valued grid axes
    among ``fields`` (in their order); parameters that are ``None`` are left out."""
    axes = [f.name for f in fields if f.grid and isinstance(params.get(f.name), list)]
    out = []
    for combo in itertools.product(*(params[a] for a in axes)):
        config = {k: v for k, v in params.items() if v is not None}
        config.update(zip(axes, combo))
        out.append(config)
    return out
