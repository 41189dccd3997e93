"""The terms of the refined local free energy of a phase, and the checks of its integrator arguments.

For a phase alpha at inverse temperature beta, sample size n and prior phi = N(0, I_d) (docs/index.md)

    F_n(alpha) = beta n L_n(w_hat) + lambda log n - (m - 1) log log n + C_n(alpha) + o(1),

and :class:`FreeEnergyTerms` holds each term of C_n(alpha) (docs/free_energy.md derives them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["FreeEnergyTerms", "LOG_2PI", "check_nongaussian_anneal", "check_nongaussian_draws"]

LOG_2PI = math.log(2.0 * math.pi)
"""log(2 pi), the normalising constant of a one-dimensional standard normal density (in nats)."""


def check_nongaussian_draws(draws, name: str = "nongaussian_draws"):
    """Validate ``nongaussian_draws`` (called ``name`` in the message): None (the default), 0 (leave the
    non-Gaussian term out) or an integer >= 100 (draws, or particles under annealing). Returns it
    unchanged; raises ValueError."""
    if draws is not None and not (
        isinstance(draws, (int, np.integer)) and not isinstance(draws, bool) and (draws == 0 or draws >= 100)
    ):
        raise ValueError(f"`{name}` must be None, 0 or an integer >= 100; got {draws!r}.")
    return draws


def check_nongaussian_anneal(anneal, name: str = "nongaussian_anneal"):
    """Validate ``nongaussian_anneal`` (called ``name`` in the message): None (the default) or an
    integer >= 0 (0: plain importance sampling; K: annealed SMC over K targets). Returns it unchanged."""
    if anneal is not None and not (
        isinstance(anneal, (int, np.integer)) and not isinstance(anneal, bool) and anneal >= 0
    ):
        raise ValueError(f"`{name}` must be None or an integer >= 0; got {anneal!r}.")
    return anneal


@dataclass(frozen=True)
class FreeEnergyTerms:
    """The terms of the refined local free energy of one phase at one n (docs/free_energy.md,
    :func:`theory.free_energies.refined.refined_terms`).

    ``total`` = energy + lambda_log_n + loglog + laplace + prior + orbit + copies + flat + numerical
    + nongaussian + data_shift + data_copies.

    Attributes
    ----------
    label : str
    n : float
    beta : float
        Inverse temperature (posterior proportional to phi exp(-beta n L_n)).
    energy : float
        beta n L_n(w_hat) (``loss`` = L_n(w_hat); population L when ``data`` is None).
    lambda_log_n : float
        lambda log n with lambda = (number of quadratic directions transverse to the orbit) / 2.
    loglog : float
        -(m - 1) log log n (0 here: m = 1 for the phases the refined order handles).
    laplace : float
        1/2 log det'(H / 2 pi) - lambda log n (tends to 1/2 log det'(beta Hess L / 2 pi)).
    prior : float
        -log phi_live(w_hat) = ``|w_hat_live|^2`` / 2 + (d_live / 2) log 2 pi.
    orbit : float
        -log(2 pi ||W_hat||_F), the length of the SO(2) orbit through w_hat (0 if W_hat = 0).
    copies : float
        -log(number of distinct SO(2) orbits of the phase under S_c x O(2)).
    flat : float
        -log P_phi(R), R the region of the dead-column parameters leaving the loss exactly constant.
    flat_err : float
        Monte Carlo standard error of ``flat`` (nats).
    numerical : float
        Finite-n dead-column term -log I_n + log P(R) (0 without dead columns).
    numerical_err : float
    nongaussian : float
        The exact (importance-sampled, :func:`nongaussian_correction`) live free energy of the
        phase, summed over its copies, minus its Laplace value energy + lambda_log_n + laplace +
        prior + orbit + copies: what Laplace's method misses at this n. 0 if not computed.
    nongaussian_err : float
    data_shift : float
        The closed-form first-order data term's Ybar = mean over the copies of beta n (L_n - L)(w_sigma)
        at the population minimisers (:mod:`theory.data_term`; 0 unless the refined order is evaluated
        on a data set in closed form).
    data_copies : float
        Its copy term T_copy = -log mean_sigma exp(-(Y_sigma + R_sigma - Ybar)) (0 likewise).
    llc, multiplicity_m : float, int
        lambda and m.
    loss : float
        L_n(w_hat) (or L(w_hat)).
    data : bool
        Whether the energy is on a data set (data-conditional) or the population loss.
    """

    label: str
    n: float
    beta: float
    energy: float
    lambda_log_n: float
    loglog: float
    laplace: float
    prior: float
    orbit: float
    copies: float
    flat: float
    flat_err: float
    numerical: float
    numerical_err: float
    llc: float
    multiplicity_m: int
    loss: float
    data: bool
    nongaussian: float = 0.0
    nongaussian_err: float = 0.0
    data_shift: float = 0.0
    data_copies: float = 0.0

    @property
    def constant(self) -> float:
        """C_n(alpha): laplace + prior + orbit + copies + flat + numerical + nongaussian."""
        return (self.laplace + self.prior + self.orbit + self.copies + self.flat + self.numerical
                + self.nongaussian)

    @property
    def total(self) -> float:
        """F_n(alpha) = energy + lambda log n - (m - 1) log log n + C_n(alpha) + data_shift + data_copies."""
        return self.energy + self.lambda_log_n + self.loglog + self.constant + self.data_shift + self.data_copies

    @property
    def error(self) -> float:
        """Standard error of ``total`` from its Monte Carlo terms (nats)."""
        return math.sqrt(self.flat_err**2 + self.numerical_err**2 + self.nongaussian_err**2)

    def to_dict(self) -> dict:
        """The fields plus ``constant``, ``total`` and ``error`` (JSON-ready)."""
        d = asdict(self)
        d.update(constant=self.constant, total=self.total, error=self.error)
        return d
