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
  attached files, each written atomically. It repairs itself: an entry that fails its checks (a record
  that does not parse, a checksum or key that does not match, a missing or altered payload, another
  store format) is moved aside (``<file>.corrupt-<UTC time>``, named in a :class:`StoreRepairWarning`)
  and treated as absent, so :meth:`ResultStore.get_or_compute` recomputes it.
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
import warnings
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "CORRUPT_SUFFIX", "STORE_FORMAT", "TMP_PREFIX", "EntryMovedAside", "ResultStore", "StoreEntry", "StoreError",
    "StoreRepairWarning", "config_key", "dumps_json", "finite_or_none", "move_aside", "put_args", "refuse_legacy",
    "to_jsonable",
    "write_atomic", "write_json_atomic", "write_npz_atomic", "write_text_atomic",
]

TMP_PREFIX = ".tmp-"
"""Prefix of the temporary files of :func:`write_atomic` (followed by the writer's pid and ``-``)."""


def finite_or_none(x) -> float | None:
    """``float(x)`` if it is finite, else None (also for None): a number for strict JSON."""
    return None if x is None or not math.isfinite(x := float(x)) else x


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
        return finite_or_none(obj)
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
"""Format of :class:`ResultStore` records; a record of another format is moved aside and recomputed."""

CORRUPT_SUFFIX = ".corrupt-"
"""Infix of the names of moved-aside files: ``<file name>.corrupt-<UTC time>``."""


class StoreError(ValueError):
    """The store cannot be used as asked: a root that is not a directory, an entry that cannot be read
    (permissions), a stored configuration that differs from the requested one under the same key, or
    an entry moved aside (:class:`EntryMovedAside`).

    A ``ValueError``, so the CLI turns it into a one-line message and exit code 2; the message names
    the file.
    """


class EntryMovedAside(StoreError):
    """An entry failed its checks and was moved aside; it is absent now, and a new ``put`` or
    :meth:`ResultStore.get_or_compute` writes it afresh.

    Attributes
    ----------
    path : Path
        The record file ``<root>/<key>.json`` of the entry.
    reason : str
        What failed (e.g. ``"not valid JSON (...)"``, ``"result checksum mismatch"``).
    moved : tuple of Path
        The files' new names (``<file name>.corrupt-<UTC time>``); empty if another process moved
        them first.
    """

    def __init__(self, path: Path, reason: str, moved: tuple):
        self.path, self.reason, self.moved = path, reason, tuple(moved)
        where = f"moved aside to {self.moved[0].name}" if self.moved else "already moved aside"
        super().__init__(f"{path}: {reason}; {where}, to be recomputed.")


class StoreRepairWarning(UserWarning):
    """Warns that a :class:`ResultStore` entry failed its checks and was moved aside (its message
    names the file, the reason and the new name)."""


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
        """The array payload as a dict of numpy arrays (checked against the record's checksum).

        A payload that no longer matches its record (it changed after :meth:`ResultStore.get`) moves the
        entry aside and raises :class:`EntryMovedAside`.
        """
        if not self.arrays:
            return {}
        npz = self.path.with_suffix(".npz")
        try:
            data = npz.read_bytes()
        except FileNotFoundError:
            raise move_aside(self.path, f"its array payload {npz.name} is missing") from None
        except OSError as exc:
            raise StoreError(f"{npz}: array payload unreadable ({exc}).") from None
        if hashlib.sha256(data).hexdigest() != self._arrays_sha256:
            raise move_aside(self.path, f"its array payload {npz.name} does not match its checksum")
        try:
            with np.load(_io.BytesIO(data), allow_pickle=False) as z:
                loaded = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise move_aside(self.path, f"its array payload {npz.name} does not load ({exc})") from None
        if sorted(loaded) != sorted(self.arrays):
            raise move_aside(self.path, f"its array payload holds {sorted(loaded)}, the record names "
                                        f"{sorted(self.arrays)}")
        return {k: loaded[k] for k in self.arrays}

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
    leaves either no entry or a complete one. :meth:`get` checks the entry (the record parses, has this
    format, its key matches its file name and its config, the result matches its checksum, the array
    payload matches its checksum, the attachments exist); an entry that fails is moved aside
    (:func:`move_aside`: every file ``<key>.*`` renamed ``<name>.corrupt-<UTC time>``, with a
    :class:`StoreRepairWarning`), so it is absent from then on and :meth:`get_or_compute` recomputes it.

    Parameters
    ----------
    root : path
        The store directory; created (with parents) if absent. Must not be a file.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"a result store must be a directory; {str(self.root)!r} is a file.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StoreError(f"cannot create the result store {str(self.root)!r}: a parent is a file.") from None
        except NotADirectoryError:
            raise StoreError(f"cannot create the result store {str(self.root)!r}: a parent is a file.") from None
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
        """All entries that pass their checks (:meth:`get_key`), in key order; the others are moved aside."""
        out = []
        for k in self.keys():
            try:
                out.append(self.get_key(k))
            except (KeyError, EntryMovedAside):
                continue
        return out

    def contains(self, config: Any) -> bool:
        """Whether an entry for ``config`` exists (its record file; :meth:`get` checks it)."""
        return self.path(self.key(config)).is_file()

    __contains__ = contains

    # reading
    def get(self, config: Any) -> StoreEntry:
        """The entry of ``config``.

        Raises ``KeyError`` if there is none, :class:`EntryMovedAside` if it failed its checks (it is
        moved aside, so the next call raises ``KeyError``), :class:`StoreError` if it is unreadable or
        its stored config differs from ``config`` under the same key.
        """
        key = self.key(config)
        entry = self.get_key(key)
        if dumps_json(entry.config, sort_keys=True) != dumps_json(config, sort_keys=True):
            raise StoreError(f"{entry.path}: stored config differs from the requested one with the same key.")
        return entry

    def get_key(self, key: str) -> StoreEntry:
        """The entry with this key; errors as in :meth:`get`."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyError(key) from None
        except UnicodeDecodeError as exc:
            raise move_aside(path, f"not UTF-8 text ({exc})") from None
        except OSError as exc:
            raise StoreError(f"{path}: unreadable ({exc}).") from None
        problem, record = _check_record(text, key, path)
        if problem is not None:
            raise move_aside(path, problem)
        arrays = record.get("arrays") or {}
        return StoreEntry(key=key, config=record["config"], result=record.get("result"),
                          meta=dict(record.get("meta") or {}), path=path, arrays=tuple(arrays.get("names") or ()),
                          attachments=tuple(record.get("attachments") or ()), _arrays_sha256=arrays.get("sha256"))

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
        :func:`put_args`). An entry that fails its checks is moved aside (with a
        :class:`StoreRepairWarning`) and computed again.
        """
        try:
            return self.get(config), True
        except (KeyError, EntryMovedAside):
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


def _check_record(text: str, key: str, path: Path) -> tuple[str | None, dict]:
    """``(problem, record)``: what is wrong with the record text of entry ``key`` at ``path`` (None if
    nothing) and the parsed record. Checks the JSON, the store format, the key against the file name
    and the config, the result and array-payload checksums and the attached files."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc})", {}
    if not isinstance(record, dict):
        return "not a JSON object", {}
    fmt = record.get("store_format")
    if fmt != STORE_FORMAT:
        return (f"written by another version of tmsphase (store format {fmt!r}, this version reads "
                f"{STORE_FORMAT})"), record
    if record.get("key") != key:
        return "its key does not match its file name", record
    if "config" not in record or config_key(record["config"]) != key:
        return "its config does not match its key", record
    if record.get("checksum") != _checksum(record.get("result")):
        return "result checksum mismatch", record
    arrays = record.get("arrays") or {}
    if arrays.get("names"):
        npz = path.with_suffix(".npz")
        try:
            digest = _file_sha256(npz)
        except FileNotFoundError:
            return f"its array payload {npz.name} is missing", record
        if digest != arrays.get("sha256"):
            return f"its array payload {npz.name} does not match its checksum", record
    for suffix in record.get("attachments") or ():
        if not path.with_name(f"{key}.{suffix}").is_file():
            return f"its attachment {key}.{suffix} is missing", record
    return None, record


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def move_aside(record: str | os.PathLike, reason: str) -> EntryMovedAside:
    """Move the entry whose record file is ``record`` (``<root>/<key>.json``) aside; returns the
    :class:`EntryMovedAside` to raise.

    Every file ``<root>/<key>.*`` (the record first, then the array payload and the attachments) is
    renamed ``<name>.corrupt-<UTC time>``, so the entry is absent and its files are kept for
    inspection; a :class:`StoreRepairWarning` names the record, ``reason`` and the new name. Files
    that another process moved first are skipped.
    """
    record = Path(record)
    key = record.stem
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    others = sorted(p for p in record.parent.glob(f"{key}.*") if p != record and CORRUPT_SUFFIX not in p.name)
    moved = []
    for p in [record, *others]:
        target = p.with_name(f"{p.name}{CORRUPT_SUFFIX}{stamp}")
        try:
            os.rename(p, target)
        except FileNotFoundError:
            continue
        moved.append(target)
    error = EntryMovedAside(record, reason, tuple(moved))
    warnings.warn(f"result store entry {record}: {reason}; "
                  + (f"moved aside to {moved[0].name}; it will be recomputed." if moved else "already moved aside."),
                  StoreRepairWarning, stacklevel=3)
    return error


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
        return version("tmsphase")
    except PackageNotFoundError:  # pragma: no cover - not installed
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
