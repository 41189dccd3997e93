"""The dead columns of a phase: the prior mass of their flat region, the finite-n boundary term and
the proposal that samples them jointly with the live coordinates.

A dead column (W_j = 0, b_j <= 0, :func:`kgon.symmetry.dead_columns`) leaves the loss exactly constant
in a region R of its parameters; -log P_phi(R) is the ``flat`` term of the refined free energy and
-log I_n + log P_phi(R) the finite-n ``numerical`` term (docs/free_energy.md).

The module is named after the concept, not after :func:`kgon.symmetry.dead_columns`, which stays in
kgon (the structure of a point) and is not re-exported by :mod:`theory.free_energies`: a package
attribute of that name would be this submodule once it is imported.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import log_ndtr

from kgon.evaluators import potential_jax
from theory.free_energies.terms import LOG_2PI

__all__ = [
    "DEAD_SCALE_B",
    "DEAD_SCALE_W",
    "batch_loss",
    "boundary_term",
    "cached_flat_region_mass",
    "dead_column_integral",
    "dead_log_q",
    "dead_loss_increase",
    "dead_proposal",
    "flat_region_mass",
]

DEAD_SCALE_W = 0.5
"""Standard deviation of each dead W_j coordinate in :func:`dead_proposal`."""
DEAD_SCALE_B = 1.2
"""Scale of the half-normal dead bias -b_j in :func:`dead_proposal`."""

_FLAT_CACHE: dict = {}
_DL_CACHE: dict = {}


def flat_region_mass(W, b, dead, *, draws: int = 200_000, seed: int = 0) -> tuple[float, float]:
    """Prior mass P_phi(R) of the region R of dead-column parameters in which L is exactly constant.

    The live columns (not in ``dead``) are held at (W, b). With every x = mu e_i, mu in [0, 1], the
    output of channel j on input i is ReLU(mu W_j.W_i + b_j); the loss is the value at W_dead = 0,
    b_dead <= 0 exactly when every output involving a dead column stays 0 for all mu in [0, 1]:

        b_j <= 0  and  b_j + W_j.W_i <= 0     for dead j and every input i (including j itself),
        b_j + W_j.W_i <= 0                    for live j and dead i.

    Given the dead W's the dead biases are independent N(0, 1), so (Rao-Blackwellised)

        P_phi(R) = E_{W_dead ~ N(0, I)} [ 1{live constraints} prod_{j dead} Phi(-max(0, max_i W_j.W_i)) ].

    Returns ``(mass, standard error)`` from ``draws`` Monte Carlo draws of W_dead (fixed ``seed``);
    ``(1.0, 0.0)`` if there are no dead columns.
    """
    W, b = np.asarray(W, float), np.asarray(b, float)
    r, c = W.shape
    dead = sorted(int(j) for j in dead)
    if not dead:
        return 1.0, 0.0
    if any(not 0 <= j < c for j in dead):
        raise ValueError(f"`dead` must index columns 0..{c - 1}; got {dead}.")
    live = [j for j in range(c) if j not in dead]
    rng = np.random.default_rng(seed)
    Wd = rng.normal(size=(draws, r, len(dead)))
    Wf = np.broadcast_to(W, (draws, r, c)).copy()
    Wf[:, :, dead] = Wd
    G = np.einsum("kri,krj->kij", Wf, Wf)  # (draws, c, c): G[j, i] = W_j . W_i
    ok = np.ones(draws, bool)
    if live:
        # live channel j, dead input i: b_j + W_j.W_i <= 0
        ok &= np.all(b[live][None, :, None] + G[:, live][:, :, dead] <= 0, axis=(1, 2))
    m = np.maximum(0.0, G[:, dead, :].max(axis=2))  # (draws, n_dead)
    logw = np.sum(log_ndtr(-m), axis=1)
    w = np.where(ok, np.exp(logw), 0.0)
    mass = float(w.mean())
    err = float(w.std(ddof=1) / math.sqrt(draws))
    return mass, err


def dead_column_integral(
    W, b, dead, loss_fn, *, bn: float, draws: int = 200_000, seed: int = 0
) -> tuple[float, float]:
    """Finite-n prior integral over the dead-column parameters with the live ones held fixed:

        I_n = E_{(W_dead, b_dead) ~ N(0, I)} [ 1{b_dead <= 0} exp(-beta n (L(w) - L(w_0))) ],

    w_0 the point (dead columns at W_j = 0). Inside the flat region R the integrand is 1, so
    I_n >= P(R) and I_n -> P(R) as n -> infinity; just outside R a ReLU kink enters mu in [0, 1]
    and the loss grows only like the cube of the violation, so I_n - P(R) decays like n^(-1/3)
    (docs/free_energy.md). b_dead <= 0 keeps the integral in the phase (b_j > 0 flows to the
    positive-bias phase, e.g. 5 -> 5+). ``loss_fn`` maps a batch of (W, b) to L (jax, vmapped).
    Returns ``(I_n, standard error)``.
    """
    W, b = np.asarray(W, float), np.asarray(b, float)
    r, c = W.shape
    dead = sorted(int(j) for j in dead)
    if not dead:
        return 1.0, 0.0
    dL, fac = dead_loss_increase(W, b, dead, loss_fn, draws=draws, seed=seed)
    w = np.exp(-bn * dL) * fac
    return float(w.mean()), float(w.std(ddof=1) / math.sqrt(draws))


def dead_loss_increase(W, b, dead, loss_fn, *, draws: int, seed: int):
    """Loss increase max(0, L(w) - L(w_0)) at prior draws of the dead columns with b_dead <= 0
    (half-normal biases; the factor 2^-n_dead restores the N(0, 1) measure of b <= 0)."""
    r, c = W.shape
    rng = np.random.default_rng(seed)
    Wf = np.broadcast_to(W, (draws, r, c)).copy()
    bf = np.broadcast_to(b, (draws, c)).copy()
    Wf[:, :, dead] = rng.normal(size=(draws, r, len(dead)))
    bf[:, dead] = -np.abs(rng.normal(size=(draws, len(dead))))
    L0 = float(loss_fn(np.asarray(W)[None], np.asarray(b)[None])[0])
    dL = np.asarray(loss_fn(Wf, bf)) - L0
    return np.maximum(dL, 0.0), 0.5 ** len(dead)


def batch_loss(kind: str, potential):
    """L (population, closed form) or L_n (data) for a batch of (W, b), in chunks."""
    if kind == "population":
        f = jax.jit(jax.vmap(potential_jax))

        def g(W, b):
            return f(W, b)
    else:
        f = jax.jit(jax.vmap(lambda pot, W, b: pot.value(W, b), in_axes=(None, 0, 0)))

        def g(W, b):
            return f(potential, W, b)

    def batched(W, b, chunk: int = 16384):
        W, b = jnp.asarray(W), jnp.asarray(b)
        out = [np.asarray(g(W[i : i + chunk], b[i : i + chunk])) for i in range(0, W.shape[0], chunk)]
        return np.concatenate(out)

    return batched


def dead_proposal(rng, N: int, z0: np.ndarray, idx: np.ndarray, r: int, c: int):
    """Draws of the dead-column coordinates (every coordinate of z not in ``idx``) for the joint
    importance sampler, and their log density: W_j ~ N(0, s_W^2 I) and b_j = -|N(0, s_b^2)| for
    each dead column j (b_j <= 0: the dead column's half of the 5 / 5+ split, docs/free_energy.md).
    The scales cover the dead-column integrand exp(-|d|^2 / 2 - beta n (L(w) - L(w_0))) (its
    weight has |W_j| <= 0.7 and -b_j <= 2.7 at the 99% level on the c = 6 streams at n = 450)."""
    dead_idx = np.setdiff1d(np.arange(len(z0)), idx)
    b_mask = dead_idx >= r * c
    k_w, k_b = int(np.sum(~b_mask)), int(np.sum(b_mask))
    D = np.empty((N, len(dead_idx)))
    D[:, ~b_mask] = DEAD_SCALE_W * rng.standard_normal((N, k_w))
    D[:, b_mask] = -np.abs(DEAD_SCALE_B * rng.standard_normal((N, k_b)))
    return dead_idx, D, dead_log_q(D, b_mask)


def dead_log_q(D: np.ndarray, b_mask: np.ndarray) -> np.ndarray:
    """Log density of :func:`dead_proposal` (-inf where a dead bias is positive)."""
    k_w, k_b = int(np.sum(~b_mask)), int(np.sum(b_mask))
    out = (-0.5 * np.sum(D[:, ~b_mask] ** 2, axis=1) / DEAD_SCALE_W**2 - k_w * (math.log(DEAD_SCALE_W) + 0.5 * LOG_2PI)
           - 0.5 * np.sum(D[:, b_mask] ** 2, axis=1) / DEAD_SCALE_B**2
           + k_b * (math.log(2.0) - math.log(DEAD_SCALE_B) - 0.5 * LOG_2PI))
    return np.where(np.all(D[:, b_mask] <= 0, axis=1), out, -np.inf)


def cached_flat_region_mass(W, b, dead, *, draws: int, seed: int) -> tuple[float, float]:
    """:func:`flat_region_mass`, remembered per (point, draws, seed) for the process (it does not
    depend on n, beta or the data)."""
    W, b = np.asarray(W, float), np.asarray(b, float)
    key = (W.tobytes(), b.tobytes(), draws, seed)
    if key not in _FLAT_CACHE:
        _FLAT_CACHE[key] = flat_region_mass(W, b, dead, draws=draws, seed=seed)
    return _FLAT_CACHE[key]


def boundary_term(W, b, dead, loss_fn, *, bn: float, flat: float, flat_rel_err: float, draws: int, seed: int,
                  population: bool) -> tuple[float, float]:
    """The finite-n dead-column term -log I_n + log P(R) = -log I_n - ``flat`` and its standard error
    (I_n of :func:`dead_column_integral`, from :func:`dead_loss_increase` with ``draws`` draws and
    ``seed``). ``population``: the loss differences do not depend on n and are remembered for the
    process. ``flat_rel_err`` = se(P(R)) / P(R)."""
    if population:
        key = (np.asarray(W, float).tobytes(), np.asarray(b, float).tobytes(), draws, seed)
        if key not in _DL_CACHE:
            _DL_CACHE[key] = dead_loss_increase(W, b, dead, loss_fn, draws=draws, seed=seed)
        dL, fac = _DL_CACHE[key]
    else:
        dL, fac = dead_loss_increase(W, b, dead, loss_fn, draws=draws, seed=seed)
    w = np.exp(-bn * dL) * fac
    I_n, I_se = float(w.mean()), float(w.std(ddof=1) / math.sqrt(len(w)))
    return -math.log(I_n) - flat, math.hypot(I_se / I_n, flat_rel_err)
