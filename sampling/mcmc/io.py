"""Storage of posterior runs: arviz InferenceData (netCDF) and occupancy CSV, written atomically.

Each file is written atomically (:func:`kgon.io.write_atomic`: a temporary file in the destination
directory renamed over the final name), so an interrupted run never leaves a half-written file under the
final name; a re-run treats an n as complete when both of its files exist (:func:`is_complete`).
File names carry a hash of the task's configuration, so that changing a setting re-runs the task.

InferenceData layout (one file per n):

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
import hashlib
import io as _io
import warnings
from pathlib import Path

import numpy as np

from kgon.io import dumps_json, write_atomic, write_text_atomic

__all__ = [
    "to_inference_data",
    "write_netcdf",
    "write_occupancy_csv",
    "read_occupancy_csv",
    "task_hash",
    "task_paths",
    "is_complete",
    "load_result",
]


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az
    return az


def to_inference_data(res, occupancy=None):
    """arviz InferenceData of a :class:`sampling.NutsResult` or :class:`sampling.TemperingResult`.

    ``occupancy`` (an OccupancyResult) adds its occupancy and configuration as attributes.
    """
    az = _arviz()
    W, b, loss = np.asarray(res.W), np.asarray(res.b), np.asarray(res.loss)
    post = {"W": W, "b": b, "loss": loss}
    attrs = {"n": int(res.n), "c": int(res.c), "r": int(res.r)}
    if getattr(res, "labels", None) is not None:
        labels = np.asarray(res.labels)
        names = sorted(set(labels.ravel().tolist()))
        code = {nm: k for k, nm in enumerate(names)}
        post["phase"] = np.vectorize(code.get, otypes=[np.int64])(labels)
        attrs["phase_labels"] = dumps_json(names)
    beta = float(getattr(res.config, "beta", 1.0))
    lp = -0.5 * (np.sum(W**2, axis=(-2, -1)) + np.sum(b**2, axis=-1)) - beta * res.n * loss
    stats = {"diverging": np.asarray(res.diverging, dtype=bool), "lp": lp}
    if hasattr(res, "accept_prob") and np.ndim(res.accept_prob) == 2:
        stats["acceptance_rate"] = np.asarray(res.accept_prob)
        stats["n_steps"] = np.asarray(res.num_steps)
    attrs["config"] = dumps_json(res.config)
    if occupancy is not None:
        attrs["occupancy"] = dumps_json(occupancy)
        attrs["method"] = occupancy.method
    pt = getattr(res, "pt", None)
    if pt is not None:
        attrs["betas"] = dumps_json(pt.betas)
        attrs["swap_rate"] = dumps_json(pt.swap_rate)
        attrs["round_trips"] = dumps_json(pt.round_trips)
    dims = {"W": ["hidden", "feature"], "b": ["feature"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = az.from_dict(posterior=post, sample_stats=stats, dims=dims, attrs=attrs)
    if "phase_labels" in attrs:
        idata.posterior.attrs["phase_labels"] = attrs["phase_labels"]
    return idata


def write_netcdf(idata, path) -> Path:
    """Write InferenceData to ``path`` (netCDF via h5netcdf) atomically."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_atomic(path, lambda p: idata.to_netcdf(str(p), engine="h5netcdf"))


def write_occupancy_csv(result, path) -> Path:
    """Write one row per phase label: n, method, label, occupancy, occupancy_err, rhat_loss,
    ess_loss, divergences (atomically)."""
    buf = _io.StringIO()
    w = csv.writer(buf)
    w.writerow(["n", "method", "label", "occupancy", "occupancy_err", "rhat_loss", "ess_loss", "divergences"])
    for label, occ in result.occupancy.items():
        w.writerow([
            result.n, result.method, label, repr(float(occ)), repr(float(result.occupancy_err.get(label, float("nan")))),
            repr(float(result.rhat_loss)), repr(float(result.ess_loss)), int(result.divergences),
        ])
    return write_text_atomic(path, buf.getvalue())


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


def task_hash(config: dict) -> str:
    """8-hex-digit hash of a task configuration (JSON with sorted keys)."""
    text = dumps_json(config, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def task_paths(out_dir, config: dict) -> tuple[Path, Path]:
    """(netCDF path, CSV path) of the task ``config`` (must contain ``n`` and ``method``)."""
    out_dir = Path(out_dir)
    stem = f"posterior-n{int(config['n'])}-{config['method']}-{task_hash(config)}"
    return out_dir / f"{stem}.nc", out_dir / f"{stem}.csv"


def is_complete(out_dir, config: dict) -> bool:
    """Both files of the task exist (each was written atomically)."""
    nc, cs = task_paths(out_dir, config)
    return nc.is_file() and cs.is_file()


def load_result(out_dir, config: dict) -> dict:
    """The stored summary (``to_dict`` structure) of a complete task."""
    return read_occupancy_csv(task_paths(out_dir, config)[1])
