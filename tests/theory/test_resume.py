"""One resume mechanism (kgon.io.ResultStore) behind every long run: an interrupted run resumes without
recomputing what is stored, and gives the same results as an uninterrupted one."""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

import sampling.dynamics.sgd as sgd_module
from kgon.io import ResultStore, StoreError, StoreRepairWarning
from sampling import SGDConfig
from theory.cli import main


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def count_sgd(monkeypatch):
    calls = []
    real = sgd_module.train_sgd

    def counted(config, seeds, **kw):
        calls.append(list(seeds))
        return real(config, seeds, **kw)

    monkeypatch.setattr(sgd_module, "train_sgd", counted)
    return calls


def test_train_or_load_resumes_and_key_is_stable(tmp_path, count_sgd):
    cfg = SGDConfig(c=4, epochs=2, checkpoints=5)
    store = ResultStore(tmp_path)
    a, reused_a = sgd_module.train_or_load(cfg, [0, 1], store)
    b, reused_b = sgd_module.train_or_load(cfg, [0, 1], ResultStore(tmp_path))
    assert (reused_a, reused_b) == (False, True) and count_sgd == [[0, 1]]
    for name in ("steps", "W", "b", "train_loss", "loss", "features", "mu", "diverged"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    fresh = sgd_module.train_sgd(cfg, [0, 1])  # what an uninterrupted run without a store computes
    np.testing.assert_array_equal(fresh.W, a.W)
    assert store.keys() == [sgd_module.sgd_run_key(cfg, [0, 1])]
    assert sgd_module.sgd_run_key(cfg, [0, 1]) != sgd_module.sgd_run_key(cfg, [0, 2])
    same = SGDConfig(c=4, epochs=2, checkpoints=5)
    assert sgd_module.sgd_run_key(cfg, [0, 1]) == sgd_module.sgd_run_key(same, (0, 1))


def test_sgd_cli_resume_legacy_and_corrupt(tmp_path, count_sgd, catalogue6):
    argv = ["sgd", "--c", "6", "--runs", "2", "--epochs", "2", "--checkpoints", "6", "--llc-per-plateau", "0",
            "--out", str(tmp_path / "o"), "--json"]
    code, out1, _ = _run(argv)
    assert code == 0 and len(count_sgd) == 1
    code, out2, _ = _run(argv)
    assert code == 0 and len(count_sgd) == 1  # resumed: not retrained
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k not in ("timings", "figures")}  # noqa: E731
    assert strip(out1) == strip(out2)
    # a corrupt entry: moved aside with a warning naming the file, and retrained
    rec = next((tmp_path / "o" / "sgd-runs").glob("*.json"))
    rec.write_text(rec.read_text()[:50])
    with pytest.warns(StoreRepairWarning, match="not valid JSON") as warned:
        code, out3, _ = _run(argv)
    assert code == 0 and len(count_sgd) == 2 and str(rec) in str(warned[0].message)
    assert strip(out3) == strip(out1) and len(list(rec.parent.glob(rec.name + ".corrupt-*"))) == 1
    # a directory of the layout before the store: refused, not silently recomputed beside it
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "sgd-0123456789ab.npz").write_bytes(b"")
    code, _, err = _run(argv[:-3] + ["--out", str(tmp_path / "old"), "--json"])
    assert code == 2 and "older version" in err and "--out" in err


def test_development_llc_curves_resume(tmp_path, monkeypatch):
    """Per-run LLC curves are store entries: a second call computes only the runs that are missing."""
    import sampling
    from theory.development.evaluate import llc_curves

    res = sgd_module.train_sgd(SGDConfig(c=4, epochs=1, checkpoints=4), [0, 1, 2])
    R, K = res.train_loss.shape
    calls = []

    def fake_llc_trajectory(key, result, *, centers, **kw):
        i = centers[0][0]
        calls.append(i)
        llc = np.zeros((R, K))
        llc[i] = np.arange(K) + 10.0 * i
        return SimpleNamespace(llc=llc, llc_se=llc / 10, healthy=np.ones((R, K, 2), bool),
                               computed=np.ones((R, K), bool), reasons={"nan": 0, "diverged": i, "escaped": 0},
                               config={"eps": kw.get("eps")}, reason="")

    monkeypatch.setattr(sampling, "llc_trajectory", fake_llc_trajectory)
    store = ResultStore(tmp_path)
    interrupt = [2]

    def interrupted(i, R_):  # the progress callback: the run is killed after run 1's curve is stored
        if i == interrupt[0]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        llc_curves(res, store=store, progress=interrupted)
    assert calls == [0, 1]
    full = llc_curves(res, store=store)
    assert calls == [0, 1, 2]  # resumed: run 2 only
    again = llc_curves(res, store=store)
    assert calls == [0, 1, 2]  # everything stored: nothing recomputed
    np.testing.assert_array_equal(full["llc"], again["llc"])
    np.testing.assert_array_equal(full["llc"][:, 1], [1.0, 11.0, 21.0])
    assert full["reasons"] == again["reasons"] == {"nan": 0, "diverged": 3, "escaped": 0}
    other = llc_curves(res, store=store, config=sampling.SGLDConfig(draws=100))  # other SGLD settings: other keys
    assert calls == [0, 1, 2, 0, 1, 2] and other["llc"].shape == (R, K)


def test_store_error_is_a_value_error():
    assert issubclass(StoreError, ValueError)


def test_io_error_while_writing_out_is_one_line(tmp_path, monkeypatch, catalogue6):
    """Disk full (or permission denied) while a command writes --out: one line naming the path, exit 2."""
    import errno
    import os

    import kgon.io

    def full(*args, dir=None, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dir))

    monkeypatch.setattr(kgon.io.tempfile, "mkstemp", full)
    out = tmp_path / "o"
    code, _, err = _run(["sgd", "--c", "6", "--runs", "1", "--epochs", "1", "--checkpoints", "4",
                         "--llc-per-plateau", "0", "--out", str(out), "--json"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0] == f"tmsphase sgd: error: No space left on device: {out / 'sgd-runs'}"
