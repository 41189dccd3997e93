"""Known answers for essential dynamics: vertices, cusps, evolute, forms (seed 002 §3.2, Appendix B)."""

import numpy as np
import pytest

from theory import curve_features, essential_dynamics, tms_probe_outputs


def test_ellipse_has_four_vertices_at_the_axes_and_evolute_centres():
    a, b = 2.0, 1.0
    t = np.linspace(-np.pi / 4, 2 * np.pi - np.pi / 4, 800)
    cf = curve_features(t, np.stack([a * np.cos(t), b * np.sin(t)], 1))
    assert cf.cusps.size == 0
    assert np.allclose(t[cf.vertices], [0, np.pi / 2, np.pi, 3 * np.pi / 2], atol=0.01)
    # centres of curvature at the vertices: (a - b^2/a, 0), (0, b - a^2/b), and mirror images
    want = np.array([[a - b * b / a, 0], [0, -(a * a / b - b)], [-(a - b * b / a), 0], [0, a * a / b - b]])
    assert np.allclose(cf.evolute[cf.vertices], want, atol=1e-3)
    # curvature at (a, 0) is a / b^2
    assert abs(cf.curvature[cf.vertices[0]] - a / b ** 2) < 1e-3


def test_semicubical_cusp_is_a_cusp_not_a_vertex():
    t = np.linspace(-1, 1, 401)  # y^2 = x^3 as (t^2, t^3)
    cf = curve_features(t, np.stack([t ** 2, t ** 3], 1))
    assert list(t[cf.cusps]) == [0.0]
    assert cf.vertices.size == 0
    # a smooth curve with the same parametrisation (a parabola) has no cusp
    cf2 = curve_features(t, np.stack([t, t ** 2], 1))
    assert cf2.cusps.size == 0 and list(t[cf2.vertices]) == [0.0]


def test_form_at_a_cusp_in_every_projection():
    # the space curve (s^2, s^3, s^4) stops at s = 0, so it has a cusp in every plane projection there
    # (tangent reversed); embedded in
    # R^6 by a random isometry and sampled at t = 10^(s + 3), the form is at t = 1000
    rng = np.random.default_rng(0)
    s = np.linspace(-1, 1, 161)
    curve = np.stack([s ** 2, s ** 3, s ** 4], 1)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 3)))
    out = curve @ Q.T + 0.3
    ed = essential_dynamics(out, 10 ** (s + 3), sigma=0.01, n_components=3, coincidence=0.05)
    assert ed.explained.sum() > 0.999
    assert len(ed.forms) == 1
    f = ed.forms[0]
    assert abs(np.log10(f.step) - 3) < 0.03
    assert set(f.events.values()) == {"cusp"}
    # the lifted form is the singular point: the form potential vanishes there and nowhere else
    k = int(np.nanargmin(ed.form_potential[0]))
    assert abs(s[k]) < 0.03 and ed.form_potential[0, k] < 1e-3


def test_tms_probe_outputs_match_the_model():
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(2, 4)), rng.normal(size=4)
    mu = (0.5, 1.0)
    out = tms_probe_outputs(W, b, mu=mu).reshape(4, 2, 4)
    for i in range(4):
        for m, u in enumerate(mu):
            x = np.zeros(4)
            x[i] = u
            assert np.allclose(out[i, m], np.maximum(W.T @ W @ x + b, 0))
    assert tms_probe_outputs(np.stack([W, W]), np.stack([b, b])).shape == (2, 4 * 5 * 4)


def test_bad_input():
    with pytest.raises(ValueError, match="too few checkpoints"):
        essential_dynamics(np.ones((4, 3)), np.arange(1, 5))
    with pytest.raises(ValueError, match="do not change"):
        essential_dynamics(np.ones((8, 3)), np.arange(1, 9))
