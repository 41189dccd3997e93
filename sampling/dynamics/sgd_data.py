"""Training data of the SGD runs: per-run torch generators, the high-sparsity training set
(feature index and magnitude mu of each sample), dense inputs under input sparsity, and the inputs
x = mu e_i as dense tensors (docs/dynamics.md; Chen et al. 2023 §6 for the protocol).

Each run's seed spawns three independent generators (data, initialisation, order of the minibatches),
so runs with distinct seeds are independent and a run's data do not depend on the others.
"""

from __future__ import annotations

import numpy as np
import torch

from kgon.validation import check_int

__all__ = ["run_generators", "training_data", "dense_training_inputs", "onehot_inputs", "training_inputs"]


def run_generators(seed: int) -> tuple[torch.Generator, torch.Generator, torch.Generator]:
    """The three independent torch generators (data, init, order) of a run with this seed."""
    seed = check_int("seed", seed, minimum=0)
    out = []
    for child in np.random.SeedSequence(seed).spawn(3):
        g = torch.Generator()
        g.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
        out.append(g)
    return tuple(out)


def training_data(seed: int, n: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set of the run with this seed: feature indices (n,) and magnitudes mu (n,) float64."""
    g = run_generators(seed)[0]
    features = torch.randint(0, c, (n,), generator=g)
    mu = torch.rand(n, generator=g, dtype=torch.float64)
    return features, mu


def dense_training_inputs(seed: int, n: int, c: int, sparsity: float, input_scale=None) -> torch.Tensor:
    """Training inputs (n, c) of the run with this seed under the general input density.

    x_ki = s_i u_ki 1[v_ki < 1 - S] with u, v independent uniforms from the run's data generator.
    """
    g = run_generators(seed)[0]
    active = torch.rand(n, c, generator=g, dtype=torch.float64) < 1.0 - sparsity
    values = torch.rand(n, c, generator=g, dtype=torch.float64)
    if input_scale is not None:
        values = values * torch.as_tensor(input_scale, dtype=torch.float64)
    return torch.where(active, values, 0.0)


def onehot_inputs(features: torch.Tensor, mu: torch.Tensor, c: int, dtype) -> torch.Tensor:
    """x = mu e_i as dense tensors: (..., c)."""
    eye = torch.eye(c, dtype=dtype)
    return mu.to(dtype)[..., None] * eye[features]


def training_inputs(cfg, data_seeds):
    """The training inputs of runs with these data seeds under ``cfg`` (a :class:`sampling.SGDConfig`):
    ``(X_data (R, n, c) float64, features, mu, inputs)``; ``features`` and
    ``mu`` are the high-sparsity draws (empty under ``cfg.sparsity``), ``inputs`` the dense inputs as numpy
    (None in the high-sparsity limit)."""
    R, n, c = len(data_seeds), cfg.n, cfg.c
    if cfg.sparsity is None:
        data = [training_data(s, n, c) for s in data_seeds]
        features = torch.stack([d[0] for d in data])
        mu = torch.stack([d[1] for d in data])
        X_data = onehot_inputs(features, mu, c, torch.float64)
        if cfg.input_scale is not None:
            X_data = X_data * torch.tensor(cfg.input_scale, dtype=torch.float64)
        return X_data, features, mu, None
    X_data = torch.stack([dense_training_inputs(s, n, c, cfg.sparsity, cfg.input_scale) for s in data_seeds])
    features, mu = torch.zeros((R, 0), dtype=torch.int64), torch.zeros((R, 0), dtype=torch.float64)
    return X_data, features, mu, X_data.numpy()
