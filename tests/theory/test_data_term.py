"""The closed-form data term of the refined free energy (theory.data_term, docs/free_energy.md).

Known truths:
- the per-feature sums T[i, m] from the sorted prefix sums equal the direct sums over the samples,
  and their gradient equals autodiff of the direct sum;
- Y_sigma = beta n (L_n - L)(w_sigma) against the exact empirical potential of sampling at the
  permuted point, for every copy;
- the copy term vanishes (first order) on the regular 6-gon, whose copies see the same data, on
  several random data sets, while the 5-gon's does not;
- the population minimiser reproduces the refined free energy's energy term (5, 5+).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sampling
import theory
from kgon import feature_losses
from theory.data_term import copy_energies, loss_sums, population_expansion, sorted_prefix


@pytest.fixture(scope="module")
def phases(catalogue6):
    pts, _ = theory.refined_phases(catalogue6)
    return {p.label: p for p in pts}


def _data(seed: int, n: int):
    return sampling.make_dataset(jax.random.PRNGKey(seed), n, 6)


@pytest.mark.parametrize("label", ["6", "5+", "5"])
def test_loss_sums_and_gradient_are_exact(phases, label):
    n = 300
    d = _data(11, n)
    e = population_expansion(phases[label], n)
    T, G = loss_sums(e.W, e.b, sorted_prefix(d.features[None], d.mu[None], n, 6), grad=True)
    loss = feature_losses(e.W, e.b, d.mu)
    direct = np.stack([loss[d.features == i].sum(axis=0) for i in range(6)])
    np.testing.assert_allclose(T[0], direct, atol=1e-11)

    def Tfun(z):
        W, b = z[:12].reshape(2, 6), z[12:]
        mu = jnp.asarray(d.mu)[:, None, None]
        out = mu * jnp.eye(6) - jax.nn.relu((W.T @ W)[None] * mu + b[None, :, None])
        return jax.nn.one_hot(d.features, 6).T @ jnp.sum(out**2, axis=1)

    Gj = np.asarray(jax.jit(jax.jacfwd(Tfun))(jnp.asarray(np.concatenate([e.W.ravel(), e.b]))))
    np.testing.assert_allclose(G[0], Gj, atol=1e-10)


def test_copy_energies_match_the_empirical_potential(phases):
    n = 400
    d = _data(5, n)
    e = population_expansion(phases["5"], n, beta=0.5)
    Y, _ = copy_energies(e, sorted_prefix(d.features[None], d.mu[None], n, 6), relaxation=False)
    pot = sampling.empirical_potential(d)
    for s, y in list(zip(e.perms, Y[0]))[::7]:
        Ln = float(pot.value(jnp.asarray(e.W[:, s]), jnp.asarray(e.b[s])))
        assert y == pytest.approx(0.5 * n * (Ln - e.loss), abs=1e-9)
    assert Y.shape == (1, 72) and Y.std() > 0.5  # the 5-gon's copies see different data


def test_copy_term_vanishes_for_the_hexagon(catalogue6):
    for seed in (0, 1, 2, 3, 17):
        r = theory.data_free_energy(catalogue6, _data(seed, 600), [200, 450, 600], labels=["6", "5"],
                                    relaxation=False)
        np.testing.assert_allclose(r.copies["6"], 0.0, atol=1e-9)
        assert np.all(np.abs(r.shift["6"]) > 1e-6)  # the hexagon's energy still moves with the data
        assert np.all(r.copies["5"] < -0.1)  # a soft minimum over inequivalent copies: < 0


def test_copy_term_is_never_positive(catalogue6):
    r = theory.data_free_energy(catalogue6, _data(9, 800), [150, 400, 800], relaxation=True)
    for lab in ("5", "5+"):
        assert np.all(r.copies[lab] < 0)
    np.testing.assert_allclose(r.total["5"], r.population["5"] + r.shift["5"] + r.copies["5"])


@pytest.mark.parametrize("label", ["5", "5+"])
def test_population_minimiser_matches_the_refined_energy(catalogue6, phases, label):
    terms = theory.free_energy_terms(catalogue6, 400.0, labels=[label])[label]
    assert 400 * population_expansion(phases[label], 400).loss == pytest.approx(terms.energy, abs=1e-6)


def test_arguments_are_validated(catalogue6):
    d = _data(0, 100)
    with pytest.raises(ValueError, match="`ns` must not exceed the size 100"):
        theory.data_free_energy(catalogue6, d, [50, 200])
    with pytest.raises(ValueError, match="`ns` must be positive integer"):
        theory.data_free_energy(catalogue6, d, [50.5])
    with pytest.raises(ValueError, match="`beta` must be a positive finite"):
        theory.data_free_energy(catalogue6, d, [50], beta=0)
    with pytest.raises(ValueError, match="`data` must be a sampling.Dataset"):
        theory.data_free_energy(catalogue6, np.zeros(3), [50])
    with pytest.raises(ValueError, match="`relaxation` must be True or False"):
        theory.data_free_energy(catalogue6, d, [50], relaxation="yes")
    with pytest.raises(ValueError, match="`second_order` must be True or False"):
        theory.data_free_energy(catalogue6, d, [50], second_order=1)


@pytest.mark.slow
def test_second_order_population_term(catalogue6, phases):
    """The second-order Laplace term enters the total additively, and on the hexagon's population
    integral it closes most of the gap between Laplace and the exact (annealed SMC) integral stored in
    docs/data/free_energy_c6.json (population_every_phase, n = 300: exact - Laplace = -1.18 +- 0.01)."""
    from theory.data_term import population_free_energy, population_second_order

    d = _data(1, 400)
    base = theory.data_free_energy(catalogue6, d, [300, 400], labels=["6", "5"], relaxation=False)
    so = theory.data_free_energy(catalogue6, d, [300, 400], labels=["6", "5"], relaxation=False, second_order=True)
    term = population_second_order([phases["6"], phases["5"]], [300, 400])
    for lab in ("6", "5"):
        np.testing.assert_allclose(so.total[lab] - base.total[lab], term[lab], atol=1e-12)
        assert np.all(term[lab] < -0.5)
    exact_minus_laplace = 49.552 - population_free_energy([phases["6"]], [300])["6"][0]
    assert exact_minus_laplace == pytest.approx(-1.18, abs=0.03)
    assert exact_minus_laplace < term["6"][0] < 0.6 * exact_minus_laplace
