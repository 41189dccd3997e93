"""Symmetry-invariant MCMC diagnostics for TMS posterior runs.

Parameters are only identified up to O(r) rotations and feature permutations (docs/zoo.md), so
per-coordinate R-hat is meaningless; the diagnostics use invariants:

- split R-hat and bulk effective sample size of the empirical loss L_n over chains (Gelman et al.
  2013, BDA3 §11.4-11.5, as implemented in ``numpyro.diagnostics``);
- divergent transitions;
- the phase label of each draw: phase switches along each chain and agreement between chains.
  Chains that disagree about their dominant phase measure their starting basins, not the posterior
  mass (docs/sampling.md): a :class:`sampling.PhaseMixingWarning` is issued.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

import kgon
from kgon.io import to_jsonable

__all__ = [
    "PhaseMixingWarning",
    "ChainDiagnostics",
    "chain_diagnostics",
    "classify_draws",
    "phase_switches",
    "dominant_phases",
    "warn_if_not_mixing",
    "mixing_advice",
    "MIXING_ADVICE",
    "OTHER",
]

OTHER = "other"


class PhaseMixingWarning(UserWarning):
    """Chains disagree about the phase: they measure their starting basins, not posterior mass."""


def classify_draws(W: np.ndarray, b: np.ndarray, catalogue, *, threshold: float | None = None) -> np.ndarray:
    """Phase labels of draws W (..., r, c), b (..., c) via ``kgon.classify`` (str array (...)).

    ``threshold=None`` uses ``kgon.classify``'s default.
    """
    if threshold is None:
        return np.asarray(kgon.classify(W, b, catalogue))
    return np.asarray(kgon.classify(W, b, catalogue, threshold=threshold))


@dataclass(frozen=True)
class ChainDiagnostics:
    """Symmetry-invariant convergence diagnostics of a set of chains (:func:`chain_diagnostics`).

    Attributes
    ----------
    rhat_loss : float
        Split R-hat of the loss over chains (nan with fewer than 4 draws per chain or non-finite losses).
    ess_loss : float
        Bulk effective sample size of the loss (nan likewise).
    divergences : int
        Divergent transitions, all chains.
    """

    rhat_loss: float
    ess_loss: float
    divergences: int

    def to_dict(self) -> dict:
        """Strict-JSON dict (nan -> None)."""
        return to_jsonable(dataclasses.asdict(self))


def chain_diagnostics(loss: np.ndarray, diverging: np.ndarray | None = None) -> ChainDiagnostics:
    """Split R-hat and ESS of the loss, and the number of divergences.

    Parameters
    ----------
    loss : ndarray, shape (chains, draws)
    diverging : ndarray of bool, shape (chains, draws), optional

    Returns
    -------
    ChainDiagnostics
    """
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 2:
        raise ValueError(f"`loss` must have shape (chains, draws); got {loss.shape}.")
    if loss.shape[1] >= 4 and np.all(np.isfinite(loss)):
        rhat = float(split_gelman_rubin(loss))
        ess = float(effective_sample_size(loss))
    else:
        rhat, ess = float("nan"), float("nan")
    div = 0 if diverging is None else int(np.sum(diverging))
    return ChainDiagnostics(rhat_loss=rhat, ess_loss=ess, divergences=div)


def phase_switches(labels: np.ndarray) -> tuple[int, ...]:
    """Number of phase changes along each chain, ignoring draws labelled "other".

    labels : ndarray of str, shape (chains, draws)
    """
    out = []
    for row in np.asarray(labels):
        seq = [lab for lab in row if lab != OTHER]
        out.append(int(sum(a != b for a, b in zip(seq[:-1], seq[1:]))))
    return tuple(out)


def dominant_phases(labels: np.ndarray) -> tuple[str, ...]:
    """The most frequent label of each chain (ties: the label reached first)."""
    out = []
    for row in np.asarray(labels):
        cnt = Counter(row.tolist())
        out.append(max(cnt, key=lambda k: (cnt[k], -row.tolist().index(k))))
    return tuple(out)


MIXING_ADVICE = {
    "nuts": "Use method='tempered' (parallel tempering moves chains between basins) or more chains.",
    "tempered": "Use a longer temperature ladder (n_temps), more sweeps (samples, warmup) or more ladders "
                "(chains).",
}
"""What :func:`warn_if_not_mixing` advises, per sampling method (``OccupancyConfig.method``)."""


def mixing_advice(method: str) -> str:
    """The advice of the :class:`PhaseMixingWarning` for ``method`` ("nuts" or "tempered"; another
    method gets the advice common to both: more and longer chains)."""
    return MIXING_ADVICE.get(method, "Use more or longer chains.")


def warn_if_not_mixing(labels: np.ndarray, *, method: str, n: int) -> bool:
    """Warn (``PhaseMixingWarning``) when chains disagree about the dominant phase, with the advice
    that fits ``method`` (:func:`mixing_advice`); return whether they disagree."""
    dom = dominant_phases(labels)
    if len(set(dom)) > 1:
        warnings.warn(
            f"{method} at n={n}: chains disagree about the phase (dominant phases {list(dom)}); "
            f"they measure their starting basins rather than posterior mass. {mixing_advice(method)}",
            PhaseMixingWarning,
            stacklevel=3,
        )
        return True
    return False
