"""train_sgd's random initialisation and its optimizers (sgd, adam, adamw; weight decay)."""

from __future__ import annotations

import numpy as np
import pytest

from sampling import SGDConfig, train_sgd
from sampling.dynamics.sgd import initial_params, run_generators, sgd_run_key


def _cfg(**kw):
    base = dict(c=5, n=100, batch_size=20, epochs=5, checkpoints=3, init="random")
    base.update(kw)
    return SGDConfig(**base)


@pytest.mark.parametrize("field, value, allowed", [
    ("init", "gaussian", "['polygon', 'random']"),
    ("optimizer", "rmsprop", "['sgd', 'adam', 'adamw']"),
    ("weight_decay", -0.1, "non-negative"),
    ("weight_decay", float("nan"), "non-negative"),
])
def test_bad_values_are_named(field, value, allowed):
    with pytest.raises(ValueError) as err:
        SGDConfig(**{field: value})
    assert f"`{field}`" in str(err.value) and repr(value) in str(err.value) and allowed in str(err.value)


def test_default_protocol_key_is_unchanged():
    # the new fields are left out of to_dict at their defaults: stored results keep their keys
    cfg = SGDConfig()
    assert "init" not in cfg.to_dict() and "optimizer" not in cfg.to_dict()
    assert cfg.key() == "9f6f49faf78d"  # the key of SGDConfig() before these fields existed
    assert sgd_run_key(SGDConfig(optimizer="adam"), [0]) != sgd_run_key(cfg, [0])


def test_random_init_statistics():
    # W_ij ~ N(0, 2 / (r + c)), b = 0; 400 runs x 14 entries: the sample variance within 4 standard errors
    cfg = SGDConfig(c=12, r=2, init="random")
    W = np.stack([initial_params(cfg, run_generators(s)[1])[0].numpy() for s in range(400)])
    b = np.stack([initial_params(cfg, run_generators(s)[1])[1].numpy() for s in range(400)])
    var, m = 2.0 / 14, W.size
    assert abs(W.var() - var) < 4 * var * np.sqrt(2.0 / m)
    assert abs(W.mean()) < 4 * np.sqrt(var / m)
    assert np.all(b == 0.0)


def test_random_init_is_the_first_checkpoint():
    res = train_sgd(_cfg(), [3])
    W0, b0 = initial_params(_cfg(), run_generators(3)[1])
    np.testing.assert_array_equal(res.W[0, 0], W0.numpy())
    np.testing.assert_array_equal(res.b[0, 0], b0.numpy())


def test_optimizer_changes_the_trajectory_and_runs_are_independent():
    finals = {opt: train_sgd(_cfg(optimizer=opt, lr=0.01), [1, 2]).W[:, -1] for opt in ("sgd", "adam")}
    assert np.abs(finals["sgd"] - finals["adam"]).max() > 1e-3
    alone = train_sgd(_cfg(optimizer="adam", lr=0.01), [2]).W[0, -1]
    np.testing.assert_allclose(alone, finals["adam"][1], rtol=0, atol=1e-12)  # elementwise: batching is exact


def test_weight_decay_shrinks_and_adamw_differs_from_adam():
    seeds = [4]
    plain = train_sgd(_cfg(optimizer="adam", lr=0.01), seeds).W[0, -1]
    adam_l2 = train_sgd(_cfg(optimizer="adam", lr=0.01, weight_decay=0.5), seeds).W[0, -1]
    adamw = train_sgd(_cfg(optimizer="adamw", lr=0.01, weight_decay=0.5), seeds).W[0, -1]
    assert np.linalg.norm(adamw) < np.linalg.norm(plain)
    assert np.abs(adam_l2 - adamw).max() > 1e-4
    sgd_wd = train_sgd(_cfg(optimizer="sgd", lr=0.01, weight_decay=0.5), seeds).W[0, -1]
    sgd = train_sgd(_cfg(optimizer="sgd", lr=0.01), seeds).W[0, -1]
    assert np.linalg.norm(sgd_wd) < np.linalg.norm(sgd)


def test_sgd_with_zero_weight_decay_is_the_plain_step():
    # torch.optim.SGD with weight decay 0 would give the same numbers; the plain path must stay bit-exact
    a = train_sgd(_cfg(optimizer="sgd", lr=0.02), [5]).W
    b = train_sgd(_cfg(optimizer="sgd", lr=0.02, weight_decay=0.0), [5]).W
    np.testing.assert_array_equal(a, b)
