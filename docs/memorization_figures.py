"""The figure of docs/failure.md (Memorization) from docs/data/memorization_training.json.

Writes docs/figures/memorization_tgons.png (+ PDF): the zero-loss T-gons of the point-input potential
(kgon.memorization_polygon, T = 3..12) and the trained hidden vectors of the memorization setting
(docs/memorization_training.py, every run) divided by R_T, against the regular T-gon.

    python docs/memorization_figures.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    import kgon
    from kgon.plot import plot_memorization

    tgons = [(T, kgon.memorization_polygon(T)[0]) for T in range(3, 13)]
    runs = json.loads((HERE / "data" / "memorization_training.json").read_text())["runs"]
    trained = [(r["T"], np.asarray(r["hidden"]) / r["r_min"]) for r in runs]
    for f in plot_memorization(tgons, trained, HERE / "figures" / "memorization_tgons.png"):
        print(f)


if __name__ == "__main__":
    main()
