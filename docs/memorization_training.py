"""The memorization setting itself, trained (docs/failure.md, Memorization).

    python docs/memorization_training.py [--steps N] [--seeds K]

Henighan et al. (2023), "Superposition, Memorization, and Double Descent": n = 10,000 features, m = 2
hidden dimensions, sparsity S = 0.999 (each coordinate non-zero with probability 0.001, uniform on
(0, 1] when non-zero), every example normalized to unit length, T training examples. The model is the
TMS, ReLU(W^T W x + b), trained full-batch on the loss (1/T) sum_k ||x_k - f(x_k)||^2 with AdamW
(lr 1e-2, weight decay 1e-2, torch's defaults otherwise) from the Glorot-normal initialisation. For
each T = 3..8 and each seed the script records the hidden vectors h_k = W x_k of the T examples and
compares them with the reduced model's zero-loss T-gon (kgon.memorization_polygon): the angular gaps
between consecutive h_k against 2 pi / T and the norms |h_k| against R = (1 - cos(2 pi / T))^(-1/2).
Results in docs/data/memorization_training.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

import kgon
from kgon.io import dumps_json, write_text_atomic

OUT = Path(__file__).resolve().parent / "data" / "memorization_training.json"
N_FEATURES, M, SPARSITY = 10_000, 2, 0.999


def examples(T: int, gen: torch.Generator) -> torch.Tensor:
    """T examples (rows): each coordinate non-zero with probability 1 - S, U(0, 1] there, unit length."""
    while True:
        mask = torch.rand(T, N_FEATURES, generator=gen, dtype=torch.float64) < 1 - SPARSITY
        if bool(torch.all(mask.sum(dim=1) > 0)):
            break
    vals = 1.0 - torch.rand(T, N_FEATURES, generator=gen, dtype=torch.float64)  # (0, 1]
    x = torch.where(mask, vals, torch.zeros_like(vals))
    return x / x.norm(dim=1, keepdim=True)


def train(T: int, seed: int, steps: int) -> dict:
    gen = torch.Generator().manual_seed(1000 * T + seed)
    X = examples(T, gen)
    W = torch.empty(M, N_FEATURES, dtype=torch.float64)
    torch.nn.init.xavier_normal_(W, generator=gen)
    W.requires_grad_(True)
    b = torch.zeros(N_FEATURES, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([W, b], lr=1e-2, weight_decay=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        out = torch.relu(X @ W.T @ W + b)
        loss = ((X - out) ** 2).sum(dim=1).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = torch.relu(X @ W.T @ W + b)
        loss = float(((X - out) ** 2).sum(dim=1).mean())
        H = (X @ W.T).numpy()  # (T, 2): the hidden vectors
        overlap = float((X @ X.T - torch.eye(T, dtype=torch.float64)).abs().max())
    ang = np.sort(np.mod(np.arctan2(H[:, 1], H[:, 0]), 2 * np.pi))
    gaps = np.diff(np.concatenate([ang, [ang[0] + 2 * np.pi]]))
    norms = np.linalg.norm(H, axis=1)
    r_min = kgon.memorization_radius(T)
    return {"T": T, "seed": seed, "loss": loss, "max_example_overlap": overlap,
            "gap_error": float(np.max(np.abs(gaps - 2 * np.pi / T))), "norms": norms.tolist(),
            "norm_over_rmin": (norms / r_min).tolist(), "r_min": r_min, "hidden": H.tolist()}


def main(argv: list[str]) -> None:
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 3000
    seeds = int(argv[argv.index("--seeds") + 1]) if "--seeds" in argv else 5
    torch.set_num_threads(1)
    runs = []
    for T in range(3, 9):
        t0 = time.time()
        for seed in range(seeds):
            runs.append(train(T, seed, steps))
        done = [r for r in runs if r["T"] == T]
        print(f"T = {T}: {time.time() - t0:.0f} s; loss {[round(r['loss'], 5) for r in done]}; gap error "
              f"{[round(r['gap_error'], 3) for r in done]}; |h|/R {[round(float(np.mean(r['norm_over_rmin'])), 3) for r in done]}",
              flush=True)
    write_text_atomic(OUT, dumps_json({"steps": steps, "seeds": seeds, "lr": 1e-2, "weight_decay": 1e-2,
                                       "n_features": N_FEATURES, "sparsity": SPARSITY, "runs": runs}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
