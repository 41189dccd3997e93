"""One JSON conversion and one atomic file writer for the whole toolkit.

Every result of ``kgon``, ``sampling`` and ``theory`` is written through these functions (this is
the lowest layer that writes files, so ``sampling`` and ``theory`` import them from here):

- :func:`to_jsonable` turns a result into strict JSON values: objects with ``to_dict()`` (the
  frozen result and config dataclasses) through it, numpy scalars and arrays into numbers and
  lists, tuples into lists, paths into strings, and non-finite floats (NaN, +-inf) into ``null``
  (strict JSON, RFC 8259, has no NaN). :func:`dumps_json` serialises it; ``sort_keys=True, compact=True``
  gives the canonical text used for hashing task configurations.
- :func:`write_atomic` writes a file under a temporary name in the target directory, flushes and
  fsyncs it and renames it over the final name (``os.replace`` is atomic on POSIX): a reader, or a
  resumed run, sees either no file or a complete one, even if the writer is killed.
  :func:`write_text_atomic` and :func:`write_json_atomic` are the text and JSON cases.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "TMP_PREFIX",
    "dumps_json",
    "to_jsonable",
    "write_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

TMP_PREFIX = ".tmp-"
"""Prefix of the temporary files of :func:`write_atomic` (followed by the writer's pid and ``-``)."""


def to_jsonable(obj: Any) -> Any:
    """Strict-JSON values (dict, list, str, int, float, bool, None) for ``obj``.

    Non-finite floats become ``None``; objects with a ``to_dict()`` method are converted through it,
    other dataclasses field by field; numpy scalars and arrays become Python numbers and lists.
    Raises ``TypeError`` for anything else (a silent ``str()`` would hide a bug).
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, dict):
        return {_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()] if obj.ndim else to_jsonable(obj.item())
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "__array__") and hasattr(obj, "dtype"):  # jax / torch arrays
        return to_jsonable(np.asarray(obj))
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON: {obj!r:.80}")


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, (int, float, bool, np.integer, np.floating)):
        return str(to_jsonable(k))
    raise TypeError(f"JSON object keys must be strings or numbers; got {type(k).__name__}")


def dumps_json(obj: Any, *, indent: int | None = None, sort_keys: bool = False, compact: bool = False) -> str:
    """Strict JSON text of :func:`to_jsonable` ``(obj)``.

    ``compact=True`` drops all whitespace; with ``sort_keys=True`` equal objects give equal strings.
    """
    separators = (",", ":") if compact else None
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=sort_keys, separators=separators, allow_nan=False)


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, fsync it, rename it to ``path``.

    The parent directory must exist. The file gets the permissions of an ordinary new file (the
    umask), not the private ones of a temporary file. On any error the temporary file is removed
    and ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return path
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 1, sort_keys: bool = True) -> Path:
    """Write ``obj`` as strict JSON (:func:`dumps_json`) to ``path`` atomically (:func:`write_atomic`)."""
    return write_text_atomic(path, dumps_json(obj, indent=indent, sort_keys=sort_keys) + "\n")
