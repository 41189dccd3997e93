"""Batched SGD: gradients, batching invariance, seeds, checkpoints, losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kgon
from kgon.io import ResultStore
from sampling import SGDConfig, SGDResult, train_sgd
from sampling.dynamics.sgd import (
    checkpoint_steps,
    initial_params,
    run_generators,
    sgd_run_key,
    train_or_load,
    training_data,
)


def test_config_defaults_are_the_paper_protocol():
    cfg = SGDConfig()
    assert (cfg.c, cfg.r, cfg.n, cfg.batch_size, cfg.lr, cfg.epochs) == (6, 2, 1000, 20, 0.005, 4500)
    assert cfg.init_k == 4 and cfg.init_length == 1.0 and cfg.init_noise == 0.01
    assert cfg.total_steps == 225_000


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"n": -3}, "`n` must be an integer >= 1; got -3."),
        ({"batch_size": 0}, "`batch_size` must be an integer in 1..1000; got 0."),
        ({"lr": -1.0}, "`lr` must be a positive finite number; got -1.0."),
        ({"init_k": 7}, "`init_k` must be an integer in 0..6; got 7."),
        ({"dtype": "float16"}, "`dtype` must be one of"),
        ({"r": 1, "init_k": 4}, "`init_k` >= 3 needs r >= 2"),
    ],
)
def test_config_validation(kwargs, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        SGDConfig(**kwargs)


def test_seeds_validated():
    with pytest.raises(ValueError, match="seeds"):
        train_sgd(SGDConfig(epochs=1, n=20), [])
    with pytest.raises(ValueError, match=r"`seeds\[i\]` must be an integer >= 0; got -1"):
        train_sgd(SGDConfig(epochs=1, n=20), [-1])


def test_checkpoint_steps_log_spaced():
    s = checkpoint_steps(225_000, 200)
    assert s[0] == 0 and s[1] == 1 and s[-1] == 225_000
    assert np.all(np.diff(s) > 0)
    ratios = s[2:][s[1:-1] > 100] / s[1:-1][s[1:-1] > 100]
    assert np.allclose(ratios, ratios.mean(), rtol=0.02)  # geometric spacing once rounding is irrelevant


def test_initialisation_is_kgon_plus_noise():
    cfg = SGDConfig()
    W, b = initial_params(cfg, run_generators(0)[1])
    expected = np.zeros((2, 6))
    expected[:, :4] = [[1, 0, -1, 0], [0, 1, 0, -1]]
    dev = np.concatenate([(W.numpy() - expected).ravel(), b.numpy()])
    assert dev.size == 18
    assert 0.004 < dev.std() < 0.02  # N(0, 0.01^2) on every parameter (18 draws)


def test_hand_gradient_equals_autograd():
    """One full-batch step of the batched hand-written gradient equals torch autograd on L_B."""
    cfg = SGDConfig(n=20, batch_size=20, epochs=1, lr=0.1, checkpoints=2, init_noise=0.3)
    res = train_sgd(cfg, [5, 9])
    for row, seed in enumerate((5, 9)):
        W0, b0 = initial_params(cfg, run_generators(seed)[1])
        f, mu = training_data(seed, cfg.n, cfg.c)
        X = torch.zeros(cfg.n, cfg.c, dtype=torch.float64)
        X[torch.arange(cfg.n), f] = mu
        W = W0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        loss = ((X - torch.relu(X @ W.T @ W + b)) ** 2).sum(1).mean()
        gW, gb = torch.autograd.grad(loss, (W, b))
        np.testing.assert_allclose(res.W[row, 0], W0.numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(res.W[row, 1], (W0 - cfg.lr * gW).numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.b[row, 1], (b0 - cfg.lr * gb).numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.train_loss[row, 0], loss.item(), rtol=1e-12)


@pytest.fixture(scope="module")
def short_runs():
    cfg = SGDConfig(epochs=30, checkpoints=40)
    return train_sgd(cfg, [3, 4, 5])


def test_batched_equals_single_runs(short_runs):
    """A run's trajectory depends on its seed only, not on the other runs in the batch."""
    single = train_sgd(short_runs.config, [4])
    np.testing.assert_allclose(single.W[0], short_runs.W[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(single.b[0], short_runs.b[1], rtol=0, atol=1e-12)
    assert not np.allclose(short_runs.W[0, -1], short_runs.W[1, -1])


def test_losses_at_checkpoints(short_runs):
    """train_loss is L_n on the run's own data (independent direct sum); loss is the closed form L."""
    res = short_runs
    for i in range(res.runs):
        X = np.zeros((res.config.n, res.config.c))
        X[np.arange(res.config.n), res.features[i]] = res.mu[i]
        for k in (0, len(res.steps) // 2, -1):
            W, b = res.W[i, k], res.b[i, k]
            ln = float(np.mean(np.sum((X - np.maximum(X @ W.T @ W + b, 0.0)) ** 2, axis=1)))
            assert math.isclose(res.train_loss[i, k], ln, rel_tol=1e-12)
            assert math.isclose(res.loss[i, k], kgon.potential(res.W[i, k], res.b[i, k]), rel_tol=1e-12)
    # SGD lowers the training loss
    assert np.all(res.train_loss[:, -1] < res.train_loss[:, 0])
    assert not res.diverged.any()


def test_shared_data_seed():
    cfg = SGDConfig(epochs=1, n=40, checkpoints=3, data_seed=7)
    res = train_sgd(cfg, [1, 2])
    np.testing.assert_array_equal(res.features[0], res.features[1])
    np.testing.assert_array_equal(res.mu[0], res.mu[1])
    assert not np.array_equal(res.W[0, 0], res.W[1, 0])  # different initial noise


def test_last_partial_batch():
    """n not divisible by the batch size: the last batch of each epoch is smaller (23 = 10 + 10 + 3)."""
    cfg = SGDConfig(n=23, batch_size=10, epochs=2, checkpoints=10)
    res = train_sgd(cfg, [0])
    assert cfg.steps_per_epoch == 3 and res.steps[-1] == 6
    assert np.all(np.isfinite(res.W))


def test_divergence_flagged():
    cfg = SGDConfig(n=40, batch_size=20, epochs=50, lr=1000.0, init_length=3.0, checkpoints=10)
    res = train_sgd(cfg, [0, 1])
    assert res.diverged.all()
    assert np.isnan(res.W[:, -1]).all() and np.isnan(res.train_loss[:, -1]).all()
    ok = train_sgd(SGDConfig(n=40, batch_size=20, epochs=50, checkpoints=10), [0])
    assert not ok.diverged.any()


def test_float32_and_save_load(tmp_path):
    cfg = SGDConfig(n=40, epochs=5, checkpoints=5, dtype="float32")
    res = train_sgd(cfg, [2])
    res64 = train_sgd(SGDConfig(n=40, epochs=5, checkpoints=5), [2])
    np.testing.assert_allclose(res.W, res64.W, atol=1e-5)
    path = res.save(tmp_path / "runs")
    back = SGDResult.load(path)
    assert back.config == cfg and back.seeds == (2,)
    np.testing.assert_array_equal(back.W, res.W)
    np.testing.assert_array_equal(back.features, res.features)
    # the one store: the saved entry is the one train_or_load reuses, and the directory loads too
    again, reused = train_or_load(cfg, [2], ResultStore(tmp_path / "runs"))
    assert reused and path.name == f"{sgd_run_key(cfg, [2])}.json"
    np.testing.assert_array_equal(again.W, res.W)
    np.testing.assert_array_equal(SGDResult.load(tmp_path / "runs").b, res.b)
    res64.save(tmp_path / "runs")
    with pytest.raises(ValueError, match="holds 2 stored batches"):
        SGDResult.load(tmp_path / "runs")
    with pytest.raises(ValueError, match="record file"):
        SGDResult.load(tmp_path / "r.npz")
