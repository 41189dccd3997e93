"""The registry of sweep task kinds: :data:`TASK_KINDS` by name, extended with :func:`register_task_kind`.

The built-in kinds (:mod:`theory.sweeps.kinds`: ``potential``, ``posterior``, ``sgd``, ``general_sgd``)
are registered when this module is imported. A kind is a :class:`theory.sweeps.schema.TaskKind`:
its parameters and the dotted paths of its code, resolved only when a task runs (docs/sweeps.md).
"""

from __future__ import annotations

from theory.sweeps.kinds import general_sgd, posterior, potential, sgd
from theory.sweeps.schema import TaskKind

__all__ = ["TASK_KINDS", "TaskKind", "register_task_kind"]

#: The registry of task kinds, by name. Extend it with :func:`register_task_kind`.
TASK_KINDS: dict[str, TaskKind] = {}


def register_task_kind(kind: TaskKind) -> TaskKind:
    """Add (or replace) a task kind in :data:`TASK_KINDS`; returns it."""
    if not isinstance(kind, TaskKind):
        raise ValueError(f"`kind` must be a TaskKind; got {type(kind).__name__}.")
    TASK_KINDS[kind.name] = kind
    return kind


for _module in (potential, posterior, sgd, general_sgd):
    register_task_kind(_module.KIND)
