"""Plateaus, catalogue matching modulo symmetry, transitions and the antecedent check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sampling import SGDConfig, SGDResult, train_sgd
from sampling.dynamics.sgd import checkpoint_steps
from theory import analyze_sgd, match_checkpoints, plateau_centers
from theory.sgd_analysis import flat_mask


def _disguise(point, rng, noise=0.0):
    """A symmetric copy of a catalogue point: random rotation/reflection, feature permutation, noise."""
    th = rng.uniform(0, 2 * np.pi)
    Q = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    if rng.random() < 0.5:
        Q = Q @ np.diag([1.0, -1.0])
    perm = rng.permutation(point.W.shape[1])
    W = (Q @ point.W)[:, perm] + noise * rng.standard_normal(point.W.shape)
    b = point.b[perm] + noise * rng.standard_normal(point.b.shape)
    return W, b


def test_flat_mask_synthetic():
    steps = checkpoint_steps(10_000, 30)
    t = np.log(steps + 1.0)
    # constant, then a sharp drop around step 300, then constant
    loss = np.where(steps < 300, 0.1, 0.07)
    flat = flat_mask(steps, loss)
    k = np.argmax(steps >= 300)
    assert not flat[k] and not flat[k - 1]
    assert flat[: k - 1].all() and flat[k + 1 :].all()
    # a slow power-law decay L ~ t^-0.03 is flat at slope_tol 0.05, not at 0.01
    slow = 0.1 * np.exp(-0.03 * t)
    assert flat_mask(steps, slow).all()
    assert not flat_mask(steps, slow, slope_tol=0.01).any()
    with pytest.raises(ValueError, match="slope_tol"):
        flat_mask(steps, loss, slope_tol=0)


def test_match_modulo_symmetry(catalogue6):
    rng = np.random.default_rng(0)
    labels = ["6", "5", "5+", "4+"]
    Ws, bs = zip(*[_disguise(catalogue6.get(lab), rng, noise=0.01) for lab in labels])
    far_W = 3.0 * rng.standard_normal((2, 6))
    far_b = np.full(6, 2.0)
    W = np.stack(list(Ws) + [far_W, np.full((2, 6), np.nan)])
    b = np.stack(list(bs) + [far_b, np.zeros(6)])
    got, dist = match_checkpoints(W, b, catalogue6)
    assert list(got[:4]) == [catalogue6.get(lab).label for lab in labels]
    assert np.all(dist[:4] < 0.1)  # the noise, not the symmetry, sets the distance
    assert got[4] == "other" and np.isinf(dist[4])
    assert got[5] == "nan"
    # a loss-only match would confuse 5 and irregular points of nearly equal loss; distances do not:
    exact, d0 = match_checkpoints(*_disguise(catalogue6.get("5"), rng), catalogue6)
    assert exact == catalogue6.get("5").label and d0 < 1e-6


def _fake_result(catalogue, schedule, K=40, total=10_000):
    """Checkpoints that sit exactly (modulo symmetry) at the catalogue points of ``schedule``:
    a list per run of (label, number of checkpoints)."""
    rng = np.random.default_rng(1)
    steps = checkpoint_steps(total, K)
    K = steps.size
    R = len(schedule)
    W = np.zeros((R, K, 2, 6))
    b = np.zeros((R, K, 6))
    loss = np.zeros((R, K))
    for i, plan in enumerate(schedule):
        k = 0
        for lab, m in plan:
            p = catalogue.get(lab)
            for j in range(k, min(K, k + m)):
                W[i, j], b[i, j] = _disguise(p, rng, noise=1e-3)
                loss[i, j] = p.loss
            k += m
    cfg = SGDConfig(n=10, batch_size=10, epochs=total, checkpoints=K)
    feats = np.zeros((R, 10), dtype=np.int64)
    return SGDResult(config=cfg, seeds=tuple(range(R)), steps=steps, W=W, b=b, train_loss=loss.copy(), loss=loss,
                     features=feats, mu=np.zeros((R, 10)), diverged=np.zeros(R, dtype=bool))


def test_analysis_of_a_known_schedule(catalogue6):
    res = _fake_result(catalogue6, [[("4+", 20), ("5", 20)], [("6", 40)], [("4", 10), ("4+", 10), ("5", 20)]])
    K = res.steps.size
    a = analyze_sgd(res, catalogue6)
    lab = {x: catalogue6.get(x).label for x in ("4", "4+", "5", "6")}
    assert a.phase_sequences == ((lab["4+"], lab["5"]), (lab["6"],), (lab["4"], lab["4+"], lab["5"]))
    # the two checkpoints around each drop are not flat; every other checkpoint is on a plateau
    assert a.on_plateau.sum() == 3 * K - 2 * 3
    assert a.fraction_on_plateaus == pytest.approx((3 * K - 6) / (3 * K))
    counts = {(t["from"], t["to"]): t["count"] for t in a.transition_counts()}
    assert counts == {(lab["4+"], lab["5"]): 2, (lab["4"], lab["4+"]): 1}
    steps = sorted(t.step for t in a.transitions if t.run == 0)
    assert steps == [int(res.steps[21])]  # first checkpoint of the new plateau (20 is not flat)
    assert a.final_phases == {lab["5"]: 2, lab["6"]: 1}
    ant = a.antecedent().to_dict()
    assert ant["n_transitions"] == 3 and ant["loss_decreasing"] == 3 and ant["estimated"] is None
    th = catalogue6.get
    pairs = [("4+", "5"), ("4+", "5"), ("4", "4+")]
    d_llc = [(th(t).llc - th(f).llc, 2 * math.hypot(th(f).llc_err, th(t).llc_err)) for f, t in pairs]
    assert ant["theory"]["loss_down_llc_up"] == sum(1 for d, tol in d_llc if d > tol)
    assert ant["theory"]["loss_down_llc_down"] == sum(1 for d, tol in d_llc if d < -tol)
    assert ant["theory"]["llc_equal_within_error"] == sum(1 for d, tol in d_llc if abs(d) <= tol)
    d = json.loads(json.dumps(a.to_dict()))
    assert set(d) >= {"fraction_on_plateaus", "transitions", "final_phases", "antecedent"}
    # plateau centres for the SGLD: up to 3 per plateau, inside the plateau
    cen = plateau_centers(a, per_plateau=3)
    assert len(cen) == 3 * len(a.plateaus)
    for p in a.plateaus:
        ks = cen[cen[:, 0] == p.run][:, 1]
        assert np.sum((ks >= p.start) & (ks < p.end)) == 3


def test_sign_counts_with_tolerance():
    from theory.sgd_analysis import _sign_counts

    out = _sign_counts([(-1.0, 0.5, 0.2), (-1.0, 0.1, 0.2), (-1.0, -0.5, 0.2), (-1.0, float("nan"), 0.2),
                        (1.0, 0.3)]).to_dict()
    assert (out["loss_down_llc_up"], out["llc_equal_within_error"], out["loss_down_llc_down"],
            out["undetermined"], out["loss_up_llc_up"]) == (1, 1, 1, 1, 1)
    assert out["consistent_fraction"] == pytest.approx(1 / 3)


def test_short_paper_runs_sit_on_the_4_family(catalogue6):
    """3 runs of the protocol for 300 epochs: nearly all checkpoints on catalogue plateaus, and the
    label at step 0 is the 4-gon with one '+' per dead column whose initial bias is positive."""
    res = train_sgd(SGDConfig(epochs=300, checkpoints=60), [0, 1, 2])
    a = analyze_sgd(res, catalogue6)
    assert a.fraction_on_plateaus >= 0.9
    for i in range(3):
        plus = int(np.sum(res.b[i, 0, 4:] > 0))
        assert a.labels[i, 0] == catalogue6.get("4" + "+" * plus).label
        assert a.distances[i, 0] < 0.1


@pytest.mark.slow
def test_paper_protocol_20_runs(catalogue6):
    """Acceptance 1: the paper's protocol with 20 runs (~1-2 minutes of SGD on 2 cores)."""
    res = train_sgd(SGDConfig(), list(range(20)))
    a = analyze_sgd(res, catalogue6)
    assert a.fraction_on_plateaus >= 0.9
    five = {catalogue6.get("5").label, catalogue6.get("5+").label}
    into_five = [s for s in a.phase_sequences if s and s[0].startswith("4") and s[-1] in five]
    assert len(into_five) >= 1
    five_six = sum(1 for t in a.transitions if t.from_label in five and t.to_label == catalogue6.get("6").label)
    print(json.dumps({"fraction_on_plateaus": a.fraction_on_plateaus, "transitions": a.transition_counts(),
                      "final_phases": a.final_phases, "five_to_six": five_six}))
