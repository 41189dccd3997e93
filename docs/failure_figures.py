"""Figures of docs/failure.md from docs/data/failure.json and docs/data/failure_posterior_c7.json.

Writes docs/figures/failure_global.png (the global minimum's share by c and optimizer, observed and
predicted), failure_c7_points.png (the c = 7 end points drawn with kgon.plot), failure_c7_ends.png
(observed vs predicted at c = 7) and failure_c7_posterior.png (the leading and refined free energies
of 7, 6+, 6 beside the sampled posterior). The refined free energies are computed once and stored in
the posterior file under "theory".

    python docs/failure_figures.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIG = HERE / "figures"
LABELS = ("7", "6+", "6")
GRID = (100, 200, 400, 800, 1500, 3000, 6000, 12000, 24000)


def main() -> None:
    import kgon
    import theory
    from kgon.io import write_json_atomic
    from kgon.plot import plot_polygons
    from theory.failure.plot import plot_end_points, plot_global_fraction, plot_posterior_vs_theory

    kgon.configure_jax()
    data = json.loads((HERE / "data" / "failure.json").read_text())
    rows = []
    for key, d in data["observed"].items():
        c, setting = key.split("/")
        if setting == "adamw":
            continue
        gm = d["global_minimum"]["label"]
        rows.append({"c": int(c), "setting": f"{setting} lr {d['lr']:g}", "observed": d["global_minimum"]["observed"],
                     "predicted": d["global_minimum"]["predicted"], "observed_err": d["observed_err"].get(gm, 0.0),
                     "predicted_err": d["predicted_err"].get(gm, 0.0)})
    print(plot_global_fraction(rows, FIG / "failure_global.png"))
    d7 = data["observed"]["7/adam"]
    print(plot_end_points(d7["observed"], d7["predicted"], FIG / "failure_c7_ends.png",
                          observed_err=d7["observed_err"], predicted_err=d7["predicted_err"],
                          title="c = 7: Adam (lr 0.005), 40 runs; gradient flow, 400 starts"))
    cat = kgon.default_catalogue(7)
    print(plot_polygons([cat.get(lab) for lab in ("7", "6+", "5++")], FIG / "failure_c7_points.png",
                        title="c = 7: the global minimum, the pac-man 6+ and the flow's usual end 5++"))

    post_path = HERE / "data" / "failure_posterior_c7.json"
    post = json.loads(post_path.read_text())
    if "theory" not in post:
        ns = np.array(GRID, dtype=float)
        refined = theory.free_energy(cat, ns, labels=list(LABELS), order="refined")
        leading = theory.free_energy(cat, ns, labels=list(LABELS), order="leading")
        post["theory"] = {"ns": list(GRID), "leading": {k: v.tolist() for k, v in leading.items()},
                          "refined": {k: v.tolist() for k, v in refined.items()}}
        write_json_atomic(post_path, post)
    th = post["theory"]
    posterior = {int(n): (r["occupancy"], r["occupancy_err"]) for n, r in post["runs"].items()}
    print(plot_posterior_vs_theory(th["ns"], {"leading": th["leading"], "refined": th["refined"]}, posterior,
                                   FIG / "failure_c7_posterior.png", labels=LABELS))


if __name__ == "__main__":
    main()
