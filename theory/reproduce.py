"""The main job: catalogue -> theory -> posterior occupancy -> SGD -> comparison -> report.

``tmsphase reproduce --out DIR [--quick]`` runs :func:`reproduce`. Every stage stores its result as
soon as it is done in a :class:`kgon.io.ResultStore` keyed by the stage's configuration (the
catalogue and the SGD analysis in ``DIR/stages``, the SGD runs in ``DIR/sgd-runs``, one entry per
sample size in ``DIR/posterior``, through :func:`sampling.mcmc.io.posterior_over_n`, the loop of
``tmsphase posterior``); re-running with the same configuration reuses finished stages and sample
sizes, so an interrupted run resumes where it stopped. The report ``DIR/report.md`` is readable on
its own: tables plus the figures (PNG and PDF) in ``DIR/figures``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kgon.io import ResultStore, refuse_legacy, write_json_atomic, write_text_atomic
from theory.free_energies.orders import MIN_TRANSITION_N, phases_of, significant_transitions
from theory.free_energies.terms import check_nongaussian_anneal, check_nongaussian_draws

__all__ = ["ReproduceConfig", "ReproduceResult", "reproduce"]


@dataclass(frozen=True)
class ReproduceConfig:
    """Settings of the reproduction. ``quick()`` fits in < 10 minutes on 2 cores; ``full()`` covers
    the paper's n range and beyond.

    Section 7 compares the refined order with the samples: on the run's data stream in closed form
    (the first-order data term, :func:`theory.data_free_energy`: seconds), on the population loss, and
    over data sets (:func:`theory.crossing_distribution`: ``over_data_streams`` simulated streams on
    ``over_data_points`` log-spaced n over the sampled range; 0 streams: left out), the
    data-averaged occupancy with its 10-90% band in the figure.
    ``exact_check``: also the exact order on the run's data stream (the numerical integral of each
    phase's cell, a check of the sampler, minutes per phase and n); ``refined_draws`` (its particles
    or draws) and ``refined_anneal`` (its annealing targets; 0: plain importance sampling) apply to
    that check only (None: the defaults of :func:`theory.free_energy`)."""

    c: int = 6
    ns: tuple[int, ...] = (100, 200, 300, 450, 600, 800, 1200, 2000, 3500, 6000, 10000)
    method: str = "tempered"
    chains: int = 4
    warmup: int = 500
    samples: int = 1000
    sgd_runs: int = 20
    sgd_epochs: int = 4500
    seed: int = 0
    quick: bool = False
    refined_draws: int | None = None
    refined_anneal: int | None = None
    exact_check: bool = False
    over_data_streams: int = 200
    over_data_points: int = 40

    def __post_init__(self):
        check_nongaussian_draws(self.refined_draws, "refined_draws")
        check_nongaussian_anneal(self.refined_anneal, "refined_anneal")
        if not isinstance(self.exact_check, bool):
            raise ValueError(f"`exact_check` must be True or False; got {self.exact_check!r}.")
        for name in ("refined_draws", "refined_anneal"):
            if getattr(self, name) is not None and not self.exact_check:
                raise ValueError(f"`{name}` applies to the exact-order check of section 7 (exact_check=True); got "
                                 f"{name}={getattr(self, name)!r} with exact_check=False.")
        streams, points = self.over_data_streams, self.over_data_points
        if isinstance(streams, bool) or not isinstance(streams, int) or streams < 0 or streams == 1:
            raise ValueError(f"`over_data_streams` must be 0 (no band) or an integer >= 2; got {streams!r}.")
        if isinstance(points, bool) or not isinstance(points, int) or points < 2:
            raise ValueError(f"`over_data_points` must be an integer >= 2; got {points!r}.")

    @classmethod
    def quick_config(cls, *, seed: int = 0) -> "ReproduceConfig":
        return cls(
            ns=(100, 250, 600, 1500, 4000),
            chains=2, warmup=150, samples=200, sgd_runs=4, sgd_epochs=300, seed=seed, quick=True,
            over_data_streams=100, over_data_points=30,
        )


@dataclass(frozen=True)
class ReproduceResult:
    """Where the outputs went and what they say."""

    out_dir: Path
    report: Path
    figures: tuple[str, ...]
    n_critical_5_6: float | None
    comparison: Any
    stages_reused: tuple[str, ...]
    stages_run: tuple[str, ...]
    timings: dict = field(default_factory=dict)
    config: ReproduceConfig | None = None

    def to_dict(self) -> dict:
        """JSON-able summary (``tmsphase reproduce --json``): c, r, config, report, figures, the 5 -> 6
        transition, the compared crossings, which stages were reused or run, and their timings."""
        cfg = self.config
        return {
            "c": cfg.c if cfg is not None else None,
            "r": 2,
            "config": asdict(cfg) if cfg is not None else None,
            "report": str(self.report),
            "figures": list(self.figures),
            "n_critical_5_6": self.n_critical_5_6,
            "crossings": [c.to_dict() for c in self.comparison.crossings] if self.comparison is not None else [],
            "stages_reused": list(self.stages_reused),
            "stages_run": list(self.stages_run),
            "timings": dict(self.timings),
        }


def _write_json(path: Path, obj) -> None:
    write_json_atomic(path, obj)


#: Files of the layout before the result store (refused with a clear error).
_LEGACY = ("sgd.json", "posterior/n*-*.json")


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[tmsphase reproduce] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# stages


def _stage_catalogue(cfg: ReproduceConfig, out: Path, quiet: bool):
    import kgon  # deferred: jax and sympy load only when the job runs

    def compute():
        _say(f"computing the c = {cfg.c} critical-point catalogue", quiet)
        return {"catalogue": json.loads(kgon.default_catalogue(cfg.c).to_json())}

    entry, reused = ResultStore(out / "stages").get_or_compute({"stage": "catalogue", "c": cfg.c}, compute)
    cat = kgon.Catalogue.from_json(json.dumps(entry.result["catalogue"]))
    if not reused or not (out / "catalogue.csv").exists():
        cat.to_csv(out / "catalogue.csv")
    return cat, reused


def _stage_posterior(cfg: ReproduceConfig, cat, out: Path, quiet: bool):
    """One occupancy result per n (:func:`sampling.mcmc.io.posterior_over_n`, the loop of ``tmsphase
    posterior`` with ``--seed`` and ``--data-seed`` = the master seed: every n samples the posterior on
    the first n draws of one data stream, :func:`_data_stream`, on which section 7 conditions the
    refined theory), each stored when done."""
    from sampling.mcmc.io import posterior_over_n  # deferred: jax and numpyro load only when the job runs

    results, reused = posterior_over_n(
        ResultStore(out / "posterior"), cfg.ns, seed=cfg.seed, catalogue=cat, progress=not quiet, c=cfg.c,
        method=cfg.method, chains=cfg.chains, warmup=cfg.warmup, samples=cfg.samples, data_seed=cfg.seed,
    )
    return results, reused == len(cfg.ns)


def _data_stream(cfg: ReproduceConfig):
    """The data stream of the posterior stage (data seed = the master seed), long enough for every n:
    ``sampling.make_dataset`` is prefix-consistent, so its first n draws are the data set at n."""
    # deferred: jax loads only when the job runs
    import jax

    import sampling

    return sampling.make_dataset(jax.random.PRNGKey(cfg.seed), max(cfg.ns), cfg.c)


def _stage_refined(cfg: ReproduceConfig, cat, posterior, out: Path, quiet: bool):
    """The refined order's predictions for section 7, stored as a stage: conditional on the run's data
    stream (:func:`_data_stream`, the closed-form data term) and on the population loss, as
    ``OccupancyComparison.to_dict()``; the occupancy over data sets (``OverData.to_dict()``, or None
    without streams or without the 5 -> 6 pair); with ``exact_check`` the exact order on the stream."""
    from theory.compare import compare_occupancy  # deferred: jax loads only when the job runs

    def compute():
        _say("refined free energy on the run's data stream (closed form)", quiet)
        data = _data_stream(cfg)
        refined = compare_occupancy(cat, posterior, order="refined", data=data)
        population = compare_occupancy(cat, posterior, order="refined", labels=list(refined.labels))
        result = {"data_conditional": refined.to_dict(), "population": population.to_dict(),
                  "over_data": _over_data(cfg, cat, list(refined.labels), quiet)}
        if cfg.exact_check:
            _say("exact order on the run's data stream (numerical integral: minutes per phase and n)", quiet)
            exact = compare_occupancy(cat, posterior, order="exact", data=data, labels=list(refined.labels),
                                      nongaussian_draws=cfg.refined_draws, nongaussian_anneal=cfg.refined_anneal)
            result["exact"] = exact.to_dict()
        return result

    stage = {"stage": "refined", "data_term": "closed form", "c": cfg.c, "ns": [int(n) for n in cfg.ns],
             "seed": cfg.seed, "method": cfg.method, "chains": cfg.chains, "warmup": cfg.warmup,
             "samples": cfg.samples, "exact_check": cfg.exact_check, "refined_draws": cfg.refined_draws,
             "refined_anneal": cfg.refined_anneal, "over_data_streams": cfg.over_data_streams,
             "over_data_points": cfg.over_data_points}
    entry, reused = ResultStore(out / "stages").get_or_compute(stage, compute)
    return entry.result, reused


#: Fold-in index of the over-data streams' key: stream k of section 7's band is
#: ``make_dataset(fold_in(fold_in(PRNGKey(seed), OVER_DATA_FOLD), k))``, independent of the run's own stream.
OVER_DATA_FOLD = 7


def _over_data(cfg: ReproduceConfig, cat, labels: list, quiet: bool) -> dict | None:
    """The data-conditional occupancy over ``cfg.over_data_streams`` simulated data streams on
    ``cfg.over_data_points`` log-spaced n over the sampled range, conditional on ``labels``, and the
    5 -> 6 crossing distribution (:func:`theory.crossing_distribution`); None without streams or
    when 5 or 6 is not among ``labels``."""
    if cfg.over_data_streams == 0 or not {"5", "6"} <= set(labels):
        return None
    # deferred: jax loads only when the job runs
    import jax

    from theory.over_data import crossing_distribution, default_grid

    _say(f"occupancy over {cfg.over_data_streams} data streams (closed form)", quiet)
    key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), OVER_DATA_FOLD)
    grid = default_grid(min(cfg.ns), max(cfg.ns), cfg.over_data_points)
    return crossing_distribution(key, cat, streams=cfg.over_data_streams, ns=grid, labels=labels).to_dict()


def _stage_sgd(cfg: ReproduceConfig, cat, out: Path, quiet: bool):
    # deferred: torch and jax load only when the job runs
    import sampling
    from sampling.dynamics.sgd import train_or_load
    from theory.sgd_analysis import analyze_sgd

    def compute():
        _say(f"training {cfg.sgd_runs} SGD runs for {cfg.sgd_epochs} epochs", quiet)
        config = sampling.SGDConfig(c=cfg.c, epochs=cfg.sgd_epochs)
        seeds = [cfg.seed * 1000 + i for i in range(cfg.sgd_runs)]
        result, _ = train_or_load(config, seeds, ResultStore(out / "sgd-runs"))
        return analyze_sgd(result, cat).to_dict()

    stage = {"stage": "sgd", "c": cfg.c, "sgd_runs": cfg.sgd_runs, "sgd_epochs": cfg.sgd_epochs, "seed": cfg.seed}
    entry, reused = ResultStore(out / "stages").get_or_compute(stage, compute)
    return entry.result, reused


# --------------------------------------------------------------------------------------------
# report

_POLYGONS = ("4", "5", "5+", "6")  # drawn in figures/polygons


def _fmt(x, digits=5) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{digits}f}" if abs(x) < 1e4 else f"{x:.4g}"


def _figures(cat, comparison, sgd, out: Path) -> list[str]:
    """Every figure of the report, as PNG + PDF under ``out/figures``; returns the written paths."""
    # deferred: matplotlib loads only when the report is drawn
    import matplotlib.pyplot as plt

    from kgon.plot import energy_levels, plot_polygons, save_figure
    from theory.plot import LEGEND_MIN_OCCUPANCY, plot_loss_complexity, plot_occupancy, plot_theory_occupancy

    figdir = out / "figures"
    paths: list[str] = []
    phases = phases_of(cat, minima_only=True)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    plot_loss_complexity(cat, sgd_transitions=sgd.get("transitions") if sgd else None, ax=ax)
    ax.set_title(f"Loss vs complexity of the local minima, c = {cat.c}: Bayesian (blue) and SGD (red) transitions",
                 fontsize=10)
    paths += save_figure(fig, figdir / "loss_vs_complexity")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 6))
    energy_levels(cat, ax=ax)
    ax.set_title(f"Energy levels of all {len(cat.points)} critical points, c = {cat.c} "
                 "(solid: minima, dashed: saddles)", fontsize=9)
    paths += save_figure(fig, figdir / "energy_levels")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    plot_theory_occupancy(phases, np.geomspace(30, 2e4, 300), threshold=LEGEND_MIN_OCCUPANCY, ax=ax)
    ax.legend(fontsize=8)
    ax.set_title("Theoretical occupancy softmax(−F_n) over all local minima")
    paths += save_figure(fig, figdir / "theory_occupancy")
    plt.close(fig)
    if comparison is not None:
        fig, ax = plt.subplots(figsize=(8, 5))
        plot_occupancy(comparison, ax=ax)
        paths += save_figure(fig, figdir / "occupancy")
        plt.close(fig)
    names = [lab for lab in _POLYGONS if lab in cat.labels()]
    if names:
        paths += plot_polygons([cat.get(lab) for lab in names], figdir / "polygons",
                               title=f"The low-loss k-gons at c = {cat.c}: columns of W (arrows) and biases (bars)")
    return paths


_SIGN_ROWS = (
    ("loss_down_llc_up", "loss ↓, λ ↑ (Type A: consistent with a Bayesian antecedent)"),
    ("loss_down_llc_down", "loss ↓, λ ↓"),
    ("loss_up_llc_up", "loss ↑, λ ↑"),
    ("loss_up_llc_down", "loss ↑, λ ↓"),
    ("llc_equal_within_error", "λ equal within error"),
    ("undetermined", "undetermined"),
)


def _sgd_section(cfg, sgd: dict) -> list[str]:
    """Section 5 of the report from the SGD analysis dict (``theory.SGDAnalysis.to_dict``)."""
    L = [f"{cfg.sgd_runs} runs × {cfg.sgd_epochs} epochs (paper protocol otherwise: n = 1000, batch 20, "
         "lr 0.005, 4-gon + noise start).\n"]
    L.append(f"Fraction of checkpoints on catalogue plateaus: {_fmt(sgd.get('fraction_on_plateaus'), 3)}.\n")
    final = sgd.get("final_phases") or {}
    if final:
        L.append("| final phase | runs |")
        L.append("|---|---|")
        for lab, count in sorted(final.items(), key=lambda kv: -kv[1]):
            L.append(f"| {lab} | {count} |")
        L.append("")
    trans = sgd.get("transitions") or []
    L.append("Transitions between plateaus (all runs):\n")
    if trans:
        L.append("| from | to | count |")
        L.append("|---|---|---|")
        for t in trans:
            L.append(f"| {t['from']} | {t['to']} | {t['count']} |")
    else:
        L.append("None.")
    L.append("")
    ante = sgd.get("antecedent") or {}
    th, est = ante.get("theory"), ante.get("estimated")
    if not ante.get("n_transitions"):
        L.append("No transitions, so no Bayesian antecedent check.\n")
    elif th:
        L.append(
            f"Bayesian antecedent check over {ante.get('n_transitions', 0)} transitions: the sign of the loss "
            "change and of the LLC change across each transition, with the catalogue LLC and (where run) the "
            "SGLD estimate at the plateaus. An LLC change within twice its combined uncertainty counts as equal.\n"
        )
        head = "| (Δloss, Δλ) | catalogue λ |" + (" SGLD λ̂ |" if est else "")
        L.append(head)
        L.append("|---|---|" + ("---|" if est else ""))
        for key, name in _SIGN_ROWS:
            row = f"| {name} | {th.get(key, 0)} |" + (f" {est.get(key, 0)} |" if est else "")
            L.append(row)
        frac = "| fraction consistent (among signed) | " + _fmt(th.get("consistent_fraction"), 2) + " |"
        L.append(frac + (f" {_fmt(est.get('consistent_fraction'), 2)} |" if est else ""))
        L.append("")
    if trans:
        L.append("The SGD transitions are the red dashed arrows of the loss-vs-complexity figure (section 3).\n")
    return L


def _catalogue_sections(cfg, cat, trans, figures) -> list[str]:
    """Sections 1-3 of the report: the published points, the catalogue, the Bayesian transitions."""
    L = []
    L.append("## 1. Published critical points, recomputed\n")
    L.append("| phase | loss L | λ (method) | c_α | published L, λ, c_α |")
    L.append("|---|---|---|---|---|")
    published = {"5": (0.06874, 7, 3.62417), "5+": (0.06180, 8.5, 3.62764), "6": (0.04819, 8.5, 6.37767)}
    for lab, ref in published.items():
        if lab in cat.labels():
            p = cat.get(lab)
            L.append(
                f"| {lab} | {p.loss:.5f} | {_fmt(p.llc, 2)} ({p.llc_method}) | {p.constant:.5f} | "
                f"{ref[0]}, {ref[1]}, {ref[2]} |"
            )
    L.append("")
    L.append(f"## 2. Critical-point catalogue (c = {cfg.c})\n")
    L.append(
        f"{len(cat.points)} certified critical points (|∇L| ≤ 1e-9) from {cat.n_starts} starts "
        f"({cat.n_converged} converged), distinct modulo O(2) and feature permutations.\n"
    )
    L.append("| label | loss | λ | ± | method | c_α | multiplicity | Hessian (−, 0, +) | C² |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for p in cat.points:
        if p.loss > 0.35:
            continue
        L.append(
            f"| {p.label} | {p.loss:.5f} | {_fmt(p.llc, 2)} | {_fmt(p.llc_err, 2)} | {p.llc_method} | "
            f"{p.constant:.4f} | {p.multiplicity} | {tuple(p.hessian_signature)} | {'yes' if p.smooth else 'no'} |"
        )
    L.append("\n![energy levels](figures/energy_levels.png)\n")
    if any(Path(f).name == "polygons.png" for f in figures):
        L.append("![polygons](figures/polygons.png)\n")
    L.append("## 3. Bayesian phase transitions (theory)\n")
    L.append(
        "Changes of the globally dominant phase among all local minima (roots of n ΔL + Δλ log n + Δc = 0, "
        f"Lambert W) at n ≥ {MIN_TRANSITION_N:g}, below which the leading-order free energy means nothing "
        "(theory.MIN_TRANSITION_N); every pairwise crossing is in transitions.json "
        "(`tmsphase transitions --all`).\n"
    )
    L.append("| from | to | n_critical | type | ΔL | Δλ | Δc |")
    L.append("|---|---|---|---|---|---|---|")
    for t in trans:
        L.append(
            f"| {t.from_label} | {t.to_label} | {t.n_critical:.1f} | {t.kind} | {t.d_loss:.5f} | "
            f"{t.d_llc:.2f} | {t.d_constant:.4f} |"
        )
    L.append("\n![loss vs complexity](figures/loss_vs_complexity.png)\n")
    L.append("![theoretical occupancy](figures/theory_occupancy.png)\n")
    return L


def _posterior_section(cfg, cat, posterior, comparison) -> list[str]:
    """Section 4 of the report: theoretical vs sampled occupancy per n, and the crossings."""
    L = ["## 4. Posterior occupancy: theory vs experiment\n"]
    if comparison is None:
        L.append("No posterior results.\n")
        return L
    from theory.plot import LEGEND_MIN_OCCUPANCY, visible_phases  # deferred: theory.plot imports matplotlib

    # columns only for phases that matter somewhere (the rule of the occupancy figure)
    labs = visible_phases(comparison)
    L.append(
        f"Method: {', '.join(sorted(set(comparison.methods)))}; {cfg.chains} chains × {cfg.samples} draws "
        f"after {cfg.warmup} warm-up per n. Observed occupancy is conditional on a catalogue phase "
        "(draws classified 'other' are listed separately); errors are bootstrap standard errors. "
        f"Columns are shown for phases that reach {LEGEND_MIN_OCCUPANCY:.0%} at some n, predicted or observed "
        "(the same phases as in the figure); comparison.json has all.\n"
    )
    unvisited = [p.label for p in phases_of(cat, minima_only=True) if p.label not in comparison.labels]
    if unvisited:
        L.append(
            "Theory and samples are compared over the phases the samples visit; both are normalised over "
            f"them. Local minima the samples never visit ({', '.join(unvisited)}) are left out of both, so "
            "the crossings below are those among the visited phases and can differ from the transitions "
            "of section 3 at small n.\n"
        )
    L.append("Each phase cell is theory / observed ± s.e.\n")
    L.append("| n | " + " | ".join(labs) + " | other | R-hat(L) | ESS(L) | div. |")
    L.append("|---|" + "---|" * len(labs) + "---|---|---|---|")
    by_n = {float(d["n"]): d for d in posterior}
    for i, n in enumerate(comparison.ns):
        d = by_n.get(float(n), {})
        cells = []
        for lab in labs:
            cells.append(
                f"{comparison.predicted[lab][i]:.3f} / {comparison.observed[lab][i]:.3f} ± "
                f"{comparison.observed_err[lab][i]:.3f}"
            )
        L.append(
            f"| {int(n)} | " + " | ".join(cells) + f" | {comparison.other[i]:.3f} | "
            f"{_fmt(d.get('rhat_loss'), 3)} | {_fmt(d.get('ess_loss'), 0)} | {d.get('divergences', '–')} |"
        )
    L.append("\n![occupancy](figures/occupancy.png)\n")
    level = comparison.crossings[0].level if comparison.crossings else 0.95
    L.append(
        f"Crossings (predicted from the catalogue vs observed by interpolation, {100 * level:.0f} % bootstrap "
        "interval, sampling.crossing_estimate):\n"
    )
    L.append("| from | to | type | n predicted | n observed | interval |")
    L.append("|---|---|---|---|---|---|")
    for cr in comparison.crossings:
        ci = f"[{_fmt(cr.ci_low, 0)}, {_fmt(cr.ci_high, 0)}]" if cr.ci_low is not None else "–"
        L.append(f"| {cr.from_label} | {cr.to_label} | {cr.kind} | {cr.predicted:.1f} | "
                 f"{_fmt(cr.observed, 1)} | {ci} |")
    L.append(
        f"\nDisagreement summary: mean |observed − predicted| = {comparison.mean_abs_diff:.3f}; "
        f"largest deviation in standard errors = {comparison.max_z:.1f}.\n"
    )
    L.append(
        "How to read the deviations: the theory curves use the leading-order free energy "
        "F_n = n L + λ log n + c_α with c_α = −log φ(w*). It omits O(1) terms that differ between "
        "phases by several nats (the prior mass of the region in which a dead column stays exactly "
        "flat, the Hessian determinants), and one data set moves an observed crossing by O(√n) in "
        "n L_n. Observed crossings therefore scatter around, and at c = 6 lie below, the predicted "
        "ones. Section 7 adds those terms and conditions on this run's data stream (the refined "
        "free energy, docs/free_energy.md).\n"
    )
    return L


def _report(cfg, cat, trans, posterior, comparison, sgd, figures, timings, out: Path) -> Path:
    L = []
    L.append("# tmsphase reproduction report\n")
    L.append(
        f"Generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC} on {platform.machine()} "
        f"({os.cpu_count()} cores), Python {platform.python_version()}. Mode: "
        f"{'quick' if cfg.quick else 'full'}; c = {cfg.c}, r = 2, seed {cfg.seed}.\n"
    )
    L.append(
        "Conventions (docs/index.md): posterior ∝ N(0, I) · exp(−n L_n); leading-order free energy "
        "F_n(α) = n L_α + λ_α log n + c_α with c_α = −log φ(w*_α); theoretical occupancy softmax(−F_n) over "
        "the local minima of the catalogue.\n"
    )
    L.extend(_catalogue_sections(cfg, cat, trans, figures))
    L.extend(_posterior_section(cfg, cat, posterior, comparison))
    L.append("## 5. SGD dynamics\n")
    if not sgd:
        L.append("SGD stage not available in this build.\n")
    else:
        L.extend(_sgd_section(cfg, sgd))
    L.append("## 6. Run\n")
    L.append("| stage | seconds | reused |")
    L.append("|---|---|---|")
    for stage, (sec, reused) in timings.items():
        L.append(f"| {stage} | {sec:.1f} | {'yes' if reused else 'no'} |")
    L.append("")
    return write_text_atomic(out / "report.md", "\n".join(L) + "\n")


def reproduce(
    out_dir,
    *,
    quick: bool = False,
    seed: int = 0,
    config: ReproduceConfig | None = None,
    quiet: bool = False,
) -> ReproduceResult:
    """Run the whole reproduction into ``out_dir`` (created if needed), resuming finished stages.

    Parameters
    ----------
    out_dir : path
        Output directory; must not be an existing file.
    quick : bool
        Use :meth:`ReproduceConfig.quick_config` (< 10 minutes on 2 cores).
    seed : int
        Master seed of the posterior and SGD stages.
    config : ReproduceConfig, optional
        Full control over the settings (overrides ``quick`` and ``seed``).
    """
    # deferred: kgon's mathematics and jax load only when the job runs
    from kgon.validation import check_int
    from theory.compare import compare_occupancy

    seed = check_int("seed", seed, minimum=0)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out` must be a directory; got the existing file {str(out)!r}.")
    out.mkdir(parents=True, exist_ok=True)
    refuse_legacy(out, _LEGACY, argument="out")
    cfg = config or (ReproduceConfig.quick_config(seed=seed) if quick else ReproduceConfig(seed=seed))
    _write_json(out / "config.json", asdict(cfg))
    timings: dict[str, tuple[float, bool]] = {}

    def timed(name: str, fn: Callable):
        t0 = time.perf_counter()
        value, reused = fn()
        timings[name] = (time.perf_counter() - t0, reused)
        return value

    cat = timed("catalogue", lambda: _stage_catalogue(cfg, out, quiet))
    trans = significant_transitions(cat)
    _write_json(out / "transitions.json", {
        "c": cfg.c, "r": 2, "min_n": MIN_TRANSITION_N, "transitions": [t.to_dict() for t in trans],
        "all": [t.to_dict() for t in significant_transitions(cat, include_all=True)],
    })
    posterior = timed("posterior", lambda: _stage_posterior(cfg, cat, out, quiet))
    sgd = timed("sgd", lambda: _stage_sgd(cfg, cat, out, quiet))
    comparison = None
    if posterior:
        comparison = compare_occupancy(cat, posterior)
        _write_json(out / "comparison.json", comparison.to_dict())
    figures = timed("figures", lambda: (_figures(cat, comparison, sgd, out), False))
    report = _report(cfg, cat, trans, posterior, comparison, sgd, figures, timings, out)
    if comparison is not None:
        try:
            refined = timed("refined", lambda: _stage_refined(cfg, cat, posterior, out, quiet))
        except ValueError as err:  # no observed phase the refined order covers
            refined = str(err)
        figures += _refined_section(cat, posterior, refined, out, report)
    n56 = next((t.n_critical for t in trans if (t.from_label, t.to_label) == ("5", "6")), None)
    _say(f"report written to {report}", quiet)
    return ReproduceResult(
        out_dir=out,
        report=report,
        figures=tuple(figures),
        n_critical_5_6=n56,
        comparison=comparison,
        stages_reused=tuple(k for k, (_, r) in timings.items() if r),
        stages_run=tuple(k for k, (_, r) in timings.items() if not r),
        timings={k: v[0] for k, v in timings.items()},
        config=cfg,
    )


def _refined_section(cat, posterior, refined, out: Path, report: Path) -> list[str]:
    """Append the refined-order comparison to the report: conditional on the run's data stream
    (each n's posterior was sampled on its first n draws; the closed-form data term), beside the
    leading order, the refined order on the population loss (no data set) and over data sets (the
    5 -> 6 crossing distribution and, in the figure, the data-averaged occupancy with its 10-90% band),
    with the exact order where it was checked; docs/free_energy.md. ``refined``: the stored stage
    (:func:`_stage_refined`), or the reason it could not be computed."""
    # deferred: matplotlib loads only when the report is drawn
    import matplotlib.pyplot as plt

    from kgon.plot import save_figure
    from theory.compare import OccupancyComparison, compare_occupancy
    from theory.plot import plot_occupancy_orders

    if isinstance(refined, str):
        with report.open("a") as f:
            f.write(f"\n## 7. Refined free energy\n\nNot compared: {refined}\n")
        return []
    over = refined.get("over_data")
    exact = OccupancyComparison.from_dict(refined["exact"]) if refined.get("exact") else None
    population = OccupancyComparison.from_dict(refined["population"])
    stored = refined
    refined = OccupancyComparison.from_dict(stored["data_conditional"])
    labels = list(refined.labels)
    lead = compare_occupancy(cat, posterior, labels=labels)
    _write_json(out / "comparison_refined.json", {k: stored[k] for k in ("data_conditional", "population", "exact")
                                                   if stored.get(k) is not None})
    if over is not None:
        _write_json(out / "over_data.json", over)
    fig, ax = plt.subplots(figsize=(8, 5))
    plot_occupancy_orders({"leading": lead, "refined": refined, **({"exact": exact} if exact else {})}, ax=ax,
                          band=over)
    ax.set_title("Sampled occupancy vs leading (dashed) and data-conditional refined (solid) free energy"
                 + ("; over data sets: band" if over else ""), fontsize=9)
    paths = save_figure(fig, out / "figures" / "occupancy_orders")
    plt.close(fig)
    rows = [("leading", lead), ("refined, this data stream", refined), ("refined, population loss", population)]
    if exact is not None:
        rows.append(("exact (numerical integral), this data stream", exact))
    L = ["\n## 7. Refined free energy (both orders against the samples)\n",
         "The phases the refined order covers (" + ", ".join(labels) + "; occupancy conditional on them). "
         "The refined free energy adds to the leading order the Laplace, prior, orbit, copy and flat-region "
         "terms; \"this data stream\" adds in closed form the first-order effect of the data set each n was "
         "sampled on (each copy's empirical loss at its population minimiser: no sampling), \"population "
         "loss\" leaves it out. " + ("\"Exact\" integrates each phase's cell numerically on the same data (a "
                                     "check of the sampler, not the theory). " if exact is not None else "")
         + "docs/free_energy.md explains the terms.\n",
         "| prediction | from | to | n predicted | n observed | interval |", "|---|---|---|---|---|---|"]
    for name, cmp in rows:
        for cr in cmp.crossings:
            ci = (f"[{_fmt(cr.ci_low, 0)}, {_fmt(cr.ci_high, 0)}] ({100 * cr.level:.0f} %)"
                  if cr.ci_low is not None else "–")
            L.append(f"| {name} | {cr.from_label} | {cr.to_label} | {cr.predicted:.1f} | "
                     f"{_fmt(cr.observed, 1)} | {ci} |")
    L.append("\nLargest |observed − predicted| over n: " + ", ".join(
        f"{name} {cmp.max_abs_deviation():.3f}" for name, cmp in rows) + ".\n")
    L.extend(_over_data_lines(over))
    L.append("![occupancy, both orders](figures/occupancy_orders.png)\n")
    with report.open("a") as f:
        f.write("\n".join(L))
    return paths


def _over_data_lines(over: dict | None) -> list[str]:
    """The report's lines on the crossing over data sets (``OverData.to_dict()``), or none."""
    if not over:
        return []
    cd = over["crossing_distribution"][0]
    cfg = over.get("config", {})
    return [f"Over data sets (no data set given: {cd['streams']} simulated streams, closed form, "
            f"n = {over['ns'][0]}..{over['ns'][-1]}; `theory.crossing_distribution`): the {cd['from']} -> "
            f"{cd['to']} crossing has mean {_fmt(cd['mean'], 0)}, median {_fmt(cd['median'], 0)} and 10-90% "
            f"band [{_fmt(cd['q10'], 0)}, {_fmt(cd['q90'], 0)}] ({cd['below_grid']} streams cross below the "
            f"range, {cd['above_grid']} above it; relaxation {'on' if cfg.get('relaxation') else 'off'}); the "
            f"population refined order alone crosses at {_fmt(over.get('population_crossing'), 0)}. The figure "
            "shows the data-averaged occupancy (dash-dot) with its 10-90% band.\n"]
