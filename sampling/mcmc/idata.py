"""Posterior draws as arviz InferenceData (netCDF; docs/sampling.md).

Layout: ``posterior``: ``W`` (chain, draw, hidden, feature), ``b`` (chain, draw, feature), ``loss``
(chain, draw), ``phase`` (chain, draw; integer code into the attribute ``phase_labels``);
``sample_stats``: ``diverging``, ``lp`` (log posterior up to a constant), and for NUTS
``acceptance_rate``, ``n_steps``; attributes: the result's configuration (JSON), the occupancy (JSON),
the method and, for tempering, the ladder, swap rates and round trips.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from kgon.io import dumps_json, write_atomic

__all__ = ["to_inference_data", "write_idata", "write_netcdf"]


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az  # deferred: arviz is slow to import and needed only to convert draws
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
    return write_atomic(path, lambda p: write_idata(idata, p))


def write_idata(idata, path) -> None:
    """Write InferenceData to ``path`` (netCDF via h5netcdf), not atomically (:func:`write_netcdf` is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata.to_netcdf(str(path), engine="h5netcdf")
