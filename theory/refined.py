"""Refined local free energy of a phase: every O(1) term the leading order drops (docs/free_energy.md).

For a phase alpha (a neighbourhood U_alpha of the critical point w*_alpha, with all its symmetric
copies) at inverse temperature beta, sample size n and prior phi = N(0, I_d) (docs/index.md):

    F_n(alpha) = -log  int_{U_alpha} phi(w) exp(-beta n L_n(w)) dw
               = beta n L_n(w_hat) + lambda log n - (m - 1) log log n + C_n(alpha) + o(1),

where w_hat is the phase's minimiser of beta n L_n(w) + |w|^2 / 2 on the data set (or on the
population loss L when no data set is given). For a phase whose parameters split into *live*
coordinates, in which the loss is C^2, and *dead columns* (W_j = 0, b_j <= 0) that leave the loss
exactly constant in a region R, Laplace's method over the live coordinates (orbit direction
excluded), the length of the SO(2) orbit and the prior mass of R give exactly (m = 1)

    C_n(alpha) = [1/2 log det'(H / 2 pi) - lambda log n]          laplace
               + [|w_hat_live|^2 / 2 + (d_live / 2) log 2 pi]       prior   (-log phi_live(w_hat))
               - log(2 pi ||W_hat||_F)                              orbit   (length of the SO(2) orbit)
               - log(2 M)                                           copies  (M = catalogue multiplicity,
                                                                             2 = the two components of O(2))
               - log P_phi(R)                                       flat    (prior mass of the flat region)

with H = beta n Hess L_n(w_hat) + I restricted to the live coordinates orthogonal to the orbit
tangent (d' = d_live - 1 directions, lambda = d' / 2) and det' its determinant. The terms sum to
F_n exactly up to the error of Laplace's method (O(1/n) for a C^3 live part); a user sees where the
nats come from. Points where the loss is not C^2 in the live coordinates (the kinked 4-gons) have no
Laplace term; :func:`refined_terms` refuses them and :func:`theory.free_energy` with
``order="refined"`` leaves them out (it says so in its result).

References: Watanabe (2009), *Algebraic Geometry and Statistical Learning Theory*, ch. 6 (the
asymptotic form and the multiplicity m); Chen et al. (2023), §5; docs/free_energy.md (derivation of
every term, the orbit volume form and the known-truth tests).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "FreeEnergyTerms",
    "LaplaceResult",
    "laplace_terms",
    "nongaussian_correction",
    "flat_region_mass",
    "refined_terms",
    "dead_column_integral",
    "dead_columns",
    "distinct_permutations",
    "orbit_copies",
]

_LOG_2PI = math.log(2.0 * math.pi)


def check_nongaussian_draws(draws, name: str = "nongaussian_draws"):
    """Validate ``nongaussian_draws`` (called ``name`` in the message): None (the default), 0 (leave the non-Gaussian term out) or an
    integer >= 100 (draws, or particles under annealing). Returns it unchanged; raises ValueError."""
    if draws is not None and not (
        isinstance(draws, (int, np.integer)) and not isinstance(draws, bool) and (draws == 0 or draws >= 100)
    ):
        raise ValueError(f"`{name}` must be None, 0 or an integer >= 100; got {draws!r}.")
    return draws


def check_nongaussian_anneal(anneal, name: str = "nongaussian_anneal"):
    """Validate ``nongaussian_anneal`` (called ``name`` in the message): None (the default) or an
    integer >= 0 (0: plain importance sampling; K: annealed SMC over K targets). Returns it unchanged."""
    if anneal is not None and not (
        isinstance(anneal, (int, np.integer)) and not isinstance(anneal, bool) and anneal >= 0
    ):
        raise ValueError(f"`{name}` must be None or an integer >= 0; got {anneal!r}.")
    return anneal


@dataclass(frozen=True)
class FreeEnergyTerms:
    """The terms of the refined local free energy of one phase at one n (module docstring).

    ``total`` = energy + lambda_log_n + loglog + laplace + prior + orbit + copies + flat + numerical
    + nongaussian.

    Attributes
    ----------
    label : str
    n : float
    beta : float
        Inverse temperature (posterior proportional to phi exp(-beta n L_n)).
    energy : float
        beta n L_n(w_hat) (``loss`` = L_n(w_hat); population L when ``data`` is None).
    lambda_log_n : float
        lambda log n with lambda = (number of quadratic directions transverse to the orbit) / 2.
    loglog : float
        -(m - 1) log log n (0 here: m = 1 for the phases this module handles).
    laplace : float
        1/2 log det'(H / 2 pi) - lambda log n (tends to 1/2 log det'(beta Hess L / 2 pi)).
    prior : float
        -log phi_live(w_hat) = |w_hat_live|^2 / 2 + (d_live / 2) log 2 pi.
    orbit : float
        -log(2 pi ||W_hat||_F), the length of the SO(2) orbit through w_hat (0 if W_hat = 0).
    copies : float
        -log(number of distinct SO(2) orbits of the phase under S_c x O(2)).
    flat : float
        -log P_phi(R), R the region of the dead-column parameters leaving the loss exactly constant.
    flat_err : float
        Monte Carlo standard error of ``flat`` (nats).
    numerical : float
        Finite-n dead-column term -log I_n + log P(R) (0 without dead columns).
    numerical_err : float
    nongaussian : float
        The exact (importance-sampled, :func:`nongaussian_correction`) live free energy of the
        phase, summed over its copies, minus its Laplace value energy + lambda_log_n + laplace +
        prior + orbit + copies: what Laplace's method misses at this n. 0 if not computed.
    nongaussian_err : float
    llc, multiplicity_m : float, int
        lambda and m.
    loss : float
        L_n(w_hat) (or L(w_hat)).
    data : bool
        Whether the energy is on a data set (data-conditional) or the population loss.
    """

    label: str
    n: float
    beta: float
    energy: float
    lambda_log_n: float
    loglog: float
    laplace: float
    prior: float
    orbit: float
    copies: float
    flat: float
    flat_err: float
    numerical: float
    numerical_err: float
    llc: float
    multiplicity_m: int
    loss: float
    data: bool
    nongaussian: float = 0.0
    nongaussian_err: float = 0.0

    @property
    def constant(self) -> float:
        """C_n(alpha): laplace + prior + orbit + copies + flat + numerical + nongaussian."""
        return (self.laplace + self.prior + self.orbit + self.copies + self.flat + self.numerical
                + self.nongaussian)

    @property
    def total(self) -> float:
        """F_n(alpha) = energy + lambda log n - (m - 1) log log n + C_n(alpha)."""
        return self.energy + self.lambda_log_n + self.loglog + self.constant

    @property
    def error(self) -> float:
        """Standard error of ``total`` from its Monte Carlo terms (nats)."""
        return math.sqrt(self.flat_err**2 + self.numerical_err**2 + self.nongaussian_err**2)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(constant=self.constant, total=self.total, error=self.error)
        return d


# ----------------------------------------------------------------------------------------------
# structure of a critical point


def dead_columns(W, b, *, tol: float = 1e-9) -> list[int]:
    """Columns j with W_j = 0 and b_j <= 0: their output is ReLU(b_j) = 0 and the loss is exactly
    flat in (W_j, b_j) inside the region of :func:`flat_region_mass`."""
    W, b = np.asarray(W, float), np.asarray(b, float)
    return [j for j in range(W.shape[1]) if np.linalg.norm(W[:, j]) < tol and b[j] <= 0]


def orbit_copies(multiplicity: int, W) -> int:
    """Number of distinct SO(r) orbits making up a phase: the catalogue multiplicity M (distinct O(r)
    orbits under feature permutations) times 2 (an O(2) orbit of a configuration with W != 0 in
    general position is two SO(2) orbits: a reflection is not a rotation); M when W = 0."""
    if int(multiplicity) < 1:
        raise ValueError(f"`multiplicity` must be a positive integer; got {multiplicity!r}.")
    return int(multiplicity) * (2 if np.linalg.norm(np.asarray(W)) > 0 else 1)


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
    from scipy.special import log_ndtr

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



def distinct_permutations(W, b, *, tol: float = 1e-6) -> list[tuple[int, ...]]:
    """Feature permutations sigma giving distinct O(2) orbits of (W, b) (one representative each).

    Two configurations lie on the same O(2) orbit exactly when their Gram matrices W^T W and biases
    agree, so the classes of (W[:, sigma], b[sigma]) are found by comparing (Gram, b) rounded to
    ``tol``. Their number is the catalogue multiplicity M (c! / |stabiliser|); on a data set the
    copies are not equivalent (which feature is dead, which are neighbours), which is why the
    data-conditional free energy sums over them (:func:`refined_terms`).
    """
    from itertools import permutations

    W, b = np.asarray(W, float), np.asarray(b, float)
    c = W.shape[1]
    if c > 8:
        raise ValueError(f"`W` must have at most 8 columns to enumerate permutations; got c = {c}.")
    seen: dict = {}
    G = W.T @ W
    for sig in permutations(range(c)):
        s = list(sig)
        key = (tuple(np.round(G[np.ix_(s, s)] / tol).astype(np.int64).ravel()), tuple(np.round(b[s] / tol).astype(np.int64)))
        seen.setdefault(key, tuple(sig))
    return list(seen.values())


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
    dL, fac = _dead_dl(W, b, dead, loss_fn, draws=draws, seed=seed)
    w = np.exp(-bn * dL) * fac
    return float(w.mean()), float(w.std(ddof=1) / math.sqrt(draws))


_FLAT_CACHE: dict = {}
_DL_CACHE: dict = {}


def _dead_dl(W, b, dead, loss_fn, *, draws: int, seed: int):
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


# ----------------------------------------------------------------------------------------------
# Laplace over the live coordinates


def _flat_index(r: int, c: int, live: list[int]) -> np.ndarray:
    """Indices of the live coordinates in z = (W.ravel(), b) (W row-major: W[a, j] at a c + j)."""
    return np.array([a * c + j for a in range(r) for j in live] + [r * c + j for j in live], dtype=int)


@lru_cache(maxsize=None)
def _objective(r: int, c: int, idx: tuple, kind: str):
    """jit-compiled value+grad and Hessian of beta n L(z) + |z_live|^2 / 2 over the live coords."""
    idx = np.asarray(idx)

    def f(x, z0, pot, bn):
        z = z0.at[idx].set(x)
        W = z[: r * c].reshape(r, c)
        b = z[r * c :]
        if kind == "population":
            from kgon.evaluators import potential_jax

            L = potential_jax(W, b)
        else:
            L = pot.value(W, b)
        return bn * L + 0.5 * jnp.sum(x * x)

    def loss(x, z0, pot):
        z = z0.at[idx].set(x)
        W = z[: r * c].reshape(r, c)
        b = z[r * c :]
        if kind == "population":
            from kgon.evaluators import potential_jax

            return potential_jax(W, b)
        return pot.value(W, b)

    return jax.jit(jax.value_and_grad(f)), jax.jit(jax.hessian(f)), jax.jit(loss)



@dataclass(frozen=True)
class LaplaceResult:
    """Laplace's method for -log int exp(-f(x)) dx around the minimiser ``x`` of f.

    ``half_logdet`` = 1/2 log det'(H / 2 pi) over the ``dim`` directions orthogonal to the orbit
    tangent (all directions if ``orbit_excluded`` is False); ``value`` = f(x). Then

        -log int exp(-f) dx ~= value + half_logdet - log(orbit length)

    (the orbit length is the caller's: the integral along the orbit of an f invariant under it).
    """

    x: np.ndarray
    value: float
    half_logdet: float
    dim: int
    orbit_excluded: bool
    newton_fallback: bool = False


def _set(z0: np.ndarray, idx: np.ndarray, x: np.ndarray) -> np.ndarray:
    z = np.array(z0, dtype=float)
    z[idx] = x
    return z


def laplace_terms(
    value_and_grad, hessian, x0, *, tangent=None, gtol: float = 1e-9, max_shift: float | None = None
) -> LaplaceResult:
    """Minimise f from ``x0`` (BFGS) and return the Laplace terms at the minimiser.

    Parameters
    ----------
    value_and_grad : callable x -> (f(x), grad f(x))
    hessian : callable x -> Hessian of f (d x d)
    x0 : array
        Start of the minimisation.
    tangent : callable x -> vector, optional
        Tangent of a one-dimensional orbit along which f is invariant (e.g. the SO(2) rotation of
        W); the Hessian is restricted to its orthogonal complement (det'), and the integral along the
        orbit is the caller's orbit length. Returns a zero vector where the orbit is a point.
    max_shift : float, optional
        If the minimiser lies further than this from ``x0`` (transverse to the orbit), the
        minimisation has left the phase (on a small data set a shallow minimum can slide to a
        neighbouring phase); then the Gaussian of the second-order expansion at ``x0`` is used
        instead: value f(x0) - g^T H^-1 g / 2 at x0 - H^-1 g (one Newton step).

    Raises
    ------
    ValueError
        If the restricted Hessian is not positive definite at the minimiser.
    """
    from scipy.optimize import minimize

    res = minimize(value_and_grad, np.asarray(x0, float), jac=True, method="BFGS",
                   options=dict(gtol=gtol, maxiter=10_000))
    x = np.asarray(res.x, float)
    x0 = np.asarray(x0, float)
    value = float(res.fun)
    newton = False
    if max_shift is not None:
        dx = x - x0
        if tangent is not None:
            t0 = np.asarray(tangent(x0), float)
            if np.linalg.norm(t0) > 0:
                t0 = t0 / np.linalg.norm(t0)
                dx = dx - (dx @ t0) * t0
        newton = bool(np.linalg.norm(dx) > max_shift)
    if newton:
        x = x0
    H = np.asarray(hessian(x), float)
    H = 0.5 * (H + H.T)
    excluded = False
    if tangent is not None:
        t = np.asarray(tangent(x), float)
        tn = np.linalg.norm(t)
        if tn > 0:
            B = _transverse_basis(t / tn)
            H = B.T @ H @ B
            excluded = True
    ev = np.linalg.eigvalsh(H)
    if np.any(ev <= 0):
        raise ValueError(f"the Hessian at the minimiser is not positive definite (min eigenvalue {ev.min():.3g}).")
    half_logdet = 0.5 * float(np.sum(np.log(ev))) - 0.5 * H.shape[0] * _LOG_2PI
    if newton:
        f0, g = value_and_grad(x0)
        g = np.asarray(g, float)
        if excluded:
            g = B.T @ g
            step = B @ np.linalg.solve(H, g)
        else:
            step = np.linalg.solve(H, g)
        value = float(f0) - 0.5 * float(g @ np.linalg.solve(H, g))
        x = x0 - step
    return LaplaceResult(x, value, half_logdet, H.shape[0], excluded, newton)


def _batch_loss(kind: str, potential):
    """L (population, closed form) or L_n (data) for a batch of (W, b), in chunks."""
    from kgon.evaluators import potential_jax

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


@dataclass(frozen=True)
class _CopyExpansion:
    """Second-order expansion of f = beta n L + |w|^2 / 2 at one copy (a permuted catalogue point) over
    its live coordinates transverse to the orbit: Newton point ``x_newton``, value ``f_newton`` there,
    floored transverse eigenvalues ``ev`` with eigenvectors ``BU`` (columns, in live coordinates) and
    the unit orbit tangent ``t_hat``."""

    z0: np.ndarray
    idx: np.ndarray
    n_live: int
    x_newton: np.ndarray
    f_newton: float
    ev: np.ndarray
    BU: np.ndarray
    t_hat: np.ndarray


def _copy_expansions(W0: np.ndarray, b0: np.ndarray, potential, bn: float, *, all_copies: bool,
                     newton: bool = True) -> list:
    """:class:`_CopyExpansion` of every distinct copy (``all_copies``) or of the point itself.

    One Newton step from each copy sigma w*: f(sigma w*) - g^T H^-1 g / 2 at sigma w* - H^-1 g, with H
    the Hessian transverse to the orbit tangent and its eigenvalues floored at 1 (the prior's
    curvature) where a copy is not convex on the data. ``potential`` None: the population loss.
    ``newton`` False: no step (the expansion is centred at the copy itself; for a kinked point,
    whose autodiff Hessian is one-sided, this only shapes a proposal)."""
    r, c = W0.shape
    kind = "population" if potential is None else "data"
    perms = distinct_permutations(W0, b0) if all_copies else [tuple(range(c))]
    Z0 = np.stack([np.concatenate([W0[:, list(p)].ravel(), b0[list(p)]]) for p in perms])
    _, fvg, fh = _full_values(r, c, kind)
    vals, grads = (np.asarray(v) for v in fvg(jnp.asarray(Z0), potential, bn))
    hs = np.asarray(fh(jnp.asarray(Z0), potential, bn))
    out = []
    for k, z0 in enumerate(Z0):
        Wk, bk = z0[: r * c].reshape(r, c), z0[r * c :]
        live = [j for j in range(c) if j not in dead_columns(Wk, bk)]
        idx = _flat_index(r, c, live)
        g, H = grads[k][idx], hs[k][np.ix_(idx, idx)]
        t = _orbit_tangent(z0, r, c, idx)
        t_hat = t / np.linalg.norm(t)
        B = _transverse_basis(t_hat)
        gr = B.T @ g
        ev, U = np.linalg.eigh(B.T @ (0.5 * (H + H.T)) @ B)
        ev = np.maximum(ev, 1.0)  # the prior's curvature floor (a copy that is not convex on the data)
        step = U @ ((U.T @ gr) / ev) if newton else np.zeros_like(gr)
        out.append(_CopyExpansion(z0, idx, len(live), z0[idx] - B @ step, float(vals[k]) - 0.5 * float(gr @ step),
                                  ev, B @ U, t_hat))
    return out


def _transverse_basis(t_hat: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the complement of the unit vector ``t_hat``."""
    d = len(t_hat)
    Q, _ = np.linalg.qr(np.column_stack([t_hat, np.eye(d)]))
    return Q[:, 1:d]


def _copies_term(expansions: list) -> float:
    """-log sum over the distinct copies sigma of exp(-(V_sigma - V_id)), minus log 2 (reflections).

    On a data set the copies of a phase are not equivalent (which feature is dead, which features
    are neighbours). Each copy's Laplace value V_sigma = f_N + 1/2 log det' H is taken from its
    second-order expansion (:func:`_copy_expansions`: one Newton step, which captures how much each
    copy relaxes on the data). For the population loss all V_sigma are equal and the term is
    -log(2 M).
    """
    V = np.array([e.f_newton + 0.5 * float(np.sum(np.log(e.ev))) for e in expansions])
    V = V - V[0]
    m = V.min()
    return -(-m + math.log(float(np.sum(np.exp(-(V - m))))) + math.log(2.0))


def _orbit_tangent(z: np.ndarray, r: int, c: int, idx: np.ndarray) -> np.ndarray:
    """Tangent of the SO(2) orbit at z in the live coordinates: d/dtheta (R_theta W) = J W."""
    W = z[: r * c].reshape(r, c)
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    t = np.concatenate([(J @ W).ravel(), np.zeros(c)])
    return t[idx]


# ----------------------------------------------------------------------------------------------
# beyond Laplace: the exact live integral by importance sampling


@lru_cache(maxsize=None)
def _full_values(r: int, c: int, kind: str):
    """Batched f(z) = beta n L(z) + |z|^2 / 2 over all coordinates (population or data)."""
    from kgon.evaluators import potential_jax

    def f(z, pot, bn):
        W, b = z[: r * c].reshape(r, c), z[r * c :]
        L = potential_jax(W, b) if kind == "population" else pot.value(W, b)
        return bn * L + 0.5 * jnp.sum(z * z)

    return jax.jit(jax.vmap(f, in_axes=(0, None, None))), jax.jit(jax.vmap(jax.value_and_grad(f), in_axes=(0, None, None))), \
        jax.jit(jax.vmap(jax.hessian(f), in_axes=(0, None, None)))


def _log_student_t(T: np.ndarray, nu: float) -> np.ndarray:
    from scipy.special import gammaln

    k = T.shape[1]
    return (gammaln((nu + k) / 2) - gammaln(nu / 2) - 0.5 * k * math.log(nu * math.pi)
            - 0.5 * (nu + k) * np.log1p(np.sum(T * T, axis=1) / nu))


def _orbit_speed(X: np.ndarray, that: np.ndarray, r: int, n_live: int) -> np.ndarray:
    """<t_hat, J x> for a batch of live coordinate vectors x (W part first, row-major over live)."""
    W = X[:, : r * n_live].reshape(len(X), r, n_live)
    JW = np.stack([-W[:, 1], W[:, 0]], axis=1).reshape(len(X), -1)
    return JW @ that[: r * n_live]


def nongaussian_correction(
    W,
    b,
    *,
    bn: float,
    potential=None,
    all_copies: bool | None = None,
    catalogue=None,
    label: str | None = None,
    threshold: float | None = None,
    draws: int = 20_000,
    nu: float = 5.0,
    scale: float = 1.2,
    seed: int = 0,
    chunk: int = 2048,
    dead_joint: bool = False,
    anneal: int = 0,
    mh_steps: int = 2,
    partition: bool = True,
) -> tuple[float, float, dict]:
    """log(Z / Z_Laplace) for the live integral of a phase, by importance sampling, over its copies.

    For each copy sigma of the point (every distinct feature permutation on a data set; the point
    itself for the population loss, whose copies are equal) the live integral

        Z_sigma = int exp(-f(w)) dw,   f = beta n L_n(w) + |w_live|^2 / 2 (dead columns held),

    is written in orbit coordinates w = R_theta (x_sigma + B y) (y transverse to the orbit tangent
    t at the copy's point, x_sigma its Newton point), whose volume element is |<t_hat, J(x_sigma +
    B y)>| dtheta dy, so Z_sigma = 2 pi E_q[ exp(-f) |<t_hat, J x>| / q(y) ] with q a multivariate
    Student t (``nu``) centred at the Newton point with scale ``scale`` H^(-1/2), H the transverse
    Hessian (eigenvalues floored at the prior's curvature 1, as in the copies term). Z_Laplace is
    the same integral with f replaced by its second-order expansion: 2 pi |<t_hat, J x_sigma>|
    exp(-f_N) (2 pi)^(k/2) det(H)^(-1/2). Draws are allocated to the copies in proportion to
    their Laplace weight (stratified); copies below 1e-3 of the largest weight are not sampled and
    keep the weighted mean ratio of the others. With ``catalogue`` and ``label`` a draw counts only
    if :func:`kgon.classify` (``threshold``) assigns it to ``label``: the integral is then over
    the phase's cell exactly as a sampler's occupancy counts it.

    ``dead_joint``: the dead columns (W_j, b_j), instead of being held at the point, are drawn
    jointly with the live coordinates (W_j ~ N(0, 0.5^2 I), b_j = -|N(0, 1.2^2)|: the 5 side of
    the 5 / 5+ split b_j = 0) and the integrand carries their prior and the true loss: Z is then
    the whole integral over the cell, live x dead (the volume element is unchanged: the dead
    coordinates rotate with theta but the tangent's dead part lies in their span).

    ``anneal`` = K > 0: annealed sequential Monte Carlo (Neal 2001; Del Moral, Doucet & Jasra
    2006) from the proposal q to the integrand g over the targets q^(1 - beta_k) g^beta_k,
    beta_k = (k / K)^2, with systematic resampling when the effective sample size falls below half
    and ``mh_steps`` random-walk Metropolis moves per target (covariance: the particles' weighted
    covariance, 2.38^2 / d scaled); the cell indicator enters at beta = 1 (the last weight), and
    ``draws`` is the number of particles (at least 200 per sampled copy: with a few dozen per copy the
    estimate was observed 0.15-0.25 nats below the 200-per-copy and plain-importance values in
    14-17 dimensions, presumably the O(1/N) bias of moves adapted to the population). Its weights stay balanced where the proposal misses the
    integrand's tails: on the 5-gon's cell at n = 450 plain importance sampling keeps an effective sample
    size of ~1% of its draws, with rare draws e^5 above the rest (docs/free_energy.md).

    Returns ``(log Z/Z_Laplace, standard error, info)``; ``info`` holds the number of copies, how
    many were sampled, the total effective sample size (of the final weights under annealing; its
    standard error is that of the final weights only and understates the error: repeat with
    another seed) and log Z_Laplace (summed over the copies,
    so log Z = correction + log_Z_laplace). The correction is what Laplace's method
    misses at finite n (its error is O(1/n) only asymptotically; at n ~ 400 it is 1-3 nats here,
    docs/free_energy.md).
    """
    W0, b0 = np.asarray(W, float), np.asarray(b, float)
    if all_copies is None:
        all_copies = potential is not None
    expansions = _copy_expansions(W0, b0, potential, bn, all_copies=all_copies)
    part = (*_copy_candidates(W0, b0), np.arange(len(expansions))) if partition else None
    return _importance_correction(expansions, W0.shape, bn=bn, potential=potential, catalogue=catalogue, partition=part,
                                  label=label, threshold=threshold, draws=draws, nu=nu, scale=scale, seed=seed,
                                  chunk=chunk, dead_joint=dead_joint, anneal=anneal, mh_steps=mh_steps)


_DEAD_SCALE_W = 0.5
_DEAD_SCALE_B = 1.2


def _dead_proposal(rng, N: int, z0: np.ndarray, idx: np.ndarray, r: int, c: int):
    """Draws of the dead-column coordinates (every coordinate of z not in ``idx``) for the joint
    importance sampler, and their log density: W_j ~ N(0, s_W^2 I) and b_j = -|N(0, s_b^2)| for
    each dead column j (b_j <= 0: the dead column's half of the 5 / 5+ split, docs/free_energy.md).
    The scales cover the dead-column integrand exp(-|d|^2 / 2 - beta n (L(w) - L(w_0))) (its
    weight has |W_j| <= 0.7 and -b_j <= 2.7 at the 99% level on the c = 6 streams at n = 450)."""
    dead_idx = np.setdiff1d(np.arange(len(z0)), idx)
    b_mask = dead_idx >= r * c
    k_w, k_b = int(np.sum(~b_mask)), int(np.sum(b_mask))
    D = np.empty((N, len(dead_idx)))
    D[:, ~b_mask] = _DEAD_SCALE_W * rng.standard_normal((N, k_w))
    D[:, b_mask] = -np.abs(_DEAD_SCALE_B * rng.standard_normal((N, k_b)))
    return dead_idx, D, _dead_logq(D, b_mask)


def _dead_logq(D: np.ndarray, b_mask: np.ndarray) -> np.ndarray:
    """Log density of :func:`_dead_proposal` (-inf where a dead bias is positive)."""
    k_w, k_b = int(np.sum(~b_mask)), int(np.sum(b_mask))
    out = (-0.5 * np.sum(D[:, ~b_mask] ** 2, axis=1) / _DEAD_SCALE_W**2 - k_w * (math.log(_DEAD_SCALE_W) + 0.5 * _LOG_2PI)
           - 0.5 * np.sum(D[:, b_mask] ** 2, axis=1) / _DEAD_SCALE_B**2
           + k_b * (math.log(2.0) - math.log(_DEAD_SCALE_B) - 0.5 * _LOG_2PI))
    return np.where(np.all(D[:, b_mask] <= 0, axis=1), out, -np.inf)


def _copy_candidates(W0: np.ndarray, b0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct SO(2) orbits of a point's copies: every distinct feature permutation sigma
    (:func:`distinct_permutations`, in its order) and then its reflection diag(1, -1) W_sigma.
    Returns (W (2M, 2, c), b (2M, c)): copy k is row k, its reflection row M + k."""
    perms = distinct_permutations(W0, b0)
    Ws = np.stack([W0[:, list(s)] for s in perms])
    bs = np.stack([b0[list(s)] for s in perms])
    refl = Ws.copy()
    refl[:, 1] *= -1.0
    return np.concatenate([Ws, refl]), np.concatenate([bs, bs])


def _nearest_copy(W: np.ndarray, b: np.ndarray, cand_W: np.ndarray, cand_b: np.ndarray) -> np.ndarray:
    """Index of the candidate orbit (:func:`_copy_candidates`) nearest to each (W, b) of a batch:
    min over rotations R of |R W - W_k|^2 + |b - b_k|^2, in closed form (2-d Procrustes:
    max_R tr(R W W_k^T) = sqrt((M11 + M22)^2 + (M21 - M12)^2), M = W W_k^T)."""
    def m(a, bb):  # M_ab for every (draw, candidate): (N, K)
        return W[:, a, :] @ cand_W[:, bb, :].T

    rot = np.sqrt((m(0, 0) + m(1, 1)) ** 2 + (m(1, 0) - m(0, 1)) ** 2)
    d = (np.sum(cand_W * cand_W, axis=(1, 2))[None, :] - 2.0 * rot
         + np.sum(cand_b * cand_b, axis=1)[None, :] - 2.0 * (b @ cand_b.T))  # + |W|^2 + |b|^2, same for all k
    return np.argmin(d, axis=1)


def _importance_correction(expansions, shape, *, bn, potential, catalogue, label, threshold, draws, nu=5.0,
                           scale=1.2, seed=0, chunk=2048, dead_joint: bool = False, anneal: int = 0,
                           mh_steps: int = 2, partition=None) -> tuple[float, float, dict]:
    """:func:`nongaussian_correction` from the copies' expansions (:func:`_copy_expansions`).

    ``dead_joint``: the dead columns are sampled jointly with the live ones (:func:`_dead_proposal`)
    instead of held at the point, and the integrand carries their prior: the estimate is then of
    the whole integral over the phase's cell, live x dead, divided by the live Laplace value.

    ``partition`` = (cand_W, cand_b, index): a draw of copy k counts only where its nearest copy
    orbit (:func:`_nearest_copy`) is ``index[k]``: the cell is cut into one piece per copy (an
    equivariant partition, so on the population loss every piece has the same integral), which keeps
    one copy's draws from counting the neighbouring copies' pieces where flat directions join them."""
    if not (isinstance(draws, (int, np.integer)) and draws >= 100):
        raise ValueError(f"`draws` must be an integer >= 100; got {draws!r}.")
    if not (isinstance(anneal, (int, np.integer)) and anneal >= 0):
        raise ValueError(f"`anneal` must be an integer >= 0 (number of tempered targets); got {anneal!r}.")
    if not (isinstance(mh_steps, (int, np.integer)) and mh_steps >= 1):
        raise ValueError(f"`mh_steps` must be an integer >= 1; got {mh_steps!r}.")
    r, c = shape
    fval = _full_values(r, c, "population" if potential is None else "data")[0]
    lz = np.array([_LOG_2PI + math.log(abs(float(_orbit_speed(e.x_newton[None], e.t_hat, r, e.n_live)[0])))
                   - e.f_newton + 0.5 * len(e.ev) * _LOG_2PI - 0.5 * float(np.sum(np.log(e.ev)))
                   for e in expansions])
    m = lz.max()
    pi = np.exp(lz - m)
    pi /= pi.sum()
    keep = pi >= 1e-3 * pi.max()
    rng = np.random.default_rng(seed)
    est = np.full(len(expansions), -np.inf)
    rel_var = np.zeros(len(expansions))
    ess = wmax = 0.0
    outside: list[int] = []
    for k, e in enumerate(expansions):
        if not keep[k]:
            continue
        z0, idx, xs, BU, ev, that, n_live = e.z0, e.idx, e.x_newton, e.BU, e.ev, e.t_hat, e.n_live
        N = max(200, int(round(draws * pi[k])))
        kd = len(ev)
        T = rng.standard_normal((N, kd)) / np.sqrt(rng.chisquare(nu, N) / nu)[:, None]
        logq = _log_student_t(T, nu) - kd * math.log(scale) + 0.5 * float(np.sum(np.log(ev)))
        X = xs[None, :] + (scale * T / np.sqrt(ev)) @ BU.T
        zz = np.tile(z0, (N, 1))
        zz[:, idx] = X
        dead_idx = np.setdiff1d(np.arange(len(z0)), idx)
        joint = bool(dead_joint and len(dead_idx))
        D = np.zeros((N, 0))
        if joint:
            dead_idx, D, logq_dead = _dead_proposal(rng, N, z0, idx, r, c)
            zz[:, dead_idx] = D
            logq = logq + logq_dead
            b_mask = dead_idx >= r * c

        def log_integrand(zz, X):
            pad = (-len(zz)) % chunk
            zp = np.concatenate([zz, np.repeat(zz[:1], pad, axis=0)]) if pad else zz
            fv = np.concatenate([np.asarray(fval(jnp.asarray(zp[i : i + chunk]), potential, bn))
                                 for i in range(0, len(zp), chunk)])[: len(zz)]
            if not joint:
                fv = fv - 0.5 * float(np.sum(z0[dead_idx] ** 2))  # the dead coordinates' prior is in P(R)
            speed = np.abs(_orbit_speed(X, that, r, n_live))
            with np.errstate(divide="ignore"):
                return -fv + np.log(speed) + _LOG_2PI

        def in_piece(zz):  # the copy's piece of the partition (everywhere without one)
            if partition is None:
                return np.ones(len(zz), bool)
            return _nearest_copy(zz[:, : r * c].reshape(len(zz), r, c), zz[:, r * c :], partition[0],
                                 partition[1]) == partition[2][k]

        ell1 = log_integrand(zz, X)
        log_z_acc = 0.0
        if anneal:
            # sequential Monte Carlo over tempered targets q^(1 - beta_k) g^beta_k, beta_k = (k / K)^2
            # (annealed importance sampling, Neal 2001, with resampling, Del Moral, Doucet & Jasra
            # 2006): incremental log weight (beta_k - beta_(k-1)) (log g - log q) at the current
            # state; when the effective sample size drops below N / 2 the mean weight goes into the
            # normalising constant and the particles are resampled (systematic); each target is then
            # left invariant by ``mh_steps`` random-walk Metropolis steps whose covariance is the
            # particles' weighted covariance (2.38^2 / d scaled, shrunk to its diagonal by half)
            betas = (np.arange(anneal + 1) / anneal) ** 2
            # every target carries the piece's indicator: the first weight is q's mass of the piece
            logw_acc = np.where(in_piece(zz), 0.0, -np.inf)
            S = np.concatenate([T, D], axis=1)
            dim = S.shape[1]
            step = 1.0
            ell0 = logq
            for kb in range(1, anneal + 1):
                logw_acc += (betas[kb] - betas[kb - 1]) * (ell1 - ell0)
                if kb == anneal:
                    break
                mw = logw_acc.max()
                wv = np.exp(logw_acc - mw)
                if wv.sum() ** 2 / (wv * wv).sum() < N / 2:
                    log_z_acc += mw + math.log(wv.mean())
                    u = (rng.uniform() + np.arange(N)) / N
                    pick = np.minimum(np.searchsorted(np.cumsum(wv) / wv.sum(), u), N - 1)
                    S, X, zz, ell0, ell1 = S[pick], X[pick], zz[pick], ell0[pick], ell1[pick]
                    logw_acc = np.zeros(N)
                    wv = np.ones(N)
                wn = wv / wv.sum()
                mu = wn @ S
                C = (S - mu).T @ ((S - mu) * wn[:, None])
                C = 0.5 * C + 0.5 * np.diag(np.diag(C)) + 1e-8 * np.eye(dim)
                Lc = np.linalg.cholesky(C) * (2.38 / math.sqrt(dim))
                bk = betas[kb]
                for _step in range(mh_steps):
                    Sn = S + step * rng.standard_normal(S.shape) @ Lc.T
                    Tn, Dn = Sn[:, :kd], Sn[:, kd:]
                    lq = _log_student_t(Tn, nu) - kd * math.log(scale) + 0.5 * float(np.sum(np.log(ev)))
                    if joint:
                        lq = lq + _dead_logq(Dn, b_mask)
                    Xn = xs[None, :] + (scale * Tn / np.sqrt(ev)) @ BU.T
                    zn = np.tile(z0, (N, 1))
                    zn[:, idx] = Xn
                    if joint:
                        zn[:, dead_idx] = Dn
                    ok0 = np.isfinite(lq)
                    if partition is not None:
                        ok0 &= in_piece(zn)
                    l1 = np.full(N, -np.inf)
                    if ok0.any():
                        l1[ok0] = log_integrand(zn[ok0], Xn[ok0])
                    cur = (1 - bk) * ell0 + bk * ell1
                    new = np.where(ok0, (1 - bk) * lq + bk * l1, -np.inf)
                    acc = np.log(rng.uniform(size=N)) < new - cur
                    S, X, zz = (np.where(acc[:, None], a, b_) for a, b_ in ((Sn, S), (Xn, X), (zn, zz)))
                    ell0, ell1 = np.where(acc, lq, ell0), np.where(acc, l1, ell1)
                    step *= math.exp(float(acc.mean()) - 0.25)  # one step scale per copy: ~25% acceptance
            log_w_raw = logw_acc
        else:
            log_w_raw = ell1 - logq
        ok = np.isfinite(log_w_raw)
        if catalogue is not None and label is not None:
            from kgon import classify

            kw = {} if threshold is None else {"threshold": threshold}
            ok &= classify(zz[:, : r * c].reshape(N, r, c), zz[:, r * c :], catalogue, **kw) == label
        ok &= in_piece(zz)
        logw = np.where(ok, log_w_raw, -np.inf)
        mm = logw.max()
        if not np.isfinite(mm):
            # no draw of this copy ended in the phase's cell: on this data set the copy's
            # neighbourhood belongs to another phase (its integral over the cell is negligible)
            outside.append(k)
            continue
        w = np.exp(logw - mm)
        est[k] = log_z_acc + mm + math.log(w.mean())
        rel_var[k] = float(w.var(ddof=1)) / float(w.mean()) ** 2 / N
        ess += float(w.sum()) ** 2 / float((w * w).sum())
        wmax = max(wmax, float(w.max() / w.sum()))
    if len(outside) == int(keep.sum()):
        raise ValueError(f"no importance draw fell in the phase {label!r}; the Laplace Gaussian is far outside "
                         "the phase's cell (raise `draws` or check the phase).")
    ratio = np.exp(est[keep] - lz[keep])
    mean_ratio = float(np.sum(pi[keep] * ratio) / np.sum(pi[keep]))
    Z_is = np.exp(est[keep] - m).sum() + mean_ratio * np.exp(lz[~keep] - m).sum()
    Z_lap = np.exp(lz - m).sum()
    se = math.sqrt(float(np.sum(np.exp(2 * (est[keep] - m)) * rel_var[keep]))) / Z_is
    info = {"copies": len(expansions), "sampled": int(keep.sum()), "outside": outside, "ess": ess, "max_weight": wmax,
            "log_ratio_copies": est - lz, "log_weight_copies": lz - m,
            "log_Z_laplace": float(m + math.log(Z_lap))}
    return math.log(Z_is / Z_lap), se, info


def _kinked_terms(point, label: str, n: float, beta: float, potential, *, catalogue, threshold, seed: int,
                  particles: int, anneal: int) -> FreeEnergyTerms:
    """Numerical local free energy of a kinked phase (L not C^2 at its point: no Laplace term).

    F_n = -log int_cell phi(w) exp(-beta n L_n(w)) dw over the phase's classifier cell (the phase
    as a sampler counts it, :func:`kgon.classify` at ``threshold``) by the annealed sequential
    Monte Carlo of :func:`nongaussian_correction` (``anneal`` tempered targets, ``particles``
    particles, dead columns jointly), from a Student-t proposal centred at each copy of the point
    whose shape is the one-sided autodiff Hessian there, floored at the prior's curvature (a
    proposal only: the annealing corrects it). Reported as ``energy`` = beta n L_n(w*) at the
    catalogue point, ``lambda_log_n`` with the catalogue's numerical learning coefficient (for
    orientation), and ``numerical`` = the rest, with its Monte Carlo error ``numerical_err``; every
    other term is 0 (docs/free_energy.md)."""
    W0, b0 = np.asarray(point.W, float), np.asarray(point.b, float)
    r, c = W0.shape
    bn = beta * n
    dead = dead_columns(W0, b0)
    z0 = np.concatenate([W0.ravel(), b0])
    kind = "population" if potential is None else "data"
    expansions = _copy_expansions(W0, b0, potential, bn, all_copies=kind == "data", newton=False)
    cand_W, cand_b = _copy_candidates(W0, b0)  # copy k (in expansions' order) is candidate k
    corr, err, info = _importance_correction(
        expansions, (r, c), bn=bn, potential=potential, catalogue=catalogue, label=label, threshold=threshold,
        draws=int(particles), seed=seed + 2, dead_joint=bool(dead), anneal=int(anneal),
        partition=(cand_W, cand_b, np.arange(len(expansions))))
    n_orbits = 2 if kind == "data" else orbit_copies(point.multiplicity, W0)
    F = -(corr + info["log_Z_laplace"]) - math.log(n_orbits) + 0.5 * len(z0) * _LOG_2PI  # every coordinate sampled
    if kind == "population":
        from kgon.evaluators import potential as pop

        L = float(pop(W0, b0))
    else:
        L = float(potential.value(jnp.asarray(W0), jnp.asarray(b0)))
    lam = float(getattr(point, "llc", float("nan")))
    lam = lam if math.isfinite(lam) else 0.0
    energy, lam_log_n = bn * L, lam * math.log(n)
    return FreeEnergyTerms(
        label=label, n=n, beta=beta, energy=energy, lambda_log_n=lam_log_n, loglog=0.0, laplace=0.0, prior=0.0,
        orbit=0.0, copies=0.0, flat=0.0, flat_err=0.0, numerical=F - energy - lam_log_n, numerical_err=err, llc=lam,
        multiplicity_m=1, loss=L, data=kind == "data")


def refined_terms(
    point,
    n: float,
    *,
    beta: float = 1.0,
    data=None,
    potential=None,
    flat_draws: int = 50_000,
    seed: int = 0,
    finite_n: bool = True,
    max_shift: float = 0.3,
    nongaussian_draws: int | None = None,
    catalogue=None,
    threshold: float | None = None,
    nongaussian_anneal: int | None = None,
    dead_joint: bool | None = None,
) -> FreeEnergyTerms:
    """Refined local free energy of the phase of a catalogue point, term by term (module docstring).

    Parameters
    ----------
    point : kgon.CriticalPoint
        A local minimum or flat phase (``hessian_signature[0] == 0``) that is C^2 in its live
        coordinates (``point.smooth``); its ``multiplicity`` counts the O(2) orbits.
    n : float
        Sample size (> 0).
    beta : float
        Inverse temperature (> 0); 1 is the convention of docs/index.md, 1/2 a unit-noise Gaussian.
    data : sampling.Dataset, optional
        Data-conditional free energy: the energy and the Hessian are those of L_n on this data set
        (``n`` must equal its size). Default: the population loss L.
    potential : sampling.EmpiricalPotential, optional
        A precomputed ``sampling.empirical_potential(data)`` (saves the O(n log n) set-up).
    flat_draws, seed : int
        Monte Carlo draws and seed of :func:`flat_region_mass` and :func:`dead_column_integral`.
    finite_n : bool
        Include the finite-n dead-column term (``numerical`` = -log I_n + log P(R), the prior mass
        just outside the flat region where the loss grows only like the cube of the distance; it
        decays like n^(-1/3)). False: the asymptotic constant only.
    max_shift : float
        If the minimiser of beta n L_n + |w|^2/2 moves further than this from the catalogue point
        (it left the phase), the second-order expansion at the point is used
        (:func:`laplace_terms`).
    nongaussian_draws : int, optional
        Importance draws of :func:`nongaussian_correction` (the exact live integral over its
        Laplace approximation, over every copy on a data set; particles under annealing); 0 leaves
        the term out (Laplace only). Default on a data set: 4,000 particles (annealed, at least 200
        per sampled copy; 20,000 draws if ``nongaussian_anneal=0``); 0 for the population loss (below
        n ~ 150 the Gaussian proposal fails there: the population-level order stays Laplace's,
        docs/free_energy.md). A kinked point (numerical term) defaults to 4,000 particles.
    catalogue, threshold : optional
        With a catalogue, the importance draws count only inside the phase's cell as
        :func:`kgon.classify` (``threshold``) draws it, i.e. the phase as a sampler counts it.
    nongaussian_anneal : int, optional
        0: plain importance sampling from the Student-t proposal. K > 0: annealed sequential Monte
        Carlo from the proposal to the integrand over K tempered targets
        (:func:`nongaussian_correction`; ``nongaussian_draws`` is then the number of particles).
        Default: 100 on a data set and for kinked points (plain importance sampling has heavy-tailed
        weights on the 5-gon's cell and, below n ~ 500, on the 6-gon's: docs/free_energy.md), else 0.
    dead_joint : bool, optional
        For a phase with dead columns, integrate them jointly with the live coordinates (their
        prior, the true loss and the cell) instead of as the product of the live integral with
        the dead column held at the point and the dead integral with the live columns held
        (``flat`` + ``numerical``). ``nongaussian`` is then the exact joint free energy minus all
        the other terms, so the total is the joint integral and the terms still sum to it.
        Default: True on a data set when the non-Gaussian term is computed by annealing, else False
        (plain joint importance sampling has heavy-tailed weights, docs/free_energy.md).

    Raises
    ------
    ValueError
        A saddle, a non-C^2 point, bad ``n``/``beta``, or ``n`` different from the data set size.
    """
    if not (isinstance(n, (int, float, np.integer, np.floating)) and math.isfinite(n) and n > 0):
        raise ValueError(f"`n` must be a positive finite sample size; got {n!r}.")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise ValueError(f"`beta` must be a positive finite inverse temperature; got {beta!r}.")
    check_nongaussian_draws(nongaussian_draws)
    label = str(getattr(point, "label", None) or getattr(point, "name"))
    sig = tuple(getattr(point, "hessian_signature", (0, 0, 0)))
    if sig[0] > 0:
        raise ValueError(f"`point` {label!r} is a saddle (Hessian signature {sig}); saddles are not phases.")
    kinked = not getattr(point, "smooth", True)
    if kinked and (catalogue is None or nongaussian_draws == 0):
        raise ValueError(
            f"`point` {label!r} is not C^2 (a kinked point): its refined free energy is the numerical local "
            "integral over its classifier cell; pass `catalogue` (and `threshold`) and nongaussian_draws != 0."
        )
    W0, b0 = np.asarray(point.W, float), np.asarray(point.b, float)
    r, c = W0.shape
    if r != 2:
        raise ValueError(f"`point` must have r = 2 hidden dimensions (the SO(2) orbit); got r = {r}.")
    dead = dead_columns(W0, b0)
    live = [j for j in range(c) if j not in dead]
    z0 = np.concatenate([W0.ravel(), b0])
    if data is not None or potential is not None:
        if potential is None:
            from sampling import empirical_potential

            potential = empirical_potential(data)
        if int(potential.n) != int(round(n)):
            raise ValueError(f"`n` must equal the data set size {int(potential.n)}; got {n!r}.")
        kind = "data"
    else:
        kind = "population"
    bn = float(beta) * float(n)
    if kinked:
        return _kinked_terms(point, label, float(n), float(beta), potential if kind == "data" else None,
                             catalogue=catalogue, threshold=threshold, seed=seed,
                             particles=4000 if nongaussian_draws is None else int(nongaussian_draws),
                             anneal=int(nongaussian_anneal or 100))
    batch_loss = _batch_loss(kind, potential)
    key = (W0.tobytes(), b0.tobytes(), flat_draws, seed)
    if key not in _FLAT_CACHE:
        _FLAT_CACHE[key] = flat_region_mass(W0, b0, dead, draws=flat_draws, seed=seed)
    flat_mass, flat_se = _FLAT_CACHE[key]
    if flat_mass <= 0:
        raise ValueError(f"the flat region of {label!r} has no prior mass in {flat_draws} draws; raise `flat_draws`.")
    flat = -math.log(flat_mass)
    flat_err = flat_se / flat_mass
    copies = -math.log(orbit_copies(point.multiplicity, W0))
    if kind == "data" and live:
        expansions = _copy_expansions(W0, b0, potential, bn, all_copies=True)
        copies = _copies_term(expansions)
    numerical = numerical_err = 0.0
    if dead and finite_n:
        if kind == "population":  # the loss differences do not depend on n: cache them
            if key not in _DL_CACHE:
                _DL_CACHE[key] = _dead_dl(W0, b0, dead, batch_loss, draws=flat_draws, seed=seed + 1)
            dL, fac = _DL_CACHE[key]
        else:
            dL, fac = _dead_dl(W0, b0, dead, batch_loss, draws=flat_draws, seed=seed + 1)
        w = np.exp(-bn * dL) * fac
        I_n, I_se = float(w.mean()), float(w.std(ddof=1) / math.sqrt(len(w)))
        numerical = -math.log(I_n) - flat
        numerical_err = math.hypot(I_se / I_n, flat_se / flat_mass)
    if not live:  # everything flat (the all-dead 0-gon): F = beta n L - log P(R)
        from kgon.evaluators import potential as pop

        L = float(pop(W0, b0)) if kind == "population" else float(potential.value(jnp.asarray(W0), jnp.asarray(b0)))
        return FreeEnergyTerms(label, float(n), float(beta), bn * L, 0.0, 0.0, 0.0, 0.0, 0.0, copies, flat, flat_err,
                               numerical, numerical_err, 0.0, 1, L, kind == "data")
    idx = _flat_index(r, c, live)
    fg, hess, lossf = _objective(r, c, tuple(idx.tolist()), kind)
    zj = jnp.asarray(z0)
    pot = potential if kind == "data" else None
    lap = laplace_terms(
        lambda x: tuple(np.asarray(v, dtype=float) for v in fg(jnp.asarray(x), zj, pot, bn)),
        lambda x: np.asarray(hess(jnp.asarray(x), zj, pot, bn)),
        z0[idx],
        tangent=lambda x: _orbit_tangent(_set(z0, idx, x), r, c, idx),
        max_shift=max_shift,
    )
    x = lap.x
    z = _set(z0, idx, x)
    What = z[: r * c].reshape(r, c)
    orbit = -math.log(2.0 * math.pi * float(np.linalg.norm(What))) if lap.orbit_excluded else 0.0
    lam = lap.dim / 2.0
    logdet = lap.half_logdet
    lam_log_n = lam * math.log(n)
    prior = 0.5 * float(x @ x) + 0.5 * len(idx) * _LOG_2PI
    if lap.newton_fallback:  # energy of the quadratic model at the Newton point
        L = (lap.value - 0.5 * float(x @ x)) / bn
    else:
        L = float(lossf(jnp.asarray(x), zj, pot))
    ng = ng_err = 0.0
    if nongaussian_anneal is None:
        nongaussian_anneal = 100 if kind == "data" else 0
    if dead_joint is None:  # jointly only under annealing (plain joint importance weights are heavy-tailed)
        dead_joint = kind == "data" and nongaussian_draws != 0 and nongaussian_anneal > 0
    joint = bool(dead_joint and dead)
    if nongaussian_draws is None:
        nongaussian_draws = (4000 if nongaussian_anneal else 20_000) if kind == "data" else 0
    if nongaussian_draws:
        # the exact live integral over every copy (both reflections) replaces its Laplace value:
        # nongaussian = F_live(exact) - (energy + lambda log n + laplace + prior + orbit + copies)
        if kind == "population":
            expansions = _copy_expansions(W0, b0, None, bn, all_copies=False)
        corr, ng_err, info = _importance_correction(
            expansions, (r, c), bn=bn, potential=potential if kind == "data" else None, catalogue=catalogue,
            label=label, threshold=threshold, draws=int(nongaussian_draws), seed=seed + 2, dead_joint=joint,
            anneal=int(nongaussian_anneal), partition=(*_copy_candidates(W0, b0), np.arange(len(expansions))) if c <= 8 else None)
        n_orbits = 2 if kind == "data" else orbit_copies(point.multiplicity, W0)
        if joint:  # the whole integral, live x dead: nongaussian = F(exact joint) - every other term
            F_joint = -(corr + info["log_Z_laplace"]) - math.log(n_orbits) + 0.5 * len(z0) * _LOG_2PI
            ng = F_joint - (bn * L + logdet + prior + orbit + copies + flat + numerical)
        else:
            F_live = -(corr + info["log_Z_laplace"]) - math.log(n_orbits) + 0.5 * len(idx) * _LOG_2PI
            ng = F_live - (bn * L + logdet + prior + orbit + copies)
    return FreeEnergyTerms(
        label=label, n=float(n), beta=float(beta), energy=bn * L, lambda_log_n=lam_log_n, loglog=0.0,
        laplace=logdet - lam_log_n, prior=prior, orbit=orbit, copies=copies, flat=flat, flat_err=flat_err,
        numerical=numerical, numerical_err=numerical_err, llc=lam, multiplicity_m=1, loss=L, data=kind == "data",
        nongaussian=ng, nongaussian_err=ng_err,
    )
