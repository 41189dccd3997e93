"""Inverse temperature beta: NUTS and tempering target phi(w) exp(-beta n L_n(w)).

Checked on the energy the samplers are handed (not by sampling): the data argument of the sampler
makes E(z) = beta n L_n(z), i.e. beta = 1/2 at n equals beta = 1 at n/2 on the likelihood term.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

import sampling
import sampling.mcmc.nuts as nuts_mod
import sampling.mcmc.tempering as tempering_mod
from sampling.mcmc.nuts import tms_data, tms_energy
from sampling.model import flatten, log_prior, unflatten


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def setup():
    ds = sampling.make_dataset(jax.random.PRNGKey(3), 200, 6)
    pot = sampling.empirical_potential(ds)
    rng = np.random.default_rng(1)
    zs = [np.asarray(flatten(rng.normal(size=(2, 6)), rng.normal(size=6))) for _ in range(3)]
    return ds, pot, zs


def _check_energy(energy_fn, data, pot, zs, beta):
    for z in zs:
        L = float(pot.value(*unflatten(z, 2, 6)))
        E = float(energy_fn(data, z))
        assert E == pytest.approx(beta * 200 * L, rel=1e-13)
        # the same as the flat log density's likelihood term, and as beta = 1 at n / 2
        flat = -(float(sampling.log_density(pot, z, r=2, beta=beta)) - float(log_prior(z)))
        assert E == pytest.approx(flat, rel=1e-12)
        assert E == pytest.approx(1.0 * 100 * L, rel=1e-13) if beta == 0.5 else True


def test_tms_energy_scales_with_beta(setup):
    _, pot, zs = setup
    _check_energy(tms_energy(2, 6), tms_data(pot, 0.5), pot, zs, 0.5)
    _check_energy(tms_energy(2, 6), tms_data(pot, 1.0), pot, zs, 1.0)


def test_run_nuts_hands_the_sampler_beta_n_Ln(setup, monkeypatch):
    ds, pot, zs = setup
    seen = {}

    def fake_sample(rng_key, *, energy_fn, data, betas, **kw):
        seen.update(energy_fn=energy_fn, data=data, betas=np.asarray(betas))
        raise _Stop

    monkeypatch.setattr(nuts_mod, "sample_replicas", fake_sample)
    with pytest.raises(_Stop):
        sampling.run_nuts(jax.random.PRNGKey(0), ds, chains=1, warmup=1, samples=1, beta=0.5)
    np.testing.assert_array_equal(seen["betas"], [1.0])
    _check_energy(seen["energy_fn"], seen["data"], pot, zs, 0.5)


def test_run_tempering_targets_beta_and_heats_to_one_sample(setup, monkeypatch):
    ds, pot, zs = setup
    seen = {}

    def fake_pt(rng_key, energy_fn, init_z, *, betas, data, **kw):
        seen.update(energy_fn=energy_fn, data=data, betas=np.asarray(betas))
        raise _Stop

    monkeypatch.setattr(tempering_mod, "parallel_tempering", fake_pt)
    with pytest.raises(_Stop):
        sampling.run_tempering(jax.random.PRNGKey(0), ds, chains=1, warmup=1, samples=1, n_temps=4, beta=0.5)
    _check_energy(seen["energy_fn"], seen["data"], pot, zs, 0.5)
    # the target replica is at beta (ladder value 1), the hottest at beta_min beta n = 1
    assert seen["betas"][0] == 1.0 and seen["betas"][-1] * 0.5 * 200 == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "1", True])
def test_bad_beta(setup, bad):
    ds, _, _ = setup
    with pytest.raises(ValueError, match="`beta`"):
        sampling.run_nuts(jax.random.PRNGKey(0), ds, chains=1, warmup=1, samples=1, beta=bad)
    with pytest.raises(ValueError, match="`beta`"):
        sampling.run_tempering(jax.random.PRNGKey(0), ds, chains=1, warmup=1, samples=1, beta=bad)


def test_sampler_configs_validate_and_serialise():
    cfg = sampling.NutsConfig(chains=2, beta=0.5)
    assert cfg.to_dict()["beta"] == 0.5 and cfg.to_dict()["method"] == "nuts"
    tcfg = sampling.TemperingConfig(n_temps=4, beta_min=0.01)
    assert tcfg.to_dict()["method"] == "tempered" and tcfg.to_dict()["n_temps"] == 4
    for kwargs, match in [({"chains": 0}, "`chains`"), ({"warmup": -1}, "`warmup`"), ({"samples": 1.5}, "`samples`"),
                          ({"target_accept": 1.0}, "`target_accept`"), ({"max_tree_depth": 20}, "`max_tree_depth`"),
                          ({"beta": -1.0}, "`beta`"), ({"threshold": 0.0}, "`threshold`"), ({"init": 3}, "`init`")]:
        with pytest.raises(ValueError, match=match):
            sampling.NutsConfig(**kwargs)
        with pytest.raises(ValueError, match=match):
            sampling.TemperingConfig(**kwargs)
    for kwargs, match in [({"n_temps": 0}, "`n_temps`"), ({"beta_min": 2.0}, "`beta_min`"),
                          ({"tune_ladder": 1}, "`tune_ladder`")]:
        with pytest.raises(ValueError, match=match):
            sampling.TemperingConfig(**kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.beta = 2.0


def test_posterior_sweep_kind_takes_beta_as_a_grid_axis():
    from theory import parse_experiment

    base = '[experiment]\nkind = "posterior"\nc = 6\nn = 200\nseed = 0\n'
    plain = parse_experiment(base).tasks(prepare=False)
    assert "beta" not in plain[0].config  # absent by default: existing task keys are unchanged
    tasks = parse_experiment(base + "beta = [0.5, 1.0]\n").tasks(prepare=False)
    assert [t.config["beta"] for t in tasks] == [0.5, 1.0]
    assert len({t.key for t in tasks} | {plain[0].key}) == 3
