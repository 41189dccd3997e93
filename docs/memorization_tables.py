"""The T-gon catalogue of the point-input potential for docs/failure.md (Memorization).

    python docs/memorization_tables.py [T ...] [--n-starts-per-c N]

For each T (default 3..12) runs ``kgon.find_critical_points(T, r=2, input_dist="point", numerical_llc=False)``
(n_starts = N * T, default 200 T, the default search) and stores, per T, the wall time, the zero-loss
T-gon's radius against R^2 = 1/(1 - cos(2 pi / T)), and every catalogue point (label, loss, Hessian
signature, C^2 or not) in docs/data/memorization.json. Finished T are kept (resume: rerun skips them).

Then, for every stored T >= 5, the kink test of the "pac-man" (T-1)+ (the zero-loss (T-1)-gon with the
dead feature at bias 1/T, kgon.memorization_polygon(T - 1, T, sigma_plus=1), which is the catalogue's
point): the catalogue's Hessian index is that of one smooth piece at a kink, so the script looks for a
descent direction among the negative-curvature directions of the pieces meeting there
(kgon.critical.measure.kink_descent, 48 pieces) and stores the loss drop along it at t = 1e-4, 1e-3, 1e-2
(a drop that scales as t^2 is a second-order descent: a saddle) under "pacman".
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


def pacman(T: int) -> dict:
    """The kink test of (T-1)+ at T features (module docstring)."""
    from kgon.critical.measure import kink_descent
    from kgon.critical.search import ModelSpec, flatten, loss_and_grad_norm

    model = ModelSpec(c=T, input_dist="point")
    x = flatten(*kgon.memorization_polygon(T - 1, T, sigma_plus=1))
    v = kink_descent(x, model, n_pieces=48)
    L0 = float(loss_and_grad_norm(x[None], model)[0][0])
    drops = None
    if v is not None:
        drops = [float(loss_and_grad_norm((x + t * v)[None], model)[0][0]) - L0 for t in (1e-4, 1e-3, 1e-2)]
    return {"loss": L0, "descent": v is not None, "drops": drops}


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
    for key, entry in data["rows"].items():
        if int(key) >= 5 and "pacman" not in entry:
            entry["pacman"] = pacman(int(key))
            write_text_atomic(OUT, dumps_json(data, indent=1))
            print(f"T = {key}: (T-1)+ {entry['pacman']}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
