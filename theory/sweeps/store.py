"""A resumable result store: one JSON file per finished task, written atomically.

Layout of a store directory ``DIR``::

    DIR/tasks/<key>.json     one record per finished task (key: see theory.sweeps.experiment.Task)
    DIR/experiment.json      the last experiment run into DIR (normalised)
    DIR/summary.json         the last sweep's output (what ``tmsphase run --json`` prints)

A record is written with :func:`kgon.io.write_json_atomic` (strict JSON: NaN -> null; a temporary
file in the same directory, fsync'ed, renamed over the final name: ``os.replace`` is atomic on POSIX), so a reader sees either no file or
a complete one, even if the writer is killed. A record holds the task identity, the result and a
sha256 checksum of the result; on reading, a file that does not parse, belongs to another task, or
fails the checksum is reported as corrupt and the task is recomputed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgon.io import TMP_PREFIX, write_json_atomic
from theory.sweeps.experiment import TASK_FORMAT, Task, canonical_json

__all__ = ["ResultStore", "StoredResult", "write_json_atomic"]

_TMP_PREFIX = TMP_PREFIX  # temporaries of kgon.io.write_atomic: ".tmp-<pid>-..."


def _checksum(result: Any) -> str:
    return hashlib.sha256(canonical_json(result).encode()).hexdigest()


@dataclass(frozen=True)
class StoredResult:
    """What :meth:`ResultStore.load` found for a task.

    Attributes
    ----------
    status : str
        ``"ok"``, ``"missing"`` or ``"corrupt"``.
    result : dict or None
        The task's result when ``status == "ok"``.
    reason : str or None
        Why a file was judged corrupt.
    elapsed_s : float or None
        Compute time recorded with the result.
    """

    status: str
    result: dict | None = None
    reason: str | None = None
    elapsed_s: float | None = None


class ResultStore:
    """Finished-task records under ``root/tasks``; see the module docstring for the format.

    Parameters
    ----------
    root : path
        The store directory; created if absent.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"`out` must be a directory; {str(self.root)!r} is a file.")
        self.tasks_dir = self.root / "tasks"
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()

    def path(self, key: str) -> Path:
        """The record file of the task with this key."""
        return self.tasks_dir / f"{key}.json"

    def keys(self) -> list[str]:
        """Keys of all record files present (not checked)."""
        return sorted(p.stem for p in self.tasks_dir.glob("*.json") if not p.name.startswith("."))

    def load(self, task: Task) -> StoredResult:
        """Read and verify the record of ``task``."""
        path = self.path(task.key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StoredResult("missing")
        except (OSError, UnicodeDecodeError) as exc:
            return StoredResult("corrupt", reason=f"unreadable: {exc}")
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            return StoredResult("corrupt", reason=f"not valid JSON ({exc})")
        if not isinstance(record, dict):
            return StoredResult("corrupt", reason="not a JSON object")
        if record.get("format") != TASK_FORMAT:
            return StoredResult("corrupt", reason=f"format {record.get('format')!r}, expected {TASK_FORMAT}")
        if record.get("key") != task.key:
            return StoredResult("corrupt", reason="key does not match the file name")
        identity = task.identity()
        if canonical_json({k: record.get(k) for k in identity}) != canonical_json(identity):
            return StoredResult("corrupt", reason="task identity does not match its key")
        if record.get("seed") != task.seed:
            return StoredResult("corrupt", reason="seed does not match the task")
        result = record.get("result")
        if not isinstance(result, dict):
            return StoredResult("corrupt", reason="no result object")
        if record.get("checksum") != _checksum(result):
            return StoredResult("corrupt", reason="checksum mismatch")
        elapsed = record.get("elapsed_s")
        return StoredResult("ok", result=result, elapsed_s=float(elapsed) if elapsed is not None else None)

    def save(self, task: Task, result: dict, *, elapsed_s: float | None = None) -> Path:
        """Write the record of a finished task atomically; returns its path."""
        record = {
            "format": TASK_FORMAT,
            "key": task.key,
            **task.identity(),
            "seed": task.seed,
            "result": result,
            "checksum": _checksum(result),
            "elapsed_s": elapsed_s,
            "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "tmsphase_version": _package_version(),
        }
        path = self.path(task.key)
        write_json_atomic(path, record)
        return path

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files left by writers that were killed (their process is gone)."""
        for p in self.tasks_dir.glob(f"{_TMP_PREFIX}*"):
            try:
                pid = int(p.name[len(_TMP_PREFIX):].split("-", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _pid_alive(pid):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _package_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("tmsphase")
    except Exception:  # pragma: no cover - not installed
        return None
