"""The Bayesian phase transition over data sets: the distribution of the crossing with no data set.

On one data stream the closed-form data-conditional free energy (:mod:`theory.data_term`) is

    F_n^data(alpha) = F_n^pop(alpha) + Ybar_alpha(n) + T_copy,alpha(n),

with Ybar the copies' mean data shift and T_copy = -log mean_sigma exp(-(Y_sigma - Ybar)) the copy
term. Both are random through the data: Y is O(sqrt n), so the crossing of two phases moves from
stream to stream, and the crossing distribution over data sets is a property of the model and n,
not of one data set. Two ways to get it:

- **simulated**: draw K data streams (``sampling.make_dataset``, keys ``fold_in(rng_key, k)``) and
  evaluate every phase's data term exactly on each (only the per-feature sorted magnitudes enter);
- **gaussian**: the asymptotic law. T[i, m] (the sum over the samples of feature i of the per-feature
  loss l_m, :mod:`kgon.fluctuation`) is a sum of n i.i.d. vectors v = e_i (x) l(mu) (i uniform,
  mu ~ U[0, 1]), so along a stream it is a random walk with mean n E v and covariance n Sigma,

      Sigma = (1/c) blockdiag_i( E_mu[l(mu) l(mu)^T] ) - E v E v^T,

  E_mu[l l^T] in closed form (Gauss-Legendre on the pieces between the kinks, exact). Hence
  Y_sigma ~ N(0, n Sigma_sigma) jointly over all copies of all phases. Increments between grid n use
  Sigma at the refined minimisers there. First order only (no relaxation term).

The crossing of a stream is the first up-crossing of P(to) - P(from) (occupancy conditional on the
modelled phases) by linear interpolation in log n on the grid (the rule of
``sampling.crossing_estimate``). The mean crossing over data sets is not the population crossing:
T_copy <= 0 on every data set (Jensen: mean exp(-(Y - Ybar)) >= exp(-mean(Y - Ybar)) = 1), with
equality only when all copies see the same data, and its expectation grows like sqrt(n) times the
spread of the copies' Y (a soft minimum over the copies), so it does not average out over data
sets: it lowers the free energy of phases with inequivalent copies (the 5-gon) against those whose
copies are equivalent (the 6-gon) and delays the crossing (docs/free_energy.md, "The crossing over
data sets").

Reference: docs/free_energy.md; Watanabe (2009), ch. 6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from theory.data_term import (
    RELAXATION_DEFAULT,
    check_beta,
    check_grid,
    copy_term,
    first_up_crossing,
    phase_label,
    population_expansion,
    population_free_energy,
    softmax_occupancy,
    stream_energies,
)
from theory.free_energies.phases import refined_phases

__all__ = ["CrossingDistribution", "OverData", "crossing_distribution", "loss_covariance", "METHODS", "default_grid",
           "gaussian_energies"]

METHODS = ("simulated", "gaussian")


def default_grid(n_min: int = 100, n_max: int = 2000, points: int = 60) -> np.ndarray:
    """Log-spaced integer sample sizes (the crossing grid): ``points`` from n_min to n_max (4-5% apart)."""
    return np.unique(np.round(np.geomspace(n_min, n_max, points))).astype(np.int64)


@dataclass(frozen=True)
class CrossingDistribution:
    """The crossing of ``from_label`` -> ``to_label`` over data streams.

    Attributes
    ----------
    from_label, to_label : str
    crossings : ndarray (streams,)
        Each stream's first up-crossing of P(to) - P(from); -inf where ``to`` already leads at the
        grid's first n (below the grid), +inf where it never leads on the grid.
    mean, median, q10, q90 : float
        Over the streams (mean over the finite crossings; the quantiles count the censored ones at
        their side).
    streams : int
    method : str
        "simulated" or "gaussian".
    below, above : int
        Number of streams crossing below / above the grid.
    """

    from_label: str
    to_label: str
    crossings: np.ndarray
    mean: float
    median: float
    q10: float
    q90: float
    streams: int
    method: str
    below: int = 0
    above: int = 0

    def to_dict(self) -> dict:
        return {"from": self.from_label, "to": self.to_label, "mean": self.mean, "median": self.median,
                "q10": self.q10, "q90": self.q90, "streams": self.streams, "method": self.method,
                "below_grid": self.below, "above_grid": self.above}


@dataclass(frozen=True)
class OverData:
    """Data-conditional occupancy of K data streams and the crossing distribution.

    Attributes
    ----------
    ns : ndarray of int
        The grid.
    labels : tuple of str
        Modelled phases (the occupancy is conditional on them).
    occupancy : dict label -> ndarray (streams, len(ns))
    crossing : CrossingDistribution
    beta : float
    method : str
    population_crossing : float or None
        The crossing of the population-level refined order on the same grid (no data term).
    """

    ns: np.ndarray
    labels: tuple
    occupancy: dict
    crossing: CrossingDistribution
    beta: float
    method: str
    population_crossing: float | None = None
    config: dict = field(default_factory=dict)

    def band(self, label: str, q: tuple = (0.1, 0.9)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, lower, upper) of the occupancy of ``label`` over the streams at each n (quantiles ``q``)."""
        P = self.occupancy[label]
        return P.mean(axis=0), np.quantile(P, q[0], axis=0), np.quantile(P, q[1], axis=0)

    def to_dict(self) -> dict:
        bands = {}
        for lab in self.labels:
            m, lo, hi = self.band(lab)
            bands[lab] = {"mean": m.tolist(), "q10": lo.tolist(), "q90": hi.tolist()}
        return {"ns": self.ns.tolist(), "labels": list(self.labels), "beta": self.beta, "method": self.method,
                "crossing_distribution": [self.crossing.to_dict()], "population_crossing": self.population_crossing,
                "occupancy_band": bands, "crossings": self.crossing.crossings.tolist(), "config": dict(self.config)}


def summarize_crossings(cr: np.ndarray, from_label: str, to_label: str, method: str) -> CrossingDistribution:
    """Mean (finite ones), median and 10-90% quantiles of per-stream crossings (+-inf: censored)."""
    cr = np.asarray(cr, float)
    fin = cr[np.isfinite(cr)]
    q = np.quantile(cr, [0.1, 0.5, 0.9]) if cr.size else [np.nan] * 3
    return CrossingDistribution(from_label, to_label, cr, float(fin.mean()) if fin.size else float("nan"),
                                float(q[1]), float(q[0]), float(q[2]), int(cr.size), method,
                                int(np.sum(cr == -np.inf)), int(np.sum(cr == np.inf)))


def stream_crossing(ns, d) -> float:
    """First up-crossing of d over ns; -inf if d >= 0 at ns[0], +inf if it never crosses."""
    if d[0] >= 0:
        return -np.inf
    x = first_up_crossing(ns, d)
    return np.inf if x is None else x


def loss_covariance(expansions) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample mean and covariance of v = e_i (x) l(mu), l stacking l_m(mu; w_alpha) over the phases'
    refined minimisers (``expansions``) and features m (module docstring): shapes (c P c,) and
    (c P c, c P c), index (i, alpha, m)."""
    # deferred: jax loads only when the distribution is computed
    from kgon.fluctuation import feature_loss_moments

    mean, second = feature_loss_moments([e.W for e in expansions], [e.b for e in expansions])
    P, c = mean.shape
    D = P * c
    m = mean.ravel()
    S = second.reshape(D, D)
    Ev = np.tile(m, c) / c
    E2 = np.kron(np.eye(c), S) / c
    return Ev, E2 - np.outer(Ev, Ev)


def gaussian_energies(rng, points, ns, K: int, beta: float) -> dict:
    """Ybar, T_copy of every phase on K Gaussian random walks of T (module docstring)."""
    c = np.asarray(points[0].W).shape[1]
    P = len(points)
    Z = np.zeros((K, c * P * c))
    prev = 0
    out = {phase_label(p): (np.zeros((K, len(ns))), np.zeros((K, len(ns)))) for p in points}
    ii = np.arange(c)
    for g, n in enumerate(ns):
        es = [population_expansion(p, float(n), beta=beta) for p in points]
        _, cov = loss_covariance(es)
        ev, U = np.linalg.eigh(0.5 * (cov + cov.T))
        root = U * np.sqrt(np.clip(ev, 0.0, None))
        Z = Z + np.sqrt(n - prev) * rng.standard_normal((K, root.shape[0])) @ root.T
        prev = n
        T = Z.reshape(K, c, P, c)  # centred sums: T - n E T
        for a, e in enumerate(es):
            Y = beta * T[:, ii[None, :], a, e.perms].sum(axis=2)  # (K, M)
            ybar, tc = copy_term(Y, np.zeros_like(Y))
            out[e.label][0][:, g] = ybar
            out[e.label][1][:, g] = tc
    return out


def crossing_distribution(
    rng_key, catalogue, *, streams: int = 200, ns=None, beta: float = 1.0, method: str = "simulated",
    relaxation: bool | None = None, labels: Sequence[str] | None = None, from_label: str = "5",
    to_label: str = "6",
) -> OverData:
    """The data-conditional occupancy of ``streams`` data streams and the distribution of the
    ``from_label`` -> ``to_label`` crossing over them (module docstring), with no data set given.

    Parameters
    ----------
    rng_key : jax PRNG key
        Stream k is ``sampling.make_dataset(fold_in(rng_key, k), max(ns), c)`` (method "simulated");
        the Gaussian walks draw from a numpy generator seeded by the key (method "gaussian").
    catalogue : kgon.Catalogue
    streams : int
        Number of data streams K (>= 2).
    ns : sequence of int, optional
        The grid (default :func:`default_grid`: 60 log-spaced n from 100 to 2000).
    beta : float
        Inverse temperature.
    method : "simulated" or "gaussian"
    relaxation : bool, optional
        The relaxation term (simulated only; default ``theory.data_term.RELAXATION_DEFAULT``).
    labels : sequence of str, optional
        Modelled phases (default every phase :func:`theory.refined_phases` covers).
    from_label, to_label : str
        The transition.

    Cost: the population parts once per grid n (cached); the data part ~1 s per 100 streams over the
    default grid (simulated), less for the Gaussian walks.
    """
    import jax  # deferred: jax start-up

    from sampling.data import key_data, make_dataset

    beta = check_beta(beta)
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}; got {method!r}.")
    if isinstance(streams, bool) or not isinstance(streams, (int, np.integer)) or streams < 2:
        raise ValueError(f"`streams` must be an integer >= 2; got {streams!r}.")
    relaxation = RELAXATION_DEFAULT if relaxation is None else relaxation
    if method == "gaussian":
        relaxation = False
    grid = default_grid() if ns is None else check_grid(ns)
    if grid.size < 2:
        raise ValueError(f"`ns` must hold at least two sample sizes; got {grid.tolist()}.")
    pts, _ = refined_phases(catalogue, labels=labels)
    labs = tuple(phase_label(p) for p in pts)
    for name, lab in (("from_label", from_label), ("to_label", to_label)):
        if lab not in labs:
            raise ValueError(f"`{name}` must be a modelled phase {list(labs)}; got {lab!r}.")
    pop = population_free_energy(pts, grid, beta=beta)
    K = int(streams)
    if method == "simulated":
        c = np.asarray(pts[0].W).shape[1]
        data = [make_dataset(jax.random.fold_in(rng_key, k), int(grid.max()), c) for k in range(K)]
        feats = np.stack([d.features for d in data])
        mu = np.stack([d.mu for d in data])
        terms = stream_energies(pts, feats, mu, grid, beta=beta, relaxation=bool(relaxation))
    else:
        rng = np.random.default_rng(list(key_data(rng_key)))
        terms = gaussian_energies(rng, pts, grid, K, beta)
    F = {lab: pop[lab][None, :] + terms[lab][0] + terms[lab][1] for lab in labs}
    occ = softmax_occupancy(F, labs)
    cr = np.array([stream_crossing(grid, occ[to_label][k] - occ[from_label][k]) for k in range(K)])
    P0 = softmax_occupancy(pop, labs)
    pc = stream_crossing(grid, P0[to_label] - P0[from_label])
    return OverData(grid, labs, occ, summarize_crossings(cr, from_label, to_label, method), beta, method,
                    float(pc), {"streams": K, "relaxation": bool(relaxation), "key": list(key_data(rng_key))})
