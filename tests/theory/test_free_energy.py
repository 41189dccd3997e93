"""Free energies, exact transitions, theoretical occupancy, comparison, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kgon.plot import energy_levels  # noqa: E402
from theory.compare import EmpiricalOccupancy, compare_occupancy  # noqa: E402
from theory.free_energies import crossing_roots, free_energy, occupancy, transitions  # noqa: E402
from theory.free_energies.orders import SimplePhase as Ph  # noqa: E402
from theory.plot import plot_loss_complexity, plot_occupancy  # noqa: E402

TOY = [Ph("a", 0.10, 3.0, 1.0), Ph("b", 0.08, 4.5, 2.0), Ph("c", 0.07, 6.0, 4.0)]


def _brute_roots(dL, dlam, dc):
    x = np.linspace(-5, 25, 300001)
    f = dL * np.exp(x) + dlam * x + dc
    idx = np.nonzero((f[:-1] > 0) != (f[1:] > 0))[0]
    return [float(np.exp(x[i] - f[i] * (x[i + 1] - x[i]) / (f[i + 1] - f[i]))) for i in idx]


@pytest.mark.parametrize(
    "dL, dlam, dc",
    [(-0.02, 1.5, 2.75), (-0.01, 2.0, -1.0), (0.01, -1.0, 3.0), (-0.01, 0.0, 2.0), (0.0, -1.0, 2.0), (0.3, 1.0, 0.5)],
)
def test_crossing_roots_exact(dL, dlam, dc):
    got = crossing_roots(dL, dlam, dc)
    ref = _brute_roots(dL, dlam, dc)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert abs(g - r) / r < 1e-4
        assert abs(dL * g + dlam * np.log(g) + dc) < 1e-9 * max(1.0, abs(dL * g))


def test_free_energy_and_occupancy_definition():
    F = free_energy(TOY, [10.0, 1000.0])
    assert np.allclose(F["a"], [10 * 0.1 + 3 * np.log(10) + 1.0, 1000 * 0.1 + 3 * np.log(1000) + 1.0])
    th = occupancy(TOY, [1.0, 10.0, 1e6])
    total = sum(th.probs[k] for k in th.labels)
    assert np.allclose(total, 1.0)
    # n -> infinity: the lowest loss phase dominates; n = 1: lowest (lambda log n + c) = lowest c
    assert th.dominant()[-1] == "c" and th.dominant()[0] == "a"


def test_transitions_types_and_order():
    ts = transitions(TOY)
    assert [t.n_critical for t in ts] == sorted(t.n_critical for t in ts)
    for t in ts:
        assert t.kind == "A"  # every pair here trades loss for complexity
        F = free_energy(TOY, [t.n_critical * 0.99, t.n_critical * 1.01])
        assert F[t.from_label][0] < F[t.to_label][0] and F[t.to_label][1] < F[t.from_label][1]
    # a Type B pair: same loss, lower complexity wins at large n
    tb = transitions([Ph("x", 0.1, 3.0, 0.0), Ph("y", 0.1, 2.0, 3.0)])
    assert len(tb) == 1 and tb[0].kind == "B" and tb[0].to_label == "y"
    assert abs(tb[0].n_critical - np.exp(3.0)) < 1e-9


def test_bad_input():
    with pytest.raises(ValueError, match="empty catalogue"):
        occupancy([], [10])
    with pytest.raises(ValueError, match="`n` must be positive"):
        free_energy(TOY, [10, -1])
    with pytest.raises(ValueError, match="`labels`"):
        occupancy(TOY, [10], labels=["a", "zzz"])
    with pytest.raises(ValueError, match="catalogue lacks"):
        compare_occupancy(TOY, [EmpiricalOccupancy(10, {"a": 0.5, "q": 0.5}, {})])
    with pytest.raises(ValueError, match="at least one"):
        compare_occupancy(TOY, [])


def _synthetic_empirical(ns, seed=0, err=0.03):
    rng = np.random.default_rng(seed)
    th = occupancy(TOY, ns)
    out = []
    for i, n in enumerate(ns):
        occ = {k: float(np.clip(th.probs[k][i] + rng.normal() * err, 0, 1)) for k in th.labels}
        tot = sum(occ.values())
        occ = {k: v / tot * 0.9 for k, v in occ.items()}
        occ["other"] = 0.1
        out.append(EmpiricalOccupancy(n, occ, {k: err * 0.9 for k in th.labels}, "tempered"))
    return out


def test_compare_recovers_crossing_within_interval():
    ns = np.geomspace(20, 5000, 14)
    emp = _synthetic_empirical(ns)
    cmp = compare_occupancy(TOY, emp)
    assert set(cmp.labels) == {"a", "b", "c"}
    assert np.allclose(cmp.other, 0.1)
    # only globally dominant transitions are observable as occupancy crossings: a -> b -> c
    assert [(c.from_label, c.to_label) for c in cmp.crossings] == [("a", "b"), ("b", "c")]
    for cr in cmp.crossings:
        assert cr.observed is not None
        assert cr.ci_low <= cr.observed <= cr.ci_high
        # the noise is 0.03 per point; the crossing is resolved to well within a factor 1.35 in n
        assert abs(np.log(cr.observed / cr.predicted)) < 0.3
    assert cmp.mean_abs_diff < 0.05
    # a clearly wrong theory is detected by the scalar summary
    wrong = [Ph("a", 0.10, 3.0, 1.0), Ph("b", 0.08, 4.5, 6.0), Ph("c", 0.07, 6.0, 4.0)]
    assert compare_occupancy(wrong, emp).mean_abs_diff > 3 * cmp.mean_abs_diff


def test_occupancy_figure_content():
    cmp = compare_occupancy(TOY, _synthetic_empirical(np.geomspace(20, 5000, 8)))
    ax = plot_occupancy(cmp)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "sample size n" and ax.get_ylabel() == "phase occupancy"
    theory_lines = [ln for ln in ax.get_lines() if ln.get_label().endswith("(theory)")]
    assert len(theory_lines) == 3
    assert len(ax.containers) == 3  # one errorbar series per phase
    for cont in ax.containers:
        assert len(cont.lines[0].get_xdata()) == 8
    plt.close(ax.figure)


def test_loss_complexity_and_energy_figures():
    ax = plot_loss_complexity(TOY, sgd_transitions=[{"from": "a", "to": "b", "count": 7}])
    assert ax.get_xlabel().startswith("local learning coefficient")
    assert ax.get_ylabel().startswith("loss")
    texts = [t.get_text() for t in ax.texts]
    assert {"a", "b", "c", "7"} <= set(texts)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(s.startswith("SGD transitions (1)") for s in legend)
    assert any(s.startswith("Bayesian transitions") for s in legend)
    plt.close(ax.figure)
    ax = energy_levels(TOY)
    assert len(ax.collections) == 3 and {t.get_text() for t in ax.texts} == {"a", "b", "c"}
    plt.close(ax.figure)


# ----------------------------------------------------------------------------------------------
# The orders on a data set: the refined order is the closed-form data term, the exact one the SMC


@pytest.fixture
def no_smc(monkeypatch):
    """Make every numerical integral of a phase's cell (the exact order's SMC) fail loudly."""
    import theory.free_energies.refined as refined

    def refuse(*args, **kwargs):
        raise AssertionError("the numerical integral (SMC) was called")

    monkeypatch.setattr(refined, "nongaussian_term", refuse)
    monkeypatch.setattr(refined, "importance_correction", refuse)


def test_refined_order_on_data_is_the_closed_form(catalogue6, no_smc):
    """free_energy / free_energy_terms / occupancy with order="refined" and data: F^pop + Ybar + T_copy of
    theory.data_free_energy, term by term, with no numerical integral."""
    import jax

    import sampling
    import theory

    data = sampling.make_dataset(jax.random.PRNGKey(3), 400, 6)
    ns = [300, 400]
    F = free_energy(catalogue6, ns, order="refined", data=data, labels=["6", "5"])
    D = theory.data_free_energy(catalogue6, data, ns, labels=["6", "5"])
    assert set(F) == {"6", "5"}
    for lab in F:
        np.testing.assert_allclose(F[lab], D.total[lab], rtol=0, atol=1e-12)
    T = theory.free_energy_terms(catalogue6, 400, data=data, labels=["6", "5"])
    pop = theory.free_energy_terms(catalogue6, 400, labels=["6", "5"])
    for lab in ("6", "5"):
        t = T[lab]
        assert t.data and t.data_shift == pytest.approx(D.shift[lab][1], abs=1e-12)
        assert t.data_copies == pytest.approx(D.copies[lab][1], abs=1e-12)
        assert t.total == pytest.approx(pop[lab].total + t.data_shift + t.data_copies, abs=1e-12)
        assert t.total == pytest.approx(D.total[lab][1], abs=1e-9)
    assert T["5"].data_copies < 0  # the 5-gon's copies see different data (docs/free_energy.md)
    occ = occupancy(catalogue6, ns, order="refined", data=data, labels=["6", "5"])
    P = D.occupancy()
    np.testing.assert_allclose(occ.probs["6"], P["6"], atol=1e-12)


def test_exact_order_is_the_numerical_integral(catalogue6, monkeypatch):
    """order="exact" integrates each phase's cell (refined_terms with the classifier cell and, on a data
    set, its potential; on the population loss the annealed defaults), never the closed form."""
    import jax

    import sampling
    import theory
    import theory.data_term
    import theory.free_energies.refined as refined

    calls = []
    real = refined.refined_terms

    def record(point, n, **kw):
        calls.append(kw)
        return real(point, n, beta=kw["beta"])  # the population Laplace terms stand in for the integral

    def refuse(*args, **kwargs):
        raise AssertionError("the closed-form data term was called")

    monkeypatch.setattr(refined, "refined_terms", record)
    monkeypatch.setattr(theory.data_term, "data_free_energy", refuse)
    monkeypatch.setattr(theory.data_term, "stream_energies", refuse)
    data = sampling.make_dataset(jax.random.PRNGKey(3), 300, 6)
    F = free_energy(catalogue6, [300], order="exact", data=data, labels=["6"], nongaussian_anneal=0)
    assert set(F) == {"6"} and calls[-1]["potential"] is not None and calls[-1]["catalogue"] is catalogue6
    assert calls[-1]["nongaussian_anneal"] == 0 and calls[-1]["threshold"] > 0
    theory.free_energy_terms(catalogue6, 300, labels=["6"], order="exact")
    kw = calls[-1]
    assert kw["potential"] is None and kw["catalogue"] is catalogue6
    assert (kw["nongaussian_draws"], kw["nongaussian_anneal"]) == (4000, 100)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(order="refined", kinked=True), "`kinked` needs order='exact' on a data set"),
        (dict(order="refined", nongaussian_draws=1000), "`nongaussian_draws` needs order='exact' on a data set"),
        (dict(order="refined", nongaussian_anneal=0), "`nongaussian_anneal` needs order='exact' on a data set"),
        (dict(order="refined", relaxation="yes"), "`relaxation` must be None, True or False; got 'yes'"),
        (dict(order="exact", relaxation=True), "`relaxation` applies to the closed-form data term"),
        (dict(order="leading"), "`data` needs order='refined' or 'exact'"),
        (dict(order="third"), "`order` must be one of ['leading', 'refined', 'exact']; got 'third'"),
    ],
)
def test_orders_on_data_are_validated(catalogue6, kwargs, message):
    import jax

    import sampling

    data = sampling.make_dataset(jax.random.PRNGKey(0), 300, 6)
    with pytest.raises(ValueError) as err:
        free_energy(catalogue6, [300], data=data, **kwargs)
    assert message in str(err.value)


def test_refined_order_needs_enough_data(catalogue6):
    import jax

    import sampling
    import theory

    data = sampling.make_dataset(jax.random.PRNGKey(0), 300, 6)
    with pytest.raises(ValueError, match=r"`n` = 400 must be between 1 and the size 300 of `data`"):
        free_energy(catalogue6, [400], order="refined", data=data)
    with pytest.raises(ValueError, match="`order` of free_energy_terms must be 'refined' or 'exact'"):
        theory.free_energy_terms(catalogue6, 300, order="leading")
    from theory.free_energies import ORDERS

    assert ORDERS == ("leading", "refined", "exact")
