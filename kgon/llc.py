"""Local learning coefficients (LLC, RLCT) of critical points of the population potential.

Two methods (docs/zoo.md; docs/dynamics.md):

**Hessian (exact where it applies).** If L is C^2 at w* and every zero mode of the Hessian is a
symmetry-orbit or an exactly flat direction (``HessianGeometry.nondegenerate``), L is, modulo those
directions, a non-degenerate quadratic form, and lambda = rank(H) / 2 (flat directions contribute 0,
orbit directions do not count). Elsewhere the Hessian does not decide lambda and ``llc_hessian`` is
None.

**Numerical (from the closed-form potential, no data).** Localized tempered sampling of

    p_m(w) proportional to exp( -m K(w) - (gamma / 2) ||w - w*||^2 ),   K(w) = L(w) - L(w*),

with lambda_hat(m) = m E_m[K] (the localization is applied per Hessian eigendirection, stronger
along zero modes, see ``gamma_zero``). For K ~ a sum of monomials, m E_m[K] -> lambda as m -> infinity
(thermodynamic integration: d/d(log m) of the local free energy -log int exp(-m K) is m E_m[K];
for a quadratic minimum with d constrained directions it is d/2, a flat direction gives 0 exactly,
K = x^4 gives 1/4). ``gamma`` keeps the flat directions inside the neighbourhood where they are
flat; a finite gamma biases a quadratic direction of curvature h by -(1/2) gamma / (m h), which
vanishes as m grows. Chains: preconditioned MALA (metropolis-adjusted Langevin) with the diagonal
preconditioner 1 / (m max(eig H, 0) + gamma) in the Hessian eigenbasis, step size adapted to an
acceptance rate of 0.6 during warm-up; all points, m values and chains run as one vectorised jax
program. The estimate is lambda_hat at the largest m; its error combines the Monte Carlo standard
error (over chain means) with the change from the previous m (the extrapolation error). If any
chain finds a loss below L(w*) (by more than 1e-12) the point is not a local minimum at the sampled
scale (a saddle hidden by a kink, or a degenerate direction with a negative higher-order term) and
the estimate is reported as missing (NaN, ``escaped``).

**Saddles.** A saddle's neighbourhood is not a phase and has no LLC in the usual sense. For a
point with negative Hessian eigenvalues both methods report the LLC of L restricted to the affine
subspace through w* spanned by the non-negative eigenvectors ("stable subspace"): half the number
of positive eigenvalues (Hessian) and the sampler run on that subspace (numerical); ``llc_method``
ends in ``"-stable"`` for such points.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from kgon.config import require_x64
from kgon.critical.search import ModelSpec, as_model, loss_fn_model
from kgon.geometry import HessianGeometry

__all__ = ["LLCEstimate", "llc_hessian", "llc_numerical", "DEFAULT_TEMPERATURES", "ESCAPE_TOL"]

ESCAPE_TOL = 1e-12
"""A chain with L(w) < L(w*) - ESCAPE_TOL has escaped from w*."""

DEFAULT_TEMPERATURES = (1e6, 1e7, 1e8)
"""Effective inverse temperatures m of the numerical method (the estimate is taken at the last)."""


@dataclass(frozen=True)
class LLCEstimate:
    """Numerical LLC of one point: ``value`` +- ``err``; ``by_m`` maps m -> (lambda_hat(m), se).

    ``escaped`` is True when some chain reached K = L - L(w*) < -ESCAPE_TOL: w* is not a local
    minimum (of the stable-subspace restriction, for saddles) at the sampled scale, the estimate is
    meaningless and ``value``/``err`` are NaN.
    """

    value: float
    err: float
    by_m: dict
    acceptance: float
    stable_subspace: bool
    escaped: bool = False


def llc_hessian(geom: HessianGeometry) -> float | None:
    """lambda = rank(H) / 2 where the Hessian decides it (module docstring), else None.

    For saddles (negative eigenvalues) the stable-subspace value (number of positive eigenvalues) / 2.
    """
    if not geom.nondegenerate:
        return None
    return geom.signature[2] / 2.0


@lru_cache(maxsize=None)
def _mala_program(model: ModelSpec, warmup: int, samples: int):
    f = loss_fn_model(model)
    vg = jax.value_and_grad(f)

    def chain(key, x0, L0, V, prec_lam, m, gamma):
        # z-coordinates in the (masked) eigenbasis V: w = x0 + V z
        sig = 1.0 / (m * prec_lam + gamma)  # diagonal preconditioner (variances); gamma per direction
        sqs = jnp.sqrt(sig)

        def logp_grad(z):
            val, g = vg(x0 + V @ z)
            K = val - L0
            return -m * K - 0.5 * jnp.sum(gamma * z * z), -m * (V.T @ g) - gamma * z, K

        def step(carry, inp):
            z, lp, gr, K, log_eps = carry
            key_t, t = inp
            eps = jnp.exp(log_eps)
            k1, k2 = jax.random.split(key_t)
            xi = jax.random.normal(k1, z.shape)
            mean_f = z + 0.5 * eps**2 * sig * gr
            zp = mean_f + eps * sqs * xi
            lpp, grp, Kp = logp_grad(zp)
            mean_b = zp + 0.5 * eps**2 * sig * grp
            lq_f = -0.5 * jnp.sum((zp - mean_f) ** 2 / sig) / eps**2
            lq_b = -0.5 * jnp.sum((z - mean_b) ** 2 / sig) / eps**2
            log_a = lpp - lp + lq_b - lq_f
            a = jnp.where(jnp.isfinite(log_a), jnp.minimum(1.0, jnp.exp(log_a)), 0.0)
            accept = jax.random.uniform(k2) < a
            z = jnp.where(accept, zp, z)
            lp = jnp.where(accept, lpp, lp)
            gr = jnp.where(accept, grp, gr)
            K = jnp.where(accept, Kp, K)
            adapt = t < warmup
            log_eps = jnp.where(adapt, log_eps + (a - 0.6) / jnp.sqrt(t + 10.0), log_eps)
            return (z, lp, gr, K, log_eps), (K, a)

        k0, kr = jax.random.split(key)
        z0 = sqs * jax.random.normal(k0, x0.shape)
        lp0, g0, K0 = logp_grad(z0)
        n = warmup + samples
        keys = jax.random.split(kr, n)
        _, (Ks, accs) = jax.lax.scan(step, (z0, lp0, g0, K0, jnp.log(1.0)), (keys, jnp.arange(n)))
        return jnp.mean(Ks[warmup:]), jnp.mean(accs[warmup:]), jnp.min(Ks)

    # vmap over chains, then over (point, m) problems
    over_chains = jax.vmap(chain, in_axes=(0, None, None, None, None, None, None))
    over_problems = jax.vmap(over_chains, in_axes=(0, 0, 0, 0, 0, 0, 0))
    return jax.jit(over_problems)


def llc_numerical(
    rng_key,
    points: list[tuple[np.ndarray, float, HessianGeometry]],
    r,
    c: int | None = None,
    *,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
    gamma: float = 1e2,
    gamma_zero: float = 1e4,
    chains: int = 16,
    warmup: int = 300,
    samples: int = 700,
) -> list[LLCEstimate]:
    """Numerical LLC of several critical points of the same model by localized tempered MALA.

    Parameters
    ----------
    rng_key : jax PRNGKey
        Randomness of all chains.
    points : list of (x, loss, geometry)
        ``x`` = ``flatten(W, b)`` of a certified critical point, its loss and its
        :class:`~kgon.geometry.HessianGeometry`.
    r, c : int
        Model shape (uniform importance); or ``r`` a :class:`kgon.critical.search.ModelSpec` (the
        potential with its importance) and ``c`` omitted.
    temperatures : tuple of float, keyword-only
        The effective inverse temperatures m (increasing).
    gamma, gamma_zero : float, keyword-only
        Localization strength in the Hessian eigenbasis: ``gamma_zero`` along zero modes (keeps flat
        directions, e.g. free dead biases at -1/(2c), inside the region where they are flat: standard
        deviation 0.01), ``gamma`` along the others.
    chains, warmup, samples : int, keyword-only
        MALA chains per (point, m), warm-up steps (step-size adaptation) and kept steps.

    Returns
    -------
    list of LLCEstimate
        In the order of ``points``.
    """
    if not points:
        return []
    require_x64("kgon.llc.llc_numerical")
    ms = np.asarray(temperatures, dtype=np.float64)
    X, L0, V, P, M, GM = [], [], [], [], [], []
    for x, loss, geom in points:
        lam = geom.eigenvalues
        vec = geom.eigenvectors
        tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
        keep = lam >= -tol  # stable subspace (all directions at a minimum)
        Vm = vec * keep[None, :]
        prec = np.where(keep, np.maximum(lam, 0.0), 0.0)
        for m in ms:
            X.append(x)
            L0.append(loss)
            V.append(Vm)
            P.append(prec)
            M.append(m)
            GM.append(np.where(np.abs(lam) <= tol, gamma_zero, gamma))
    X, L0, V, P, M, GM = (jnp.asarray(np.asarray(a, dtype=np.float64)) for a in (X, L0, V, P, M, GM))
    n_prob = X.shape[0]
    keys = jax.random.split(rng_key, n_prob * chains).reshape(n_prob, chains, -1)
    prog = _mala_program(as_model(r, c), warmup, samples)
    meanK, acc, minK = prog(keys, X, L0, V, P, M, GM)
    meanK = np.asarray(meanK).reshape(len(points), ms.size, chains)
    minK = np.asarray(minK).reshape(len(points), ms.size, chains)
    acc = np.asarray(acc).reshape(len(points), ms.size, chains)
    out = []
    for p, (_, _, geom) in enumerate(points):
        lam_m = ms[:, None] * meanK[p]  # (n_m, chains)
        est = lam_m.mean(axis=1)
        se = lam_m.std(axis=1, ddof=1) / np.sqrt(chains)
        value = float(est[-1])
        extrap = float(abs(est[-1] - est[-2])) if ms.size > 1 else 0.0
        err = float(np.sqrt(se[-1] ** 2 + extrap**2))
        by_m = {float(m): (float(e), float(s)) for m, e, s in zip(ms, est, se)}
        escaped = bool(np.any(minK[p] < -ESCAPE_TOL))
        if escaped:
            value, err = float("nan"), float("nan")
        out.append(LLCEstimate(value, err, by_m, float(acc[p].mean()), geom.signature[0] > 0, escaped))
    return out
