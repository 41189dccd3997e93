"""Known answers for the LLC milestone detector and the smoother (theory.development, seed 002 A.5)."""

import numpy as np
import pytest

from theory import detect_milestones, smooth_curve


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_gp_slope_of_a_noisy_line():
    # y = 2 x + white noise (sd 0.1): the slope is 2 on average, and pointwise to within ~ a few
    # sd / bandwidth (the GP nearly interpolates at this signal-to-noise ratio)
    rng = np.random.default_rng(0)
    x = np.linspace(0, 5, 120)
    y = 2 * x + 0.1 * rng.normal(size=x.size)
    for method in ("gp", "kernel"):
        sc = smooth_curve(x, y, bandwidth=0.5, method=method)
        inner = (x > 1) & (x < 4)
        assert abs(sc.slope[inner].mean() - 2.0) < 0.05, method
        assert np.allclose(sc.slope[inner], 2.0, atol=0.5), method
        assert np.allclose(sc.smooth[inner], 2 * x[inner], atol=0.15), method  # 1.5 sd


def _steps():
    return np.concatenate([[0], np.unique(np.round(np.geomspace(1, 1e6, 200)).astype(int))])


@pytest.mark.parametrize("second", [+3.0, -1.5])
def test_milestones_on_synthetic_plateaus(second):
    # plateaus of the LLC at log10 t in [0, 1.6], [2.4, 3.6], [4.4, 6]; transitions centred at 2 and 4.
    # second > 0: two Type A stages (the middle boundary needs the tolerance); < 0: A then B (a crossing)
    steps = _steps()
    x = np.log10(np.maximum(steps, 1))
    rng = np.random.default_rng(1)
    llc = 5 + 2 * _sig((x - 2) / 0.08) + second * _sig((x - 4) / 0.08) + 0.05 * rng.normal(size=x.size)
    plateaus = [(0, 1.7), (2.3, 3.7), (4.3, 6.0)]  # the sigmoids change by < 2% outside +-0.3
    raw = detect_milestones(steps, llc, bandwidth=0.15, tolerance=0.3)  # seed 002's procedure
    ms = np.log10(raw.milestone_steps)
    assert all(any(a <= m <= b for a, b in plateaus) for m in ms), ms
    sa = detect_milestones(steps, llc, bandwidth=0.15, tolerance=0.3, min_change=0.5)
    ms = np.log10(sa.milestone_steps)
    assert len(ms) == 3 < len(raw.milestones)  # the noise wiggles on the plateaus are merged
    assert all(any(a <= m <= b for a, b in plateaus) for m in ms), ms  # every milestone on a plateau
    assert all(any(a <= m <= b for m in ms) for a, b in plateaus), ms  # every plateau found
    # the stage containing each transition has the right type
    for centre, typ in ((2.0, "A"), (4.0, "A" if second > 0 else "B")):
        st = [s for s in sa.stages if np.log10(max(s.first_step, 1)) <= centre <= np.log10(s.last_step)]
        assert len(st) == 1 and st[0].type == typ


def test_milestone_kinds_on_smooth_curves():
    # a parabola in x = log10 t: one zero crossing of the slope at its top; a ramp whose slope
    # 1 - 0.9 cos(x - 3) dips to 0.1 < tolerance at x = 3 without changing sign: one tolerance milestone
    steps = np.geomspace(10, 1e5, 150)
    x = np.log10(steps)
    bump = detect_milestones(steps, -((x - 3) ** 2), bandwidth=0.1, noise=1e-8)
    assert [m.kind for m in bump.milestones] == ["crossing"]
    assert abs(np.log10(bump.milestones[0].step) - 3) < 0.05
    assert [s.type for s in bump.stages] == ["A", "B"]
    ramp = detect_milestones(steps, x - 0.9 * np.sin(x - 3), bandwidth=0.1, noise=1e-8, tolerance=0.3)
    assert [m.kind for m in ramp.milestones] == ["tolerance"]
    assert abs(np.log10(ramp.milestones[0].step) - 3) < 0.05
    assert [s.type for s in ramp.stages] == ["A", "A"]
    assert detect_milestones(steps, x - 0.9 * np.sin(x - 3), bandwidth=0.1, noise=1e-8, tolerance=0.05).milestones == ()


def test_log_time_off_and_spacing():
    steps = _steps()
    x = np.log10(np.maximum(steps, 1))
    llc = 5 + 2 * _sig((x - 3) / 0.1)
    sa = detect_milestones(steps, llc, bandwidth=0.2, every=2, log_time=False, tolerance=0.3)
    assert sa.config["every"] == 2 and not sa.config["log_time"]
    assert sa.used.size == (np.nonzero(steps >= 1)[0][::2]).size
    assert [s.type for s in sa.stages if np.log10(max(s.first_step, 1)) <= 3 <= np.log10(s.last_step)] == ["A"]


def test_too_few_checkpoints_is_a_clear_error():
    with pytest.raises(ValueError, match="too few checkpoints for the smoother"):
        detect_milestones([0, 1, 10, 100, 1000], [1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="too few checkpoints for the smoother"):
        detect_milestones(np.arange(1, 11), [1.0, np.nan] * 4 + [np.nan, np.nan])  # 4 finite (chains all flagged)
    with pytest.raises(ValueError, match="`tolerance`"):
        detect_milestones(np.arange(1, 11), np.ones(10), tolerance=-1)
    with pytest.raises(ValueError, match="`bandwidth`"):
        smooth_curve(np.arange(10.0), np.ones(10), bandwidth=0)
