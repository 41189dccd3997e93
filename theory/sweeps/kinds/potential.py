"""The ``potential`` task kind: prior draws of the TMS potential, loss statistics and a Monte Carlo
free energy F_n (docs/sweeps.md)."""

from __future__ import annotations

import numpy as np

from theory.sweeps.schema import Field, TaskKind

__all__ = ["KIND", "potential_task"]

KIND = TaskKind(
    name="potential",
    doc="prior draws of the TMS potential: loss statistics and a Monte Carlo free energy F_n",
    fields=(
        Field("c", "int", "number of features", grid=True, minimum=2),
        Field("r", "int", "number of hidden dimensions", default=2, grid=True, minimum=1),
        Field("n", "int", "sample size of the free energy F_n", grid=True, minimum=1),
        Field("draws", "int", "prior draws per task", default=10000, minimum=2),
    ),
    function="theory.sweeps.kinds.potential:potential_task",
    aggregate="theory.sweeps.kinds.common:aggregate_results",
)


def potential_task(config: dict, seed: int) -> dict:
    """Prior draws of the TMS potential: loss statistics and a Monte Carlo free energy.

    Draws w_k = (W_k, b_k) ~ phi = N(0, I), k = 1..K (``draws``), evaluates the exact population loss
    L(w_k) (``kgon.potential``, docs/index.md, Conventions), and estimates the free energy of the posterior
    p(w) ~ phi(w) exp(-n L(w)) (docs/index.md, Conventions) by simple Monte Carlo over the prior:

        F_n = -log int phi(w) exp(-n L(w)) dw ~= -log( (1/K) sum_k exp(-n L(w_k)) ).

    The standard error is the delta-method one, se(Z_hat)/Z_hat = std(v)/(mean(v) sqrt(K)) with
    v_k = exp(-n L(w_k)); ``ess`` = (sum v)^2 / sum v^2 is the effective number of draws. The estimate
    is reliable only while ``ess`` is large, i.e. for small n (prior and posterior overlap); at large n
    use the posterior sampler instead.

    Parameters
    ----------
    config : dict
        ``c`` (features), ``r`` (hidden dimensions), ``n`` (sample size), ``draws`` (K).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    dict
        ``c, r, n, draws, loss_mean, loss_std, loss_min, loss_median, free_energy, free_energy_err,
        ess``.
    """
    import kgon  # deferred: kgon's evaluators pull in jax; reading an experiment stays light

    c, r, n, draws = (int(config[k]) for k in ("c", "r", "n", "draws"))
    rng = np.random.default_rng(seed)
    losses = np.empty(draws)
    chunk = 20000
    for lo in range(0, draws, chunk):
        m = min(chunk, draws - lo)
        W = rng.standard_normal((m, r, c))
        b = rng.standard_normal((m, c))
        losses[lo : lo + m] = kgon.potential(W, b)
    logv = -n * losses
    shift = logv.max()
    v = np.exp(logv - shift)
    mean_v = v.mean()
    return {
        "c": c,
        "r": r,
        "n": n,
        "draws": draws,
        "loss_mean": float(losses.mean()),
        "loss_std": float(losses.std(ddof=1)),
        "loss_min": float(losses.min()),
        "loss_median": float(np.median(losses)),
        "free_energy": float(-(shift + np.log(mean_v))),
        "free_energy_err": float(v.std(ddof=1) / (mean_v * np.sqrt(draws))),
        "ess": float(v.sum() ** 2 / (v**2).sum()),
    }
