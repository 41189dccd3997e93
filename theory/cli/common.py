"""What several ``tmsphase`` commands share beyond argument checks: the store of SGD runs."""

from __future__ import annotations

from pathlib import Path

from kgon.io import ResultStore, refuse_legacy

__all__ = ["sgd_store"]


def sgd_store(out):
    """The result store of SGD runs under ``--out DIR`` (``DIR/sgd-runs``), or None without ``--out``.

    ``tmsphase sgd`` (also with general-model flags) and ``tmsphase development`` share it. A directory
    written before the store (``sgd-<hash>.npz``, ``development-<hash>/sgd.npz``) is refused with a
    one-line error.
    """
    if out is None:
        return None
    refuse_legacy(out, ("sgd-*.npz", "development-*/sgd.npz", "development-*/llc/llc-*run*.npz"))
    return ResultStore(Path(out) / "sgd-runs")
