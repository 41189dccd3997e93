"""Catalogue bookkeeping: the all-dead level is the 0-gon; n_converged counts the n_starts starts."""

import numpy as np
import pytest

import kgon
from kgon.naming import point_name, polygon_info


def test_all_dead_point_is_the_zero_gon():
    c = 6
    W = np.zeros((2, c))
    for b in (np.zeros(c), -0.3 * np.ones(c), np.array([0.0, -1.0, -0.2, 0.0, -5.0, -0.1])):
        info = polygon_info(W, b)
        assert info.regular and info.k == 0 and (info.sigma_plus, info.sigma_minus) == (0, 0)
        assert point_name(W, b, 1 / 3) == "0"
    b = np.array([1 / (2 * c)] * 2 + [-0.5] * 4)  # two dead columns with the positive bias
    assert point_name(W, b, float(kgon.potential(W, b))) == "0++"
    # a live column whose output never fires is not a polygon (a flat family): still irregular
    W1 = W.copy()
    W1[0, 0] = 1.0
    b1 = np.array([-2.0] + [-0.5] * (c - 1))
    assert point_name(W1, b1, float(kgon.potential(W1, b1))).startswith("irregular-")


def test_catalogue_names_the_all_dead_level_zero(catalogue6):
    p = catalogue6.get("0")
    assert p.label == "0" and p.k == 0 and p.loss == pytest.approx(1 / 3, abs=1e-12)
    assert not np.any(p.W) and np.all(p.b <= 0)
    assert not any(lab.startswith("irregular-") and abs(catalogue6.get(lab).loss - 1 / 3) < 1e-9
                   for lab in catalogue6.labels())


def test_frozen_catalogue_counts_are_consistent(catalogue6):
    assert catalogue6.n_converged <= catalogue6.n_starts
    assert catalogue6.stats["exact_converged"] <= catalogue6.stats["exact_starts"]


def test_search_config_is_validated_and_held(catalogue6):
    cfg = catalogue6.config
    assert isinstance(cfg, kgon.SearchConfig) and (cfg.c, cfg.r, cfg.seed, cfg.n_starts) == (6, 2, 0, 1200)
    assert kgon.SearchConfig.from_dict(cfg.to_dict()) == cfg
    for kwargs, match in [({"c": 1}, "`c`"), ({"c": 6, "n_starts": 0}, "`n_starts`"), ({"c": 6, "seed": -1}, "`seed`"),
                          ({"c": 6, "max_loss": float("inf")}, "`max_loss`"),
                          ({"c": 6, "numerical_llc": 1}, "`numerical_llc`")]:
        with pytest.raises(ValueError, match=match):
            kgon.SearchConfig(**kwargs)
