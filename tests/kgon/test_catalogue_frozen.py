"""The frozen c = 6 catalogue of the test suite (tests/fixtures) round-trips and is current."""

import json
import math

import numpy as np
import pytest
from conftest import FROZEN_CATALOGUE6

import kgon
from kgon.critical.catalogue import Catalogue


def test_frozen_catalogue_round_trips_and_is_strict_json(catalogue6):
    text = FROZEN_CATALOGUE6.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    cat = Catalogue.from_json(text)
    assert cat.to_json() == text
    assert Catalogue.from_dict(cat.to_dict()).to_json() == text
    assert catalogue6.to_json() == text  # the fixture is the frozen file (through default_catalogue)
    assert (cat.c, cat.r, cat.seed) == (6, 2, 0)


@pytest.mark.slow
def test_frozen_catalogue_is_current():
    """Recompute the default c = 6 catalogue; if this fails, run tests/fixtures/freeze_catalogue.py."""
    frozen = Catalogue.from_json(FROZEN_CATALOGUE6.read_text())
    fresh = kgon.find_critical_points(6, r=2, seed=0)
    assert fresh.labels() == frozen.labels()
    assert (fresh.n_starts, fresh.n_converged, fresh.max_loss) == (frozen.n_starts, frozen.n_converged, frozen.max_loss)
    for p, q in zip(fresh.points, frozen.points):
        assert (p.name, p.k, p.sigma_plus, p.sigma_minus, p.multiplicity) == (q.name, q.k, q.sigma_plus, q.sigma_minus,
                                                                              q.multiplicity), p.label
        assert (p.hessian_signature, p.zero_modes, p.smooth, p.llc_method) == (q.hessian_signature, q.zero_modes,
                                                                               q.smooth, q.llc_method), p.label
        assert p.loss == pytest.approx(q.loss, abs=1e-12), p.label
        assert p.constant == pytest.approx(q.constant, abs=1e-9), p.label
        np.testing.assert_allclose(p.W, q.W, atol=1e-7, err_msg=p.label)
        np.testing.assert_allclose(p.b, q.b, atol=1e-7, err_msg=p.label)
        if p.llc_hessian is not None or q.llc_hessian is not None:
            assert p.llc_hessian == pytest.approx(q.llc_hessian, abs=1e-9), p.label
        # numerical LLCs: SGLD estimates with a fixed seed, reproducible for one jax version; across jax
        # versions (PRNG and XLA numerics) the chains differ, so they agree within their Monte Carlo error
        if math.isfinite(p.llc) or math.isfinite(q.llc):
            tol = 4.0 * math.hypot(p.llc_err, q.llc_err) if p.llc_method.startswith("numerical") else 1e-6
            assert abs(p.llc - q.llc) <= tol, (p.label, p.llc, q.llc, tol)
