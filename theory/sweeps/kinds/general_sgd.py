"""The ``general_sgd`` task kind: SGD runs of the general TMS with plateaus and the calibrated LLC along training.

One task is one SGD run (:func:`sampling.train_sgd` with one seed) of the general Toy Model of
Superposition (Elhage et al. 2022; docs/general.md): any hidden dimension r, input sparsity S,
feature importance I (output weights) and input scales s. The task

1. trains the run and keeps every checkpoint (W, b, population and training loss);
2. finds the **plateaus** of the training loss: maximal runs of at least ``min_length`` consecutive
   checkpoints where |d log L_n / d log(t + 1)| <= ``slope_tol`` (:func:`theory.sgd_analysis.flat_mask`).
   Where a critical-point catalogue exists (the high-sparsity limit: ``catalogue`` set and no
   ``sparsity`` or ``input_scale``) every checkpoint is matched to the catalogue modulo symmetry
   (:func:`theory.sgd_analysis.match_checkpoints`) and each plateau gets the label most of its
   checkpoints match; elsewhere the plateaus are reported as found (loss, step range, live columns);
3. estimates the **local learning coefficient** at ``llc_checkpoints`` checkpoints (default all) with
   calibrated SGLD, ``sampling.estimate_llc(..., calibrate=True)`` on the run's own training set and
   the importance-weighted empirical loss (:func:`sampling.general_loss_fn`), n beta = n / log n
   (docs/llc.md). The estimator excludes unhealthy chains (non-finite, diverged, or escaped to a lower
   loss: the centre is not a local minimum of L_n) and averages only the others; every estimate
   carries its excluded chains with their reasons, and a NaN estimate carries the reason (no step
   size passed the calibration, typically because the checkpoint is on a slope, not at a minimum).

Chain lengths are counted at the calibration's reference step 1 / (8 n beta) and rescaled to equal
SGLD time at the chosen step (docs/llc.md). Every task's result is stored on its own by the sweep
store, so an interrupted study resumes with the runs it has not finished.

The aggregated output (:func:`aggregate_general_sgd`) groups the runs by grid point;
:func:`general_sgd_report` draws one figure per run (:func:`theory.plot.plot_general_sgd_run`): the loss
curve with weight snapshots (polygons for r = 2, 3-D projections for r >= 3) and the LLC along
training.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from kgon.io import finite_or_none
from theory.sgd_analysis import flat_mask, match_checkpoints
from theory.sweeps.kinds.common import SGD_CONFIG_GRID, catalogue_json, sgd_config
from theory.sweeps.schema import Field, TaskKind, canonical_json, grid_points

__all__ = [
    "KIND",
    "aggregate_general_sgd",
    "analyze_general_run",
    "checkpoint_llcs",
    "check_general_sgd",
    "expand_general_sgd",
    "find_plateaus",
    "general_sgd_report",
    "general_sgd_task",
    "llc_indices",
    "plateau_summaries",
    "prepare_general_sgd",
]

LIVE_TOL = 0.1
"""A column W_i with |W_i| above this counts as live in the plateau summaries."""

_RUN_KEYS = ("runs",)
_LLC_KEYS = ("llc_checkpoints", "llc_chains", "llc_burnin", "llc_draws", "llc_batch_size")
_PLATEAU_KEYS = ("slope_tol", "min_length", "threshold")

KIND = TaskKind(
    name="general_sgd",
    doc="SGD runs of the general TMS (r, sparsity, importance, input scale), one task per run: plateaus "
        "(matched to a catalogue where one exists) and the calibrated SGLD LLC along training",
    # the fields of sampling.SGDConfig are generated from the dataclass (``config``)
    fields=(
        Field("runs", "int", "SGD runs per grid point (seeds seed, seed+1, ...; one task each)", default=1,
              minimum=1),
        Field("slope_tol", "float", "plateau: |d log L_n / d log t| at most this", default=0.05, minimum=0.0),
        Field("min_length", "int", "plateau: at least this many consecutive flat checkpoints", default=3,
              minimum=1),
        Field("threshold", "float", "largest phase distance to a catalogue point", default=None, minimum=0.0),
        Field("catalogue", "str", "catalogue JSON file for plateau matching (high sparsity only; 'default': "
              "kgon.default_catalogue(c, r=r))", default=None),
        Field("llc_checkpoints", "int", "checkpoints with a calibrated SGLD LLC, spread evenly (default all; "
              "0: none)", default=None, minimum=0),
        Field("llc_chains", "int", "SGLD chains per estimate", default=4, minimum=1),
        Field("llc_burnin", "int", "SGLD burn-in steps at the reference step 1/(8 n beta)", default=1000,
              minimum=0),
        Field("llc_draws", "int", "SGLD draws at the reference step 1/(8 n beta)", default=4000, minimum=1),
        Field("llc_batch_size", "int", "SGLD minibatch size (default: full batch)", default=None, minimum=1),
    ),
    function="theory.sweeps.kinds.general_sgd:general_sgd_task",
    aggregate="theory.sweeps.kinds.general_sgd:aggregate_general_sgd",
    check="theory.sweeps.kinds.general_sgd:check_general_sgd",
    expand="theory.sweeps.kinds.general_sgd:expand_general_sgd",
    prepare="theory.sweeps.kinds.general_sgd:prepare_general_sgd",
    replicates=False,
    config="sampling.dynamics.sgd:SGDConfig",
    config_grid=SGD_CONFIG_GRID,
    report="theory.sweeps.kinds.general_sgd:general_sgd_report",
)


# --------------------------------------------------------------------------------------------------
# hooks run in the driver


def _has_catalogue_setting(params: dict) -> bool:
    return params.get("catalogue") is not None


def check_general_sgd(params: dict) -> None:
    """Parse-time check: valid ``sampling.SGDConfig`` at every grid point, and a catalogue only where
    one exists (the high-sparsity limit, unscaled inputs)."""
    for point in grid_points(params, KIND.schema):
        cfg = sgd_config(point)
        if _has_catalogue_setting(point) and (cfg.sparsity is not None or cfg.input_scale is not None):
            raise ValueError(
                "`catalogue` matches plateaus to critical points of the high-sparsity closed form; it cannot be "
                f"used with sparsity = {cfg.sparsity!r} or input_scale = {cfg.input_scale!r} (leave `catalogue` "
                "out: the plateaus are then reported as found)."
            )
        n_ck = cfg.checkpoints
        k = point.get("llc_checkpoints")
        if k is not None and k > n_ck:
            raise ValueError(f"`llc_checkpoints` must be at most `checkpoints` = {n_ck}; got {k}.")


def expand_general_sgd(experiment) -> list[tuple[dict, int]]:
    """One task per run: per grid point, runs with seeds ``seed, seed + 1, ..., seed + runs - 1``
    (``run_seed`` in the config); a run's trajectory depends only on its seed and the config."""
    out = []
    for point in experiment.grid():
        runs = int(point.pop("runs"))
        for i in range(runs):
            out.append((dict(point, run_seed=experiment.seed + i), 0))
    return out


def prepare_general_sgd(config: dict, base_dir: str | None) -> dict:
    """Prepare hook: put the catalogue itself into the config (as the posterior and SGD kinds do) when
    ``catalogue`` is set (a Catalogue JSON file, relative to the experiment file, or ``"default"`` for
    ``kgon.default_catalogue(c, r=r)``); the task key then depends on the catalogue used."""
    path = config.pop("catalogue", None)
    if path is None:
        return config
    if path == "default":
        path = None
    elif base_dir is not None and not Path(path).is_absolute():
        path = str(Path(base_dir) / path)
    cat = json.loads(catalogue_json(int(config["c"]), int(config.get("r", 2)), None, path))
    importance = config.get("importance")
    cat_importance = cat.get("importance")
    if (importance is not None and any(v != 1.0 for v in importance)) or cat_importance is not None:
        if cat_importance is None or importance is None or [float(v) for v in cat_importance] != list(importance):
            raise ValueError(
                f"the catalogue has importance {cat_importance!r} but the runs use importance {importance!r}: "
                "a catalogue matches only runs of the same model."
            )
    config["catalogue"] = cat
    return config


# --------------------------------------------------------------------------------------------------
# plateaus


def find_plateaus(steps, loss, *, slope_tol: float = 0.05, min_length: int = 3) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` (checkpoint indices, inclusive) of at least ``min_length``
    consecutive checkpoints where the loss is flat, |d log L / d log(t + 1)| <= ``slope_tol``
    (:func:`theory.sgd_analysis.flat_mask`). Checkpoint 0 (the initialisation) is never part of one."""
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ValueError(f"`min_length` must be a positive integer; got {min_length!r}.")
    flat = np.asarray(flat_mask(steps, loss, slope_tol=slope_tol), dtype=bool).copy()
    flat[0] = False
    out, start = [], None
    for i, f in enumerate(list(flat) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if i - start >= min_length:
                out.append((start, i - 1))
            start = None
    return out


# --------------------------------------------------------------------------------------------------
# the task


def llc_indices(K: int, k: int | None):
    """Indices of the checkpoints with an LLC estimate: all (None), none (0), or k spread evenly in
    log-step order (always including the last)."""
    if k is None or k >= K:
        return np.arange(K)
    if k == 0:
        return np.arange(0)
    return np.unique(np.round(np.linspace(K - 1, 0, k)).astype(int))


def _training_inputs(result, run: int = 0):
    """The training inputs X (n, c) of run ``run`` as the SGD saw them (dense; input scales applied)."""
    cfg = result.config
    if result.inputs is not None:
        return np.asarray(result.inputs[run], dtype=np.float64)
    X = np.zeros((cfg.n, cfg.c))
    X[np.arange(cfg.n), result.features[run]] = result.mu[run]
    if cfg.input_scale is not None:
        X = X * np.asarray(cfg.input_scale)
    return X


def checkpoint_llcs(result, run: int, checkpoints, *, seed: int = 0, llc_chains: int = 4, llc_burnin: int = 1000,
                    llc_draws: int = 4000, llc_batch_size: int | None = None, progress: bool = False) -> list[dict]:
    """Calibrated SGLD LLC estimates at the checkpoint indices ``checkpoints`` of run ``run``.

    ``sampling.estimate_llc(..., calibrate=True)`` on the run's own training set and the
    importance-weighted empirical loss (:func:`sampling.general_loss_fn`); the chains of checkpoint k
    use ``jax.random.fold_in(jax.random.key(seed), k)``. A checkpoint where the run had diverged gets a
    NaN entry with its reason. ``progress`` shows a tqdm bar over the checkpoints (on stderr).

    Returns one entry per checkpoint: checkpoint, step, llc, llc_se, chain_llc, healthy, excluded
    [[chain, reason]], eps, acceptance, reason, estimator, llc_plain (NaN as None).
    """
    # deferred: jax and torch load only in the processes that estimate an LLC
    import jax
    from tqdm.auto import tqdm

    import sampling
    from sampling.general import general_loss_fn

    cfg = result.config
    steps = np.asarray(result.steps)
    W, b = result.W[run], result.b[run]
    Xrun = _training_inputs(result, run)
    loss_fn = general_loss_fn(cfg.importance)
    base = jax.random.key(seed)
    entries = []
    for k in tqdm(checkpoints, desc=f"LLC at checkpoints, run {run}", unit="estimate", disable=not progress,
                  file=sys.stderr, dynamic_ncols=True):
        entry = {"checkpoint": int(k), "step": int(steps[k])}
        if not (np.all(np.isfinite(W[k])) and np.all(np.isfinite(b[k]))):
            entry.update(llc=None, llc_se=None, chain_llc=[], healthy=[], excluded=[], eps=None,
                         acceptance=None, reason="the SGD run diverged before this checkpoint")
            entries.append(entry)
            continue
        res = sampling.estimate_llc(
            jax.random.fold_in(base, int(k)), loss_fn, (W[k], b[k]), Xrun, n=cfg.n, calibrate=True,
            config=sampling.SGLDConfig(chains=int(llc_chains), burnin=int(llc_burnin), draws=int(llc_draws),
                                       batch_size=llc_batch_size),
        )
        entry.update(
            llc=finite_or_none(res.llc), llc_se=finite_or_none(res.llc_se),
            chain_llc=[finite_or_none(x) for x in res.chain_llc], healthy=[bool(h) for h in res.healthy],
            excluded=[[int(ch), str(why)] for ch, why in res.diagnostics.excluded],
            eps=finite_or_none(res.config.eps), acceptance=finite_or_none(res.diagnostics.acceptance_mean),
            reason=res.reason, estimator=getattr(res, "estimator", "plain"),
            llc_plain=finite_or_none(getattr(res, "llc_plain", res.llc)),
        )
        entries.append(entry)
    return entries


def plateau_summaries(found, steps, W, loss, train_loss, labels, distances, llc_entries) -> list[dict]:
    """One dict per plateau ``(first, last)`` of ``found``: its step range, mean population and training
    loss, live columns (|W_i| > :data:`LIVE_TOL` at its last checkpoint), the catalogue label most of its
    checkpoints match with its smallest distance (None without ``labels``), and the median of the finite
    LLC estimates of ``llc_entries`` on it."""
    by_ck = {e["checkpoint"]: e for e in llc_entries}
    plateaus = []
    for first, last in found:
        norms = np.linalg.norm(W[last], axis=0)
        pl = {
            "first": int(first), "last": int(last), "first_step": int(steps[first]), "last_step": int(steps[last]),
            "loss": finite_or_none(np.mean(loss[first : last + 1])),
            "train_loss": finite_or_none(np.mean(train_loss[first : last + 1])),
            "live_columns": int(np.sum(norms > LIVE_TOL)), "label": None, "distance": None,
        }
        if labels is not None:
            top, _ = Counter(labels[first : last + 1]).most_common(1)[0]
            pl["label"] = top
            ds = [distances[i] for i in range(first, last + 1) if labels[i] == top and distances[i] is not None]
            pl["distance"] = float(min(ds)) if ds else None
        vals = [by_ck[i]["llc"] for i in range(first, last + 1) if i in by_ck and by_ck[i]["llc"] is not None]
        pl["llc"] = float(np.median(vals)) if vals else None
        pl["llc_estimates"] = len(vals)
        plateaus.append(pl)
    return plateaus


def analyze_general_run(result, run: int = 0, *, seed: int = 0, catalogue=None, threshold: float | None = None,
                        slope_tol: float = 0.05, min_length: int = 3, llc_checkpoints=None,
                        llc_per_plateau: int | None = None, llc_chains: int = 4, llc_burnin: int = 1000,
                        llc_draws: int = 4000, llc_batch_size: int | None = None, progress: bool = False) -> dict:
    """Plateaus (matched to ``catalogue`` if given) and calibrated SGLD LLCs of run ``run`` of an
    :class:`sampling.SGDResult` (module docstring).

    The LLC is estimated at the checkpoint indices ``llc_checkpoints`` (None: all; an int k: k spread
    evenly, :func:`llc_indices`), or, with ``llc_per_plateau`` = k, at the last k checkpoints of every
    plateau (:func:`checkpoint_llcs`; ``progress`` shows a bar over them).

    Returns the dict described in :func:`general_sgd_task` (without ``timings``' SGD entry).
    """
    cfg = result.config
    steps = np.asarray(result.steps)
    W, b = result.W[run], result.b[run]
    train_loss, loss = result.train_loss[run], result.loss[run]
    timings = {}

    labels = distances = None
    if catalogue is not None:
        if isinstance(catalogue, dict):
            import kgon  # deferred: kgon's catalogue pulls in jax

            catalogue = kgon.Catalogue.from_dict(catalogue)
        lab, dist = match_checkpoints(W, b, catalogue, threshold=threshold)
        labels = [str(x) for x in lab]
        distances = [finite_or_none(x) for x in dist]

    found = find_plateaus(steps, train_loss, slope_tol=float(slope_tol), min_length=int(min_length))
    if llc_per_plateau is not None:
        idx = np.unique(np.array([k for first, last in found for k in range(max(first, last - llc_per_plateau + 1),
                                                                          last + 1)], dtype=int))
    elif llc_checkpoints is None or isinstance(llc_checkpoints, int):
        idx = llc_indices(steps.size, llc_checkpoints)
    else:
        idx = np.unique(np.asarray(llc_checkpoints, dtype=int))

    llc_entries = []
    settings = {"llc_checkpoints": [int(k) for k in idx], "llc_chains": llc_chains, "llc_burnin": llc_burnin,
                "llc_draws": llc_draws, "llc_batch_size": llc_batch_size}
    if idx.size:
        import sampling  # deferred: torch and jax load only in the processes that estimate an LLC

        t0 = time.perf_counter()
        llc_entries = checkpoint_llcs(result, run, idx, seed=seed, llc_chains=llc_chains, llc_burnin=llc_burnin,
                                      llc_draws=llc_draws, llc_batch_size=llc_batch_size, progress=progress)
        timings["llc_s"] = time.perf_counter() - t0
        settings["nbeta"] = float(sampling.default_nbeta(cfg.n))

    return {
        "config": cfg.to_dict(),
        "seed": int(result.seeds[run]),
        "steps": [int(s) for s in steps],
        "loss": [finite_or_none(x) for x in loss],
        "train_loss": [finite_or_none(x) for x in train_loss],
        "W": np.where(np.isfinite(W), W, np.nan).tolist(),
        "b": np.where(np.isfinite(b), b, np.nan).tolist(),
        "diverged": bool(result.diverged[run]),
        "labels": labels,
        "distances": distances,
        "plateaus": plateau_summaries(found, steps, W, loss, train_loss, labels, distances, llc_entries),
        "llc": llc_entries,
        "llc_settings": settings,
        "timings": timings,
    }


def general_sgd_task(config: dict, seed: int) -> dict:
    """Train one SGD run of the general TMS; plateaus (matched where a catalogue exists); calibrated
    SGLD LLC at the checkpoints (module docstring; :func:`analyze_general_run`).

    Parameters
    ----------
    config : dict
        The SGDConfig fields, ``run_seed`` (the run's seed), ``slope_tol``, ``min_length``,
        ``threshold`` (matching), ``catalogue`` (a ``Catalogue.to_dict()``, optional), ``llc_checkpoints``,
        ``llc_chains``, ``llc_burnin``, ``llc_draws``, ``llc_batch_size``.
    seed : int
        The task seed: keys the SGLD chains (``jax.random.fold_in(jax.random.key(seed), checkpoint)``).

    Returns
    -------
    dict
        ``config`` (SGDConfig.to_dict()), ``seed`` (the run seed), ``steps``, ``loss`` (population),
        ``train_loss``, ``W`` (K, r, c), ``b`` (K, c), ``diverged``, ``labels`` and ``distances`` (per
        checkpoint, or None without a catalogue), ``plateaus`` (first, last, first_step, last_step,
        loss, train_loss, live_columns, label, distance, llc: median of the finite estimates on it),
        ``llc`` (one entry per estimated checkpoint: checkpoint, step, llc, llc_se, chain_llc, healthy,
        excluded [[chain, reason]], eps, acceptance, reason, estimator, llc_plain), ``llc_settings``,
        ``timings``.
    """
    # deferred: jax, torch and kgon's mathematics load only in the processes that run SGD tasks
    import kgon
    import sampling

    kgon.configure_jax()  # a worker process starts without JAX settings (no-op where already set)
    cfg = sgd_config(config)
    t0 = time.perf_counter()
    result = sampling.train_sgd(cfg, [int(config["run_seed"])])
    sgd_s = time.perf_counter() - t0
    out = analyze_general_run(
        result, 0, seed=seed, catalogue=config.get("catalogue"), threshold=config.get("threshold"),
        slope_tol=float(config.get("slope_tol", 0.05)), min_length=int(config.get("min_length", 3)),
        llc_checkpoints=config.get("llc_checkpoints"), llc_chains=int(config.get("llc_chains") or 4),
        llc_burnin=int(config["llc_burnin"]), llc_draws=int(config["llc_draws"]),
        llc_batch_size=config.get("llc_batch_size"),
    )
    out["timings"] = dict(sgd_s=sgd_s, **out["timings"])
    return out


# --------------------------------------------------------------------------------------------------
# aggregation and figures


def _llc_summary(entries: Sequence[dict]) -> dict:
    """Counts over LLC estimates: finite ones, NaN ones by reason (first clause), excluded chains by reason."""
    nan_reasons: Counter = Counter()
    excluded: Counter = Counter()
    finite = 0
    negative = 0
    for e in entries:
        if e["llc"] is None:
            nan_reasons[(e.get("reason") or "no reason").split(":")[0]] += 1
        else:
            finite += 1
            negative += e["llc"] < 0
        for _, why in e.get("excluded", []):
            excluded[why] += 1
    return {"estimates": len(entries), "finite": finite, "negative": int(negative),
            "nan_reasons": dict(sorted(nan_reasons.items())), "excluded_chains": dict(sorted(excluded.items()))}


def aggregate_general_sgd(tasks: Sequence, results: Sequence[dict]) -> dict:
    """``{"results": [...]}``: one entry per grid point (in grid order) with its SGD settings under
    ``"sgd"``, its runs (each task's result, in seed order) under ``"runs"`` and a ``"summary"``:
    final population loss per run, plateaus per run (loss, label), and the LLC counts (finite estimates,
    NaN estimates by reason, excluded chains by reason; negative finite estimates are counted too)."""
    groups: dict[str, list[dict]] = {}
    settings: dict[str, dict] = {}
    for task, res in zip(tasks, results):
        cfg = {k: v for k, v in task.config.items() if k not in ("run_seed", "catalogue")}
        key = canonical_json(cfg)
        groups.setdefault(key, []).append(res)
        settings[key] = dict(cfg, catalogue=bool(task.config.get("catalogue")))
    out = []
    for key, runs in groups.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        summary = {
            "seeds": [r["seed"] for r in runs],
            "final_loss": [r["loss"][-1] for r in runs],
            "diverged_runs": sum(bool(r["diverged"]) for r in runs),
            "plateaus": [[{"steps": [p["first_step"], p["last_step"]], "loss": p["loss"], "label": p["label"],
                           "live_columns": p["live_columns"], "llc": p["llc"]} for p in r["plateaus"]] for r in runs],
            "llc": _llc_summary([e for r in runs for e in r["llc"]]),
        }
        out.append({"sgd": settings[key], "runs": runs, "summary": summary})
    return {"results": out}


def _title(sgd: dict) -> str:
    parts = [f"c = {sgd['c']}, r = {sgd['r']}"]
    if sgd.get("sparsity") is not None:
        parts.append(f"S = {sgd['sparsity']:g}")
    if sgd.get("importance") is not None:
        parts.append("I = (" + ", ".join(f"{v:g}" for v in sgd["importance"]) + ")")
    if sgd.get("input_scale") is not None:
        parts.append("input scale (" + ", ".join(f"{v:g}" for v in sgd["input_scale"]) + ")")
    return ", ".join(parts)


def general_sgd_report(output: dict, out_dir, *, name: str | None = None) -> list[str]:
    """Figures of a ``general_sgd`` sweep: one per run, ``<out_dir>/<name>-run<seed>.png`` (+ PDF), by
    :func:`theory.plot.plot_general_sgd_run` (``name`` defaults to ``general_sgd``; several grid
    points get ``-p<i>`` too). Returns the written paths."""
    import matplotlib  # deferred: matplotlib loads only in the driver that draws the figures

    matplotlib.use("Agg", force=False)
    # deferred: pyplot after the backend is chosen; the plotting modules import matplotlib
    import matplotlib.pyplot as plt

    from kgon.plot import save_figure
    from theory.plot import plot_general_sgd_run

    out_dir = Path(out_dir)
    stem = name or "general_sgd"
    points = output["results"]
    paths: list[str] = []
    for i, point in enumerate(points):
        for run in point["runs"]:
            fig = plot_general_sgd_run(run, title=_title(point["sgd"]) + f", seed {run['seed']}")
            tag = f"-p{i}" if len(points) > 1 else ""
            paths.extend(save_figure(fig, out_dir / f"{stem}{tag}-run{run['seed']}.png"))  # names like sparsity-0.3
            plt.close(fig)
    return paths
