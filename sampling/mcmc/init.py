"""Starting points of posterior chains: prior draws or catalogue critical points in a random
orientation and feature order (docs/sampling.md)."""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["initial_points", "init_repr"]


def _random_orthogonal(rng: np.random.Generator, r: int) -> np.ndarray:
    q, rr = np.linalg.qr(rng.normal(size=(r, r)))
    return q * np.sign(np.diag(rr))[None, :]


def initial_points(rng_key, init, *, count: int, r: int, c: int, catalogue=None, jitter: float = 1e-2) -> np.ndarray:
    """Starting points z (count, r c + c) for chains.

    Parameters
    ----------
    rng_key : jax PRNG key
    init : "prior", "catalogue", a catalogue label, a sequence of labels, a CriticalPoint, or an
        array of shape (count, r c + c)
        "prior": independent N(0, I) draws. "catalogue": cycle through the catalogue's local minima
        (no negative Hessian eigenvalue) in order of loss. Catalogue points are placed in a random
        O(r) orientation and feature order (the same phase) plus N(0, jitter^2) noise.
    count, r, c : int
    catalogue : kgon.Catalogue, optional
        Needed for "catalogue" and labels.
    """
    seed = int(np.asarray(jax.random.randint(rng_key, (), 0, 2**31 - 1)))
    rng = np.random.default_rng(seed)
    d = r * c + c
    if isinstance(init, str) and init == "prior":
        return rng.normal(size=(count, d))
    if isinstance(init, np.ndarray) or (hasattr(init, "shape") and not hasattr(init, "W")):
        z = np.asarray(init, dtype=np.float64)
        if z.shape != (count, d):
            raise ValueError(f"`init` array must have shape ({count}, {d}); got {z.shape}.")
        return z.copy()
    points = _init_points(init, catalogue)
    out = np.empty((count, d))
    for k in range(count):
        p = points[k % len(points)]
        W = np.asarray(p.W, dtype=np.float64)
        b = np.asarray(p.b, dtype=np.float64)
        if W.shape != (r, c):
            raise ValueError(f"catalogue point {p.label!r} has shape {W.shape}; expected ({r}, {c}).")
        perm = rng.permutation(c)
        W = _random_orthogonal(rng, r) @ W[:, perm]
        b = b[perm]
        out[k] = np.concatenate([W.ravel(), b]) + jitter * rng.normal(size=d)
    return out


def _init_points(init, catalogue) -> list:
    if hasattr(init, "W") and hasattr(init, "b"):
        return [init]
    if catalogue is None:
        raise ValueError(f"`init` = {init!r} needs a `catalogue`; got None.")
    if isinstance(init, str) and init == "catalogue":
        pts = [p for p in catalogue.points if getattr(p, "hessian_signature", (0,))[0] == 0]
        if not pts:
            raise ValueError("`catalogue` has no local minima to initialise chains from.")
        return pts
    labels = [init] if isinstance(init, str) else list(init)
    known = set(catalogue.labels())
    bad = [lab for lab in labels if lab not in known]
    if bad or not labels:
        raise ValueError(
            f"`init` must be 'prior', 'catalogue', catalogue labels, a CriticalPoint or an array; got {init!r}."
        )
    return [catalogue.get(lab) for lab in labels]


def init_repr(init) -> str:
    """A short string for ``init`` (the value recorded in the configs)."""
    if isinstance(init, str):
        return init
    if hasattr(init, "label"):
        return str(init.label)
    if isinstance(init, np.ndarray) or hasattr(init, "shape"):
        return "array"
    return ",".join(str(x) for x in init)
