"""The T-gon catalogue of the point-input potential for docs/failure.md (Memorization).

    python docs/memorization_tables.py [T ...] [--n-starts-per-c N]

For each T (default 3..12) runs ``kgon.find_critical_points(T, r=2, input_dist="point", numerical_llc=False)``
(n_starts = N * T, default 200 T, the default search) and stores, per T, the wall time, the zero-loss
T-gon's radius against R^2 = 1/(1 - cos(2 pi / T)), and every catalogue point (label, loss, Hessian
signature, C^2 or not) in docs/data/memorization.json. Finished T are kept (resume: rerun skips them).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import kgon
from kgon.io import dumps_json, write_text_atomic

OUT = Path(__file__).resolve().parent / "data" / "memorization.json"


def one(T: int, n_starts: int) -> dict:
    t0 = time.time()
    cat = kgon.find_critical_points(T, r=2, input_dist="point", n_starts=n_starts, numerical_llc=False)
    wall = time.time() - t0
    points = [{"label": p.label, "k": p.k, "sigma_plus": p.sigma_plus, "sigma_minus": p.sigma_minus,
               "loss": p.loss, "signature": list(p.hessian_signature), "smooth": p.smooth,
               "minimum": p.hessian_signature[0] == 0} for p in cat.points]
    tgon = [p for p in cat.points if p.name == str(T)]
    entry = {"T": T, "n_starts": n_starts, "n_converged": cat.n_converged, "wall_s": round(wall, 1),
             "r_min": kgon.memorization_radius(T), "points": points, "tgon": None}
    if tgon:
        p = tgon[0]
        norms = np.linalg.norm(p.W, axis=0)
        entry["tgon"] = {"loss": p.loss, "radius": float(norms.max()), "bias": float(p.b[0]),
                         "signature": list(p.hessian_signature), "smooth": p.smooth, "W": p.W.tolist(),
                         "b": p.b.tolist()}
    return entry


def main(argv: list[str]) -> None:
    kgon.configure_jax()
    per_c = 200
    if "--n-starts-per-c" in argv:
        i = argv.index("--n-starts-per-c")
        per_c = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    Ts = [int(a) for a in argv] or list(range(3, 13))
    data = json.loads(OUT.read_text()) if OUT.exists() else {"rows": {}}
    for T in Ts:
        if str(T) in data["rows"]:
            continue
        entry = one(T, per_c * T)
        data["rows"][str(T)] = entry
        write_text_atomic(OUT, dumps_json(data, indent=1))
        tg = entry["tgon"]
        radius = "none" if tg is None else f"R = {tg['radius']:.6f} (R_min {entry['r_min']:.6f}), loss {tg['loss']:.2e}"
        print(f"T = {T}: {len(entry['points'])} points, {entry['wall_s']} s; T-gon {radius}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
