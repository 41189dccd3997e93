"""The TMS posterior (docs/index.md, Conventions) as flat log densities and as numpyro models.

With prior phi = N(0, I) on every entry of W (r x c) and b (c), the (tempered) posterior is

    p_beta(w | D_n)  proportional to  phi(w) exp( -beta n L_n(w) ),

beta = 1 being the Bayesian posterior (equivalently a Gaussian likelihood with noise variance 1/2;
*not* variance 1, which would move the 5-gon -> 6-gon transition from n ~ 600 to n ~ 1316).
beta < 1 gives the tempered targets used by parallel tempering (:mod:`sampling.mcmc.tempering`).

Flat parametrisation: z = (W.ravel(), b) of length d = r c + c (row-major W). Samplers work on z;
:func:`unflatten` recovers (W, b).

- :func:`log_prior`, :func:`log_density` - flat, pure jax;
- :func:`tms_model` - the numpyro model with the exact fast likelihood (``numpyro.factor``) and the
  empirical loss recorded as the deterministic site ``"loss"``;
- :func:`dense_model` - the plain numpyro model with the dense Gaussian likelihood (variance 1/2)
  over all n samples: the same posterior, O(n c r) per evaluation (the benchmark baseline).

Reference: Chen et al. 2023, §4-5; Watanabe 2009 (posterior exp(-n L_n) phi).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from sampling.fast_potential import EmpiricalPotential

__all__ = ["flatten", "unflatten", "log_prior", "log_density", "tms_model", "dense_model"]

_LOG_2PI = math.log(2.0 * math.pi)


def flatten(W, b):
    """z = (W.ravel(), b) for W (..., r, c), b (..., c); batched over leading axes."""
    W = jnp.asarray(W)
    b = jnp.asarray(b)
    return jnp.concatenate([W.reshape(W.shape[:-2] + (-1,)), b], axis=-1)


def unflatten(z, r: int, c: int):
    """(W, b) from z of shape (..., r c + c)."""
    z = jnp.asarray(z) if not isinstance(z, np.ndarray) else z
    W = z[..., : r * c].reshape(z.shape[:-1] + (r, c))
    b = z[..., r * c :]
    return W, b


def log_prior(z):
    """log N(z; 0, I) = -|z|^2 / 2 - (d/2) log(2 pi)."""
    return -0.5 * jnp.sum(z * z) - 0.5 * z.shape[-1] * _LOG_2PI


def log_density(potential: EmpiricalPotential, z, *, r: int, beta=1.0):
    """log phi(z) - beta n L_n(z) (unnormalised log posterior at inverse temperature beta)."""
    W, b = unflatten(z, r, potential.c)
    return log_prior(z) - beta * potential.n * potential.value(W, b)


def tms_model(potential: EmpiricalPotential, *, r: int = 2, beta: float = 1.0):
    """numpyro model of the TMS posterior with the exact fast likelihood.

    W ~ N(0, I_{r x c}), b ~ N(0, I_c); log factor -beta n L_n(W, b); deterministic site ``"loss"``
    = L_n(W, b). Inspect with numpyro tools, e.g. ``numpyro.infer.util.log_density(tms_model,
    (potential,), {"r": 2}, {"W": W, "b": b})`` or ``MCMC(NUTS(tms_model), ...)``.
    """
    c = potential.c
    W = numpyro.sample("W", dist.Normal(0.0, 1.0).expand([r, c]).to_event(2))
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([c]).to_event(1))
    loss = numpyro.deterministic("loss", potential.value(W, b))
    numpyro.factor("log_likelihood", -beta * potential.n * loss)


def dense_model(features, mu, *, c: int, r: int = 2):
    """numpyro model of the same posterior with the plain dense likelihood (benchmark baseline).

    x_k ~ N( ReLU(W^T W x_k + b), (1/2) I_c ) for every sample, so that the log likelihood is
    -sum_k ``|x_k - f(x_k)|^2`` + const = -n L_n + const (docs/index.md, Conventions).
    """
    W = numpyro.sample("W", dist.Normal(0.0, 1.0).expand([r, c]).to_event(2))
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([c]).to_event(1))
    A = W.T @ W
    x = mu[:, None] * jax.nn.one_hot(features, c, dtype=jnp.float64)
    pred = jax.nn.relu(x @ A + b[None, :])  # A symmetric: (W^T W x)_j = sum_i A_ji x_i
    numpyro.sample("x", dist.Normal(pred, math.sqrt(0.5)).to_event(2), obs=x)
