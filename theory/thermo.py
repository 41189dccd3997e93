"""Thermodynamics of the TMS posterior: specific heat, WAIC, WBIC and free energies by thermodynamic
integration, per phase and against the occupancy (docs/sampling.md, "Thermodynamics of the posterior").

The estimators are :mod:`sampling.mcmc.thermodynamics`; this module feeds them the TMS:

- :func:`tms_log_likelihood`: log p(x | w) = -||x - f(x; w)||^2 - (c/2) log pi, the Gaussian likelihood
  with variance 1/2 whose product over the data is exp(-n L_n) (docs/index.md, Conventions);
- :func:`posterior_thermo`: per sample size of a stored ``tmsphase posterior`` run, the specific heat
  C(n) = Var_post(n L_n) overall and per phase, WAIC, the functional variance and the singular
  fluctuation (the data set is redrawn from the stored data seed);
- :func:`specific_heat_transition`: the peak over n of C(n) beside the occupancy crossing
  (:func:`sampling.crossing_estimate`): a transition detector that needs no catalogue;
- :func:`tempered_phase_free_energies`: phase free energies by thermodynamic integration from a
  reference temperature t_ref < 1 to 1 with draws classified at every temperature (one
  :func:`sampling.run_tempering` per temperature), against the log occupancy ratio at t = 1;
- :func:`prior_energy_mean`: E_phi[n L_n], the t = 0 end of the thermodynamic integral.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kgon.validation import check_int

__all__ = [
    "HeatTransition",
    "PhaseTI",
    "PosteriorThermo",
    "posterior_thermo",
    "prior_energy_mean",
    "phase_free_energy_table",
    "read_campaign",
    "specific_heat_transition",
    "tempered_phase_free_energies",
    "thermo_summary",
    "tms_log_likelihood",
]


def tms_log_likelihood(W, b, features, mu, *, chunk: int = 256) -> np.ndarray:
    """Pointwise log-likelihood log p(x_i | w) = -||x_i - ReLU(W^T W x_i + b)||^2 - (c/2) log pi.

    Parameters
    ----------
    W : array, shape (..., r, c)
    b : array, shape (..., c)
    features, mu : arrays, shape (n,)
        The data x_i = mu_i e_{features_i} (:class:`sampling.Dataset`).
    chunk : int
        Draws evaluated at once (memory: chunk * n * c floats).

    Returns
    -------
    ndarray, shape (..., n)
        Summed over i and negated it is n L_n(w) + (n c / 2) log pi.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    f = np.asarray(features)
    mu = np.asarray(mu, dtype=np.float64)
    lead = W.shape[:-2]
    c = W.shape[-1]
    Wf = W.reshape((-1,) + W.shape[-2:])
    bf = b.reshape(-1, c)
    onehot = np.eye(c)[f]  # (n, c)
    out = np.empty((Wf.shape[0], f.size))
    for s in range(0, Wf.shape[0], chunk):
        A = np.einsum("srj,srk->sjk", Wf[s:s + chunk], Wf[s:s + chunk])  # W^T W, (S, c, c)
        pre = mu[None, :, None] * np.transpose(A[:, :, f], (0, 2, 1)) + bf[s:s + chunk, None, :]  # (S, n, c)
        resid = mu[None, :, None] * onehot[None] - np.maximum(pre, 0.0)
        out[s:s + chunk] = -np.sum(resid**2, axis=-1)
    return (out - 0.5 * c * math.log(math.pi)).reshape(lead + (f.size,))


def prior_energy_mean(features, mu, *, c: int, r: int = 2, draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """(E_phi[n L_n], its Monte Carlo standard error) under the N(0, I) prior, from ``draws`` prior draws."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(draws, r, c))
    b = rng.normal(size=(draws, c))
    nl = -(tms_log_likelihood(W, b, features, mu) + 0.5 * c * math.log(math.pi)).sum(axis=-1)
    return float(nl.mean()), float(nl.std(ddof=1) / math.sqrt(draws))


# --------------------------------------------------------------------------------------------------
# stored posterior runs


@dataclass(frozen=True)
class PosteriorThermo:
    """Thermodynamics of one stored posterior (one n) of ``tmsphase posterior``.

    Attributes
    ----------
    n, c : int
    beta : float
        Inverse temperature of the stored draws.
    occupancy, occupancy_err : dict[str, float]
        As stored.
    specific_heat : sampling.SpecificHeat
        C(n) = Var_post(n L_n), per phase in ``by_phase``.
    waic : sampling.WAIC or None
        None when the data set cannot be redrawn (no data seed stored).
    betas : list of float
        The tempering ladder (empty for NUTS).
    """

    n: int
    c: int
    beta: float
    occupancy: dict
    occupancy_err: dict
    specific_heat: object
    waic: object = None
    betas: list = field(default_factory=list)

    def row(self) -> dict:
        """The JSON row of ``tmsphase thermo``: n, beta, C and its error, C and occupancy per phase, WAIC."""
        sh = self.specific_heat
        w = self.waic
        return {
            "n": self.n, "beta": self.beta, "nL_mean": sh.mean, "nL_var": sh.value, "nL_var_err": sh.err,
            "nL_chain_var": [float(v) for v in sh.chain_var],
            "nL_by_phase": {k: list(v) for k, v in sh.by_phase.items()}, "mixture_part": sh.mixture_part(),
            "occupancy": self.occupancy, "occupancy_err": self.occupancy_err,
            "waic": None if w is None else {
                "waic": w.waic, "training_loss": w.training_loss, "functional_variance": w.functional_variance,
                "functional_variance_err": w.mc_err, "singular_fluctuation": w.singular_fluctuation, "se": w.se},
        }


def _read_idata(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az  # deferred: heavy, only for reading stored draws

        return az.from_netcdf(str(path))


def posterior_thermo(root, *, waic: bool = True) -> list[PosteriorThermo]:
    """:class:`PosteriorThermo` of every stored n of the ``tmsphase posterior --out`` directory ``root``.

    WAIC needs the data set: it is redrawn as ``make_dataset(PRNGKey(data_seed), n, c)`` from the stored
    configuration (``waic=False`` skips it).
    """
    import jax  # deferred: JAX start-up only when reading a run

    from kgon.io import ResultStore
    from sampling import make_dataset, specific_heat
    from sampling import waic as waic_fn

    store = ResultStore(root)
    entries = [e for e in store.list() if isinstance(e.config, dict) and e.config.get("kind") == "posterior"]
    if not entries:
        raise ValueError(f"`--posterior` {str(root)!r} holds no stored posterior run (tmsphase posterior --out DIR).")
    out = []
    for e in sorted(entries, key=lambda e: e.result["n"]):
        cfg = e.config["config"]
        n, c = int(cfg["n"]), int(cfg["c"])
        beta = float(cfg.get("beta", 1.0))
        nc = e.path.with_suffix(".nc")
        if not nc.is_file():
            raise ValueError(f"{e.path}: the draws ({nc.name}) are missing; rerun tmsphase posterior.")
        idata = _read_idata(nc)
        post = idata.posterior
        loss = np.asarray(post["loss"])
        labels = None
        if "phase" in post:
            names = json.loads(post.attrs["phase_labels"])
            labels = np.asarray(names, dtype=object)[np.asarray(post["phase"])]
        sh = specific_heat(n * loss, labels)  # Var(n L_n) at the stored beta (beta^2 C -> lambda)
        w = None
        if waic and cfg.get("data_seed") is not None:
            ds = make_dataset(jax.random.PRNGKey(int(cfg["data_seed"])), n, c)
            ll = tms_log_likelihood(np.asarray(post["W"]), np.asarray(post["b"]), ds.features, ds.mu)
            w = waic_fn(ll, beta=beta)
        betas = json.loads(idata.attrs["betas"]) if "betas" in idata.attrs else []
        out.append(PosteriorThermo(n=n, c=c, beta=beta, occupancy=e.result["occupancy"],
                                   occupancy_err=e.result["occupancy_err"], specific_heat=sh, waic=w, betas=betas))
    return out


def thermo_summary(root, *, waic: bool = True) -> tuple[list[dict], "HeatTransition | None"]:
    """The rows of :func:`posterior_thermo` (``PosteriorThermo.row``) of a ``tmsphase posterior --out``
    directory and, with three or more n, their :func:`specific_heat_transition` (else None): what
    ``tmsphase thermo`` prints and the reproduction's section 8 tabulates."""
    rows = [r.row() for r in posterior_thermo(root, waic=waic)]
    return rows, (specific_heat_transition(rows) if len(rows) >= 3 else None)


# --------------------------------------------------------------------------------------------------
# the specific-heat transition detector


@dataclass(frozen=True)
class HeatTransition:
    """The specific-heat peak over n beside the occupancy crossing of two phases.

    Attributes
    ----------
    peak : sampling.SpecificHeatPeak
    crossing : sampling.CrossingEstimate or None
        None when the rows carry no occupancy of the two phases.
    offset : float or None
        peak.n / crossing.n - 1.
    """

    peak: object
    crossing: object = None
    offset: float | None = None

    def to_dict(self) -> dict:
        return {"peak": self.peak.to_dict(), "crossing": None if self.crossing is None else self.crossing.to_dict(),
                "offset": self.offset}


def specific_heat_transition(rows: Sequence[dict], *, from_label: str = "5", to_label: str = "6",
                             half_window: int = 2, level: float = 0.9, seed: int = 0) -> HeatTransition:
    """Peak over n of C(n) = Var_post(n L_n) (:func:`sampling.specific_heat_peak`) and the occupancy
    crossing of ``from_label`` -> ``to_label`` (:func:`sampling.crossing_estimate`) of one data stream.

    ``rows``: one dict per n with ``n``, ``nL_var``, ``nL_chain_var`` (per-chain variances, the
    bootstrap units) and, for the crossing, ``occupancy`` and ``occupancy_err`` (the rows of
    ``tmsphase thermo --json``, or of a tempering campaign).
    """
    import sampling  # deferred: keeps `import theory` light (module docstring of theory)

    rows = sorted(rows, key=lambda r: r["n"])
    missing = [r["n"] for r in rows if r.get("nL_var") is None or not r.get("nL_chain_var")]
    if missing:
        raise ValueError(f"`rows` must carry nL_var and nL_chain_var; missing at n = {missing}.")
    peak = sampling.specific_heat_peak([r["n"] for r in rows], [r["nL_var"] for r in rows],
                                       [r["nL_chain_var"] for r in rows], half_window=half_window, level=level,
                                       seed=seed)
    crossing = offset = None
    if all("occupancy" in r for r in rows):
        crossing = sampling.crossing_estimate(rows, from_label=from_label, to_label=to_label)
        if crossing.n is not None and peak.n is not None:
            offset = peak.n / crossing.n - 1.0
    return HeatTransition(peak=peak, crossing=crossing, offset=offset)


# --------------------------------------------------------------------------------------------------
# phase free energies by thermodynamic integration


@dataclass(frozen=True)
class PhaseTI:
    """Phase free energies by thermodynamic integration at one n, against the occupancy at t = 1.

    Attributes
    ----------
    n : int
    data_seed : int
    phases : sampling.PhaseFreeEnergies
        G(alpha) = F(alpha) + const from t_ref = betas[-1] to 1.
    occupancy : dict[str, float]
        P_1(alpha), the t = 1 run's occupancy; occupancy_err its bootstrap errors.
    occupancy_err : dict[str, float]
    free_energy : sampling.ThermoIntegral
        F = -log Z(1) over the t = 1 run's ladder (with its tail to t = 0).
    config : dict
    draws : tuple of (ndarray, ndarray)
        (n L_n, labels) of the draws at every temperature, each of shape (chains, samples).
    """

    n: int
    data_seed: int
    phases: object
    occupancy: dict
    occupancy_err: dict
    free_energy: object
    config: dict = field(default_factory=dict)
    draws: tuple = field(default=(), compare=False, repr=False)

    def comparison(self, a: str = "5", b: str = "6") -> dict:
        """F(a) - F(b) by integration and log P_1(b) / P_1(a) by the occupancy, with standard errors."""
        d, e = self.phases.difference(a, b)
        pa, pb = self.occupancy[a], self.occupancy[b]
        occ = math.log(pb / pa)
        occ_err = math.hypot(self.occupancy_err[a] / pa, self.occupancy_err[b] / pb)
        q = self.phases.quadrature_err[a] + self.phases.quadrature_err[b]
        return {"n": self.n, "stream": self.data_seed, "ti": d, "ti_err": e, "ti_quadrature_err": q,
                "log_occupancy_ratio": occ, "log_occupancy_ratio_err": occ_err,
                "z": (d - occ) / math.hypot(e, occ_err), "t_ref": float(self.phases.betas[-1]),
                "occupancy_ref": {a: self.phases.occupancy_ref[a], b: self.phases.occupancy_ref[b]}}


def tempered_phase_free_energies(rng_key, *, n: int, data_seed: int, betas: Sequence[float], catalogue, c: int = 6,
                                 chains: int = 4, warmup: int = 300, samples: int = 800,
                                 phases: Sequence[str] | None = None) -> PhaseTI:
    """Phase free energies at sample size n by thermodynamic integration over ``betas`` (1 = betas[0] >
    ... = t_ref): one :func:`sampling.run_tempering` with target inverse temperature t per t (key
    ``fold_in(rng_key, k)``), the draws classified with one threshold (:func:`sampling.occupancy_threshold`
    (n)) at every t, then :func:`sampling.phase_free_energies`. The t = 1 run also gives the occupancy
    and the overall free energy over its ladder (:func:`sampling.thermodynamic_integral`, its t = 0 end
    from :func:`prior_energy_mean`).
    """
    import jax  # deferred: JAX start-up only when sampling

    import sampling

    n = check_int("n", n, minimum=2)
    t = np.asarray(betas, dtype=np.float64)
    thr = sampling.occupancy_threshold(n)
    ds = sampling.make_dataset(jax.random.PRNGKey(int(data_seed)), n, c)
    Es, Ls, first = [], [], None
    for k, tk in enumerate(t):
        res = sampling.run_tempering(jax.random.fold_in(rng_key, k), ds, chains=chains, warmup=warmup, samples=samples,
                                     catalogue=catalogue, threshold=thr, beta=float(tk))
        Es.append(n * res.loss)
        Ls.append(res.labels)
        first = res if first is None else first
    pf = sampling.phase_free_energies(t, Es, Ls, phases=phases)
    occ, err, _ = sampling.occupancy_estimate(first.labels)
    m0, _ = prior_energy_mean(ds.features, ds.mu, c=c)
    ti = sampling.thermodynamic_integral(first.pt.betas, first.pt.energy_ladder, prior_energy_mean=m0)
    cfg = dict(chains=chains, warmup=warmup, samples=samples, threshold=thr, betas=t.tolist(), c=c)
    return PhaseTI(n=n, data_seed=int(data_seed), phases=pf, occupancy=occ, occupancy_err=err, free_energy=ti,
                   config=cfg, draws=tuple(zip(Es, Ls)))


def phase_free_energy_table(free_energy: float, free_energy_err: float, occupancy: dict, occupancy_err: dict, *,
                            refined: dict | None = None, phases: Sequence[str] = ("5", "6")) -> dict:
    """Per-phase free energies F(alpha) = F - log P_1(alpha) from the overall thermodynamic integral F
    (:func:`sampling.thermodynamic_integral`) and the occupancy, beside ``refined`` (label -> the
    refined local free energy, :func:`theory.free_energy_terms` ``total``, same convention: the
    N(0, I) prior normalised, no data-independent constant dropped).

    Returns label -> {"ti", "ti_err", "refined", "ti_minus_refined"} (``refined`` entries None when
    not given); plus ``"all"``: F and, with ``refined``, -log sum_alpha exp(-F_refined(alpha)) over the
    given phases (a lower bound on the refined F of the whole posterior: other phases add mass).
    """
    out = {}
    for p in phases:
        P, e = occupancy[p], occupancy_err.get(p) or 0.0
        f = free_energy - math.log(P)
        r = None if refined is None or p not in refined else float(refined[p])
        out[p] = {"ti": f, "ti_err": math.hypot(free_energy_err, e / P), "refined": r,
                  "ti_minus_refined": None if r is None else f - r}
    allr = None
    if refined:
        v = np.array([float(x) for x in refined.values()])
        allr = float(-(np.log(np.exp(-(v - v.min())).sum())) + v.min())
    out["all"] = {"ti": free_energy, "ti_err": free_energy_err, "refined": allr,
                  "ti_minus_refined": None if allr is None else free_energy - allr}
    return out


def read_campaign(path, *, beta: float = 1.0) -> dict[int, list[dict]]:
    """Rows of a tempering campaign file (JSON lines with ``stream``, ``beta``, ``n``, ``occupancy``,
    ``nL_var``, ``nL_chain_var``, ...) at inverse temperature ``beta`` that carry the specific heat,
    grouped by stream and sorted by n."""
    out: dict[int, list[dict]] = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if float(r.get("beta", 1.0)) == beta and r.get("nL_chain_var"):
            out.setdefault(int(r["stream"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["n"]) for k, v in sorted(out.items())}
