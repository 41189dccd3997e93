"""NUTS runner, tempering on the TMS, occupancy with errors, diagnostics and storage."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import jax
import numpy as np
import pytest

import sampling
from kgon.io import ResultStore, write_atomic
from sampling.mcmc import io as sio
from sampling.mcmc.diagnostics import dominant_phases, warn_if_not_mixing

# Tiny settings shared with tests/theory/test_posterior_cli.py, so that the compiled sampler is reused.
TINY = dict(c=6, n=200, chains=2, warmup=40, samples=40)


@pytest.fixture(scope="module")
def nuts_result(catalogue6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sampling.PhaseMixingWarning)
        return sampling.run_occupancy(jax.random.PRNGKey(0), method="nuts", catalogue=catalogue6, data_seed=0, **TINY)


@pytest.fixture(scope="module")
def tempered_result(catalogue6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sampling.PhaseMixingWarning)
        return sampling.run_occupancy(
            jax.random.PRNGKey(1), method="tempered", catalogue=catalogue6, data_seed=0, n_temps=6, **TINY
        )


def _check_result(res, catalogue, method):
    d = res.to_dict()
    assert list(d) == ["n", "method", "occupancy", "occupancy_err", "rhat_loss", "ess_loss", "divergences"]
    json.dumps(d)  # JSON-able
    assert d["n"] == 200 and d["method"] == method == res.config["method"]
    assert sum(d["occupancy"].values()) == pytest.approx(1.0, abs=1e-12)
    assert set(d["occupancy"]) <= set(catalogue.labels()) | {"other"} and "other" in d["occupancy"]
    assert set(d["occupancy_err"]) == set(d["occupancy"])
    assert isinstance(d["divergences"], int)
    assert len(res.phase_switches) == 2
    assert res.config["threshold"] == pytest.approx(sampling.occupancy_threshold(200))


def test_nuts_occupancy_result(nuts_result, catalogue6):
    _check_result(nuts_result, catalogue6, "nuts")
    post = nuts_result.idata.posterior
    assert post["W"].shape == (2, 40, 2, 6) and post["loss"].shape == (2, 40)
    # the recorded loss is L_n at the recorded draw (same data set: data_seed=0)
    ds = sampling.make_dataset(jax.random.PRNGKey(0), 200, 6)
    pot = sampling.empirical_potential(ds)
    f = jax.jit(jax.vmap(pot.value))
    W = post["W"].values.reshape(-1, 2, 6)
    b = post["b"].values.reshape(-1, 6)
    np.testing.assert_allclose(np.asarray(f(W, b)), post["loss"].values.ravel(), rtol=1e-12)
    # phase codes decode to the labels the occupancy counts
    names = json.loads(nuts_result.idata.posterior.attrs["phase_labels"])
    labels = np.array(names)[post["phase"].values]
    for lab, occ in nuts_result.occupancy.items():
        assert np.mean(labels == lab) == pytest.approx(occ)
    # the posterior at n = 200 sits at low loss: well below the prior mean loss (> 1)
    assert post["loss"].values.mean() < 0.2


def test_tempered_occupancy_result(tempered_result, catalogue6):
    _check_result(tempered_result, catalogue6, "tempered")
    cfg = tempered_result.config
    betas = np.array(cfg["betas"])
    assert betas.shape == (6,) and betas[0] == 1.0 and np.all(np.diff(betas) < 0)
    assert betas[-1] == pytest.approx(1 / 200)
    assert len(cfg["swap_rate"]) == 5
    assert len(cfg["round_trips"]) == 2
    # colder replicas have lower mean loss
    assert np.all(np.diff(cfg["loss_mean_per_temperature"]) > -0.01)


def test_occupancy_estimate_bootstrap_error():
    # 8 chains, 6 entirely in "A", 2 in "B": occupancy 0.75; the bootstrap s.e. over chains is close
    # to the binomial sqrt(p (1 - p) / 8) = 0.153 (within the bootstrap's own ~3% Monte Carlo error)
    labels = np.array([["A"] * 50] * 6 + [["B"] * 50] * 2)
    occ, err, how = sampling.occupancy_estimate(labels, rng_key=jax.random.PRNGKey(0), n_boot=4000)
    assert occ == {"A": 0.75, "B": 0.25, "other": 0.0}
    assert err["A"] == pytest.approx(np.sqrt(0.75 * 0.25 / 8), rel=0.08)
    assert how == "bootstrap over 8 chains"
    # two chains: contiguous blocks are the bootstrap units
    occ2, err2, how2 = sampling.occupancy_estimate(np.array([["A"] * 40 + ["B"] * 40] * 2))
    assert occ2["A"] == 0.5 and err2["A"] > 0.1 and how2 == "bootstrap over 8 blocks of 2 chains"
    with pytest.raises(ValueError, match="`labels` must have shape"):
        sampling.occupancy_estimate(np.array(["A", "B"]))


def test_pool_occupancy(nuts_result):


    a = replace(nuts_result, occupancy={"5": 0.6, "6": 0.4, "other": 0.0})
    b = replace(nuts_result, occupancy={"5": 0.2, "6": 0.8, "other": 0.0})
    pooled = sampling.pool_occupancy([a, b])
    assert pooled["occupancy"]["6"] == pytest.approx(0.6) and pooled["replicates"] == 2
    assert pooled["occupancy_err"]["6"] == pytest.approx(np.std([0.4, 0.8], ddof=1) / np.sqrt(2))
    with pytest.raises(ValueError, match="must share n and method"):
        sampling.pool_occupancy([a, replace(b, n=300)])


def _mixing_message(method: str) -> str:
    labels = np.array([["5"] * 4, ["6"] * 4])
    with pytest.warns(sampling.PhaseMixingWarning) as caught:
        assert warn_if_not_mixing(labels, method=method, n=500)
    return str(caught[0].message)


def test_mixing_warning_under_nuts_advises_tempering_or_more_chains():
    msg = _mixing_message("nuts")
    assert msg.startswith("nuts at n=500") and "method='tempered'" in msg and "more chains" in msg


def test_mixing_warning_under_tempering_advises_a_longer_ladder_not_tempering():
    msg = _mixing_message("tempered")
    assert msg.startswith("tempered at n=500")
    assert "method='tempered'" not in msg
    assert "n_temps" in msg and "more sweeps" in msg and "more ladders" in msg


def test_phase_diagnostics_and_warning():
    labels = np.array([["5", "5", "other", "6", "6"], ["6", "6", "6", "6", "6"]])
    assert sampling.phase_switches(labels) == (1, 0)
    assert dominant_phases(labels) == ("5", "6")  # tie 2-2 in chain 0: the label reached first
    with pytest.warns(sampling.PhaseMixingWarning, match="chains disagree about the phase"):
        assert warn_if_not_mixing(labels, method="nuts", n=3000)
    mixed = np.array([["6"] * 5, ["6", "6", "5", "6", "6"]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", sampling.PhaseMixingWarning)
        assert not warn_if_not_mixing(mixed, method="nuts", n=3000)  # same dominant phase: no warning
    d = sampling.chain_diagnostics(np.array([[0.1, 0.2, 0.1, 0.2, 0.1], [0.15] * 5]), np.zeros((2, 5), bool))
    assert isinstance(d, sampling.ChainDiagnostics) and d.divergences == 0 and d.rhat_loss > 0
    assert set(d.to_dict()) == {"rhat_loss", "ess_loss", "divergences"}


def test_posterior_store_round_trip_and_atomicity(nuts_result, tmp_path, monkeypatch):
    """One n as a kgon.io.ResultStore entry: summary record, netCDF and CSV attachments; reused, not recomputed."""
    import arviz as az

    calls = []

    def fake_run_occupancy(key, config, *, catalogue, progress=False):
        calls.append(config.n)
        return nuts_result

    monkeypatch.setattr(sio, "run_occupancy", fake_run_occupancy)
    cfg = sampling.OccupancyConfig(method="nuts", data_seed=0, **TINY)
    res, reused = sio.posterior_entry(ResultStore(tmp_path), cfg, seed=0, catalogue=lambda: None)
    assert (reused, calls) == (False, [200])
    assert res == json.loads(json.dumps(nuts_result.to_dict()))
    again, reused = sio.posterior_entry(ResultStore(tmp_path), cfg, seed=0, catalogue=lambda: None)
    assert (reused, calls, again) == (True, [200], res)
    entry = ResultStore(tmp_path).get(sio.posterior_store_config(cfg, 0))
    idata = az.from_netcdf(entry.attachment("nc"))
    np.testing.assert_array_equal(idata.posterior["W"].values, nuts_result.idata.posterior["W"].values)
    assert json.loads(idata.attrs["occupancy"])["occupancy"] == nuts_result.occupancy
    assert sio.read_occupancy_csv(entry.attachment("csv")) == res
    assert sio.read_posterior_store(tmp_path) == [res]
    # the key follows every setting and the seed
    keys = {ResultStore.key(sio.posterior_store_config(c, s)) for c, s in
            [(cfg, 0), (cfg, 1), (replace(cfg, warmup=41), 0), (replace(cfg, data_seed=None), 0)]}
    assert len(keys) == 4
    # a write that fails half-way leaves neither the final file nor a temporary one
    target = tmp_path / "x.csv"

    def boom(p):
        p.write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert not target.exists() and list(tmp_path.glob(".tmp-*")) == []


def test_posterior_over_n_resumes_after_an_interrupt(nuts_result, tmp_path, monkeypatch):
    calls, stop_at = [], [300]

    def fake_run_occupancy(key, config, *, catalogue, progress=False):
        if config.n in stop_at:
            raise KeyboardInterrupt  # the run is killed while sampling n = 300
        calls.append(config.n)
        return replace(nuts_result, n=config.n, idata=None)  # no draws to write: the loop is what is tested

    monkeypatch.setattr(sio, "run_occupancy", fake_run_occupancy)
    settings = dict(c=6, chains=2, warmup=40, samples=40, data_seed=0)
    with pytest.raises(KeyboardInterrupt):
        sio.posterior_over_n(ResultStore(tmp_path), [100, 200, 300], seed=0, catalogue=lambda: None, **settings)
    assert calls == [100, 200]
    stop_at.clear()
    results, reused = sio.posterior_over_n(ResultStore(tmp_path), [100, 200, 300], seed=0, catalogue=lambda: None,
                                           **settings)
    assert calls == [100, 200, 300] and reused == 2  # only the missing n was computed
    assert [r["n"] for r in results] == [100, 200, 300]
    assert results == sio.read_posterior_store(tmp_path)
    # a directory written by the layout before the store is refused with one line
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "posterior-n200-nuts-0123abcd.csv").write_text("")
    with pytest.raises(ValueError, match="older version"):
        sio.posterior_over_n(ResultStore(tmp_path / "old"), [100], seed=0, catalogue=lambda: None, **settings)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0), "`n` must be an integer >= 1; got 0."),
        (dict(c=1), "`c` must be an integer >= 2; got 1."),
        (dict(chains=0), "`chains` must be an integer >= 1; got 0."),
        (dict(method="gibbs"), "`method` must be one of \\['nuts', 'tempered'\\]; got 'gibbs'."),
        (dict(catalogue=None), "`catalogue` must be a kgon.Catalogue"),
        (dict(c=5), "`catalogue` is for c = 6; got c = 5."),
        (dict(threshold=-1.0), "`threshold` must be a positive number"),
    ],
)
def test_run_occupancy_bad_input(kwargs, match, catalogue6):
    args = dict(c=6, n=100, method="nuts", chains=2, warmup=10, samples=10, catalogue=catalogue6)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sampling.run_occupancy(jax.random.PRNGKey(0), **args)


def test_run_nuts_bad_input():
    ds = sampling.make_dataset(jax.random.PRNGKey(0), 50, 6)
    with pytest.raises(ValueError, match="`warmup` must be an integer >= 0; got -1."):
        sampling.run_nuts(jax.random.PRNGKey(0), ds, chains=1, warmup=-1, samples=5)
    with pytest.raises(ValueError, match="`init` = 'catalogue' needs a `catalogue`"):
        sampling.run_nuts(jax.random.PRNGKey(0), ds, chains=1, warmup=1, samples=1, init="catalogue")
    with pytest.raises(ValueError, match="`dataset` must be a sampling.Dataset"):
        sampling.run_nuts(jax.random.PRNGKey(0), "data", chains=1, warmup=1, samples=1)


def test_initial_points_from_catalogue(catalogue6):
    import kgon

    z = sampling.initial_points(jax.random.PRNGKey(0), ["6", "5"], count=4, r=2, c=6, catalogue=catalogue6, jitter=1e-3)
    W, b = z[:, :12].reshape(4, 2, 6), z[:, 12:]
    # randomly rotated and permuted copies of the points: still classified as the same phase
    assert list(kgon.classify(W, b, catalogue6)) == ["6", "5", "6", "5"]
    assert not np.allclose(W[0], W[2])
    with pytest.raises(ValueError, match="`init` must be"):
        sampling.initial_points(jax.random.PRNGKey(0), ["nope"], count=1, r=2, c=6, catalogue=catalogue6)


def test_crossing_estimate_takes_the_first_significant_up_crossing():
    """Of several up-crossings the first is the crossing (as the theory's), except where the two
    phases hold <= min_mass together (noise): a low-mass flicker at n = 120-150, the crossing at
    n = 200-300 (interpolated in log n), a fall back at 400 and a second crossing at 400-600."""
    import math

    occ = {100: (0.004, 0.001), 150: (0.002, 0.006), 200: (0.6, 0.3), 300: (0.3, 0.6), 400: (0.55, 0.4),
           600: (0.1, 0.85)}
    rows = [{"n": n, "occupancy": {"5": a, "6": b}, "occupancy_err": {"5": 0.0, "6": 0.0}} for n, (a, b) in occ.items()]
    first = math.exp(math.log(200) + 0.5 * (math.log(300) - math.log(200)))
    assert sampling.crossing_estimate(rows, min_mass=0.02, n_boot=10).n == pytest.approx(first)
    noise = sampling.crossing_estimate(rows, n_boot=10).n  # without min_mass the flicker counts
    assert 100 < noise < 150
