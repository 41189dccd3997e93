"""SGD on the general TMS: feature importance, input scales and a general input density (sparsity S)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kgon
from sampling import SGDConfig, train_sgd
from sampling.dynamics.sgd import dense_training_inputs, initial_params, run_generators, training_data

IMP = (1.0, 0.8, 0.6, 0.4, 0.2, 0.1)


def _autograd_step(cfg, seed, X):
    W0, b0 = initial_params(cfg, run_generators(seed)[1])
    W = W0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    imp = (torch.ones(cfg.c, dtype=torch.float64) if cfg.importance is None
           else torch.tensor(cfg.importance, dtype=torch.float64))
    loss = (imp * (X - torch.relu(X @ W.T @ W + b)) ** 2).sum(1).mean()
    gW, gb = torch.autograd.grad(loss, (W, b))
    return W0 - cfg.lr * gW, b0 - cfg.lr * gb, loss.item()


@pytest.mark.parametrize("sparsity", [None, 0.5])
def test_weighted_step_equals_autograd(sparsity):
    """One full-batch step with importance and input scales equals torch autograd on the weighted L_B."""
    cfg = SGDConfig(n=30, batch_size=30, epochs=1, lr=0.1, checkpoints=2, init_noise=0.3, importance=IMP,
                    input_scale=(1.0, 2.0, 0.5, 1.0, 1.5, 0.7), sparsity=sparsity)
    res = train_sgd(cfg, [5])
    if sparsity is None:
        f, mu = training_data(5, cfg.n, cfg.c)
        X = torch.zeros(cfg.n, cfg.c, dtype=torch.float64)
        X[torch.arange(cfg.n), f] = mu * torch.tensor(cfg.input_scale, dtype=torch.float64)[f]
    else:
        X = dense_training_inputs(5, cfg.n, cfg.c, sparsity, cfg.input_scale)
        np.testing.assert_array_equal(res.inputs[0], X.numpy())
    W1, b1, loss0 = _autograd_step(cfg, 5, X)
    np.testing.assert_allclose(res.W[0, 1], W1.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.b[0, 1], b1.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert res.train_loss[0, 0] == pytest.approx(loss0, rel=1e-12)


def test_unit_weights_change_nothing():
    base = SGDConfig(epochs=5, checkpoints=5)
    ones = SGDConfig(epochs=5, checkpoints=5, importance=(1.0,) * 6, input_scale=(1.0,) * 6)
    a, b = train_sgd(base, [1, 2]), train_sgd(ones, [1, 2])
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.loss, b.loss)


def test_population_loss_of_checkpoints_uses_the_model():
    cfg = SGDConfig(epochs=3, checkpoints=3, importance=IMP)
    res = train_sgd(cfg, [0])
    expected = kgon.potential(res.W[0], res.b[0], importance=IMP)
    np.testing.assert_allclose(res.loss[0], expected, rtol=1e-12)
    dense = SGDConfig(epochs=3, checkpoints=3, sparsity=0.7, c=5, init_k=2)
    res = train_sgd(dense, [0])
    est = kgon.population_loss_density(res.W[0], res.b[0], sparsity=0.7, n_points=4096, replicates=8, seed=1)
    # two independent RQMC estimates (1024 x 4 and 4096 x 8 points) agree within their errors
    assert np.all(np.abs(res.loss[0] - est.value) < 5 * (est.stderr * 3))


def test_dense_inputs_follow_the_density():
    X = dense_training_inputs(3, 20000, 8, 0.7, None).numpy()
    active = X > 0
    assert abs(active.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / active.size)
    assert abs(X[active].mean() - 0.5) < 4 * np.sqrt(1 / 12 / active.sum())


def test_training_lowers_the_loss_at_every_sparsity():
    for S in (0.3, 0.5, 0.7):
        cfg = SGDConfig(c=8, n=500, batch_size=50, lr=0.01, epochs=60, init_k=2, checkpoints=5, sparsity=S)
        res = train_sgd(cfg, [0, 1])
        assert not res.diverged.any()
        assert np.all(res.train_loss[:, -1] < res.train_loss[:, 0])


@pytest.mark.parametrize("kwargs, msg", [
    ({"sparsity": 1.0}, "`sparsity` must be None or a number in \\[0, 1\\)"),
    ({"importance": (1.0, 2.0)}, "`importance` must have one entry per feature"),
    ({"input_scale": (1.0,) * 5 + (-1.0,)}, "`input_scale` must be finite and > 0"),
])
def test_bad_config(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        SGDConfig(**kwargs)


def test_save_load_roundtrip(tmp_path):
    cfg = SGDConfig(epochs=2, checkpoints=3, sparsity=0.5, importance=IMP)
    res = train_sgd(cfg, [4])
    back = type(res).load(res.save(tmp_path / "r.npz"))
    assert back.config == cfg
    np.testing.assert_array_equal(back.inputs, res.inputs)
