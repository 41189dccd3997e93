"""Argument validation shared by every ``tmsphase`` command (DESIGN.md convention 4).

Each function here is an argparse ``type=`` callable (or a factory of one): it returns the parsed value
or raises :class:`argparse.ArgumentTypeError` with a message that says what is wrong, the bad value and
what is allowed. argparse prefixes the argument's name, and the command parser of
:mod:`theory.cli.main` prints it as ONE line and exits with code 2::

    tmsphase sgd: error: argument --lr: must be a finite number > 0; got 'nan'.

Checks that involve several arguments (a memory estimate from ``--n`` and ``--c``, ``--k <= --c``) run
after parsing and report through :func:`fail`, in the same format.

Memory guards. Two commands would otherwise allocate without bound:

- one evaluation of the closed-form potential and its gradient holds arrays over feature pairs: XLA
  asked for 81e9 bytes at c = 30000 (``kgon.kgon(5, 30000)``), about 90 c^2 bytes:
  :func:`potential_bytes` (``kgon``);
- the critical-point search (``critical-points``, ``transitions``, and everything that needs the
  catalogue of ``kgon.default_catalogue``) evaluates the potential and Hessians of size d x d,
  d = (r + 1) c, for a batch of 256 starts at a time (the chunk size of ``kgon.critical.search``),
  with a few work arrays of that size in the Levenberg-Marquardt solve: :func:`search_bytes`;
- the posterior data set (``posterior``, ``llc``) stores n samples and the exact evaluator of
  ``sampling.empirical_potential`` (sorted magnitudes, prefix and suffix sums, built in extended
  precision): a measured peak of about 240 bytes per sample at c = 6 (``sampling.make_dataset`` +
  ``sampling.empirical_potential``, n = 4e6, peak resident memory), :func:`dataset_bytes`.

A run is refused when the estimate exceeds :data:`MEMORY_FRACTION` of the machine's physical memory
(:func:`memory_budget`); the message gives both numbers.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

__all__ = [
    "MEMORY_FRACTION",
    "check_feature_list",
    "comma_floats",
    "comma_ints",
    "dataset_bytes",
    "existing_file",
    "fail",
    "finite_float",
    "format_bytes",
    "int_range",
    "memory_budget",
    "nonnegative_int",
    "output_dir",
    "output_file",
    "positive_int",
    "potential_bytes",
    "require_memory",
    "search_bytes",
    "sgd_bytes",
    "sparsity",
]

MEMORY_FRACTION = 0.5
"""Fraction of physical memory a single command may plan to use before it is refused."""

_SEARCH_CHUNK = 256  # starts per compiled batch in kgon.critical.search
_SEARCH_WORK_ARRAYS = 4  # d x d arrays per start alive at once: H, H^2 + mu I, its factorisation, a copy
_DATASET_BYTES_PER_SAMPLE = 240  # measured peak, see the module docstring


def _err(msg: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(msg)


def _parse_int(text) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise _err(f"must be an integer; got {text!r}.") from None


def int_range(minimum: int | None = None, maximum: int | None = None):
    """``type=`` for an integer in ``minimum..maximum`` (either bound may be None)."""

    def parse(text) -> int:
        v = _parse_int(text)
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            if maximum is None:
                allowed = f">= {minimum}"
            elif minimum is None:
                allowed = f"<= {maximum}"
            else:
                allowed = f"in {minimum}..{maximum}"
            raise _err(f"must be an integer {allowed}; got {v}.")
        return v

    parse.__name__ = "int"
    return parse


positive_int = int_range(1)
positive_int.__doc__ = "``type=`` for an integer >= 1."
nonnegative_int = int_range(0)
nonnegative_int.__doc__ = "``type=`` for an integer >= 0 (seeds, counts that may be zero)."


def finite_float(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
):
    """``type=`` for a finite float (no nan, no inf) in an interval; e.g. ``finite_float(0, min_inclusive=False)``."""

    lo = "" if minimum is None else (f">= {minimum:g}" if min_inclusive else f"> {minimum:g}")
    hi = "" if maximum is None else (f"<= {maximum:g}" if max_inclusive else f"< {maximum:g}")
    allowed = " and ".join(s for s in (lo, hi) if s)
    what = "a finite number" + (f" {allowed}" if allowed else "")

    def parse(text) -> float:
        try:
            v = float(str(text).strip())
        except ValueError:
            raise _err(f"must be {what}; got {text!r}.") from None
        ok = math.isfinite(v)
        if ok and minimum is not None:
            ok = v >= minimum if min_inclusive else v > minimum
        if ok and maximum is not None:
            ok = v <= maximum if max_inclusive else v < maximum
        if not ok:
            raise _err(f"must be {what}; got {text!r}.")
        return v

    parse.__name__ = "float"
    return parse


def comma_ints(minimum: int | None = 1, maximum: int | None = None):
    """``type=`` for a comma-separated list of integers, each in ``minimum..maximum``: ``"100,300,1000"``."""
    return _comma_list(int_range(minimum, maximum), "integers, e.g. 100,300,1000", all_parts=False)


def _comma_list(one, what: str, *, all_parts: bool):
    """A comma-separated list parsed item by item with ``one``; an empty list (any empty item with
    ``all_parts``) is refused naming ``what``."""

    def parse(text) -> list:
        parts = [p.strip() for p in str(text).split(",")]
        if not (all(parts) if all_parts else any(parts)):
            raise _err(f"must be a comma-separated list of {what}; got {text!r}.")
        out = []
        for p in parts:
            try:
                out.append(one(p))
            except argparse.ArgumentTypeError as exc:
                raise _err(f"{str(exc).rstrip('.')} in the list {text!r}.") from None
        return out

    parse.__name__ = "list"
    return parse


def comma_floats(minimum: float | None = 0.0, *, min_inclusive: bool = False):
    """``type=`` for a comma-separated list of finite floats, each > ``minimum`` (>= with ``min_inclusive``):
    ``"1,0.8,0.6"`` (feature importance, input scales; one value per feature, checked against ``--c`` by the
    command)."""
    return _comma_list(finite_float(minimum, min_inclusive=min_inclusive), "numbers, e.g. 1,0.8,0.6", all_parts=True)


def sparsity(text) -> float:
    """``type=`` for the input sparsity S of the general input density: a number in [0, 1)."""
    return finite_float(0.0, 1.0, max_inclusive=False)(text)


def check_feature_list(args, flag: str, values, c: int) -> None:
    """A per-feature list (``--importance``, ``--input-scale``) must have exactly c entries (one-line error)."""
    if values is not None and len(values) != c:
        fail(args, flag, f"must have one value per feature, c = {c}; got {len(values)} value(s).")


def _check_parents(path: Path, what: str) -> None:
    """Every existing ancestor of ``path`` must be a directory (so that ``mkdir(parents=True)`` can work)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise _err(f"cannot create {what} {str(path)!r}: {str(parent)!r} is a file, not a directory.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise _err(f"cannot create {what} {str(path)!r}: {str(parent)!r} is not writable.")
            return


def output_dir(text) -> Path:
    """``type=`` for an output directory: an existing directory, or a path that can be created."""
    path = Path(str(text)).expanduser()
    if not str(text).strip():
        raise _err("must be a directory path; got ''.")
    if path.exists():
        if not path.is_dir():
            raise _err(f"must be a directory; got the existing file {str(text)!r}.")
        if not os.access(path, os.W_OK | os.X_OK):
            raise _err(f"directory {str(text)!r} is not writable.")
        return path
    _check_parents(path, "the directory")
    return path


def output_file(text) -> Path:
    """``type=`` for a file to write (a figure, a CSV): not a directory; its folder exists or can be created."""
    path = Path(str(text)).expanduser()
    if not str(text).strip() or str(text).endswith(("/", os.sep)):
        raise _err(f"must be a file path; got {str(text)!r}.")
    if path.is_dir():
        raise _err(f"must be a file path; got the directory {str(text)!r}.")
    _check_parents(path, "the file")
    return path


def existing_file(text) -> Path:
    """``type=`` for an input file that must exist and be readable."""
    path = Path(str(text)).expanduser()
    if not path.exists():
        raise _err(f"file not found: {str(text)!r}.")
    if not path.is_file():
        raise _err(f"must be a file; got the directory {str(text)!r}.")
    if not os.access(path, os.R_OK):
        raise _err(f"file {str(text)!r} is not readable.")
    return path


# --------------------------------------------------------------------------------------------
# checks after parsing


def fail(args, flag: str, message: str):
    """Report a bad value of ``flag`` found after parsing: one line, exit code 2 (never returns)."""
    parser = getattr(args, "_parser", None)
    if parser is None:  # called outside the command line: the API's convention
        raise ValueError(f"`{flag}` {message}")
    parser.error(f"argument {flag}: {message}")


def format_bytes(n: float) -> str:
    """``1.5e12`` -> ``'1.4 TiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"  # pragma: no cover


def memory_budget() -> int:
    """:data:`MEMORY_FRACTION` of the physical memory of this machine, in bytes."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        total = 16 * 1024**3
    return int(MEMORY_FRACTION * total)


def potential_bytes(c: int) -> int:
    """Memory of one evaluation of the closed-form potential and its gradient at c features: ~ 90 c^2 bytes."""
    return 90 * c * c


def search_bytes(c: int, r: int = 2, n_starts: int | None = None) -> int:
    """Memory of the critical-point search at (c, r): 256 starts x (one potential evaluation + 4 arrays of
    d x d float64, d = (r + 1) c), plus 4 float64 copies of all starts (default 200 c of them)."""
    d = (r + 1) * c
    n_starts = 200 * c if n_starts is None else n_starts
    return _SEARCH_CHUNK * (potential_bytes(c) + 8 * _SEARCH_WORK_ARRAYS * d * d) + 4 * 8 * n_starts * d


def dataset_bytes(n: int, c: int = 6) -> int:
    """Memory of a posterior data set of n samples and its exact evaluator (about 240 bytes per sample)."""
    return _DATASET_BYTES_PER_SAMPLE * n + 8 * 7 * c * 64


def sgd_bytes(runs: int, n: int, c: int, r: int = 2, checkpoints: int = 200) -> int:
    """Memory of batched SGD (``sampling.train_sgd``): the one-hot inputs of all runs, (runs, n, c) float64,
    with ~3 intermediates of that size in a full-batch loss evaluation, plus the stored checkpoints."""
    return 8 * 4 * runs * n * c + 8 * runs * checkpoints * (r + 1) * c


def require_memory(args, flag: str, needed: int, what: str) -> None:
    """:func:`fail` on ``flag`` when ``needed`` bytes exceed :func:`memory_budget`.

    ``what`` names the allocation and its size parameter ("a data set of n = 1000000000 samples").
    """
    budget = memory_budget()
    if needed > budget:
        fail(
            args, flag,
            f"{what} would need about {format_bytes(needed)} of memory, more than the budget of "
            f"{format_bytes(budget)} ({MEMORY_FRACTION:.0%} of this machine's); choose a smaller value.",
        )
