"""Storage of posterior runs: one result-store entry per sample size n, with arviz InferenceData
(netCDF) and an occupancy CSV attached.

:func:`posterior_over_n` is the one loop over sample sizes behind ``tmsphase posterior --out DIR``
and the posterior stage of ``tmsphase reproduce``: for every n it reuses the entry of
:func:`posterior_store_config` (the :class:`sampling.OccupancyConfig` and the seed) from a
:class:`kgon.io.ResultStore`, or runs :func:`sampling.run_occupancy` and stores the result (the
occupancy summary as the record, the draws as ``<key>.nc``, the occupancy table as ``<key>.csv``;
each file written atomically, the record last), so an interrupted run resumes at the first missing n
and changing a setting re-runs the task.

The draws are stored as InferenceData (:mod:`sampling.mcmc.idata`); layout (one file per n):

- ``posterior``: ``W`` (chain, draw, hidden, feature), ``b`` (chain, draw, feature), ``loss``
  (chain, draw), ``phase`` (chain, draw; integer code into the attribute ``phase_labels``);
- ``sample_stats``: ``diverging``, ``lp`` (log posterior up to a constant), and for NUTS
  ``acceptance_rate``, ``n_steps``;
- attributes (of the InferenceData; ``phase_labels`` also on ``posterior``): the result's
  configuration (JSON), the occupancy (JSON), the method and, for tempering, the ladder, swap rates
  and round trips.
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import jax
import numpy as np
from tqdm.auto import tqdm

from kgon.io import ResultStore, put_args, refuse_legacy, write_text_atomic
from sampling.mcmc.idata import to_inference_data, write_idata, write_netcdf
from sampling.mcmc.occupancy import OccupancyConfig, run_occupancy

__all__ = [
    "LEGACY_PATTERNS",
    "posterior_entry",
    "posterior_over_n",
    "posterior_store_config",
    "read_occupancy_csv",
    "read_posterior_store",
    "to_inference_data",
    "write_netcdf",
    "write_occupancy_csv",
]


def write_occupancy_csv(result, path) -> Path:
    """Write one row per phase label: n, method, label, occupancy, occupancy_err, rhat_loss,
    ess_loss, divergences (atomically)."""
    return write_text_atomic(path, _occupancy_csv_text(result))


def _occupancy_csv_text(result) -> str:
    buf = _io.StringIO()
    w = csv.writer(buf)
    w.writerow(["n", "method", "label", "occupancy", "occupancy_err", "rhat_loss", "ess_loss", "divergences"])
    for label, occ in result.occupancy.items():
        w.writerow([
            result.n, result.method, label, repr(float(occ)),
            repr(float(result.occupancy_err.get(label, float("nan")))),
            repr(float(result.rhat_loss)), repr(float(result.ess_loss)), int(result.divergences),
        ])
    return buf.getvalue()


def read_occupancy_csv(path) -> dict:
    """Read an occupancy CSV back into the ``OccupancyResult.to_dict()`` structure."""
    rows = list(csv.DictReader(Path(path).read_text().splitlines()))
    if not rows:
        raise ValueError(f"{path}: empty occupancy file.")

    def num(x):
        v = float(x)
        return None if not np.isfinite(v) else v

    first = rows[0]
    return {
        "n": int(first["n"]),
        "method": first["method"],
        "occupancy": {r["label"]: float(r["occupancy"]) for r in rows},
        "occupancy_err": {r["label"]: num(r["occupancy_err"]) for r in rows},
        "rhat_loss": num(first["rhat_loss"]),
        "ess_loss": num(first["ess_loss"]),
        "divergences": int(first["divergences"]),
    }


#: Files of ``tmsphase posterior --out`` from before the result store (refused with a clear error).
LEGACY_PATTERNS = ("posterior-n*-*.csv", "posterior-n*-*.nc")


def posterior_store_config(config, seed: int) -> dict:
    """The configuration under which the run of ``config`` (an :class:`sampling.OccupancyConfig`) with
    the key ``jax.random.fold_in(jax.random.PRNGKey(seed), n)`` is stored."""
    return {"kind": "posterior", "config": config.to_dict(), "seed": int(seed)}


def posterior_entry(store: ResultStore, config, *, seed: int, catalogue, progress: bool = False) -> tuple[dict, bool]:
    """``(result, reused)`` at one sample size: the stored entry of (``config``, ``seed``), or
    :func:`sampling.run_occupancy` with the key ``fold_in(PRNGKey(seed), config.n)`` stored first.

    ``result`` is ``OccupancyResult.to_dict()`` as stored (the same whether computed now or reused).
    ``catalogue`` is a ``kgon.Catalogue`` or a function returning one (called only when computing).
    """
    def compute():
        cat = catalogue() if callable(catalogue) else catalogue
        res = run_occupancy(jax.random.fold_in(jax.random.PRNGKey(int(seed)), config.n), config,
                                     catalogue=cat, progress=progress)
        attachments = {"csv": lambda p: p.write_text(_occupancy_csv_text(res), encoding="utf-8")}
        if res.idata is not None:  # the draws (run_occupancy keeps them by default)
            attachments["nc"] = lambda p: write_idata(res.idata, p)
        return put_args(res.to_dict(), attachments=attachments)

    entry, reused = store.get_or_compute(posterior_store_config(config, seed), compute)
    return entry.result, reused


def posterior_over_n(store: ResultStore, ns, *, seed: int, catalogue, progress: bool = False,
                     **settings) -> tuple[list[dict], int]:
    """``(results, reused)``: :func:`posterior_entry` for every n in ``ns`` (in order) with the
    :class:`sampling.OccupancyConfig` ``settings`` (all fields but n), and how many were reused.

    The directory must not hold files of the layout before the store (:data:`LEGACY_PATTERNS`).
    """
    refuse_legacy(store.root, LEGACY_PATTERNS)
    configs = [OccupancyConfig(n=int(n), **settings) for n in ns]  # validates every n before running any
    results, reused = [], 0
    for cfg in tqdm(configs, desc="posterior", unit="n", disable=not progress or len(configs) < 2):
        res, was = posterior_entry(store, cfg, seed=seed, catalogue=catalogue, progress=progress)
        results.append(res)
        reused += was
    return results, reused


def read_posterior_store(root) -> list[dict]:
    """The occupancy results (``OccupancyResult.to_dict()``) of every posterior entry of the store at
    ``root``, ordered by n."""
    store = ResultStore(root)
    entries = [e for e in store.list() if isinstance(e.config, dict) and e.config.get("kind") == "posterior"]
    return [e.result for e in sorted(entries, key=lambda e: (e.result["n"], e.key))]
