"""The sweeps' view of the result store (:class:`kgon.io.ResultStore`): one entry per finished task.

Layout of a sweep directory ``DIR``::

    DIR/tasks/<key>.json     one :class:`kgon.io.ResultStore` entry per finished task
    DIR/experiment.json      the last experiment run into DIR (normalised)
    DIR/summary.json         the last sweep's output (what ``tmsphase run --json`` prints)

The configuration of a task's entry is ``{"format": TASK_FORMAT, **task.identity()}`` (kind, config,
experiment seed, replicate), whose :func:`kgon.io.config_key` is the task's key
(:class:`theory.sweeps.experiment.Task`). Records are written atomically and checked on reading
(:class:`kgon.io.ResultStore`); a sweep recomputes a task whose record is corrupt and says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kgon.io import ResultStore, StoreError, write_json_atomic
from theory.sweeps.experiment import Task
from theory.sweeps.schema import TASK_FORMAT

__all__ = ["StoredResult", "SweepStore", "task_store_config", "write_json_atomic"]


def task_store_config(task: Task) -> dict:
    """The configuration under which ``task`` is stored; its :func:`kgon.io.config_key` is ``task.key``."""
    return {"format": TASK_FORMAT, **task.identity()}


@dataclass(frozen=True)
class StoredResult:
    """What :meth:`SweepStore.load` found for a task.

    Attributes
    ----------
    status : str
        ``"ok"``, ``"missing"`` or ``"corrupt"``.
    result : dict or None
        The task's result when ``status == "ok"``.
    reason : str or None
        Why a file was judged corrupt (the :class:`kgon.io.StoreError` message).
    elapsed_s : float or None
        Compute time recorded with the result.
    """

    status: str
    result: dict | None = None
    reason: str | None = None
    elapsed_s: float | None = None


class SweepStore:
    """Finished-task entries of a sweep directory: a :class:`kgon.io.ResultStore` at ``root/tasks``.

    See the module docstring for the layout.

    Parameters
    ----------
    root : path
        The sweep directory; created if absent.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"`out` must be a directory; {str(self.root)!r} is a file.")
        self.results = ResultStore(self.root / "tasks")
        self.tasks_dir = self.results.root

    def path(self, key: str) -> Path:
        """The record file of the task with this key."""
        return self.results.path(key)

    def keys(self) -> list[str]:
        """Keys of all record files present (not checked)."""
        return self.results.keys()

    def load(self, task: Task) -> StoredResult:
        """Read and verify the record of ``task``."""
        try:
            entry = self.results.get(task_store_config(task))
        except KeyError:
            return StoredResult("missing")
        except StoreError as exc:
            return StoredResult("corrupt", reason=str(exc))
        if entry.key != task.key:  # pragma: no cover - the key derivations agree (tested)
            return StoredResult("corrupt", reason="task key does not match the store key")
        if not isinstance(entry.result, dict):
            return StoredResult("corrupt", reason=f"{entry.path}: no result object")
        elapsed = entry.meta.get("elapsed_s")
        return StoredResult("ok", result=entry.result, elapsed_s=float(elapsed) if elapsed is not None else None)

    def save(self, task: Task, result: dict, *, elapsed_s: float | None = None) -> Path:
        """Write the record of a finished task atomically; returns its path."""
        return self.results.put(task_store_config(task), result, meta={"seed": task.seed}, elapsed_s=elapsed_s).path
