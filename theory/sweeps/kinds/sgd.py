"""The ``sgd`` task kind: the pipeline of ``tmsphase sgd`` split into tasks of a few runs each, and the
exact merge of their analyses (docs/sweeps.md)."""

from __future__ import annotations

from typing import Sequence

from theory.sgd_analysis import AntecedentCheck, analyze_sgd, five_to_six, plateau_centers
from theory.sweeps.kinds.common import CATALOGUE_FIELDS, SGD_CONFIG_GRID, load_catalogue, sgd_config
from theory.sweeps.schema import Field, TaskKind, canonical_json, grid_points

__all__ = ["KIND", "aggregate_sgd", "check_sgd", "expand_sgd", "merge_sgd", "sgd_task"]

KIND = TaskKind(
    name="sgd",
    doc="batched SGD runs (sampling.train_sgd) matched to catalogue plateaus (theory.analyze_sgd)",
    # the fields of sampling.SGDConfig (defaults = the paper's protocol, docs/dynamics.md) are
    # generated from the dataclass (``config``); these are the kind's own
    fields=(
        # runs and their split into tasks
        Field("runs", "int", "SGD runs per grid point (seeds seed, seed+1, ...)", minimum=1),
        Field("runs_per_task", "int", "runs trained together in one task", default=5, minimum=1),
        # theory.analyze_sgd
        Field("threshold", "float", "largest phase distance to a catalogue point", default=None, minimum=0.0),
        Field("slope_tol", "float", "flatness threshold on |d log L / d log t|", default=0.05, minimum=0.0),
        Field("min_length", "int", "shortest plateau in checkpoints", default=3, minimum=1),
        Field("llc_per_plateau", "int", "SGLD LLC estimates per plateau for the antecedent check (0: skip)",
              default=3, minimum=0),
    ) + CATALOGUE_FIELDS,
    function="theory.sweeps.kinds.sgd:sgd_task",
    aggregate="theory.sweeps.kinds.sgd:aggregate_sgd",
    check="theory.sweeps.kinds.sgd:check_sgd",
    expand="theory.sweeps.kinds.sgd:expand_sgd",
    prepare="theory.sweeps.kinds.common:prepare_catalogue",
    replicates=False,
    config="sampling.dynamics.sgd:SGDConfig",
    config_grid=SGD_CONFIG_GRID,
)

_SGD_ANALYSIS_KEYS = ("threshold", "slope_tol", "min_length")


def _sgd_point_keys() -> tuple[str, ...]:
    """The keys of a task config that identify its grid point (the SGD settings and the analysis')."""
    return tuple(f.name for f in KIND.schema if f.name not in ("runs", "runs_per_task", "catalogue", "max_loss"))


def check_sgd(params: dict) -> None:
    """Parse-time check: the SGD settings of every grid point make a valid ``sampling.SGDConfig``
    (its ``__post_init__`` names the bad argument)."""
    for point in grid_points(params, KIND.schema):
        sgd_config(point)


def expand_sgd(experiment) -> list[tuple[dict, int]]:
    """SGD tasks: per grid point, the runs with seeds ``seed, seed + 1, ..., seed + runs - 1`` split
    into chunks of ``runs_per_task`` (a run's trajectory depends only on its seed and the config, so
    the chunking does not change any run)."""
    out = []
    for point in experiment.grid():
        runs, per = int(point.pop("runs")), int(point.pop("runs_per_task"))
        for start in range(0, runs, per):
            cfg = dict(point)
            cfg["run_offset"] = start
            cfg["seeds"] = [experiment.seed + i for i in range(start, min(start + per, runs))]
            out.append((cfg, 0))
    return out


def sgd_task(config: dict, seed: int) -> dict:
    """Train one chunk of SGD runs, match their checkpoints to the catalogue, estimate plateau LLCs.

    The same pipeline as ``tmsphase sgd``: ``sampling.train_sgd(SGDConfig(...), seeds)``, then
    ``theory.analyze_sgd(result, catalogue, threshold=..., slope_tol=..., min_length=...)``, then,
    unless ``llc_per_plateau`` is 0, SGLD LLC estimates (the paper's setting) at up to
    ``llc_per_plateau`` checkpoints of every plateau (``theory.plateau_centers``,
    ``sampling.llc_trajectory`` with ``jax.random.key(seed)``) attached for the estimated antecedent
    check. Each run's own seed is in ``config["seeds"]``; the task seed only keys the SGLD chains.

    Returns ``SGDAnalysis.to_dict()`` plus ``run_offset`` (index of the chunk's first run),
    ``diverged_runs`` and ``llc_excluded_chains`` (for merging chunks, :func:`merge_sgd`).
    """
    # deferred: jax, torch and kgon's mathematics load only in the processes that run SGD tasks
    import jax

    import kgon
    import sampling

    kgon.configure_jax()  # a worker process starts without JAX settings (no-op where already set)
    result = sampling.train_sgd(sgd_config(config), list(config["seeds"]))
    catalogue = load_catalogue(config)
    analysis = analyze_sgd(result, catalogue, **{k: config[k] for k in _SGD_ANALYSIS_KEYS if k in config})
    llc = None
    per_plateau = int(config.get("llc_per_plateau", 0))
    if per_plateau > 0 and analysis.plateaus:
        centers = plateau_centers(analysis, per_plateau=per_plateau)
        llc = sampling.llc_trajectory(jax.random.key(seed), result, centers=centers)
        analysis = analysis.with_llc(result, catalogue, llc)
    out = analysis.to_dict()
    out["run_offset"] = int(config["run_offset"])
    out["diverged_runs"] = int(sum(bool(d) for d in result.diverged))
    out["llc_excluded_chains"] = {str(k): int(v) for k, v in llc.reasons.items()} if llc is not None else None
    return out


def _weighted_fraction(parts: Sequence[dict], key: str) -> float | None:
    """Mean over the non-diverged runs of all chunks of a per-chunk fraction (equal checkpoints per run)."""
    num = den = 0.0
    for p in parts:
        w = p["runs"] - p["diverged_runs"]
        if w > 0 and p[key] is not None:
            num += p[key] * w
            den += w
    return num / den if den else None


def merge_sgd(parts: Sequence[dict]) -> dict:
    """Combine the ``SGDAnalysis.to_dict()`` of chunks of runs into the analysis of all runs.

    Counts add up (transitions, final phases, antecedent sign counts, runs); fractions are averaged
    over the non-diverged runs; per-run lists (phase sequences, plateaus) are concatenated in run order
    with run indices shifted by each chunk's offset; excluded SGLD chains are added per reason. Without
    SGLD estimates the result equals ``analyze_sgd`` on all runs at once (up to float rounding of the
    fractions), which a test checks; the estimated antecedent counts differ from an all-at-once run
    only by the SGLD randomness (each chunk has its own key).
    """
    parts = sorted(parts, key=lambda p: p["run_offset"])
    transitions: dict[tuple[str, str], int] = {}
    for p in parts:
        for t in p["transitions"]:
            transitions[(t["from"], t["to"])] = transitions.get((t["from"], t["to"]), 0) + int(t["count"])
    final: dict[str, int] = {}
    for p in parts:
        for label, count in p["final_phases"].items():
            final[label] = final.get(label, 0) + int(count)
    plateaus = []
    for p in parts:
        for pl in p["plateaus"]:
            pl = dict(pl)
            pl["run"] = pl["run"] + p["run_offset"]
            plateaus.append(pl)
    config = dict(parts[0]["config"])
    if "seeds" in config:
        config["seeds"] = [s for p in parts for s in p["config"]["seeds"]]
    excluded = [p.get("llc_excluded_chains") for p in parts if p.get("llc_excluded_chains") is not None]
    llc_excluded = None
    if excluded:
        llc_excluded = {}
        for e in excluded:
            for reason, count in e.items():
                llc_excluded[reason] = llc_excluded.get(reason, 0) + int(count)
    antecedent = AntecedentCheck.total(AntecedentCheck.from_dict(p["antecedent"]) for p in parts).to_dict()
    return {
        "fraction_on_plateaus": _weighted_fraction(parts, "fraction_on_plateaus"),
        "fraction_matched": _weighted_fraction(parts, "fraction_matched"),
        "transitions": [
            {"from": a, "to": b, "count": k}
            for (a, b), k in sorted(transitions.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "final_phases": dict(sorted(final.items())),
        "antecedent": antecedent,
        "phase_sequences": [seq for p in parts for seq in p["phase_sequences"]],
        "runs": sum(p["runs"] for p in parts),
        "seeds": config.get("seeds"),
        "five_to_six": five_to_six([{"from": a, "to": b, "count": k} for (a, b), k in transitions.items()]),
        "llc_excluded_chains": llc_excluded,
        "diverged_runs": sum(p["diverged_runs"] for p in parts),
        "plateaus": plateaus,
        "config": config,
    }


def aggregate_sgd(tasks: Sequence, results: Sequence[dict]) -> dict:
    """The output of an SGD sweep: the structure of ``tmsphase sgd --json``.

    With one grid point, the merged analysis of all its runs (:func:`merge_sgd`): fraction_on_plateaus,
    transitions, final_phases, antecedent, fraction_matched, phase_sequences, runs, seeds,
    five_to_six, llc_excluded_chains (the keys of ``tmsphase sgd --json`` but its timings and
    figures) plus plateaus, config and diverged_runs. With
    several, ``{"results": [...]}``, one merged analysis per grid point (in grid order) with the grid
    point's SGD settings under ``"sgd"``.
    """
    groups: dict[str, list[dict]] = {}
    settings: dict[str, dict] = {}
    for task, res in zip(tasks, results):
        cfg = task.config
        point = {k: cfg[k] for k in _sgd_point_keys() if k in cfg}
        key = canonical_json(point)
        groups.setdefault(key, []).append(res)
        settings[key] = point
    merged = [dict(merge_sgd(parts), sgd=settings[key]) for key, parts in groups.items()]
    if len(merged) == 1:
        return merged[0]
    return {"results": merged}
