"""Posterior phase occupancy: the posterior mass of each phase at sample size n (docs/sampling.md).

Every posterior draw at beta = 1 is classified into a catalogue phase (``kgon.classify``: the
nearest critical point modulo O(r) rotations/reflections and feature permutations, "other" beyond a
distance threshold). The occupancy of phase alpha is the fraction of draws labelled alpha,

    P_hat_n(alpha) = (1 / (C T)) sum_{chains c} sum_{draws t} 1[label(w_{c,t}) = alpha],

with a bootstrap standard error over independent chains (C >= 4), or, with fewer chains, over
contiguous blocks of the chains (``min_units`` blocks in all; the blocks must be longer than the
label autocorrelation time, which parallel tempering keeps short). Estimates from independent
data sets can be pooled with :func:`pool_occupancy`.

Classification threshold: the posterior in a phase spreads to distances ~ sqrt(d / n) from its
critical point (about 13 / sqrt(n) median at c = 6), so a fixed threshold would label most draws
"other" at small n. The default :func:`occupancy_threshold` is max(0.5, 25 / sqrt(n)) (at least
``kgon``'s default 0.5, and about the 99th percentile of the within-phase distance at n ~ 1000).

Method per n: ``run_occupancy(method="nuts")`` uses independent NUTS chains from prior draws (which
measure basins of attraction once barriers are high), ``method="tempered"`` parallel tempering
(posterior mass); the method is recorded in every result.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields, replace
from typing import Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from kgon.io import to_jsonable
from kgon.validation import check_float, check_int
from sampling.data import key_data, make_dataset
from sampling.mcmc.diagnostics import OTHER, PhaseMixingWarning
from sampling.mcmc.idata import to_inference_data
from sampling.mcmc.nuts import run_nuts
from sampling.mcmc.tempering import run_tempering

__all__ = [
    "OccupancyConfig",
    "OccupancyResult",
    "run_occupancy",
    "occupancy_estimate",
    "occupancy_threshold",
    "pool_occupancy",
    "occupancy_curve",
    "crossing_estimate",
    "CrossingEstimate",
    "METHODS",
]

METHODS = ("nuts", "tempered")


def occupancy_threshold(n: int) -> float:
    """Default classification threshold at sample size n: max(0.5, 25 / sqrt(n)) (module docstring)."""
    return max(0.5, 25.0 / math.sqrt(n))


def occupancy_estimate(
    labels: np.ndarray, *, rng_key=None, n_boot: int = 2000, min_units: int = 8
) -> tuple[dict[str, float], dict[str, float], str]:
    """Occupancy and bootstrap standard error from labels of shape (chains, draws).

    Returns ``(occupancy, occupancy_err, error_method)``; keys are the observed labels plus
    ``"other"`` (always present), sorted by decreasing occupancy. ``error_method`` is
    ``"bootstrap over C chains"`` or ``"bootstrap over B blocks of C chains"``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0:
        raise ValueError(f"`labels` must have shape (chains, draws) with draws >= 1; got {labels.shape}.")
    C, T = labels.shape
    names = sorted(set(labels.ravel().tolist()) | {OTHER})
    onehot = np.stack([(labels == nm) for nm in names], axis=-1).astype(np.float64)  # (C, T, P)
    if C >= min_units:
        units = onehot.mean(axis=1)  # (C, P)
        how = f"bootstrap over {C} chains"
    else:
        per = max(1, min(T, math.ceil(min_units / C)))
        edges = np.linspace(0, T, per + 1).astype(int)
        units = np.concatenate(
            [onehot[:, a:b_].mean(axis=1) for a, b_ in zip(edges[:-1], edges[1:]) if b_ > a], axis=0
        )
        how = f"bootstrap over {units.shape[0]} blocks of {C} chains"
    est = onehot.mean(axis=(0, 1))
    if units.shape[0] >= 2:
        seed = 0 if rng_key is None else int(np.asarray(jax.random.randint(rng_key, (), 0, 2**31 - 1)))
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, units.shape[0], size=(n_boot, units.shape[0]))
        boot = units[idx].mean(axis=1)  # (n_boot, P)
        err = boot.std(axis=0, ddof=1)
    else:
        err = np.full(len(names), np.nan)
    order = sorted(range(len(names)), key=lambda k: (-est[k], names[k]))
    occ = {names[k]: float(est[k]) for k in order}
    occ_err = {names[k]: float(err[k]) for k in order}
    return occ, occ_err, how


@dataclass(frozen=True)
class OccupancyResult:
    """Posterior phase occupancy at one sample size n.

    Attributes
    ----------
    n, c : int
    method : str
        "nuts" or "tempered": the method that produced the estimate.
    occupancy : dict[str, float]
        Posterior mass of each observed phase label (plus "other"), decreasing.
    occupancy_err : dict[str, float]
        Bootstrap standard errors (see ``config["error_method"]``).
    rhat_loss, ess_loss : float
        Split R-hat and ESS of the loss L_n over chains (beta = 1).
    divergences : int
        Post-warmup divergent transitions at beta = 1.
    phase_switches : tuple of int
        Label changes along each chain (beta = 1, "other" ignored).
    config : dict
        Hyperparameters, threshold, data seed, error method, mixing summary (e.g. swap rates).
    seed : tuple of int
        PRNG key data of the run.
    idata : arviz.InferenceData or None
        Draws, loss, labels and sampler statistics (not part of ``to_dict``; see
        :func:`sampling.to_inference_data`).
    """

    n: int
    c: int
    method: str
    occupancy: dict
    occupancy_err: dict
    rhat_loss: float
    ess_loss: float
    divergences: int
    phase_switches: tuple
    config: dict = field(default_factory=dict)
    seed: tuple = ()
    idata: object = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        """JSON-able summary: n, method, occupancy, occupancy_err, rhat_loss, ess_loss, divergences."""
        return {
            "n": int(self.n),
            "method": self.method,
            "occupancy": dict(self.occupancy),
            "occupancy_err": to_jsonable(self.occupancy_err),
            "rhat_loss": to_jsonable(self.rhat_loss),
            "ess_loss": to_jsonable(self.ess_loss),
            "divergences": int(self.divergences),
        }


def _check_method(method) -> str:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}; got {method!r}.")
    return method


@dataclass(frozen=True)
class OccupancyConfig:
    """Settings of :func:`run_occupancy` (validated on construction; held by the posterior sweep kind,
    whose schema is generated from these fields, and keyed by ``tmsphase posterior --out``).

    Attributes
    ----------
    c : int
        number of features (>= 2)
    n : int
        sample size (>= 1)
    method : str
        sampler: 'nuts' (independent chains) or 'tempered' (parallel tempering)
    chains : int
        chains (nuts) or tempering ladders per task
    warmup : int
        warm-up steps (sweeps) per chain
    samples : int
        draws (sweeps) per chain
    r : int
        number of hidden dimensions
    init : str
        chain initialisation: 'prior', 'catalogue' or a catalogue label
    data_seed : int or None
        seed of the data stream (default: drawn from the run's key)
    threshold : float or None
        classification threshold (default max(0.5, 25/sqrt(n)))
    n_temps : int or None
        tempering ladder size (default: sampling's)
    max_tree_depth : int or None
        NUTS tree depth (default 10 nuts, 6 tempered)
    beta : float
        inverse temperature of the likelihood, phi exp(-beta n L_n) (default 1: the Bayesian posterior)
    """

    c: int
    n: int
    method: str = "nuts"
    chains: int = 4
    warmup: int = 500
    samples: int = 500
    r: int = 2
    init: str = "prior"
    data_seed: int | None = None
    threshold: float | None = None
    n_temps: int | None = None
    max_tree_depth: int | None = None
    beta: float = 1.0

    def __post_init__(self):
        set_ = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - normalise in __post_init__
        set_("c", check_int("c", self.c, minimum=2))
        set_("n", check_int("n", self.n, minimum=1))
        set_("method", _check_method(self.method))
        set_("chains", check_int("chains", self.chains, minimum=1))
        set_("warmup", check_int("warmup", self.warmup, minimum=0))
        set_("samples", check_int("samples", self.samples, minimum=1))
        set_("r", check_int("r", self.r, minimum=1))
        if isinstance(self.init, list):
            set_("init", tuple(self.init))
        if not isinstance(self.init, (str, tuple)) or (isinstance(self.init, tuple) and not all(
                isinstance(x, str) for x in self.init)):
            raise ValueError(f"`init` must be 'prior', 'catalogue' or catalogue label(s); got {self.init!r}.")
        if self.data_seed is not None:
            set_("data_seed", check_int("data_seed", self.data_seed, minimum=0))
        if self.threshold is not None:
            t = self.threshold
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not t > 0:
                raise ValueError(f"`threshold` must be a positive number; got {t!r}.")
            set_("threshold", float(t))
        if self.n_temps is not None:
            set_("n_temps", check_int("n_temps", self.n_temps, minimum=2))
        if self.max_tree_depth is not None:
            set_("max_tree_depth", check_int("max_tree_depth", self.max_tree_depth, minimum=1))
        set_("beta", check_float("beta", self.beta, positive=True))

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def run_occupancy(
    rng_key,
    config: OccupancyConfig | None = None,
    *,
    catalogue,
    progress: bool = False,
    keep_idata: bool = True,
    **settings,
) -> OccupancyResult:
    """Posterior phase occupancy at sample size n (module docstring).

    Draws a data set D_n (from ``data_seed`` if given, else from ``rng_key``), samples the posterior
    phi(w) exp(-beta n L_n(w)) with ``method``, classifies the beta = 1 draws into the ``catalogue``'s
    phases and estimates the occupancy with a bootstrap error.

    Parameters
    ----------
    rng_key : jax PRNG key
    config : OccupancyConfig, optional
        The settings; or give them as keywords (``settings``, the fields of :class:`OccupancyConfig`),
        not both.
    c : int, >= 2
        Number of features (must match the catalogue).
    n : int, >= 1
        Sample size.
    method : "nuts" or "tempered"
        Independent NUTS chains, or parallel tempering (:func:`sampling.run_tempering`).
    chains : int, >= 1
        NUTS chains, or independent tempering ladders.
    warmup, samples : int
        Per chain (tempering: sweeps).
    catalogue : kgon.Catalogue
        Phases to classify into (``kgon.default_catalogue(c)``).
    data_seed : int, optional
        Fix the data set (``jax.random.PRNGKey(data_seed)``) independently of ``rng_key``.
    init : "prior" (default), "catalogue", label(s), ...
        Chain initialisation (:func:`sampling.initial_points`).
    r : int
        Hidden dimensions.
    threshold : float, optional
        Classification threshold (default :func:`occupancy_threshold` (n)).
    n_temps : int, optional
        Tempering ladder size (default :func:`sampling.mcmc.tempering.default_ladder_size`).
    max_tree_depth : int, optional
        NUTS tree depth (default 10 for "nuts", 6 per replica for "tempered").
    beta : float, > 0
        Inverse temperature of the likelihood (default 1: the Bayesian posterior).
    progress : bool
        tqdm progress bar.
    keep_idata : bool
        Attach an arviz InferenceData with the draws (``result.idata``).

    Returns
    -------
    OccupancyResult
    """
    if config is None:
        config = OccupancyConfig(**settings)
    elif settings:
        raise ValueError(f"give `config` or the settings {sorted(settings)}, not both.")
    elif not isinstance(config, OccupancyConfig):
        raise ValueError(f"`config` must be an OccupancyConfig; got {type(config).__name__}.")
    c, n, method, chains, warmup, samples = (config.c, config.n, config.method, config.chains, config.warmup,
                                             config.samples)
    data_seed, threshold = config.data_seed, config.threshold
    if catalogue is None or not hasattr(catalogue, "points"):
        raise ValueError(f"`catalogue` must be a kgon.Catalogue; got {type(catalogue).__name__}.")
    if getattr(catalogue, "c", c) != c:
        raise ValueError(f"`catalogue` is for c = {catalogue.c}; got c = {c}.")
    if threshold is None:
        threshold = occupancy_threshold(n)
    k_data, k_run, k_boot = jax.random.split(rng_key, 3)
    if data_seed is not None:
        k_data = jax.random.PRNGKey(data_seed)
    dataset = make_dataset(k_data, n, c)
    res, extra, not_mixing = _sample_posterior(k_run, dataset, config, catalogue, threshold, progress)
    occ, err, how = occupancy_estimate(res.labels, rng_key=k_boot)
    config = dict(
        res.config.to_dict(), c=c, n=n, method=method, chains=chains, warmup=warmup, samples=samples,
        data_seed=data_seed,
        data_key=list(dataset.key), threshold=float(threshold), error_method=how, chains_disagree=not_mixing,
        catalogue_size=len(catalogue.points), **extra,
    )
    result = OccupancyResult(
        n=n, c=c, method=method, occupancy=occ, occupancy_err=err, rhat_loss=res.rhat_loss, ess_loss=res.ess_loss,
        divergences=res.divergences, phase_switches=tuple(res.phase_switches), config=config,
        seed=key_data(rng_key),
    )
    if keep_idata:
        result = _with_idata(result, to_inference_data(res, result))
    return result


def _sample_posterior(k_run, dataset, config: OccupancyConfig, catalogue, threshold, progress):
    """(result of run_nuts or run_tempering, method-specific record, whether the chains disagree about
    the phase); the PhaseMixingWarning is re-issued to the caller."""
    n, method, chains, warmup, samples = config.n, config.method, config.chains, config.warmup, config.samples
    r, init, n_temps, max_tree_depth, beta = config.r, config.init, config.n_temps, config.max_tree_depth, config.beta
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "nuts":
            res = run_nuts(
                k_run, dataset, chains=chains, warmup=warmup, samples=samples, init=init, r=r,
                catalogue=catalogue, threshold=threshold,
                max_tree_depth=10 if max_tree_depth is None else max_tree_depth,
                beta=beta, progress=progress,
            )
            extra = {"step_size": res.step_size.tolist(), "mean_num_steps": float(res.num_steps.mean())}
        else:
            res = run_tempering(
                k_run, dataset, chains=chains, warmup=warmup, samples=samples, n_temps=n_temps, init=init, r=r,
                catalogue=catalogue, threshold=threshold,
                max_tree_depth=6 if max_tree_depth is None else max_tree_depth,
                beta=beta, progress=progress,
            )
            extra = {
                "betas": res.pt.betas.tolist(),
                "swap_rate": res.pt.swap_rate.tolist(),
                "round_trips": res.pt.round_trips.tolist(),
                "loss_mean_per_temperature": (res.pt.energy_mean / (res.config.beta * n)).tolist(),
            }
    not_mixing = False
    for w in caught:
        if issubclass(w.category, PhaseMixingWarning):
            not_mixing = True
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return res, extra, not_mixing


def _with_idata(result: OccupancyResult, idata) -> OccupancyResult:
    return replace(result, idata=idata)


def pool_occupancy(results: Sequence[OccupancyResult]) -> dict:
    """Pool occupancy estimates at one n from independent data sets (replicates).

    The pooled occupancy is the mean over replicates; its standard error combines the spread
    between replicates (which includes the data-set fluctuation of the posterior) as
    std / sqrt(R), falling back to the root-mean-square of the within-run errors / sqrt(R) for R = 1.
    Returns a dict with the keys of :meth:`OccupancyResult.to_dict` plus ``replicates``.
    """
    results = list(results)
    if not results:
        raise ValueError("`results` must contain at least one OccupancyResult; got none.")
    ns = {r.n for r in results}
    methods = {r.method for r in results}
    if len(ns) != 1 or len(methods) != 1:
        raise ValueError(f"`results` must share n and method; got n in {sorted(ns)} and methods {sorted(methods)}.")
    R = len(results)
    labels = sorted(set().union(*[set(r.occupancy) for r in results]))
    M = np.array([[r.occupancy.get(lab, 0.0) for lab in labels] for r in results])
    E = np.array([[r.occupancy_err.get(lab, 0.0) or 0.0 for lab in labels] for r in results])
    est = M.mean(axis=0)
    if R >= 2:
        err = M.std(axis=0, ddof=1) / math.sqrt(R)
    else:
        err = np.sqrt(np.nanmean(E**2, axis=0)) / math.sqrt(R)
    order = sorted(range(len(labels)), key=lambda k: (-est[k], labels[k]))
    return {
        "n": results[0].n,
        "method": results[0].method,
        "occupancy": {labels[k]: float(est[k]) for k in order},
        "occupancy_err": {labels[k]: float(err[k]) for k in order},
        "rhat_loss": float(max(r.rhat_loss for r in results)),
        "ess_loss": float(sum(r.ess_loss for r in results)),
        "divergences": int(sum(r.divergences for r in results)),
        "replicates": R,
    }


def occupancy_curve(
    rng_key,
    *,
    c: int,
    ns: Sequence[int],
    method: str = "tempered",
    chains: int = 2,
    warmup: int = 300,
    samples: int = 600,
    catalogue,
    data_seed: int = 0,
    n_temps: int | None = None,
    progress: bool = False,
) -> tuple[OccupancyResult, ...]:
    """Occupancy at every n of ``ns`` on one nested data stream (``data_seed``): the D_n are the first
    n samples of one stream, as in an experiment that collects more data. Run n uses the key
    ``fold_in(rng_key, n)`` (as ``tmsphase posterior``). See :func:`run_occupancy`."""
    ns = [check_int("n", n, minimum=1) for n in ns]
    if not ns:
        raise ValueError("`ns` must contain at least one sample size; got none.")
    out = []
    it = ns
    if progress:
        it = tqdm(ns, desc=f"occupancy ({method})", unit="n")
    for n in it:
        out.append(
            run_occupancy(
                jax.random.fold_in(rng_key, n), c=c, n=n, method=method, chains=chains, warmup=warmup,
                samples=samples, catalogue=catalogue, data_seed=data_seed, n_temps=n_temps, keep_idata=False,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class CrossingEstimate:
    """Where the occupancy of ``to_label`` overtakes that of ``from_label``.

    ``n`` is the crossing of P(to) - P(from) by linear interpolation in log n between the bracketing
    sample sizes (None if the difference does not change sign from < 0 to >= 0); ``ci_low``,
    ``ci_high`` the (1 - level)/2 and (1 + level)/2 quantiles of the crossing over a parametric bootstrap that redraws
    each difference from a normal with its standard error (sqrt(err_to^2 + err_from^2),
    conservative since the two occupancies are anti-correlated); ``bracketed`` the fraction of
    bootstrap draws with a crossing.
    """

    from_label: str
    to_label: str
    n: float | None
    ci_low: float | None
    ci_high: float | None
    bracketed: float
    level: float = 0.95

    def to_dict(self) -> dict:
        return {"from": self.from_label, "to": self.to_label, "n": self.n, "ci": [self.ci_low, self.ci_high],
                "bracketed": self.bracketed, "level": self.level}


def _first_up_crossing(logn: np.ndarray, d: np.ndarray, mass: np.ndarray | None = None,
                       min_mass: float = 0.0) -> float | None:
    """First up-crossing of d (< 0 to >= 0) by linear interpolation in log n; with ``mass`` (the two
    phases' summed occupancy) the first one with mass > ``min_mass`` at both bracketing points
    (noise where both phases are small is ignored). The first crossing is also what the theory's
    crossing is (the dominant phase's first change, :func:`theory.compare_occupancy`), so a curve
    that crosses, falls back and crosses again is compared at its first crossing."""
    for k in range(len(d) - 1):
        if d[k] < 0 <= d[k + 1] and (mass is None or min(mass[k], mass[k + 1]) > min_mass):
            t = d[k] / (d[k] - d[k + 1])
            return float(np.exp(logn[k] + t * (logn[k + 1] - logn[k])))
    return None


def crossing_estimate(
    results, *, from_label: str = "5", to_label: str = "6", n_boot: int = 4000, rng_key=None, level: float = 0.95,
    min_mass: float | None = None,
) -> CrossingEstimate:
    """Crossing n of two phases' occupancy curves with a bootstrap interval (see
    :class:`CrossingEstimate`). ``results``: OccupancyResults or their ``to_dict()`` dicts.
    ``level``: coverage of the interval, the (1 - level)/2 and (1 + level)/2 bootstrap quantiles
    (0.95 by default; the one crossing estimator of ``tmsphase posterior``, ``compare`` and the report).
    ``min_mass``: if given, up-crossings where the two phases hold at most ``min_mass`` together at
    either bracketing n are skipped (the first of the others is taken)."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a coverage probability in (0, 1); got {level!r}.")
    rows = []
    for r in results:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k))
        occ, err = get("occupancy"), get("occupancy_err")
        d = occ.get(to_label, 0.0) - occ.get(from_label, 0.0)
        e = math.hypot(err.get(to_label) or 0.0, err.get(from_label) or 0.0)
        rows.append((int(get("n")), d, e, occ.get(to_label, 0.0) + occ.get(from_label, 0.0)))
    if len(rows) < 2:
        raise ValueError("`results` must contain at least two sample sizes.")
    rows.sort()
    logn = np.log([r[0] for r in rows])
    d = np.array([r[1] for r in rows])
    e = np.array([r[2] for r in rows])
    mass = None if min_mass is None else np.array([r[3] for r in rows])
    mm = 0.0 if min_mass is None else float(min_mass)
    n_hat = _first_up_crossing(logn, d, mass, mm)
    seed = 0 if rng_key is None else int(np.asarray(jax.random.randint(rng_key, (), 0, 2**31 - 1)))
    rng = np.random.default_rng(seed)
    boots = [_first_up_crossing(logn, d + e * rng.normal(size=d.size), mass, mm) for _ in range(n_boot)]
    ok = np.array([b for b in boots if b is not None])
    q = ((1 - level) / 2, (1 + level) / 2)
    lo, hi = (float(np.quantile(ok, q[0])), float(np.quantile(ok, q[1]))) if ok.size else (None, None)
    return CrossingEstimate(from_label, to_label, n_hat, lo, hi, float(ok.size / n_boot), float(level))
