"""Thermodynamics of the posterior from its draws and from a tempering ladder (docs/sampling.md,
"Thermodynamics of the posterior").

The tempered posterior at inverse temperature t is p_t(w) = phi(w) exp(-t E(w)) / Z(t), with phi the
prior and E(w) = n L_n(w) the energy (the negative log-likelihood up to a constant: a Gaussian
likelihood with variance 1/2, docs/index.md). Its cumulants in t are the posterior's thermodynamics:

- d/dt log Z(t) = -E_t[E] and d^2/dt^2 log Z(t) = Var_t(E), so the free energy F = -log Z(1) is the
  thermodynamic integral  F = int_0^1 E_t[E] dt  (Z(0) = 1 for a normalised prior;
  :func:`thermodynamic_integral`), and the specific heat C = Var_1(E) (:func:`specific_heat`);
- restricted to a phase alpha (a region of parameter space), Z_alpha(t) = Z(t) P_t(alpha) obeys the
  same identity with the conditional moments, so
  F(alpha) = -log Z_alpha(1) = -log Z(t_ref) - log P_{t_ref}(alpha) + int_{t_ref}^1 E_t[E | alpha] dt
  (:func:`phase_free_energies`; the first term is common to all phases);
- WBIC and WAIC, the information criteria of the same draws, are :mod:`sampling.mcmc.criteria`.

Integrals over the ladder use u = log t: int m(t) dt = int f(u) du with f = t m(t), whose derivative
f'(u) = t m(t) - t^2 v(t) (v the energy variance) gives the Hermite-corrected trapezoid rule
int_a^b f du ~= h (f_a + f_b) / 2 + h^2 (f'_a - f'_b) / 12 (error O(h^5 f'''')). The part [0, t_min]
below the ladder lies between t_min m(t_min) and t_min m(0) since m is non-increasing (dm/dt = -v);
within that bracket it is estimated from m(0) = E_phi[E], m(t_min) and v(t_min) (:class:`ThermoIntegral`).

Errors are bootstraps over independent chains (the draws of one chain are correlated; chains are not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = [
    "PhaseFreeEnergies",
    "SpecificHeat",
    "SpecificHeatPeak",
    "ThermoIntegral",
    "ladder_moments",
    "phase_free_energies",
    "specific_heat",
    "specific_heat_peak",
    "thermodynamic_integral",
]


def check_chains_draws(name: str, x) -> np.ndarray:
    """``x`` as a finite float array of shape (chains, draws >= 2) (a 1-d array is one chain)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` must be a finite array of shape (chains, draws) with draws >= 2; got shape "
                         f"{np.shape(x)}.")
    return x


def as_generator(seed) -> np.random.Generator:
    """A numpy Generator from a seed (or the Generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _units(x: np.ndarray, min_units: int) -> np.ndarray:
    """Bootstrap units along axis 0: the chains, or, with fewer than ``min_units`` chains, contiguous
    blocks of each chain (ceil(min_units / chains) per chain; the tail that does not fill a block is
    dropped), as :func:`sampling.occupancy_estimate` does. Tempering keeps the autocorrelation
    short, so blocks of a few hundred draws are nearly independent."""
    C, T = x.shape[:2]
    if C >= min_units:
        return x
    k = max(1, min(T // 2, math.ceil(min_units / C)))
    L = T // k
    return x[:, : k * L].reshape((C * k, L) + x.shape[2:])


def check_ladder(betas) -> np.ndarray:
    """``betas`` as a strictly decreasing 1-d array of positive inverse temperatures."""
    t = np.asarray(betas, dtype=np.float64)
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"`betas` must be a 1-d array of positive inverse temperatures; got {betas!r}.")
    if t.size > 1 and np.any(np.diff(t) >= 0):
        raise ValueError(f"`betas` must decrease strictly (betas[0] the coldest); got {t.tolist()}.")
    return t


# --------------------------------------------------------------------------------------------------
# specific heat


@dataclass(frozen=True)
class SpecificHeat:
    """The posterior specific heat C = Var_post(E), E = n L_n, overall and within each phase.

    Attributes
    ----------
    value : float
        Var(E) over all draws (ddof = 1).
    err : float
        Bootstrap standard error over chains (nan with one chain).
    mean : float
        E_post[E].
    chain_var : ndarray, shape (chains,)
        Var(E) within each chain (the bootstrap units of :func:`specific_heat_peak`).
    by_phase : dict[str, tuple[float, float, float, int]]
        label -> (occupancy, mean of E, variance of E (nan below 2 draws), draws). The law of total
        variance holds: value = sum_a P_a var_a + sum_a P_a (mean_a - mean)^2 (up to ddof).
    """

    value: float
    err: float
    mean: float
    chain_var: np.ndarray
    by_phase: dict = field(default_factory=dict)

    def mixture_part(self) -> float:
        """The between-phase part sum_a P_a (mean_a - mean)^2 of the variance (the energy gap term)."""
        return float(sum(p * (m - self.mean) ** 2 for p, m, _, _ in self.by_phase.values()))


def specific_heat(energy, labels=None, *, n_boot: int = 1000, min_units: int = 8, seed=0) -> SpecificHeat:
    """Specific heat C = Var_post(E) of posterior draws, overall and per phase (module docstring).

    Parameters
    ----------
    energy : array, shape (chains, draws)
        E = n L_n of the draws (at the inverse temperature of interest).
    labels : array of str, shape (chains, draws), optional
        Phase labels of the draws (:func:`sampling.classify_draws`).
    n_boot : int
        Bootstrap replicates over chains (or blocks, ``min_units``) for ``err``.
    min_units : int
        With fewer chains, contiguous blocks of the chains are the bootstrap units.
    seed : int or numpy Generator
    """
    E = check_chains_draws("energy", energy)
    U = _units(E, min_units)
    value = float(E.var(ddof=1))
    err = float("nan")
    if U.shape[0] >= 2:
        idx = as_generator(seed).integers(0, U.shape[0], size=(n_boot, U.shape[0]))
        err = float(np.std([U[i].var(ddof=1) for i in idx], ddof=1))
    by_phase = {}
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != E.shape:
            raise ValueError(f"`labels` must have the shape of `energy` {E.shape}; got {lab.shape}.")
        for name in sorted(set(lab.ravel().tolist())):
            e = E[lab == name]
            by_phase[str(name)] = (float(e.size / E.size), float(e.mean()),
                                   float(e.var(ddof=1)) if e.size > 1 else float("nan"), int(e.size))
    return SpecificHeat(value=value, err=err, mean=float(E.mean()), chain_var=E.var(axis=1, ddof=1), by_phase=by_phase)


@dataclass(frozen=True)
class SpecificHeatPeak:
    """The maximum over n of a measured specific heat C(n) (:func:`specific_heat_peak`).

    Attributes
    ----------
    n : float or None
        Peak position (None when the largest C(n) is at an end of the grid: not bracketed).
    ci_low, ci_high : float or None
        (1 - level)/2 and (1 + level)/2 quantiles of the peak over the bootstrap.
    value : float or None
        C at the peak (the fitted parabola's vertex).
    bracketed : float
        Fraction of bootstrap replicates with a bracketed peak.
    level : float
    ns, values : tuple of float
        The grid and the measured C(n) it was found from.
    """

    n: float | None
    ci_low: float | None
    ci_high: float | None
    value: float | None
    bracketed: float
    level: float
    ns: tuple = ()
    values: tuple = ()

    def to_dict(self) -> dict:
        return {"n": self.n, "ci": [self.ci_low, self.ci_high], "value": self.value, "bracketed": self.bracketed,
                "level": self.level}


def _parabola_peak(logn: np.ndarray, y: np.ndarray, half_window: int) -> tuple[float, float] | None:
    """Vertex (log n, y) of the least-squares parabola through the discrete maximum of y and its
    ``half_window`` neighbours on each side; None when the maximum is at an end of the grid. The
    vertex is clipped to the window (a flat or convex fit gives the discrete maximum)."""
    k = int(np.argmax(y))
    if k == 0 or k == y.size - 1:
        return None
    lo, hi = max(0, k - half_window), min(y.size, k + half_window + 1)
    x, yy = logn[lo:hi], y[lo:hi]
    a, b, c = np.polyfit(x - logn[k], yy, 2)
    if a >= 0:
        return float(logn[k]), float(y[k])
    xv = float(np.clip(-b / (2 * a), x[0] - logn[k], x[-1] - logn[k]))
    return float(logn[k] + xv), float(a * xv * xv + b * xv + c)


def specific_heat_peak(ns: Sequence[float], values: Sequence[float], chain_values: Sequence | None = None, *,
                       half_window: int = 2, n_boot: int = 2000, level: float = 0.9, seed=0) -> SpecificHeatPeak:
    """Peak of the specific heat C(n) over sample sizes: a transition detector needing no catalogue.

    At a first-order transition between phases a and b the posterior is a mixture with an energy gap
    Delta = E[E | a] - E[E | b], and C(n) = sum_x P_x C_x + P_a P_b Delta^2 (two phases) peaks near
    P_a = P_b, the occupancy crossing (docs/sampling.md). The peak is the vertex of a least-squares
    parabola in log n through the largest C(n) and its ``half_window`` neighbours on each side (a
    smooth interpolation that averages the noise of the grid points). Interval: the peak recomputed
    with each C(n) replaced by the mean of a bootstrap resample of its per-chain variances
    ``chain_values[i]`` (C(n_i) itself for the point estimate).

    Parameters
    ----------
    ns : sequence of float
        Sample sizes, increasing, at least 3.
    values : sequence of float
        C(n) = Var_post(n L_n) at each n.
    chain_values : sequence of arrays, optional
        Per-chain variances at each n (the bootstrap units); no interval without them.
    half_window : int
        Neighbours on each side of the discrete maximum in the fit (>= 1).
    n_boot : int
    level : float in (0, 1)
    seed : int or numpy Generator
    """
    n_arr = np.asarray(ns, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if n_arr.ndim != 1 or n_arr.size < 3 or y.shape != n_arr.shape or np.any(np.diff(n_arr) <= 0):
        raise ValueError(f"`ns` must be >= 3 increasing sample sizes with one value each; got {list(ns)} and "
                         f"{list(values)}.")
    if isinstance(half_window, bool) or not isinstance(half_window, int) or half_window < 1:
        raise ValueError(f"`half_window` must be an integer >= 1; got {half_window!r}.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be in (0, 1); got {level!r}.")
    logn = np.log(n_arr)
    peak = _parabola_peak(logn, y, half_window)
    lo = hi = None
    frac = 0.0
    if chain_values is not None:
        cv = [np.asarray(v, dtype=np.float64).ravel() for v in chain_values]
        if len(cv) != n_arr.size or any(v.size < 2 for v in cv):
            raise ValueError("`chain_values` must give >= 2 per-chain variances at every n.")
        rng = as_generator(seed)
        boots = []
        for _ in range(n_boot):
            yb = np.array([v[rng.integers(0, v.size, v.size)].mean() for v in cv])
            p = _parabola_peak(logn, yb, half_window)
            if p is not None:
                boots.append(math.exp(p[0]))
        frac = len(boots) / n_boot
        if boots:
            q = ((1 - level) / 2, (1 + level) / 2)
            lo, hi = (float(v) for v in np.quantile(boots, q))
    return SpecificHeatPeak(
        n=None if peak is None else math.exp(peak[0]), ci_low=lo, ci_high=hi,
        value=None if peak is None else peak[1], bracketed=float(frac), level=float(level),
        ns=tuple(float(v) for v in n_arr), values=tuple(float(v) for v in y),
    )


# --------------------------------------------------------------------------------------------------
# thermodynamic integration


def ladder_moments(energies) -> tuple[np.ndarray, np.ndarray]:
    """Per-temperature mean and variance (ddof = 1) of the energies of a ladder, shape (chains, draws, K)
    -> two arrays of shape (K,)."""
    E = np.asarray(energies, dtype=np.float64)
    if E.ndim != 3 or E.shape[1] < 2:
        raise ValueError(f"`energies` must have shape (chains, draws >= 2, K); got {E.shape}.")
    flat = E.reshape(-1, E.shape[2])
    return flat.mean(axis=0), flat.var(axis=0, ddof=1)


def _hermite_integral(t: np.ndarray, m: np.ndarray, v: np.ndarray | None) -> tuple[float, float]:
    """(integral, |Hermite correction|) of m(t) dt from t[-1] to t[0] over decreasing nodes t (module
    docstring); without ``v`` the plain trapezoid in log t and correction 0."""
    u = np.log(t)[::-1]
    f = (t * m)[::-1]
    h = np.diff(u)
    trap = float(np.sum(h * (f[1:] + f[:-1]) / 2))
    if v is None:
        return trap, 0.0
    fp = (t * m - t * t * v)[::-1]
    corr = float(np.sum(h * h * (fp[:-1] - fp[1:]) / 12))
    return trap + corr, abs(corr)


@dataclass(frozen=True)
class ThermoIntegral:
    """Free energy F = -log Z(1) = int_0^1 E_t[E] dt by thermodynamic integration over a ladder.

    Attributes
    ----------
    free_energy : float
        F (the ladder part plus the tail below the ladder).
    ladder_part : float
        int_{t_min}^{1} E_t[E] dt (Hermite-corrected trapezoid in log t when variances are given).
    tail : float
        Estimate of int_0^{t_min} E_t[E] dt.
    tail_err : float
        With m(0) = ``prior_energy_mean`` and the variances: the tail is the integral of the quadratic
        through m(0), m(t_min) with slope -v(t_min) at t_min, t_min ((m(0) + 2 m(t_min)) / 3 +
        t_min v(t_min) / 6), and the error its distance from the trapezoid t_min (m(0) + m(t_min)) / 2
        (the bracket's midpoint); with m(0) alone the bracket's half-width; without m(0) the tail is
        t_min m(t_min) + t_min^2 v(t_min) / 2 and the error its second term. The tail is accurate
        (<= 0.01 nats per parameter) once t_min n is well below 1 (docs/sampling.md).
    quadrature_err : float
        Size of the Hermite correction: a bound on the corrected rule's error where the correction is
        itself accurate (0, and the error unknown, without variances).
    mc_err : float
        Bootstrap standard error over chains (nan when only moments were given).
    betas : ndarray
    """

    free_energy: float
    ladder_part: float
    tail: float
    tail_err: float
    quadrature_err: float
    mc_err: float
    betas: np.ndarray

    @property
    def err(self) -> float:
        """Total error: the Monte Carlo, quadrature and tail errors added in quadrature (nan parts as 0)."""
        parts = [x for x in (self.mc_err, self.quadrature_err, self.tail_err) if np.isfinite(x)]
        return float(math.sqrt(sum(x * x for x in parts)))


def _tail(t_min: float, m_min: float, v_min: float | None, prior_mean: float | None) -> tuple[float, float]:
    """(estimate, error) of int_0^{t_min} m(t) dt (:class:`ThermoIntegral`, ``tail``)."""
    if prior_mean is not None:
        mid = t_min * (m_min + prior_mean) / 2
        if v_min is None:
            return mid, t_min * abs(prior_mean - m_min) / 2
        quad = t_min * ((prior_mean + 2 * m_min) / 3 + t_min * v_min / 6)
        return quad, abs(quad - mid)
    if v_min is None:
        return t_min * m_min, float("nan")
    return t_min * m_min + t_min * t_min * v_min / 2, t_min * t_min * v_min / 2


def thermodynamic_integral(betas, energies=None, *, energy_mean=None, energy_var=None,
                           prior_energy_mean: float | None = None, n_boot: int = 500, min_units: int = 8,
                           seed=0) -> ThermoIntegral:
    """F = -log Z(1) = int_0^1 E_t[E] dt over a ladder 1 = betas[0] > ... > betas[-1] = t_min.

    Give the ladder's draws ``energies`` (chains, draws, K) (then the variances enter the Hermite
    rule and the error is a bootstrap over chains), or their moments ``energy_mean`` (and
    ``energy_var``), shape (K,). ``prior_energy_mean`` = E_phi[E] (the t = 0 end) brackets the part
    below the ladder; the log prior normalisation is taken as 0 (Z(0) = 1). The bootstrap resamples
    chains, or contiguous blocks of them with fewer than ``min_units`` chains. Reference: Gelman & Meng
    1998 (path sampling); Friel & Pettitt 2008 (power posteriors).
    """
    t = check_ladder(betas)
    if energies is not None:
        E = np.asarray(energies, dtype=np.float64)
        if E.ndim != 3 or E.shape[2] != t.size:
            raise ValueError(f"`energies` must have shape (chains, draws, {t.size}); got {E.shape}.")
        m, v = ladder_moments(E)
    elif energy_mean is not None:
        m = np.asarray(energy_mean, dtype=np.float64)
        v = None if energy_var is None else np.asarray(energy_var, dtype=np.float64)
        if m.shape != t.shape or (v is not None and v.shape != t.shape):
            raise ValueError(f"`energy_mean` (and `energy_var`) must have shape {t.shape}; got {m.shape}.")
    else:
        raise ValueError("give `energies` (chains, draws, K) or `energy_mean` (K,).")
    if t[0] != 1.0:
        raise ValueError(f"`betas[0]` must be 1 (the posterior); got {t[0]}.")
    ladder, q_err = _hermite_integral(t, m, v) if t.size > 1 else (0.0, 0.0)
    tail, tail_err = _tail(float(t[-1]), float(m[-1]), None if v is None else float(v[-1]), prior_energy_mean)
    mc = float("nan")
    if energies is not None and _units(E, min_units).shape[0] >= 2:
        rng = as_generator(seed)
        U = _units(E, min_units)
        C = U.shape[0]
        reps = []
        for _ in range(n_boot):
            mb, vb = ladder_moments(U[rng.integers(0, C, C)])
            lb = _hermite_integral(t, mb, vb)[0] if t.size > 1 else 0.0
            reps.append(lb + _tail(float(t[-1]), float(mb[-1]), float(vb[-1]), prior_energy_mean)[0])
        mc = float(np.std(reps, ddof=1))
    return ThermoIntegral(free_energy=ladder + tail, ladder_part=ladder, tail=tail, tail_err=tail_err,
                          quadrature_err=q_err, mc_err=mc, betas=t)


@dataclass(frozen=True)
class PhaseFreeEnergies:
    """Phase free energies by thermodynamic integration restricted to each phase.

    G(alpha) = -log P_{t_ref}(alpha) + int_{t_ref}^1 E_t[E | alpha] dt equals
    F(alpha) = -log Z_alpha(1) up to the constant -log Z(t_ref) common to all phases (module docstring).

    Attributes
    ----------
    free_energy : dict[str, float]
        G(alpha) for every phase with draws at every temperature.
    err : dict[str, float]
        Bootstrap standard errors over the chains of every temperature.
    quadrature_err : dict[str, float]
        Size of each phase's Hermite correction.
    diff_err : dict[tuple[str, str], float]
        Bootstrap standard error of G(a) - G(b) for every pair (the two share the draws).
    betas : ndarray
        The temperatures, 1 = betas[0] > ... > betas[-1] = t_ref.
    occupancy_ref : dict[str, float]
        P_{t_ref}(alpha).
    """

    free_energy: dict
    err: dict
    quadrature_err: dict
    diff_err: dict
    betas: np.ndarray
    occupancy_ref: dict

    def difference(self, a: str, b: str) -> tuple[float, float]:
        """(F(a) - F(b), its standard error)."""
        return self.free_energy[a] - self.free_energy[b], self.diff_err[(a, b)]


def _phase_G(t, Es, Ls, phases) -> tuple[dict, dict]:
    out, corr = {}, {}
    for p in phases:
        m, v, occ_ref = [], [], None
        for k, (E, L) in enumerate(zip(Es, Ls)):
            e = E[L == p]
            if e.size < 2:
                break
            m.append(e.mean())
            v.append(e.var(ddof=1))
            if k == len(Es) - 1:
                occ_ref = e.size / E.size
        else:
            integ, c = _hermite_integral(t, np.array(m), np.array(v)) if t.size > 1 else (0.0, 0.0)
            out[p] = -math.log(occ_ref) + integ
            corr[p] = c
    return out, corr


def phase_free_energies(betas, energies: Sequence, labels: Sequence, *, phases: Sequence[str] | None = None,
                        n_boot: int = 500, min_units: int = 8, seed=0) -> PhaseFreeEnergies:
    """Phase free energies from labelled draws at temperatures 1 = betas[0] > ... > betas[-1] = t_ref.

    Parameters
    ----------
    betas : array, shape (K,)
        Decreasing inverse temperatures, betas[0] = 1.
    energies : sequence of K arrays, shape (chains_k, draws_k)
        E = n L_n of the draws at each temperature (independent runs may differ in shape).
    labels : sequence of K arrays of str
        Phase labels of those draws (one fixed classifier for all temperatures, so that the phases
        are the same regions of parameter space at every t).
    phases : sequence of str, optional
        Phases to report (default: every label with >= 2 draws at every temperature).
    n_boot : int
        Bootstrap replicates (chains resampled independently at each temperature).
    min_units : int
        With fewer chains at a temperature, contiguous blocks of its chains are the bootstrap units.
    seed : int or numpy Generator
    """
    t = check_ladder(betas)
    if t[0] != 1.0:
        raise ValueError(f"`betas[0]` must be 1 (the posterior); got {t[0]}.")
    if len(energies) != t.size or len(labels) != t.size:
        raise ValueError(f"`energies` and `labels` must hold one array per temperature ({t.size}); got "
                         f"{len(energies)} and {len(labels)}.")
    Es = [check_chains_draws(f"energies[{k}]", e) for k, e in enumerate(energies)]
    Ls = [np.asarray(lab) for lab in labels]
    for k, (E, L) in enumerate(zip(Es, Ls)):
        if L.shape != E.shape:
            raise ValueError(f"`labels[{k}]` must have the shape of `energies[{k}]` {E.shape}; got {L.shape}.")
    if phases is None:
        phases = sorted(set.intersection(*[set(L.ravel().tolist()) for L in Ls]))
    G, corr = _phase_G(t, Es, Ls, [str(p) for p in phases])
    rng = as_generator(seed)
    Eu = [_units(E, min_units) for E in Es]
    Lu = [_units(L, min_units) for L in Ls]
    reps = []
    for _ in range(n_boot):
        pick = [rng.integers(0, E.shape[0], E.shape[0]) for E in Eu]
        reps.append(_phase_G(t, [E[i] for E, i in zip(Eu, pick)], [L[i] for L, i in zip(Lu, pick)], list(G))[0])
    err = {p: float(np.std([r[p] for r in reps if p in r], ddof=1)) for p in G}
    diff_err = {(a, b): float(np.std([r[a] - r[b] for r in reps if a in r and b in r], ddof=1))
                for a in G for b in G if a != b}
    occ_ref = {p: float(np.mean(Ls[-1] == p)) for p in G}
    return PhaseFreeEnergies(free_energy=G, err=err, quadrature_err=corr, diff_err=diff_err, betas=t,
                             occupancy_ref=occ_ref)
