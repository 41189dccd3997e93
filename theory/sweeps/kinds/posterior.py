"""The ``posterior`` task kind: posterior phase occupancy at one sample size (``sampling.run_occupancy``),
seeded as ``tmsphase posterior --seed S`` (docs/sweeps.md)."""

from __future__ import annotations

import dataclasses

from theory.sweeps.kinds.common import CATALOGUE_FIELDS, load_catalogue
from theory.sweeps.schema import Field, TaskKind

__all__ = ["KIND", "expand_posterior", "posterior_task"]

KIND = TaskKind(
    name="posterior",
    doc="posterior phase occupancy at sample size n (sampling.run_occupancy)",
    fields=(
        # sampling.run_occupancy; defaults are its defaults (a test keeps them in sync)
        Field("c", "int", "number of features", grid=True, minimum=2),
        Field("n", "int", "sample size", grid=True, minimum=1),
        Field("method", "str", "sampler", default="nuts", grid=True, choices=("nuts", "tempered")),
        Field("chains", "int", "chains (nuts) or tempering ladders per task", default=4, minimum=1),
        Field("warmup", "int", "warm-up steps (sweeps) per chain", default=500, minimum=0),
        Field("samples", "int", "draws (sweeps) per chain", default=500, minimum=1),
        Field("r", "int", "number of hidden dimensions", default=2, grid=True, minimum=1),
        Field("init", "str", "chain initialisation: 'prior', 'catalogue' or a catalogue label",
              default="prior"),
        Field("data_seed", "int", "seed of the data stream (default: the run seed; nested D_n over n)",
              default=None, minimum=0),
        Field("threshold", "float", "classification threshold (default max(0.5, 25/sqrt(n)))", default=None,
              minimum=0.0),
        Field("n_temps", "int", "tempering ladder size (default: sampling's)", default=None, minimum=2),
        Field("max_tree_depth", "int", "NUTS tree depth (default 10 nuts, 6 tempered)", default=None,
              minimum=1),
        Field("beta", "float", "inverse temperature of the likelihood, phi exp(-beta n L_n) (default 1)",
              default=None, grid=True, minimum=0.0),
    ) + CATALOGUE_FIELDS,
    function="theory.sweeps.kinds.posterior:posterior_task",
    aggregate="theory.sweeps.kinds.common:aggregate_results",
    expand="theory.sweeps.kinds.posterior:expand_posterior",
    prepare="theory.sweeps.kinds.common:prepare_catalogue",
)


def expand_posterior(experiment) -> list[tuple[dict, int]]:
    """Posterior tasks: the grid points times the replicates; replicate k runs with the seed
    ``seed + k`` (``run_seed`` in the config), the convention of ``tmsphase posterior --seed``."""
    return [(dict(cfg, run_seed=experiment.seed + rep), rep)
            for cfg in experiment.grid() for rep in range(experiment.replicates)]


def posterior_task(config: dict, seed: int) -> dict:
    """Posterior phase occupancy at one sample size: ``sampling.run_occupancy``.

    Seeds follow ``tmsphase posterior --seed S`` with S = ``run_seed`` (= experiment seed + replicate):
    the key is ``jax.random.fold_in(jax.random.PRNGKey(S), n)`` and the data stream is ``data_seed``
    (default S, so the data sets of one replicate are nested over n). A sweep entry is thus the
    same as the one ``tmsphase posterior`` computes with that seed and catalogue. The catalogue is the
    one in the config (:func:`prepare_catalogue`); optional settings left out take run_occupancy's
    defaults. The draws are not kept (``keep_idata=False``): a sweep stores summaries. The task seed
    is not used.

    Returns ``OccupancyResult.to_dict()`` (n, method, occupancy, occupancy_err, rhat_loss, ess_loss,
    divergences) plus ``c``, ``r``, ``seed`` (S), ``data_seed``, ``phase_switches`` (per chain)
    and ``threshold``.
    """
    # deferred: jax, numpyro and kgon's mathematics load only in the processes that run posterior tasks
    import jax

    import kgon
    import sampling

    kgon.configure_jax()  # a worker process starts without JAX settings (no-op where already set)
    c, n, r = int(config["c"]), int(config["n"]), int(config.get("r", 2))
    run_seed = int(config["run_seed"])
    data_seed = int(config["data_seed"]) if config.get("data_seed") is not None else run_seed
    names = [f.name for f in dataclasses.fields(sampling.OccupancyConfig)]
    settings = {k: config[k] for k in names if config.get(k) is not None}
    occ = sampling.OccupancyConfig(**dict(settings, data_seed=data_seed))
    res = sampling.run_occupancy(jax.random.fold_in(jax.random.PRNGKey(run_seed), n), occ,
                                 catalogue=load_catalogue(config), keep_idata=False)
    out = res.to_dict()
    out.update(c=c, r=r, seed=run_seed, data_seed=data_seed, phase_switches=[int(s) for s in res.phase_switches],
               threshold=float(res.config["threshold"]))
    return out

