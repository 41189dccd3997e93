"""Posterior draws of the TMS, one type for every sampler (NUTS, parallel tempering, the general model).

A draw is a parameter w = (W, b) from the tempered posterior p_beta(w | D_n) proportional to
phi(w) exp(-beta n L_n(w)) (docs/index.md; beta = 1 the Bayesian posterior), recorded with its
empirical loss L_n(w), whether its transition diverged and, when a catalogue was given, its phase
label (``kgon.classify``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DrawsView", "PosteriorDraws"]


@dataclass(frozen=True, eq=False)
class PosteriorDraws:
    """Draws of posterior chains, chain-major (the layout of arviz's ``posterior`` group).

    Attributes
    ----------
    W : ndarray, shape (chains, samples, r, c)
    b : ndarray, shape (chains, samples, c)
    loss : ndarray, shape (chains, samples)
        L_n at each draw.
    diverging : ndarray of bool, shape (chains, samples)
        Whether the transition that produced the draw diverged.
    n : int
        Sample size of the data D_n.
    beta : float
        Inverse temperature of the likelihood the draws target (1: the Bayesian posterior).
    labels : ndarray of str or None, shape (chains, samples)
        Phase label of each draw when the draws were classified against a catalogue.
    """

    W: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    diverging: np.ndarray
    n: int
    beta: float = 1.0
    labels: np.ndarray | None = None

    def __post_init__(self):
        C, T = np.shape(self.loss)
        shapes = {"W": (np.shape(self.W)[:2], 4), "b": (np.shape(self.b)[:2], 3),
                  "diverging": (np.shape(self.diverging), 2)}
        for name, (lead, ndim) in shapes.items():
            if lead != (C, T) or np.ndim(getattr(self, name)) != ndim:
                raise ValueError(f"`{name}` must have leading axes (chains, samples) = ({C}, {T}) and {ndim} axes; "
                                 f"got shape {np.shape(getattr(self, name))}.")
        if self.labels is not None and np.shape(self.labels) != (C, T):
            raise ValueError(f"`labels` must have shape ({C}, {T}); got {np.shape(self.labels)}.")

    @property
    def chains(self) -> int:
        return int(np.shape(self.loss)[0])

    @property
    def samples(self) -> int:
        return int(np.shape(self.loss)[1])

    @property
    def r(self) -> int:
        return int(np.shape(self.W)[2])

    @property
    def c(self) -> int:
        return int(np.shape(self.W)[3])


class DrawsView:
    """Read access to the :class:`PosteriorDraws` a sampler's result holds as ``draws``: ``W``, ``b``,
    ``loss``, ``diverging`` and ``labels`` (mixed into :class:`sampling.NutsResult`,
    :class:`sampling.TemperingResult` and :class:`sampling.GeneralPosterior`)."""

    __slots__ = ()

    @property
    def W(self) -> np.ndarray:
        """``draws.W``, shape (chains, samples, r, c)."""
        return self.draws.W

    @property
    def b(self) -> np.ndarray:
        """``draws.b``, shape (chains, samples, c)."""
        return self.draws.b

    @property
    def loss(self) -> np.ndarray:
        """``draws.loss``: L_n at each draw, shape (chains, samples)."""
        return self.draws.loss

    @property
    def diverging(self) -> np.ndarray:
        """``draws.diverging``, shape (chains, samples)."""
        return self.draws.diverging

    @property
    def labels(self) -> np.ndarray | None:
        """``draws.labels``: phase label of each draw, or None without a catalogue."""
        return self.draws.labels
