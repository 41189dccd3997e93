"""The exact empirical TMS loss L_n in O(c^2 log n) per evaluation (docs/index.md, Conventions).

For a data set D_n = {mu_k e_{i_k}} the empirical loss is

    L_n(W, b) = (1/n) sum_k sum_j ( mu_k delta_{j i_k} - ReLU(a_{j i_k} mu_k + b_j) )^2,
    a_{ji} = W_j . W_i.

Group the samples by their feature i. For one input feature i and one output j the summand is a
function of mu alone with a single kink at t = -b_j / a_ji: it equals delta_ij mu^2 where the ReLU is
off and ((delta_ij - a_ji) mu - b_j)^2 where it is on (a mu + b > 0). The set where it is on is a
suffix (a > 0) or a prefix (a < 0) of the sorted magnitudes of feature i (all or nothing when
a = 0, by the sign of b). With the sorted magnitudes m_{i,1} <= ... <= m_{i,n_i} and their prefix and
suffix sums of 1, mu and mu^2, with k = #{m_{i,l} < t} found by binary search,

    sum_{l: i_l = i} (...)^2 = delta_ij Y_2 + (delta_ij - a_ji)^2 X_2 - 2 (delta_ij - a_ji) b_j X_1 + b_j^2 X_0,

where X_p = sum over the "on" part of m^p and Y_p the same over the "off" part (prefix sums
P_p[k] = sum_{l <= k} m^p, suffix sums S_p[k] = sum_{l > k} m^p). This is exact: it is a
re-ordering of the direct sum, O(c^2 log n) per evaluation after an O(n log n) sort.

Numerics: the prefix and suffix sums are accumulated in extended precision (``np.longdouble``) and
then rounded once, so every partial sum used is correctly rounded to float64; the "on" and "off"
parts are read from separate prefix/suffix tables rather than formed as differences, so no
cancellation occurs there. The only cancellation left is in the expanded square, of relative
size ~ eps * (sum of the three terms) / L_n. Samples exactly at the kink contribute the same with
either formula (a mu + b = 0 makes both equal delta mu^2), so ties are harmless.

Gradients: the search index is piecewise constant in (W, b); autodiff through the gathered sums
differentiates each summand on its own side of the kink, which is the exact gradient of L_n
wherever L_n is differentiable (off the measure-zero set where a sample sits on a kink).

Reference: docs/sampling.md (the fast potential); Chen et al. 2023, eq. (TMS loss); the loss
convention of docs/index.md (Conventions).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from sampling.data import Dataset

__all__ = ["EmpiricalPotential", "empirical_potential", "dense_loss"]


@dataclass(frozen=True)
class EmpiricalPotential:
    """Exact fast evaluator of L_n for one data set (a JAX pytree: pass it through jit/vmap).

    Attributes
    ----------
    m : jax array, shape (c, N)
        Sorted magnitudes of each feature, padded with +inf to N = max_i n_i.
    prefix : jax array, shape (3, c, N + 1)
        prefix[p, i, k] = sum of the first k sorted magnitudes of feature i to the power p
        (constant once k >= n_i).
    suffix : jax array, shape (3, c, N + 1)
        suffix[p, i, k] = sum of the remaining ones (index >= k) to the power p (0 once k >= n_i).
    n : jax array, 0-d int
        Number of samples (a traced leaf, so that data sets of different n share compiled code).
    c : int
        Number of features (static).

    The padding length N is rounded up to at least ``MIN_PAD`` and to a power of two (to 2^k,
    1.25 2^k, 1.5 2^k, 1.75 2^k above 2^16), so data sets of similar size share compiled code.
    """

    m: jax.Array
    prefix: jax.Array
    suffix: jax.Array
    n: jax.Array
    c: int

    def value(self, W, b) -> jax.Array:
        """L_n(W, b) for W of shape (r, c) and b of shape (c,) (pure jax; jit/vmap/grad-able)."""
        return _loss(self, W, b)

    def value_and_grad(self, W, b):
        """(L_n(W, b), (dL_n/dW, dL_n/db)) (pure jax)."""
        return jax.value_and_grad(_loss, argnums=(1, 2))(self, W, b)

    def __repr__(self) -> str:
        return f"EmpiricalPotential(n={int(self.n)}, c={self.c}, N={self.m.shape[1]})"


jax.tree_util.register_dataclass(
    EmpiricalPotential, data_fields=["m", "prefix", "suffix", "n"], meta_fields=["c"]
)


def _tables(mu_sorted: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded sorted magnitudes and correctly rounded prefix/suffix sums of m^0, m^1, m^2."""
    ni = mu_sorted.size
    m = np.full(N, np.inf)
    m[:ni] = mu_sorted
    ext = mu_sorted.astype(np.longdouble)
    powers = np.stack([np.ones_like(ext), ext, ext * ext])  # (3, ni)
    pre = np.zeros((3, N + 1), dtype=np.longdouble)
    pre[:, 1 : ni + 1] = np.cumsum(powers, axis=1)
    pre[:, ni + 1 :] = pre[:, ni : ni + 1]
    suf = np.zeros((3, N + 1), dtype=np.longdouble)
    suf[:, :ni] = np.cumsum(powers[:, ::-1], axis=1)[:, ::-1]
    return m, pre.astype(np.float64), suf.astype(np.float64)


def empirical_potential(dataset: Dataset) -> EmpiricalPotential:
    """Build the exact O(c^2 log n) evaluator of L_n for ``dataset`` (module docstring).

    Parameters
    ----------
    dataset : Dataset
        From :func:`sampling.make_dataset`.

    Returns
    -------
    EmpiricalPotential
        ``.value(W, b)`` and ``.value_and_grad(W, b)`` with W of shape (r, c), b of shape (c,).
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"`dataset` must be a sampling.Dataset; got {type(dataset).__name__}.")
    c = dataset.c
    groups = [np.sort(dataset.mu[dataset.features == i]) for i in range(c)]
    N = _bucket(max(g.size for g in groups))
    ms, pres, sufs = zip(*(_tables(g, N) for g in groups))
    return EmpiricalPotential(
        m=jnp.asarray(np.stack(ms)),
        prefix=jnp.asarray(np.stack(pres, axis=1)),
        suffix=jnp.asarray(np.stack(sufs, axis=1)),
        n=jnp.asarray(dataset.n, dtype=jnp.int64),
        c=c,
    )


MIN_PAD = 2048
"""Smallest padding length: all data sets with at most 2048 samples per feature (n up to ~12000 at
c = 6) share one compiled sampler; the binary search costs log2(2048) = 11 steps."""


def _bucket(N: int) -> int:
    """Padding length >= N: MIN_PAD, a power of two, or (above 2^16) a quarter-octave step."""
    p = 1 << max(0, int(N - 1).bit_length())  # smallest power of two >= N
    if p <= 1 << 16:
        return max(p, MIN_PAD)
    for f in (5, 6, 7):
        if (p // 8) * f >= N:
            return (p // 8) * f
    return p


def _loss(pot: EmpiricalPotential, W, b):
    W = jnp.asarray(W, dtype=jnp.float64)
    b = jnp.asarray(b, dtype=jnp.float64)
    A = W.T @ W  # A[j, i] = a_ji = W_j . W_i  (symmetric)
    bj = b[:, None]  # (c_out j, 1)
    pos = A > 0
    neg = A < 0
    safe_a = jnp.where(pos | neg, A, 1.0)
    t = jax.lax.stop_gradient(-bj / safe_a)  # kink location, (j, i)
    # k[j, i] = #{l : m_{i,l} < t_ji}: one binary search per (i, j), O(c^2 log n)
    k = jax.vmap(lambda mi, ti: jnp.searchsorted(mi, ti, side="left", method="scan"), in_axes=(0, 1), out_axes=1)(
        pot.m, t
    )
    N = pot.m.shape[1]
    i_idx = jnp.arange(pot.c)[None, :]  # broadcast over j
    P = pot.prefix[:, i_idx, k]  # (3, j, i): sums over the first k magnitudes of feature i
    S = pot.suffix[:, i_idx, k]
    total = pot.prefix[:, :, N][:, None, :]  # (3, 1, i)
    zero = jnp.zeros_like(P)
    on_all = (bj > 0) & ~(pos | neg)  # a = 0, b > 0: on everywhere
    X = jnp.where(pos, S, jnp.where(neg, P, jnp.where(on_all, total, zero)))  # "on" part
    Y = jnp.where(pos, P, jnp.where(neg, S, jnp.where(on_all, zero, total)))  # "off" part
    delta = jnp.eye(pot.c)
    d_a = delta - A
    terms = delta * Y[2] + d_a * d_a * X[2] - 2.0 * d_a * bj * X[1] + bj * bj * X[0]
    return jnp.sum(terms) / pot.n


def dense_loss(features, mu, W, b):
    """The direct O(n c r) sum L_n(W, b) = (1/n) sum_k || x_k - ReLU(W^T W x_k + b) ||^2 (jax).

    The reference the fast evaluator is tested against and the baseline of the benchmarks.
    ``features`` (n,) int, ``mu`` (n,) float; W (r, c), b (c,).
    """
    W = jnp.asarray(W, dtype=jnp.float64)
    A = W.T @ W
    # x_k = mu_k e_{i_k}:  W^T W x_k = mu_k A[:, i_k]
    pre = mu[:, None] * A[:, features].T + b[None, :]  # (n, c)
    target = mu[:, None] * jax.nn.one_hot(features, A.shape[0], dtype=jnp.float64)
    return jnp.mean(jnp.sum((target - jax.nn.relu(pre)) ** 2, axis=1))
