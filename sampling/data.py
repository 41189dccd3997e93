"""The high-sparsity TMS data set (docs/index.md, Conventions).

Each sample is x = mu e_i: one feature index i drawn uniformly from {0, ..., c-1} and one magnitude
mu ~ Uniform[0, 1]. The sample is stored as the pair (i, mu), which is all that the empirical loss
needs (Chen et al. 2023, §3 "high sparsity limit").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from kgon.validation import check_int

__all__ = ["Dataset", "make_dataset", "key_data"]


def key_data(rng_key) -> tuple[int, ...]:
    """The raw integers of a JAX PRNG key (typed or legacy uint32), for recording in results."""
    arr = rng_key
    if jnp.issubdtype(getattr(arr, "dtype", np.uint32), jax.dtypes.prng_key):
        arr = jax.random.key_data(arr)
    return tuple(int(v) for v in np.asarray(arr).ravel())


@dataclass(frozen=True)
class Dataset:
    """A TMS data set D_n = {mu_k e_{i_k}}_{k=1..n}.

    Attributes
    ----------
    features : ndarray of int64, shape (n,)
        Feature index i_k in {0, ..., c-1} of each sample (read-only).
    mu : ndarray of float64, shape (n,)
        Magnitude mu_k in [0, 1) of each sample (read-only).
    c : int
        Number of features.
    n : int
        Number of samples.
    key : tuple of int
        The raw PRNG key data that produced the set (empty if built from arrays).
    """

    features: np.ndarray
    mu: np.ndarray
    c: int
    n: int
    key: tuple[int, ...] = field(default=())

    def __post_init__(self):
        f = np.asarray(self.features)
        mu = np.asarray(self.mu, dtype=np.float64)
        check_int("c", self.c, minimum=2)
        check_int("n", self.n, minimum=1)
        if f.shape != (self.n,) or mu.shape != (self.n,):
            raise ValueError(
                f"`features` and `mu` must have shape ({self.n},); got {f.shape} and {mu.shape}."
            )
        if not np.issubdtype(f.dtype, np.integer) or f.min() < 0 or f.max() >= self.c:
            raise ValueError(f"`features` must be integers in 0..{self.c - 1}.")
        if not np.all(np.isfinite(mu)):
            raise ValueError("`mu` must be finite; got NaN or infinite entries.")
        f = np.array(f, dtype=np.int64)  # private read-only copies
        f.setflags(write=False)
        mu = np.array(mu, dtype=np.float64)
        mu.setflags(write=False)
        object.__setattr__(self, "features", f)
        object.__setattr__(self, "mu", mu)

    def counts(self) -> np.ndarray:
        """Number of samples of each feature, shape (c,)."""
        return np.bincount(self.features, minlength=self.c)

    def inputs(self) -> np.ndarray:
        """The dense inputs x_k = mu_k e_{i_k}, shape (n, c) (for direct evaluation and baselines)."""
        x = np.zeros((self.n, self.c))
        x[np.arange(self.n), self.features] = self.mu
        return x


def make_dataset(rng_key, n: int, c: int) -> Dataset:
    """Draw n samples of the high-sparsity TMS input distribution with c features.

    x_k = mu_k e_{i_k} with i_k ~ Uniform{0, ..., c-1} and mu_k ~ Uniform[0, 1), independently
    (docs/index.md, Conventions; Chen et al. 2023, §3).

    Parameters
    ----------
    rng_key : jax PRNG key
        Source of randomness; the same key gives the same data set.
    n : int
        Number of samples, n >= 1.
    c : int
        Number of features, c >= 2.

    Returns
    -------
    Dataset

    Notes
    -----
    The samples form one stream per key: block k of ``BLOCK`` samples is drawn by numpy's Philox
    generator seeded with (key data, k), so the data set of size n is the first n samples of the
    data set of any larger size (nested data sets: occupancy curves over n follow one growing data
    set). Same key, same data, on every platform.
    """
    n = check_int("n", n, minimum=1)
    c = check_int("c", c, minimum=2)
    seed = key_data(rng_key)
    blocks = -(-n // BLOCK)
    features = np.empty(blocks * BLOCK, dtype=np.int64)
    mu = np.empty(blocks * BLOCK)
    for k in range(blocks):
        g = np.random.Generator(np.random.Philox(np.random.SeedSequence([*seed, k])))
        features[k * BLOCK : (k + 1) * BLOCK] = g.integers(0, c, size=BLOCK)
        mu[k * BLOCK : (k + 1) * BLOCK] = g.random(BLOCK)
    return Dataset(features=features[:n], mu=mu[:n], c=c, n=n, key=seed)


BLOCK = 1024
"""Samples are drawn in blocks of this size; block k from a Philox generator seeded by the key data and k."""
