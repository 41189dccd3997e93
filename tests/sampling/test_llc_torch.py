"""The torch adapter (sampling.torch_llc_problem): a torch nn.Module is estimated by the same SGLD
machinery. Known truth: a two-layer linear network (3, 2, 3) at the all-zero weights with a rank-0
true map, lambda = 2.5 (Aoyagi & Watanabe 2005); the torch path is checked against the JAX-native
deep-linear loss on the same data and the same random numbers (identical up to rounding), so the
torch estimate inherits the JAX estimator's validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from sampling import SGLDConfig, dln_llc, dln_loss, estimate_llc, torch_llc_problem


def _problem(n=400, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    Y = torch.randn(n, 3, generator=gen, dtype=torch.float64)  # true map 0 (rank 0) + unit noise
    model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False, dtype=torch.float64),
                                torch.nn.Linear(2, 3, bias=False, dtype=torch.float64))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    loss = lambda out, y: 0.5 * ((out - y) ** 2).sum(dim=1).mean()  # noqa: E731
    return model, loss, X, Y


def test_torch_loss_and_gradient_match_jax():
    model, loss, X, Y = _problem()
    f, w0, idx = torch_llc_problem(model, loss, X, Y)
    assert w0.shape == (12,) and np.all(np.asarray(w0) == 0)
    Xn, Yn = X.numpy(), Y.numpy()
    stats = (jnp.asarray(Xn.T @ Xn / 400), jnp.asarray(Xn.T @ Yn / 400), jnp.asarray((Yn * Yn).sum() / 400))

    def jloss(w, stats):
        return dln_loss((w[:6].reshape(2, 3), w[6:].reshape(3, 2)), stats)

    w = jnp.asarray(np.random.default_rng(1).standard_normal(12))
    assert float(f(w, idx)) == pytest.approx(float(jloss(w, stats)), rel=1e-12)
    np.testing.assert_allclose(jax.grad(f)(w, idx), jax.grad(jloss)(w, stats), rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_torch_estimate_equals_jax_estimate():
    """Same data, same keys: the torch-adapter chains and the JAX-native chains agree to rounding."""
    model, loss, X, Y = _problem()
    f, w0, idx = torch_llc_problem(model, loss, X, Y)
    Xn, Yn = X.numpy(), Y.numpy()
    stats = (jnp.asarray(Xn.T @ Xn / 400), jnp.asarray(Xn.T @ Yn / 400), jnp.asarray((Yn * Yn).sum() / 400))

    def jloss(w, stats):
        return dln_loss((w[:6].reshape(2, 3), w[6:].reshape(3, 2)), stats)

    cfg = SGLDConfig(nbeta=400 / np.log(400), eps=0.05 / (400 / np.log(400)), chains=2, burnin=10, draws=40)
    rt = estimate_llc(jax.random.key(3), f, w0, idx, config=cfg)
    rj = estimate_llc(jax.random.key(3), jloss, w0, stats, config=cfg)
    np.testing.assert_allclose(rt.loss_trace, rj.loss_trace, rtol=1e-8, atol=1e-12)
    assert rt.llc == pytest.approx(rj.llc, rel=1e-8)
    assert dln_llc((3, 2, 3), 0) == 2.5


def test_torch_adapter_validates():
    model, loss, X, Y = _problem()
    with pytest.raises(ValueError, match="`module`"):
        torch_llc_problem(object(), loss, X, Y)
    with pytest.raises(ValueError, match="`inputs` and `targets`"):
        torch_llc_problem(model, loss, X, Y[:10])
