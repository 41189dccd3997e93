"""The crossing over data sets (theory.over_data, docs/free_energy.md).

- the per-sample covariance of v = e_i (x) l(mu) (closed form) against a Monte Carlo estimate;
- the Gaussian limit against simulated data streams: mean and sd of the 5-gon's copy term and data
  shift at two n, tolerances from the number of streams;
- the crossing distribution's contract and the ``tmsphase transitions --over-data`` interface.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import sampling
import theory
from kgon import feature_losses
from theory.cli import main
from theory.data_term import population_expansion, stream_energies
from theory.over_data import gaussian_energies, loss_covariance


@pytest.fixture(scope="module")
def phases(catalogue6):
    return theory.refined_phases(catalogue6, labels=["6", "5"])[0]


def test_covariance_against_monte_carlo(phases):
    es = [population_expansion(p, 400) for p in phases]
    Ev, cov = loss_covariance(es)
    rng = np.random.default_rng(0)
    N = 200_000
    i = rng.integers(0, 6, N)
    mu = rng.random(N)
    ls = np.concatenate([feature_losses(e.W, e.b, mu) for e in es], axis=1)  # (N, P c)
    v = np.zeros((N, 6, ls.shape[1]))
    v[np.arange(N), i] = ls
    v = v.reshape(N, -1)
    se_mean = v.std(axis=0) / np.sqrt(N)
    assert np.all(np.abs(v.mean(axis=0) - Ev) <= 5 * se_mean + 1e-12)
    # each covariance entry is the mean of the products of centred entries: its standard error from them
    vc = v - v.mean(axis=0)
    pairs = rng.integers(0, v.shape[1], size=(300, 2))
    for a, b in pairs:
        prod = vc[:, a] * vc[:, b]
        assert abs(prod.mean() - cov[a, b]) <= 5 * prod.std() / np.sqrt(N) + 1e-12


@pytest.mark.slow
def test_gaussian_limit_agrees_with_simulated_streams(phases):
    K = 400
    for n in (400, 4000):
        data = [sampling.make_dataset(jax.random.PRNGKey(50_000 + k), n, 6) for k in range(K)]
        f, mu = np.stack([d.features for d in data]), np.stack([d.mu for d in data])
        sim = stream_energies(phases, f, mu, [n], beta=1.0, relaxation=False)
        gau = gaussian_energies(np.random.default_rng(1), phases, [n], K, 1.0)
        for lab, j in (("5", 0), ("5", 1), ("6", 0)):
            a, b = sim[lab][j][:, 0], gau[lab][j][:, 0]
            sd = max(a.std(), b.std())
            assert abs(a.mean() - b.mean()) < 4 * sd * np.sqrt(2 / K)
            assert abs(a.std() - b.std()) < 4 * sd * np.sqrt(1 / K) + 0.05 * sd
        np.testing.assert_allclose(sim["6"][1], 0.0, atol=1e-9)  # the hexagon's copy term, exactly


def test_crossing_distribution_contract(catalogue6):
    ns = [150, 250, 350, 500, 700, 1000]
    od = theory.crossing_distribution(jax.random.PRNGKey(3), catalogue6, streams=12, ns=ns)
    cd = od.crossing
    assert cd.streams == 12 and cd.crossings.shape == (12,) and cd.method == "simulated"
    assert cd.q10 <= cd.median <= cd.q90
    m, lo, hi = od.band("6")
    assert np.all(lo <= m + 1e-12) and np.all(m <= hi + 1e-12) and m[-1] > m[0]
    d = od.to_dict()["crossing_distribution"][0]
    assert {"from", "to", "mean", "median", "q10", "q90", "streams"} <= set(d)
    with pytest.raises(ValueError, match="`streams` must be an integer >= 2"):
        theory.crossing_distribution(jax.random.PRNGKey(0), catalogue6, streams=1)
    with pytest.raises(ValueError, match="`method` must be one of"):
        theory.crossing_distribution(jax.random.PRNGKey(0), catalogue6, method="exact")


@pytest.mark.slow  # ~18 s (the population parts of every phase): keeps the default run under 2 minutes
def test_transitions_cli_over_data(catalogue6, capsys):
    assert main(["transitions", "--c", "6", "--order", "refined", "--over-data", "--streams", "4",
                 "--method", "gaussian", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    d = out["crossing_distribution"][0]
    assert (d["from"], d["to"], d["streams"]) == ("5", "6", 4) and d["q10"] <= d["q90"]


def test_transitions_cli_over_data_needs_refined(capsys):
    assert main(["transitions", "--c", "6", "--over-data"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--over-data" in err[0] and "--order refined" in err[0]
    assert main(["transitions", "--c", "6", "--order", "refined", "--over-data", "--streams", "1"]) == 2
    assert "argument --streams: must be an integer >= 2; got 1." in capsys.readouterr().err
