"""Self-calibrating SGLD (estimate_llc(..., calibrate=True); sampling.dynamics.calibrate) and the typed
SGLD configuration. Fast: small models, fixed seeds, tolerances from the Monte Carlo error."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sampling import SGLDConfig, estimate_llc
from sampling.dynamics.calibrate import CalibrationSetting, choose_setting
from sampling.dynamics.sgld import quadratic_loss

CURV = jnp.array([1.0, 2.0, 0.5, 3.0])


def exact_gaussian(h, nbeta, gamma, eps):
    """E[n beta L] under SGLD's stationary law for L = 1/2 sum h_i w_i^2 (tests/sampling/test_llc_known_truths.py)."""
    h = np.asarray(h, dtype=float)
    k = nbeta * h + gamma
    return float(np.sum((nbeta * h / k) / (2 * (1 - eps * k / 4))))


def _setting(eps, llc, se=0.05, ok=True, gamma=1.0):
    return CalibrationSetting(eps=eps, gamma=gamma, llc=llc, llc_se=se, acceptance=0.99 if ok else 0.5,
                              excluded_chains=0, drift=0.0, drift_se=0.1, healthy=True, accurate=ok,
                              stationary=True, on_plateau=False, failures=() if ok else ("MALA acceptance 0.5 < 0.95",))


def test_choose_largest_step_on_the_plateau():
    # eps descending: biased (large), then a plateau at 2.0, then an unmixed small step (too low)
    s = [_setting(1.0, 3.0, ok=False), _setting(0.5, 2.4), _setting(0.25, 2.02), _setting(0.125, 2.0),
         _setting(0.0625, 1.2)]
    out, chosen, why = choose_setting(s, plateau_rtol=0.02)
    assert chosen == 2 and out[2].on_plateau and not out[1].on_plateau
    assert "largest step" in why and "2.020" in why


def test_choose_reports_no_setting():
    s = [_setting(1.0, 3.0, ok=False), _setting(0.5, 2.4, ok=False)]
    out, chosen, why = choose_setting(s, plateau_rtol=0.02)
    assert chosen is None and "no setting passes" in why and "MALA acceptance" in why
    s = [_setting(0.5, 3.0), _setting(0.25, 2.0), _setting(0.125, 1.0)]   # no two neighbours agree
    assert choose_setting(s, plateau_rtol=0.02)[1] is None
    s = [_setting(0.5, 3.0, ok=False), _setting(0.25, 2.0)]                # one passes: plateau not confirmed
    out, chosen, why = choose_setting(s, plateau_rtol=0.02)
    assert chosen == 1 and "plateau not confirmed" in why


def test_choose_smallest_gamma_with_a_valid_step():
    s = [_setting(0.5, 2.0, gamma=0.1, ok=False), _setting(0.25, 1.9, gamma=0.1, ok=False),
         _setting(0.5, 2.0, gamma=1.0), _setting(0.25, 2.0, gamma=1.0),
         _setting(0.5, 1.5, gamma=10.0), _setting(0.25, 1.5, gamma=10.0)]
    _, chosen, why = choose_setting(s, plateau_rtol=0.02)
    assert chosen == 2 and "weakest localisation" in why


def test_calibrated_regular_model():
    """lambda = d/2 = 2 for a regular model; the calibrated estimate agrees with the exact stationary
    value of SGLD at the chosen step within 4 standard errors, and that step is accurate."""
    nbeta = 1000.0
    res = estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(4), CURV, calibrate=True,
                       config=SGLDConfig(nbeta=nbeta, burnin=400, draws=2000, chains=8))
    cal = res.calibration
    assert cal is not None and cal.chosen is not None and res.calibrated
    assert 2 <= len(cal.settings) <= 8 and res.config.eps == cal.eps
    # same SGLD time everywhere: steps x eps constant (counted at the reference step 1/(8 n beta))
    for s in cal.settings:
        assert s.eps * s.steps == pytest.approx(0.4 * 2400 / (8 * nbeta), rel=0.01)
    assert res.config.eps * (res.config.burnin + res.config.draws) == pytest.approx(2400 / (8 * nbeta), rel=0.01)
    chosen = cal.settings[cal.chosen]
    assert chosen.passes and chosen.on_plateau and chosen.acceptance >= 0.95
    # the largest passing step on the plateau: every larger step failed a check or is off the plateau
    assert all(not (s.passes and s.on_plateau) for s in cal.settings if s.eps > chosen.eps)
    # the reported estimate is the two-temperature one (beta2 = beta / 2, same step): exact target
    g, e = res.config.gamma, res.config.eps
    exact = 2 * exact_gaussian(CURV, nbeta / 2, g, e) - exact_gaussian(CURV, nbeta, g, e)
    assert res.estimator == "two_temperature" and res.parts[1].config.nbeta == pytest.approx(nbeta / 2)
    assert abs(res.llc - exact) <= 4 * res.llc_se
    assert abs(res.llc_plain - exact_gaussian(CURV, nbeta, g, e)) <= 4 * res.llc_plain_se
    assert abs(exact - 2.0) < 0.05 * 2.0
    assert cal.sweep_steps == 8 * sum(s.steps for s in cal.settings)
    d = res.to_dict()
    assert d["calibration"]["chosen"] == cal.chosen and d["calibrated"] is True


def test_calibration_nan_with_reason_when_nothing_passes():
    """Centre that is not a minimum: every chain escapes at every step -> NaN and the reason."""
    res = estimate_llc(jax.random.key(1), quadratic_loss, jnp.ones(4), CURV, calibrate=True,
                       config=SGLDConfig(nbeta=100.0, burnin=50, draws=200, eps_grid=[0.01, 0.005, 0.0025]))
    assert math.isnan(res.llc) and res.calibration.chosen is None
    assert "no setting passes" in res.reason and "escaped" in res.reason


def test_calibrate_rejects_an_explicit_step():
    with pytest.raises(ValueError, match="`eps`"):
        estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(4), CURV, calibrate=True,
                     config=SGLDConfig(nbeta=10.0, eps=1e-3))
    with pytest.raises(ValueError, match="`eps_grid`"):
        estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(4), CURV, calibrate=True,
                     config=SGLDConfig(nbeta=10.0, eps_grid=[-1.0]))


def test_sgld_config_is_typed_frozen_and_validated():
    cfg = SGLDConfig(nbeta=10.0, eps=1e-3, gamma=1.0)
    assert cfg.eps == 1e-3 and cfg.chains is None and cfg.estimator is None
    assert not hasattr(cfg, "__getitem__") and not hasattr(cfg, "keys")  # a record, not a mapping
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.eps = 2.0
    with pytest.raises(ValueError, match=r"`eps` must be a positive number; got -1"):
        SGLDConfig(nbeta=10.0, eps=-1.0, gamma=1.0)
    with pytest.raises(ValueError, match=r"`chains` must be an integer >= 1; got 0"):
        SGLDConfig(nbeta=10.0, eps=1e-3, gamma=1.0, chains=0)
    with pytest.raises(ValueError, match=r"`min_acceptance`"):
        SGLDConfig(nbeta=10.0, eps=1e-3, gamma=1.0, min_acceptance=2.0)
    with pytest.raises(ValueError, match=r"`estimator` must be one of"):
        SGLDConfig(estimator="wbic")
    with pytest.raises(ValueError, match=r"`eps_grid` must be a non-empty sequence"):
        SGLDConfig(eps_grid=[])
    assert SGLDConfig(eps_grid=[0.1, 0.01, 0.1]).eps_grid == (0.01, 0.1)
    # the estimator's result holds one, with the settings it was called with and the defaults resolved
    res = estimate_llc(jax.random.key(2), quadratic_loss, jnp.zeros(4), CURV,
                       config=SGLDConfig(nbeta=50.0, eps=1e-3, chains=2, draws=10))
    assert isinstance(res.config, SGLDConfig) and res.config.eps == 1e-3 and res.config.draws == 10
    assert res.config.divergence_threshold == 40.0 and res.calibration is None and res.reason == ""
    assert res.config.chains == 2 and res.config.burnin == 0 and res.config.estimator == "plain" and res.d == 4
    assert not res.calibrated


@pytest.mark.slow
def test_llc_cli_calibrate(catalogue6, tmp_path):
    """``tmsphase llc --calibrate``: the sweep and its reason in the JSON, the step chosen from the grid,
    the calibration figure next to the diagnostics figure; --eps with --calibrate is an argument error."""
    import contextlib
    import io
    import json

    from theory.cli import main

    def run(argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        return code, out.getvalue()

    code, out = run(["llc", "--point", "6", "--c", "6", "--n", "100000", "--chains", "8", "--burnin", "100",
                     "--draws", "600", "--calibrate", "--json", "--plot", str(tmp_path / "llc.png")])
    assert code == 0
    d = json.loads(out)
    cal = d["calibration"]
    assert 1 <= len(cal["settings"]) <= 9 and cal["reason"]
    nbeta = d["nbeta"]
    if cal["chosen"] is None:
        assert d["llc"] is None and d["reason"] == cal["reason"]
    else:
        assert d["config"]["eps"] == pytest.approx(cal["settings"][cal["chosen"]]["eps"])
        assert any(d["config"]["eps"] * nbeta == pytest.approx(2.0 ** -k) for k in range(9))
        assert d["calibrated"] is True and d["llc"] > 0
        assert d["estimator"] == "two_temperature" and d["llc_plain"] > 0
    assert (tmp_path / "llc-calibration.png").stat().st_size > 0
    code, _ = run(["llc", "--point", "6", "--c", "6", "--n", "1000", "--calibrate", "--eps", "1e-3"])
    assert code == 2


@pytest.mark.slow
def test_acceptance_tms_calibrated(catalogue6):
    """Acceptance (docs/llc.md §3): calibrate=True with defaults (16 chains) at c = 6, n = 1e5: the mean of
    3 seeds is within 3% of the catalogue value, allowing 3 standard errors of that mean on top."""
    from sampling import make_dataset, tms_llc, tms_truth

    for label in ("5", "6"):
        truth = tms_truth(label, 6, catalogue=catalogue6)
        vals, ses = [], []
        for seed in range(3):
            k_data, k_chain = jax.random.split(jax.random.key(seed))
            res = tms_llc(k_chain, *truth.w_star, make_dataset(k_data, 100_000, 6), calibrate=True,
                          config=SGLDConfig(chains=16))
            assert res.calibration.chosen is not None and res.llc > 0, res.reason
            assert res.estimator == "two_temperature"
            vals.append(res.llc)
            ses.append(res.llc_se)
        mean, se = float(np.mean(vals)), float(np.sqrt(np.sum(np.square(ses))) / 3)
        assert abs(mean - truth.llc) <= 0.03 * truth.llc + 3 * se, (label, vals, ses)


@pytest.mark.slow
@pytest.mark.parametrize("widths", [(5, 3, 5)])
def test_dln_calibrated_two_temperature_within_5_percent(widths):
    """Deep linear networks at rank 0, n = 1e5 at the true parameter, calibrate=True and defaults: the
    reported (two-temperature) estimate is within 5% of lambda (+ 3 standard errors), while the plain
    estimate it carries reads its finite-n target at w0, below lambda by about beta lambda (beta = 1/log n;
    docs/llc.md §4: (d/2)(1 - beta) exactly for a regular model). (5,3,5): lambda = 6.5, two layers. The
    three-layer (6,3,3,6) (lambda = 4.5; its calibrated step 1/128 makes one estimate ~5-8 minutes on 2
    cores) is measured in docs/benchmarks.md ("Calibrated estimates vs known truths": -1.9% over 3 seeds)."""
    from sampling import dln_data, dln_loss, dln_truth

    truth = dln_truth(widths, 0)
    n = 100_000
    beta = 1 / math.log(n)
    res = estimate_llc(jax.random.key(0), dln_loss, tuple(jnp.asarray(W) for W in truth.w_star),
                       dln_data(jax.random.key(1000), truth, n), n=n, calibrate=True)
    assert res.calibration.chosen is not None and res.estimator == "two_temperature"
    assert abs(res.llc - truth.llc) <= 0.05 * truth.llc + 3 * res.llc_se, (res.llc, res.llc_se)
    assert truth.llc * (1 - 2 * beta) - 4 * res.llc_plain_se <= res.llc_plain <= truth.llc
