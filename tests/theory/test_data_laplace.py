"""theory.data_laplace: every copy's Laplace term on the data set (docs/free_energy.md, "The data set's own
Laplace term")."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cat():
    import kgon

    return kgon.default_catalogue(6)


def _point(cat, label):
    from theory.data_term import phase_label

    return next(p for p in cat.points if phase_label(p) == label)


@pytest.mark.slow
def test_known_truths_and_the_first_order_energies(cat):
    """(1) On the population itself (the midpoint grid the smooth Hessian is averaged on, any n) every
    copy's shift D_sigma vanishes: no energy shift, no gradient, the data Hessian is the population's.
    (2) On a data stream the energies Y_sigma equal theory.data_term's (sorted prefix sums against
    sampling.empirical_potential: two implementations). (3) The relaxation and volume parts are O(1):
    |D - Y| stays below a few nats while Y spreads over several."""
    import jax

    import sampling
    from theory.data_laplace import copy_laplace_shifts, midpoint_grid
    from theory.data_term import copy_energies, population_expansion, sorted_prefix

    c = 6
    pot = sampling.empirical_potential(midpoint_grid(c))
    p5 = _point(cat, "5")
    D, Y = copy_laplace_shifts(p5, pot, 300.0)
    assert len(D) == 72
    assert np.max(np.abs(Y)) < 1e-5 and np.max(np.abs(D)) < 1e-4

    data = sampling.make_dataset(jax.random.PRNGKey(3), 400, c)
    pot = sampling.empirical_potential(data)
    D, Y = copy_laplace_shifts(p5, pot, 400.0)
    e = population_expansion(p5, 400.0)
    Y1, _ = copy_energies(e, sorted_prefix(data.features[None], data.mu[None], 400, c), relaxation=False)
    np.testing.assert_allclose(Y, Y1[0], atol=1e-8)
    assert np.std(Y) > 0.5
    assert np.max(np.abs(D - Y)) < 5.0


@pytest.mark.slow
def test_free_energy_bookkeeping_and_errors(cat):
    """total = population + second order + shift + copies, the copies term is the soft minimum of D over the
    copies (below mean D: Jensen), and bad input is refused with a clear error."""
    import jax

    import sampling
    import theory
    from theory.data_laplace import copy_laplace_shifts

    data = sampling.make_dataset(jax.random.PRNGKey(0), 600, 6)
    r = theory.data_laplace_free_energy(cat, data, [300, 600], labels=["6", "5"])
    r0 = theory.data_laplace_free_energy(cat, data, [300, 600], labels=["6", "5"], second_order=False)
    for lab in ("6", "5"):
        np.testing.assert_allclose(r.total[lab] - r0.total[lab], r.second_order[lab])
        assert np.all(r.second_order[lab] < 0)
    D, _ = copy_laplace_shifts(_point(cat, "5"), sampling.empirical_potential(sampling.make_dataset(
        jax.random.PRNGKey(0), 300, 6)), 300.0)
    soft = r.shift["5"][0] + r.copies["5"][0]
    assert soft < D.mean() and soft > D.min()
    with pytest.raises(ValueError, match="Dataset"):
        theory.data_laplace_free_energy(cat, np.zeros(5), [300])
    with pytest.raises(ValueError, match="second_order"):
        theory.data_laplace_free_energy(cat, data, [300], second_order="yes")
    with pytest.raises(ValueError, match="ns"):
        theory.data_laplace_free_energy(cat, data, [700])
