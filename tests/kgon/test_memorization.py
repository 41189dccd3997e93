"""Point inputs (every input at mu = 1, ``input_dist="point"``) and the zero-loss memorization polygons."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import kgon
from kgon.critical.cache import default_catalogue_config
from kgon.critical.catalogue import Catalogue, SearchConfig
from kgon.critical.driver import exact_polygon_starts
from kgon.critical.search import ModelSpec, gradient_norm, hessians, loss_and_grad_norm


def direct_point_loss(W, b, importance=None, input_scale=None):
    """(1/c) sum over the c inputs x = s_i e_i of sum_j I_j (x_j - ReLU(W^T W x + b)_j)^2, by the model itself."""
    c = W.shape[1]
    s = np.ones(c) if input_scale is None else np.asarray(input_scale)
    imp = np.ones(c) if importance is None else np.asarray(importance)
    X = np.diag(s)  # row i: the input of example i
    out = np.maximum(X @ W.T @ W + b, 0.0)
    return float(np.sum(imp * (X - out) ** 2)) / c


@pytest.mark.parametrize("seed", range(6))
def test_point_closed_form_equals_the_sum_over_the_inputs(seed):
    rng = np.random.default_rng(seed)
    c, r = int(rng.integers(3, 9)), int(rng.integers(1, 4))
    W = rng.normal(size=(r, c)) * rng.uniform(0.3, 1.5)
    b = rng.normal(size=c) * 0.6
    want = direct_point_loss(W, b)
    assert kgon.potential(W, b, input_dist="point") == pytest.approx(want, abs=1e-12)
    assert float(kgon.potential_jax(jnp.asarray(W), jnp.asarray(b), input_dist="point")) == pytest.approx(want,
                                                                                                          abs=1e-12)
    # the point loss is not the uniform one (a test that would pass with the wrong pair term fails here)
    assert abs(kgon.potential(W, b) - want) > 1e-3
    imp, scale = rng.uniform(0.2, 2.0, c), rng.uniform(0.5, 1.5, c)
    got = kgon.potential(W, b, input_dist="point", importance=imp, input_scale=scale)
    assert got == pytest.approx(direct_point_loss(W, b, imp, scale), abs=1e-12)


def test_point_torch_and_grad_agree_with_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    W, b = rng.normal(size=(2, 6)), rng.normal(size=6) * 0.5
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    val = kgon.potential_torch(Wt, bt, input_dist="point")
    val.backward()
    assert float(val.detach()) == pytest.approx(direct_point_loss(W, b), abs=1e-12)
    L, (gW, gb) = kgon.potential_and_grad_jax(jnp.asarray(W), jnp.asarray(b), input_dist="point")
    assert float(L) == pytest.approx(float(val.detach()), abs=1e-12)
    np.testing.assert_allclose(np.asarray(gW), Wt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), bt.grad.numpy(), atol=1e-12)


def test_point_symbolic_potential_matches_numeric():
    expr, Ws, bs = kgon.potential_expr(2, 3, input_dist="point")
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(2, 3)), rng.normal(size=3) * 0.4
    sub = {Ws[k, i]: W[k, i] for k in range(2) for i in range(3)} | {bs[i]: b[i] for i in range(3)}
    assert float(expr.subs(sub)) == pytest.approx(direct_point_loss(W, b), abs=1e-12)
    A, B, D = sp.symbols("a b delta", real=True)
    assert kgon.pair_term("point").subs({A: 0.3, B: 0.2, D: 1}) == pytest.approx(0.25)
    assert kgon.pair_term("point").subs({A: -0.3, B: 0.2, D: 1}) == 1


def test_search_hessian_is_the_point_hessian():
    """The search's closed-form Hessian with point inputs equals finite differences of the point gradient."""
    rng = np.random.default_rng(11)
    model = ModelSpec(c=4, r=2, input_dist="point")
    x = np.concatenate([rng.normal(size=8), rng.normal(size=4) * 0.3])
    H = hessians(x[None], model)[0]
    h = 1e-6
    fd = np.empty_like(H)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        gp = kgon.potential_and_grad_jax(*[jnp.asarray(a) for a in (x[:8].reshape(2, 4) + e[:8].reshape(2, 4),
                                                                      x[8:] + e[8:])], input_dist="point")[1]
        gm = kgon.potential_and_grad_jax(*[jnp.asarray(a) for a in (x[:8].reshape(2, 4) - e[:8].reshape(2, 4),
                                                                      x[8:] - e[8:])], input_dist="point")[1]
        fd[:, k] = (np.concatenate([np.ravel(gp[0]), gp[1]]) - np.concatenate([np.ravel(gm[0]), gm[1]])) / (2 * h)
    np.testing.assert_allclose(H, fd, atol=1e-6)
    L, _ = loss_and_grad_norm(x[None], model)
    assert L[0] == pytest.approx(direct_point_loss(x[:8].reshape(2, 4), x[8:]), abs=1e-12)


@pytest.mark.parametrize("T", range(3, 13))
def test_tgon_reconstructs_every_input_exactly(T):
    W, b = kgon.memorization_polygon(T)
    R2 = 1.0 / (1.0 - math.cos(2 * math.pi / T))
    np.testing.assert_allclose(np.sum(W * W, axis=0), R2, rtol=1e-12)
    np.testing.assert_allclose(b, -R2 * math.cos(2 * math.pi / T), rtol=1e-12)
    out = np.maximum(W.T @ W + b, 0.0)  # row i: the output on input e_i
    np.testing.assert_allclose(out, np.eye(T), atol=1e-12)
    assert kgon.potential(W, b, input_dist="point") <= 1e-24
    assert gradient_norm(W, b, input_dist="point") <= 1e-9
    # a smaller radius (same bias rule 1 - R^2) lets the neighbours fire: positive loss
    s = 0.97
    Ws, bs = s * W, np.full(T, 1.0 - s * s * R2)
    assert kgon.potential(Ws, bs, input_dist="point") > 1e-5
    # a larger radius with bias 1 - R^2 is also exact (the zero-loss half-line)
    Wl, bl = kgon.memorization_polygon(T, radius=1.2 * math.sqrt(R2))
    assert kgon.potential(Wl, bl, input_dist="point") <= 1e-24


def test_polygons_with_dead_features_and_their_loss():
    for k, c, sp_ in [(4, 6, 0), (5, 7, 1), (6, 9, 2)]:
        W, b = kgon.memorization_polygon(k, c, sigma_plus=sp_)
        assert kgon.potential(W, b, input_dist="point") == pytest.approx(kgon.memorization_loss(k, c, sigma_plus=sp_),
                                                                         abs=1e-12)
        assert gradient_norm(W, b, input_dist="point") <= 1e-9
    res = kgon.memorization_kgon(3, 5)
    assert not res.exists and "positive bias" in res.reason
    res = kgon.memorization_kgon(7, 7)
    assert res.exists and res.solutions[0].loss <= 1e-24
    assert res.solutions[0].length == pytest.approx(kgon.memorization_radius(7))


@pytest.mark.parametrize("call", [
    lambda: kgon.potential(np.ones((2, 3)), np.zeros(3), input_dist="points"),
    lambda: kgon.pair_term_numeric(0.1, 0.2, 1.0, input_dist="Uniform"),
    lambda: ModelSpec(c=4, input_dist="point "),
    lambda: SearchConfig(c=4, input_dist=None or "gauss"),
    lambda: kgon.default_catalogue(4, input_dist="mu=1"),
    lambda: kgon.hessian_geometry(np.ones((2, 3)), np.zeros(3), input_dist=1),
])
def test_bad_input_dist_is_refused_with_its_name(call):
    with pytest.raises(ValueError, match="`input_dist` must be one of 'uniform', 'point'"):
        call()


def test_uniform_default_leaves_keys_and_stored_forms_unchanged():
    m = ModelSpec(c=6)
    assert m == ModelSpec(c=6, input_dist="uniform") and m.key() == "c=6|r=2" and not m.point
    assert ModelSpec(c=6, input_dist="point").key() == "c=6|r=2|inputs=point"
    cfg = SearchConfig(c=6, n_starts=10)
    assert "input_dist" not in cfg.to_dict()
    assert SearchConfig(c=6, n_starts=10, input_dist="point").to_dict()["input_dist"] == "point"
    uni = default_catalogue_config(6)
    assert "input_dist" not in uni and set(uni) == {"kind", "code", "c", "r", "max_loss"}
    assert default_catalogue_config(6, input_dist="point") == {**uni, "input_dist": "point"}
    W = np.random.default_rng(0).normal(size=(2, 5))
    b = np.zeros(5) - 0.1
    assert kgon.potential(W, b, input_dist="uniform") == kgon.potential(W, b)
    with pytest.raises(ValueError, match="not both"):
        SearchConfig(ModelSpec(c=4), input_dist="point")


def test_point_exact_starts_are_certified_at_their_losses():
    X = exact_polygon_starts(2, 5, input_dist="point")
    L, gn = loss_and_grad_norm(X, ModelSpec(c=5, input_dist="point"))
    # rows: k = 3 (sigma+ = 0, 1, 2), k = 4 (0, 1), k = 5; the 3-gons with dead features have the positive
    # live bias 1/3, which fires on the dead features' inputs: not critical, and above the formula's loss
    want = [kgon.memorization_loss(k, 5, sigma_plus=s) for k in (3, 4, 5) for s in range(5 - k + 1)]
    np.testing.assert_allclose(L[3:], want[3:], atol=1e-12)
    assert np.all(gn[3:] <= 1e-9) and np.all(gn[:3] > 1e-3) and np.all(L[:3] > np.array(want[:3]) + 1e-3)
    assert exact_polygon_starts(1, 4, input_dist="point").shape == (0, 8)


@pytest.mark.slow
def test_point_catalogue_at_T3_finds_the_triangle_and_round_trips():
    cat = kgon.find_critical_points(3, r=2, input_dist="point", n_starts=60, explore_rounds=1,
                                    numerical_llc=False)
    assert cat.input_dist == "point" and cat.model.point
    best = cat.points[0]
    assert best.name == "3" and best.loss <= 1e-20 and best.hessian_signature[0] == 0
    np.testing.assert_allclose(np.linalg.norm(best.W, axis=0), kgon.memorization_radius(3), rtol=1e-9)
    again = Catalogue.from_json(cat.to_json())
    assert again.model == ModelSpec(c=3, input_dist="point") and again.to_json() == cat.to_json()


@pytest.mark.slow
@pytest.mark.parametrize("T", [4, 5, 6])
def test_point_catalogue_finds_the_zero_loss_tgon(T):
    cat = kgon.find_critical_points(T, r=2, input_dist="point", numerical_llc=False)
    tgon = cat.get(str(T))
    assert tgon.loss <= 1e-20 and tgon.hessian_signature[0] == 0
    np.testing.assert_allclose(np.linalg.norm(tgon.W, axis=0), kgon.memorization_radius(T), rtol=1e-7)
    assert cat.points[0].label == str(T)  # the global minimum
