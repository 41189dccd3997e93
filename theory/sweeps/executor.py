"""Executors: run independent calls ``fn(*args)`` somewhere and report them as they finish.

One interface, :class:`Executor`, with two implementations:

- :class:`LocalExecutor` - processes on this machine (``concurrent.futures.ProcessPoolExecutor``
  with the ``spawn`` start method, safe with jax and torch threads), or in-process with
  ``workers=1``;
- :class:`DaskExecutor` - a Dask distributed cluster: a ``LocalCluster`` with ``workers``
  single-threaded worker processes, an existing scheduler ``address`` (for example one started by
  dask-jobqueue on SLURM, see docs/sweeps.md), or an existing ``distributed.Client``.

The function must be importable by its module path on the workers (a top-level function) and
its arguments picklable. Executors never look at what the calls compute; determinism is the
caller's business (the sweep passes each task its own seed).
"""

from __future__ import annotations

import abc
import multiprocessing
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

__all__ = ["Completed", "DaskExecutor", "Executor", "LocalExecutor", "make_executor"]


@dataclass(frozen=True)
class Completed:
    """One finished call.

    Attributes
    ----------
    index : int
        Position of the call in the submitted sequence.
    value : object
        The return value (``None`` if the call failed).
    error : str or None
        The formatted exception (with traceback) if the call raised.
    """

    index: int
    value: Any = None
    error: str | None = None


def _check_workers(value) -> int:
    """``workers`` as a positive int (kept local: importing kgon would pull in jax and torch)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`workers` must be a positive integer; got {value!r}.")
    return value


def _format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


class Executor(abc.ABC):
    """Runs independent calls and yields them in completion order; use as a context manager."""

    #: short name ("local", "dask")
    name: str = ""

    @abc.abstractmethod
    def run(self, fn: Callable, arguments: Sequence[tuple], *,
            keys: Sequence[str] | None = None) -> Iterator[Completed]:
        """Call ``fn(*args)`` for every ``args`` in ``arguments``; yield :class:`Completed` as each finishes.

        ``keys`` (optional, one per call) are names for the calls, shown by schedulers that
        display them. An exception inside a call is reported in ``Completed.error`` and does not stop
        the others. Stopping the iteration early (or an exception in the caller) cancels the calls
        that have not started.
        """

    @abc.abstractmethod
    def describe(self) -> str:
        """One line: where the calls run."""

    def close(self) -> None:
        """Release workers (no-op by default)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """Local processes (``spawn`` start method), or the calling process when ``workers == 1``.

    A pool of ``min(workers, number of calls)`` processes is started by each :meth:`run` and shut
    down when it ends.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes; default ``os.cpu_count()``. With 1 the calls run in this
        process, one after the other (no start-up cost, easy debugging).
    """

    name = "local"

    def __init__(self, *, workers: int | None = None):
        self.workers = _check_workers(workers if workers is not None else (os.cpu_count() or 1))

    def describe(self) -> str:
        if self.workers == 1:
            return "local (in-process, 1 worker)"
        return f"local ({self.workers} worker processes)"

    def run(self, fn, arguments, *, keys=None) -> Iterator[Completed]:
        arguments = list(arguments)
        if self.workers == 1:
            for i, args in enumerate(arguments):
                try:
                    value = fn(*args)
                except Exception as exc:  # reported, the sweep goes on
                    yield Completed(i, error=_format_exception(exc))
                else:
                    yield Completed(i, value=value)
            return
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(self.workers, len(arguments))), mp_context=multiprocessing.get_context("spawn")
        )
        futures = {pool.submit(fn, *args): i for i, args in enumerate(arguments)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.__getitem__):
                    exc = fut.exception()
                    if exc is not None:
                        yield Completed(futures[fut], error=_format_exception(exc))
                    else:
                        yield Completed(futures[fut], value=fut.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """A Dask distributed cluster.

    Exactly one of ``address``, ``client`` or ``workers`` chooses the cluster:

    Parameters
    ----------
    address : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"`` or the
        ``cluster.scheduler_address`` of a dask-jobqueue ``SLURMCluster``.
    client : distributed.Client, optional
        An existing client (not closed by :meth:`close`).
    workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded worker processes (default
        ``os.cpu_count()`` when neither ``address`` nor ``client`` is given); it is shut down by
        :meth:`close`.
    """

    name = "dask"

    def __init__(self, *, address: str | None = None, client=None, workers: int | None = None):
        given = [x is not None for x in (address, client, workers)]
        if sum(given) > 1:
            raise ValueError("give at most one of `address`, `client` and `workers` to DaskExecutor.")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"`address` must be a scheduler address such as 'tcp://host:8786'; got {address!r}.")
        if workers is not None:
            workers = _check_workers(workers)
        self.address = address
        self.workers = workers
        self._client = client
        self._owns_client = client is None
        self._cluster = None

    @property
    def client(self):
        """The ``distributed.Client`` (connects or starts the cluster on first use)."""
        if self._client is None:
            from distributed import Client, LocalCluster  # deferred: dask is optional and slow to import

            if self.address is not None:
                try:
                    self._client = Client(self.address, timeout="30s")
                except OSError as exc:
                    raise ValueError(f"cannot connect to the Dask scheduler at {self.address!r}: {exc}") from None
            else:
                n = self.workers if self.workers is not None else (os.cpu_count() or 1)
                self._cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
                )
                self._client = Client(self._cluster)
        return self._client

    def describe(self) -> str:
        if self.address is not None:
            return f"dask (scheduler {self.address})"
        if not self._owns_client:
            return f"dask (client {self._client.scheduler.address})"
        n = self.workers if self.workers is not None else (os.cpu_count() or 1)
        return f"dask (LocalCluster, {n} workers)"

    def run(self, fn, arguments, *, keys=None) -> Iterator[Completed]:
        from distributed import as_completed  # deferred: dask is optional and slow to import

        arguments = list(arguments)
        client = self.client
        stamp = f"{os.getpid()}-{time.monotonic_ns()}"
        futures = []
        for i, args in enumerate(arguments):
            name = keys[i] if keys is not None else str(i)
            futures.append(client.submit(fn, *args, key=f"tmsphase-{name}-{stamp}", pure=False))
        index = {f.key: i for i, f in enumerate(futures)}
        remaining = set(index)
        try:
            for fut in as_completed(futures):
                i = index[fut.key]
                remaining.discard(fut.key)
                if fut.status == "error":
                    exc = fut.exception()
                    tb = fut.traceback()
                    text = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
                    yield Completed(i, error=text)
                elif fut.status == "cancelled":
                    yield Completed(i, error="cancelled by the Dask cluster")
                else:
                    yield Completed(i, value=fut.result())
                fut.release()
        finally:
            if remaining:
                client.cancel([f for f in futures if f.key in remaining])

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(kind: str = "local", *, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Build an executor from CLI-style options.

    Parameters
    ----------
    kind : {"local", "dask"}
        Where tasks run.
    workers : int, optional
        Worker processes (local) or LocalCluster workers (dask); default ``os.cpu_count()``.
    scheduler : str, optional
        Address of a running Dask scheduler (``kind="dask"`` only; excludes ``workers``).
    """
    if kind not in ("local", "dask"):
        raise ValueError(f"`executor` must be one of 'local', 'dask'; got {kind!r}.")
    if scheduler is not None and kind != "dask":
        raise ValueError("`scheduler` needs the Dask executor (`--executor dask`).")
    if scheduler is not None and workers is not None:
        raise ValueError("give either `workers` (a new local cluster) or `scheduler` (an existing one), not both.")
    if kind == "local":
        return LocalExecutor(workers=workers)
    return DaskExecutor(address=scheduler, workers=workers)
