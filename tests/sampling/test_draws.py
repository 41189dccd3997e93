"""PosteriorDraws: the one type of posterior draws (NUTS, tempering, the general posterior)."""

import dataclasses

import numpy as np
import pytest

import sampling
from sampling.general import GeneralPosterior


def _draws(C=2, T=3, r=2, c=4, labels=None):
    rng = np.random.default_rng(0)
    return sampling.PosteriorDraws(W=rng.normal(size=(C, T, r, c)), b=rng.normal(size=(C, T, c)),
                                   loss=rng.random((C, T)), diverging=np.zeros((C, T), bool), n=100, labels=labels)


def test_posterior_draws_shapes_and_validation():
    d = _draws(labels=np.full((2, 3), "5"))
    assert (d.chains, d.samples, d.r, d.c, d.n, d.beta) == (2, 3, 2, 4, 100, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.n = 3
    with pytest.raises(ValueError, match="`b` must have leading axes"):
        sampling.PosteriorDraws(W=d.W, b=d.b[:, :2], loss=d.loss, diverging=d.diverging, n=100)
    with pytest.raises(ValueError, match="`labels` must have shape"):
        _draws(labels=np.full((2, 2), "5"))


@pytest.mark.parametrize("cls", [sampling.NutsResult, sampling.TemperingResult, GeneralPosterior])
def test_every_sampler_result_holds_posterior_draws(cls):
    field = {f.name: f for f in dataclasses.fields(cls)}["draws"]
    assert field.type in ("PosteriorDraws", sampling.PosteriorDraws)
    assert {"W", "b", "loss"} <= {name for name in dir(cls) if isinstance(getattr(cls, name), property)}
