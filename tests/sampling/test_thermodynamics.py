"""Known-answer tests of the posterior thermodynamics (sampling.mcmc.thermodynamics): the specific heat of
a two-component mixture, thermodynamic integration of Gaussian integrals with a known log Z (overall
and per phase), WBIC and WAIC on a conjugate Gaussian linear regression sampled exactly, the
specific-heat peak of a logistic two-phase curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import log_ndtr

import sampling

# --------------------------------------------------------------------------------------------------
# specific heat


def test_specific_heat_of_a_two_component_mixture_and_its_phases():
    rng = np.random.default_rng(1)
    C, T, p = 8, 4000, 0.3
    lab = np.where(rng.random((C, T)) < p, "a", "b")
    E = np.where(lab == "a", rng.normal(0.0, 2.0, (C, T)), rng.normal(10.0, 3.0, (C, T)))
    sh = sampling.specific_heat(E, lab, seed=0)
    exact = p * 4 + (1 - p) * 9 + p * (1 - p) * 100  # law of total variance: 28.5
    assert abs(sh.value - exact) < 4 * sh.err, (sh.value, sh.err)
    assert sh.err < 1.0
    occ, mean, var, count = sh.by_phase["a"]
    assert abs(occ - p) < 0.01 and abs(mean) < 0.1 and abs(var - 4) < 0.2 and count == (lab == "a").sum()
    assert abs(sh.by_phase["b"][2] - 9) < 0.4
    within = sum(o * v for o, _, v, _ in sh.by_phase.values())
    assert abs(within + sh.mixture_part() - sh.value) < 0.01 * sh.value
    assert abs(sh.mixture_part() - p * (1 - p) * 100) < 2.0
    assert sh.chain_var.shape == (C,)


def test_specific_heat_error_from_blocks_of_few_chains_matches_the_gaussian_formula():
    rng = np.random.default_rng(7)
    E = rng.normal(0.0, 3.0, size=(2, 4000))  # iid: Var(s^2) = 2 sigma^4 / (N - 1)
    sh = sampling.specific_heat(E, seed=0)
    expected = 2 * 81 / (E.size - 1)
    assert abs(sh.err**2 / expected - 1) < 0.6, (sh.err**2, expected)


def test_specific_heat_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        sampling.specific_heat(np.zeros((2, 5)) + np.arange(5), np.array([["a"] * 4] * 2))


# --------------------------------------------------------------------------------------------------
# thermodynamic integration: E(w) = a ||w - m||^2, prior N(0, I_d)


def _gauss_moments(t, a, m):
    """Exact E_t[E], Var_t(E), log Z(t) for E = a ||w - m||^2 under N(0, I) exp(-t E)."""
    t = np.asarray(t, dtype=float)[..., None]
    s2 = 1.0 / (1.0 + 2 * t * a)
    mu = 2 * t * a * m * s2
    d = mu - m
    mean = (a * (d**2 + s2)).sum(-1)
    var = (a * a * (4 * d**2 * s2 + 2 * s2**2)).sum(-1)
    logz = (0.5 * np.log(s2) - t * a * m**2 * s2).sum(-1)
    return mean, var, logz, mu, np.sqrt(s2)


A, M = 500.0, np.array([0.3, -0.2, 0.5])


def test_thermodynamic_integral_exact_moments_recovers_log_z():
    exact = -_gauss_moments(1.0, A, M)[2]
    prior_mean = float(A * (M**2 + 1).sum())
    for t_min, tol in ((1.0 / A, 0.3), (0.1 / A, 0.02)):  # the ladder of run_tempering (t_min n = 1), one hotter
        betas = sampling.geometric_ladder(16, t_min)
        mean, var, _, _, _ = _gauss_moments(betas, A, M)
        ti = sampling.thermodynamic_integral(betas, energy_mean=mean, energy_var=var, prior_energy_mean=prior_mean)
        assert abs(ti.free_energy - exact) < ti.quadrature_err + ti.tail_err, (ti, exact)
        assert abs(ti.free_energy - exact) < tol
    # the plain trapezoid (no variances) is worse: the Hermite correction is what makes it accurate
    plain = sampling.thermodynamic_integral(betas, energy_mean=mean, prior_energy_mean=prior_mean)
    assert abs(plain.free_energy - exact) > 3 * abs(ti.free_energy - exact)


def test_thermodynamic_integral_from_exact_draws_within_monte_carlo_error():
    rng = np.random.default_rng(2)
    betas = sampling.geometric_ladder(16, 0.1 / A)
    _, _, _, mu, s = _gauss_moments(betas, A, M)  # (K, d)
    w = mu[None, None] + s[None, None] * rng.normal(size=(8, 1000) + mu.shape)
    E = (A * (w - M) ** 2).sum(-1)  # (chains, draws, K)
    exact = -_gauss_moments(1.0, A, M)[2]
    ti = sampling.thermodynamic_integral(betas, E, prior_energy_mean=float(A * (M**2 + 1).sum()), n_boot=200)
    assert 0 < ti.mc_err < 0.2
    assert abs(ti.free_energy - exact) < 4 * ti.err, (ti.free_energy, exact, ti.err)


def test_thermodynamic_integral_validates_the_ladder():
    with pytest.raises(ValueError, match="betas"):
        sampling.thermodynamic_integral([0.5, 1.0], energy_mean=[1.0, 2.0])
    with pytest.raises(ValueError, match="betas\\[0\\]"):
        sampling.thermodynamic_integral([0.9, 0.5], energy_mean=[1.0, 2.0])


# per phase: a 1-d two-well energy, E = a (w - m_p)^2 + c_p on the half-line of phase p


def _well_logz(t, a, m, c, side):
    """log of int_{half-line} N(w; 0, 1) exp(-t (a (w - m)^2 + c)) dw (side -1: w < 0, +1: w >= 0)."""
    s2 = 1.0 / (1.0 + 2 * t * a)
    mu = 2 * t * a * m * s2
    return -t * c + 0.5 * math.log(s2) - t * a * m * m * s2 + log_ndtr(side * mu / math.sqrt(s2))


def _well_draws(rng, t, wells, shape):
    from scipy.stats import truncnorm

    lz = np.array([_well_logz(t, *wp) for wp in wells])
    p = np.exp(lz - lz.max())
    p /= p.sum()
    pick = rng.random(shape) < p[0]
    E = np.empty(shape)
    for k, (a, m, c, side) in enumerate(wells):
        s2 = 1.0 / (1.0 + 2 * t * a)
        mu, s = 2 * t * a * m * s2, math.sqrt(s2)
        lo, hi = ((-np.inf, -mu / s) if side < 0 else (-mu / s, np.inf))
        sel = pick if k == 0 else ~pick
        w = truncnorm.rvs(lo, hi, loc=mu, scale=s, size=int(sel.sum()), random_state=rng)
        E[sel] = a * (w - m) ** 2 + c
    return E, np.where(pick, "A", "B")


def test_phase_free_energies_match_the_exact_two_well_integrals():
    rng = np.random.default_rng(3)
    wells = [(200.0, -0.5, 0.0, -1), (200.0, 0.6, 1.5, +1)]
    betas = sampling.geometric_ladder(8, 0.05)
    draws = [_well_draws(rng, t, wells, (8, 1500)) for t in betas]
    pf = sampling.phase_free_energies(betas, [d[0] for d in draws], [d[1] for d in draws], n_boot=200)
    exact = -_well_logz(1.0, *wells[0]) + _well_logz(1.0, *wells[1])  # F(A) - F(B)
    diff, err = pf.difference("A", "B")
    assert 0 < err < 0.3
    assert abs(diff - exact) < 4 * err + pf.quadrature_err["A"] + pf.quadrature_err["B"], (diff, exact, err)
    # the occupancy at t = 1 says the same: F(A) - F(B) = log P_1(B) / P_1(A)
    occ1 = np.mean(draws[0][1] == "A")
    assert abs(math.log((1 - occ1) / occ1) - exact) < 0.15


# --------------------------------------------------------------------------------------------------
# WBIC and WAIC on a conjugate regular model: y = x . w0 + eps, eps ~ N(0, 1/2), prior N(0, I_d)


def _regression(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w0 = np.linspace(-0.5, 0.5, d)
    y = X @ w0 + rng.normal(scale=math.sqrt(0.5), size=n)
    return rng, X, y


def _posterior(X, y, beta):
    P = np.eye(X.shape[1]) + 2 * beta * X.T @ X
    Sigma = np.linalg.inv(P)
    return Sigma @ (2 * beta * X.T @ y), Sigma


def test_wbic_complexity_term_is_d_over_2_in_a_regular_model():
    n, d = 5000, 4
    rng, X, y = _regression(n, d, 4)
    bw = 1.0 / math.log(n)
    mu, Sigma = _posterior(X, y, bw)
    w = rng.multivariate_normal(mu, Sigma, size=(8, 250))
    E = ((y - w @ X.T) ** 2).sum(-1)  # n L_n of every draw, (chains, draws)
    res = sampling.wbic(n, energy=E)
    exact = float(((y - X @ mu) ** 2).sum() + np.trace(X.T @ X @ Sigma))
    assert abs(res.value - exact) < 4 * res.err, (res.value, exact, res.err)
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    e_min = float(((y - X @ w_hat) ** 2).sum())
    assert abs((exact - e_min) / math.log(n) - d / 2) < 0.01 * d
    assert abs(res.complexity(e_min, n) - d / 2) < 4 * res.err / math.log(n) + 0.01 * d


def test_wbic_from_a_ladder_interpolates_the_exact_mean():
    n = 1000
    betas = sampling.geometric_ladder(12, 1.0 / n)
    a, m = float(n), np.array([0.2, 0.1])
    mean, var, *_ = _gauss_moments(betas, a, m)
    exact = _gauss_moments(1.0 / math.log(n), a, m)[0]
    hermite = sampling.wbic(n, betas=betas, energy_mean=mean, energy_var=var)
    linear = sampling.wbic(n, betas=betas, energy_mean=mean)
    assert abs(hermite.value - exact) < 1e-3 * exact
    assert abs(linear.value - exact) < 0.05 * exact
    with pytest.raises(ValueError, match="contain"):
        sampling.wbic(n, betas=betas[:3], energy_mean=mean[:3])


def test_waic_functional_variance_is_d_in_a_regular_model():
    n, d = 1000, 3
    rng, X, y = _regression(n, d, 5)
    mu, Sigma = _posterior(X, y, 1.0)
    w = rng.multivariate_normal(mu, Sigma, size=(8, 400))
    ll = -((y - w @ X.T) ** 2) - 0.5 * math.log(math.pi)  # (chains, draws, n)
    res = sampling.waic(ll, n_boot=50)
    # exact posterior moments of u_i = y_i - x_i . w ~ N(r_i, s_i^2); log p = -u^2 + const
    r = y - X @ mu
    s2 = np.einsum("ij,jk,ik->i", X, Sigma, X)
    v_exact = float((4 * r**2 * s2 + 2 * s2**2).sum())
    t_exact = float(np.mean(r**2 / (1 + 2 * s2) + 0.5 * np.log(1 + 2 * s2)) + 0.5 * math.log(math.pi))
    assert abs(res.functional_variance - v_exact) < 4 * res.mc_err, (res.functional_variance, v_exact, res.mc_err)
    assert abs(res.training_loss - t_exact) < 1e-3
    assert abs(v_exact - d) < 0.1 * d  # V_n -> d (data fluctuation ~ sqrt(2/n) relative)
    assert abs(res.singular_fluctuation - res.functional_variance / 2) < 1e-12
    assert abs(res.waic - (res.training_loss + res.functional_variance / n)) < 1e-12


def test_waic_validates_input():
    with pytest.raises(ValueError, match="log_lik"):
        sampling.waic(np.zeros(5))
    with pytest.raises(ValueError, match="beta"):
        sampling.waic(np.zeros((4, 5)), beta=0)


# --------------------------------------------------------------------------------------------------
# specific-heat peak


def _two_phase_heat(ns, n0, width=0.15, gap=6.0, base=8.0):
    p = 1 / (1 + np.exp(-(np.log(ns) - math.log(n0)) / width))
    return base + p * (1 - p) * gap**2


def test_specific_heat_peak_finds_a_logistic_transition():
    ns = np.array([150, 200, 250, 300, 350, 400, 450, 500, 600, 800, 1000], dtype=float)
    n0 = 380.0
    clean = _two_phase_heat(ns, n0)
    rng = np.random.default_rng(6)
    chains = [c * rng.gamma(50, 1 / 50, size=4) for c in clean]  # 4 noisy per-chain variances per n
    peak = sampling.specific_heat_peak(ns, [c.mean() for c in chains], chains, seed=0)
    assert abs(peak.n - n0) < 0.1 * n0, peak
    assert peak.ci_low < n0 < peak.ci_high and peak.bracketed > 0.9
    exact = sampling.specific_heat_peak(ns, clean)
    assert abs(exact.n - n0) < 0.05 * n0 and exact.ci_low is None


def test_specific_heat_peak_at_the_grid_end_is_not_bracketed():
    ns = [100, 200, 300, 400]
    assert sampling.specific_heat_peak(ns, [1, 2, 3, 4]).n is None
    with pytest.raises(ValueError, match="ns"):
        sampling.specific_heat_peak([100, 50, 300], [1, 2, 1])
