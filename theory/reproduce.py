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
from theory.report import catalogue_sections, posterior_section, refined_section, sgd_section, thermo_section

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
    L.extend(catalogue_sections(cfg, cat, trans, figures))
    L.extend(posterior_section(cfg, cat, posterior, comparison))
    L.append("## 5. SGD dynamics\n")
    if not sgd:
        L.append("SGD stage not available in this build.\n")
    else:
        L.extend(sgd_section(cfg, sgd))
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
    write_json_atomic(out / "config.json", asdict(cfg))
    timings: dict[str, tuple[float, bool]] = {}

    def timed(name: str, fn: Callable):
        t0 = time.perf_counter()
        value, reused = fn()
        timings[name] = (time.perf_counter() - t0, reused)
        return value

    cat = timed("catalogue", lambda: _stage_catalogue(cfg, out, quiet))
    trans = significant_transitions(cat)
    write_json_atomic(out / "transitions.json", {
        "c": cfg.c, "r": 2, "min_n": MIN_TRANSITION_N, "transitions": [t.to_dict() for t in trans],
        "all": [t.to_dict() for t in significant_transitions(cat, include_all=True)],
    })
    posterior = timed("posterior", lambda: _stage_posterior(cfg, cat, out, quiet))
    sgd = timed("sgd", lambda: _stage_sgd(cfg, cat, out, quiet))
    comparison = None
    if posterior:
        comparison = compare_occupancy(cat, posterior)
        write_json_atomic(out / "comparison.json", comparison.to_dict())
    figures = timed("figures", lambda: (_figures(cat, comparison, sgd, out), False))
    report = _report(cfg, cat, trans, posterior, comparison, sgd, figures, timings, out)
    if comparison is not None:
        try:
            refined = timed("refined", lambda: _stage_refined(cfg, cat, posterior, out, quiet))
        except ValueError as err:  # no observed phase the refined order covers
            refined = str(err)
        figures += refined_section(cat, posterior, refined, out, report)
        figures += timed("thermo", lambda: (thermo_section(out / "posterior", out, report), False))
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


