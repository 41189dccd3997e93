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
  :func:`write_text_atomic`, :func:`write_json_atomic` and :func:`write_npz_atomic` are the text,
  JSON and numpy-array cases.
- :class:`ResultStore` is the one resume mechanism: finished results keyed by :func:`config_key`
  (sha256 of the canonical JSON of the configuration that produced them), with array payloads and
  attached files, each written atomically; a corrupt or mismatched entry raises :class:`StoreError`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io as _io
import json
import math
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "STORE_FORMAT",
    "TMP_PREFIX",
    "ResultStore",
    "StoreEntry",
    "StoreError",
    "config_key",
    "dumps_json",
    "put_args",
    "refuse_legacy",
    "to_jsonable",
    "write_atomic",
    "write_json_atomic",
    "write_npz_atomic",
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


# --------------------------------------------------------------------------------------------------
# arrays, keys and the result store


def write_npz_atomic(path: str | os.PathLike, arrays: dict, *, compressed: bool = True) -> Path:
    """Write ``arrays`` (name -> array) as one ``.npz`` file at ``path`` atomically (:func:`write_atomic`).

    The file is written through an open handle, so numpy adds no ``.npz`` suffix to the temporary name.
    """
    save = np.savez_compressed if compressed else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            save(fh, **{k: np.asarray(v) for k, v in arrays.items()})

    return write_atomic(path, write)


def config_key(config: Any, *, length: int = 32) -> str:
    """The key of a configuration: the first ``length`` hex digits of the sha256 of its canonical JSON.

    Canonical JSON is :func:`dumps_json` with ``sort_keys=True, compact=True`` (strict: NaN -> null),
    so equal configurations (dict order aside) give equal keys on every machine and Python version.
    """
    if not isinstance(length, int) or isinstance(length, bool) or not 8 <= length <= 64:
        raise ValueError(f"`length` must be an integer in 8..64; got {length!r}.")
    text = dumps_json(config, sort_keys=True, compact=True)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


STORE_FORMAT = 2
"""Format of :class:`ResultStore` records; a record of another format is refused with a clear error."""


class StoreError(ValueError):
    """A stored entry is corrupt, belongs to another configuration or was written by another version.

    A ``ValueError``, so the CLI turns it into a one-line message and exit code 2; the message names
    the file and says what to do (delete the file, or the directory, to recompute).
    """


@dataclass(frozen=True)
class StoreEntry:
    """One finished entry of a :class:`ResultStore`.

    Attributes
    ----------
    key : str
        :func:`config_key` of ``config``.
    config : JSON value
        The configuration the entry was computed from (strict JSON, as stored).
    result : JSON value
        The stored result.
    meta : dict
        What the writer added: ``elapsed_s``, ``finished_utc``, ``host``, ``tmsphase_version`` and
        anything passed as ``meta``.
    path : Path
        The record file ``<root>/<key>.json``.
    arrays : tuple of str
        Names of the array payload (``<root>/<key>.npz``); empty when there is none.
    attachments : tuple of str
        Suffixes of the attached files ``<root>/<key>.<suffix>``.
    """

    key: str
    config: Any
    result: Any
    meta: dict
    path: Path
    arrays: tuple = ()
    attachments: tuple = ()
    _arrays_sha256: str | None = field(default=None, repr=False, compare=False)

    def load_arrays(self) -> dict:
        """The array payload as a dict of numpy arrays (checked against the record's checksum)."""
        if not self.arrays:
            return {}
        npz = self.path.with_suffix(".npz")
        try:
            data = npz.read_bytes()
        except OSError as exc:
            raise StoreError(f"{npz}: array payload unreadable ({exc}); delete {self.path} to recompute.") from None
        if hashlib.sha256(data).hexdigest() != self._arrays_sha256:
            raise StoreError(f"{npz}: array payload does not match its record (checksum); delete {self.path} to recompute.")
        with np.load(_io.BytesIO(data), allow_pickle=False) as z:
            if sorted(z.files) != sorted(self.arrays):
                raise StoreError(f"{npz}: arrays {sorted(z.files)} differ from the record's {sorted(self.arrays)}.")
            return {k: z[k] for k in self.arrays}

    def attachment(self, suffix: str) -> Path:
        """Path of the attached file ``<root>/<key>.<suffix>``."""
        if suffix not in self.attachments:
            raise KeyError(f"entry {self.key} has no attachment {suffix!r} (it has {list(self.attachments)}).")
        return self.path.with_name(f"{self.key}.{suffix}")


class ResultStore:
    """A directory of finished results, each keyed by a hash of the configuration that produced it.

    The one resume mechanism of the toolkit: ``tmsphase posterior --out``, ``tmsphase sgd --out``,
    ``tmsphase development``, ``tmsphase reproduce`` and the sweeps store every finished unit of work
    here and, when re-run, reuse the units whose configuration is already stored.

    Layout of ``root``::

        <key>.json       the record: format, key, config, result, sha256 of the result, meta,
                         the names and sha256 of the array payload, the attachments
        <key>.npz        the array payload (optional; numpy ``.npz``)
        <key>.<suffix>   attached files written by the caller (optional, e.g. ``nc``, ``csv``)

    with ``key = config_key(config)``. Every file is written atomically (:func:`write_atomic`); the
    record is written last, so an entry exists exactly when its record does, and a killed writer
    leaves either no entry or a complete one. :meth:`get` checks the record (it parses, has this
    format, its key matches its file name and its config, the result matches its checksum) and
    raises :class:`StoreError` naming the file otherwise.

    Parameters
    ----------
    root : path
        The store directory; created (with parents) if absent. Must not be a file.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"a result store must be a directory; {str(self.root)!r} is a file.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ValueError(f"cannot create the result store {str(self.root)!r}: a parent is a file.") from None
        except NotADirectoryError:
            raise ValueError(f"cannot create the result store {str(self.root)!r}: a parent is a file.") from None
        self._remove_stale_temporaries()

    # keys and paths
    @staticmethod
    def key(config: Any) -> str:
        """:func:`config_key` of ``config``."""
        return config_key(config)

    def path(self, key: str) -> Path:
        """The record file of the entry with this key."""
        return self.root / f"{key}.json"

    def keys(self) -> list[str]:
        """Keys of all entries present (sorted; records not checked)."""
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.startswith("."))

    def list(self) -> list[StoreEntry]:
        """All entries, checked (:meth:`get_key`), in key order."""
        return [self.get_key(k) for k in self.keys()]

    def contains(self, config: Any) -> bool:
        """Whether an entry for ``config`` exists (its record file; :meth:`get` checks it)."""
        return self.path(self.key(config)).is_file()

    __contains__ = contains

    # reading
    def get(self, config: Any) -> StoreEntry:
        """The entry of ``config``; ``KeyError`` if there is none, :class:`StoreError` if it is corrupt."""
        key = self.key(config)
        entry = self.get_key(key)
        if dumps_json(entry.config, sort_keys=True) != dumps_json(config, sort_keys=True):
            raise StoreError(f"{entry.path}: stored config differs from the requested one with the same key; "
                             "delete the file to recompute.")
        return entry

    def get_key(self, key: str) -> StoreEntry:
        """The entry with this key; ``KeyError`` if there is none, :class:`StoreError` if it is corrupt."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyError(key) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: unreadable ({exc}); delete it to recompute.") from None

        def bad(reason: str) -> StoreError:
            return StoreError(f"{path}: {reason}; delete it to recompute.")

        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise bad(f"not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise bad("not a JSON object")
        fmt = record.get("store_format")
        if fmt != STORE_FORMAT:
            raise StoreError(f"{path}: written by another version of tmsphase (store format {fmt!r}, this version "
                             f"reads {STORE_FORMAT}); delete it, or use a new directory, to recompute.")
        if record.get("key") != key:
            raise bad("its key does not match its file name")
        if "config" not in record or config_key(record["config"]) != key:
            raise bad("its config does not match its key")
        result = record.get("result")
        if record.get("checksum") != _checksum(result):
            raise bad("result checksum mismatch")
        arrays = record.get("arrays") or {}
        names = tuple(arrays.get("names") or ())
        if names and not path.with_suffix(".npz").is_file():
            raise bad(f"its array payload {path.with_suffix('.npz').name} is missing")
        attachments = tuple(record.get("attachments") or ())
        for suffix in attachments:
            if not path.with_name(f"{key}.{suffix}").is_file():
                raise bad(f"its attachment {key}.{suffix} is missing")
        return StoreEntry(key=key, config=record["config"], result=result, meta=dict(record.get("meta") or {}),
                          path=path, arrays=names, attachments=attachments, _arrays_sha256=arrays.get("sha256"))

    # writing
    def put(
        self,
        config: Any,
        result: Any,
        *,
        arrays: dict | None = None,
        attachments: dict | None = None,
        meta: dict | None = None,
        elapsed_s: float | None = None,
    ) -> StoreEntry:
        """Store ``result`` (strict JSON) for ``config``; returns the entry.

        ``arrays`` (name -> array) become ``<key>.npz``; ``attachments`` (suffix -> ``write(tmp_path)``)
        become ``<key>.<suffix>``, each written atomically before the record, which comes last.
        """
        key = self.key(config)
        config_j = json.loads(dumps_json(config))
        result_j = json.loads(dumps_json(result))
        record_arrays = None
        if arrays:
            npz = self.root / f"{key}.npz"
            write_npz_atomic(npz, arrays)
            record_arrays = {"names": sorted(arrays), "sha256": hashlib.sha256(npz.read_bytes()).hexdigest()}
        for suffix, write in (attachments or {}).items():
            if not isinstance(suffix, str) or not suffix or "/" in suffix or suffix in ("json", "npz"):
                raise ValueError(f"attachment suffix must be a plain name other than json/npz; got {suffix!r}.")
            write_atomic(self.root / f"{key}.{suffix}", write)
        record = {
            "store_format": STORE_FORMAT,
            "key": key,
            "config": config_j,
            "result": result_j,
            "checksum": _checksum(result_j),
            "arrays": record_arrays,
            "attachments": sorted(attachments or {}),
            "meta": {
                "elapsed_s": elapsed_s,
                "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "host": socket.gethostname(),
                "tmsphase_version": _package_version(),
                **(meta or {}),
            },
        }
        write_json_atomic(self.path(key), record, sort_keys=False)  # keeps the result's key order
        return self.get_key(key)

    def get_or_compute(self, config: Any, compute: Callable[[], Any]) -> tuple[StoreEntry, bool]:
        """``(entry, reused)``: the stored entry of ``config``, or ``compute()`` stored first.

        ``compute`` returns the result, or a dict ``{"result": ..., "arrays": ..., "attachments": ...,
        "meta": ...}`` of :meth:`put`'s arguments when it has more than a JSON result (see
        :func:`put_args`). A corrupt entry raises :class:`StoreError`.
        """
        try:
            return self.get(config), True
        except KeyError:
            pass
        t0 = time.perf_counter()
        out = compute()
        if isinstance(out, _PutArgs):
            return self.put(config, out.result, arrays=out.arrays, attachments=out.attachments, meta=out.meta,
                            elapsed_s=time.perf_counter() - t0), False
        return self.put(config, out, elapsed_s=time.perf_counter() - t0), False

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files left by writers that were killed (their process is gone)."""
        for p in self.root.glob(f"{TMP_PREFIX}*"):
            try:
                pid = int(p.name[len(TMP_PREFIX):].split("-", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _pid_alive(pid):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


@dataclass(frozen=True)
class _PutArgs:
    result: Any
    arrays: dict | None = None
    attachments: dict | None = None
    meta: dict | None = None


def put_args(result: Any, *, arrays: dict | None = None, attachments: dict | None = None,
             meta: dict | None = None) -> _PutArgs:
    """What a ``compute`` of :meth:`ResultStore.get_or_compute` returns when it has arrays or attachments."""
    return _PutArgs(result, arrays, attachments, meta)


def _checksum(result: Any) -> str:
    return hashlib.sha256(dumps_json(result, sort_keys=True, compact=True).encode()).hexdigest()


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


def refuse_legacy(directory: str | os.PathLike, patterns: tuple[str, ...], *, argument: str = "--out") -> None:
    """Raise ``ValueError`` if ``directory`` holds files of an older on-disk layout (glob ``patterns``).

    Results written before the :class:`ResultStore` are not read back; the message says so and names
    a file, instead of silently recomputing beside them.
    """
    root = Path(directory)
    if not root.is_dir():
        return
    for pattern in patterns:
        found = sorted(root.glob(pattern))
        if found:
            raise ValueError(f"`{argument}` directory {str(root)!r} was written by an older version of tmsphase "
                             f"({found[0].relative_to(root)}); use a new directory, or delete it to recompute.")
