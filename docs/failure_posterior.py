"""Sampled posterior occupancy over n at c = 7 (docs/failure.md, "The Bayesian view").

Runs ``sampling.run_occupancy`` (parallel tempering, 4 ladders, 300 warm-up and 600 sampling sweeps)
at each n of ``NS`` on the default catalogue at c = 7 and writes each finished n into
docs/data/failure_posterior_c7.json (a re-run skips the n already there).

    python docs/failure_posterior.py [N ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

NS = (250, 500, 1000, 2000, 4000, 8000, 16000)
OUT = Path(__file__).resolve().parent / "data" / "failure_posterior_c7.json"


def main(ns) -> None:
    import jax

    import kgon
    import sampling
    from kgon.io import write_json_atomic

    kgon.configure_jax()
    cat = kgon.default_catalogue(7)
    done = json.loads(OUT.read_text()) if OUT.exists() else {"c": 7, "method": "tempered", "chains": 4,
                                                            "warmup": 300, "samples": 600, "runs": {}}
    for n in ns:
        if str(n) in done["runs"]:
            continue
        t0 = time.perf_counter()
        res = sampling.run_occupancy(jax.random.PRNGKey(n), catalogue=cat, c=7, n=n, method="tempered", chains=4,
                                     warmup=300, samples=600, data_seed=0, keep_idata=False)
        row = res.to_dict()
        row["wall_s"] = time.perf_counter() - t0
        done["runs"][str(n)] = row
        write_json_atomic(OUT, done)
        print(n, {k: round(v, 3) for k, v in res.occupancy.items()}, round(row["wall_s"], 1), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or NS)
