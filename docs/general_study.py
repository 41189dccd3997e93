"""Seed-000-style SGD study of the general TMS (docs/general.md): loss curves and final weights.

Protocol (the extension study's "prima example"): c = 8 features, n = 1000 training inputs, 20000 epochs
of plain SGD with batch 100 and learning rate 0.01 from a 2-gon start, 50 log-spaced checkpoints; one
direction changed at a time: input sparsity S in {0.3, 0.5, 0.7} (default: the high-sparsity limit),
hidden dimensions r in {3, 4}, feature importance (1, 0.8, ..., 0.01). Usage:

    python docs/general_study.py --runs 4 --epochs 20000 --out /tmp/general   # writes results + figure

Results (one .npz per configuration, reused when present) and ``general_study.png/.pdf`` go to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import kgon
from sampling import SGDConfig, SGDResult, train_sgd

IMPORTANCE_A = (1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.01)
CONFIGS = {
    "high sparsity, r = 2": {},
    "S = 0.7": {"sparsity": 0.7},
    "S = 0.5": {"sparsity": 0.5},
    "S = 0.3": {"sparsity": 0.3},
    "r = 3": {"r": 3},
    "r = 4": {"r": 4},
    "importance (1, 0.8, ..., 0.01)": {"importance": IMPORTANCE_A},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=20000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    kgon.configure_jax()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, extra in CONFIGS.items():
        cfg = SGDConfig(c=8, n=1000, batch_size=100, lr=0.01, epochs=args.epochs, init_k=2, checkpoints=50,
                        **extra)
        path = args.out / f"sgd-{cfg.key()}.npz"
        res = SGDResult.load(path) if path.exists() else train_sgd(cfg, list(range(args.runs)), progress=True)
        res.save(path)
        results[name] = res
    summary = {}
    for name, res in results.items():
        live = np.linalg.norm(res.W[:, -1], axis=1) > 0.1
        summary[name] = {
            "final_loss_mean": float(np.nanmean(res.loss[:, -1])),
            "final_loss_min": float(np.nanmin(res.loss[:, -1])),
            "live_columns": [int(x) for x in live.sum(axis=1)],
            "diverged": int(res.diverged.sum()),
        }
    (args.out / "general_study.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    from sampling.plot import plot_general_study

    plot_general_study(results, args.out / "general_study")


if __name__ == "__main__":
    main()
