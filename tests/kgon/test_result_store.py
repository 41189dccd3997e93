"""kgon.io.ResultStore: the one resume mechanism (keys, get/put/contains/list, arrays, self-repair)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from kgon.io import (
    CORRUPT_SUFFIX,
    EntryMovedAside,
    ResultStore,
    StoreError,
    StoreRepairWarning,
    config_key,
    put_args,
    write_npz_atomic,
)


def test_config_key_is_stable_and_order_independent():
    cfg = {"c": 6, "n": 100, "method": "nuts", "threshold": None, "x": 0.1}
    # the canonical JSON is '{"c":6,"method":"nuts","n":100,"threshold":null,"x":0.1}': a fixed hash
    assert config_key(cfg) == config_key(dict(reversed(list(cfg.items()))))
    assert config_key(cfg) == KNOWN_KEY
    assert config_key({**cfg, "n": 101}) != config_key(cfg)
    assert config_key({"v": float("nan")}) == config_key({"v": None})  # strict JSON: NaN -> null
    assert len(config_key(cfg, length=12)) == 12 and config_key(cfg).startswith(config_key(cfg, length=12))
    with pytest.raises(ValueError, match="length"):
        config_key(cfg, length=4)


# sha256 of the canonical text '{"c":6,"method":"nuts","n":100,"threshold":null,"x":0.1}' (frozen: a
# change of the key derivation would orphan every stored result)
KNOWN_KEY = "cf84967a7c82bf23fe4f3dfc75663046"


def test_put_get_contains_list_with_arrays_and_attachments(tmp_path):
    store = ResultStore(tmp_path / "s")
    cfg = {"kind": "demo", "n": 3}
    assert not store.contains(cfg) and cfg not in store
    with pytest.raises(KeyError):
        store.get(cfg)
    W = np.arange(12.0).reshape(3, 4)
    entry = store.put(cfg, {"x": 1.5, "bad": float("nan")}, arrays={"W": W, "flag": np.array([True, False])},
                      attachments={"csv": lambda p: p.write_text("a,b\n1,2\n")}, elapsed_s=0.5)
    assert cfg in store and store.keys() == [config_key(cfg)] == [entry.key]
    got = store.get(cfg)
    assert got.result == {"x": 1.5, "bad": None} and got.config == cfg and got.meta["elapsed_s"] == 0.5
    arrays = got.load_arrays()
    np.testing.assert_array_equal(arrays["W"], W)
    assert arrays["flag"].dtype == bool
    assert got.attachment("csv").read_text() == "a,b\n1,2\n"
    assert [e.key for e in store.list()] == [entry.key]
    assert not list((tmp_path / "s").glob(".tmp-*"))  # no temporaries left behind


def test_get_or_compute_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return put_args({"y": 2}, arrays={"a": np.ones(3)})

    store = ResultStore(tmp_path)
    e1, reused1 = store.get_or_compute({"k": 1}, compute)
    e2, reused2 = ResultStore(tmp_path).get_or_compute({"k": 1}, compute)
    assert (reused1, reused2) == (False, True) and len(calls) == 1
    assert e1.result == e2.result == {"y": 2}
    np.testing.assert_array_equal(e2.load_arrays()["a"], np.ones(3))


def _moved_aside(root, key):
    """The moved-aside files of entry ``key`` under ``root`` (``<name>.corrupt-<UTC time>``)."""
    return sorted(p.name.split(CORRUPT_SUFFIX)[0] for p in root.iterdir() if CORRUPT_SUFFIX in p.name
                  and p.name.startswith(key))


def _truncate(p):
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_text(p.read_text()[:30]), "not valid JSON"),  # a partial record
        (_truncate, "not valid JSON"),
        (lambda p: p.write_bytes(b"\xff\xfe{"), "not UTF-8"),
        (lambda p: p.write_text("[1, 2]"), "not a JSON object"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "result": {"x": 2}})), "checksum"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "store_format": 1})), "another version"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "config": {"k": 2}})),
         "config does not match"),
        (lambda p: p.with_suffix(".npz").unlink(), "payload .* missing"),
        (lambda p: write_npz_atomic(p.with_suffix(".npz"), {"a": np.ones(2)}), "payload .* checksum"),
        (lambda p: _truncate(p.with_suffix(".npz")), "payload .* checksum"),
        (lambda p: p.with_suffix(".csv").unlink(), "attachment .* missing"),
    ],
)
def test_corrupt_entry_is_moved_aside_and_recomputed(tmp_path, damage, reason):
    store = ResultStore(tmp_path)
    entry = store.put({"k": 1}, {"x": 1}, arrays={"a": np.zeros(2)}, attachments={"csv": lambda p: p.write_text("a\n")})
    damage(entry.path)
    # get: moved aside with a warning naming the file and the reason, reported as EntryMovedAside
    with pytest.warns(StoreRepairWarning, match=reason) as warned:
        with pytest.raises(EntryMovedAside, match=reason) as info:
            store.get({"k": 1})
    assert str(entry.path) in str(warned[0].message) and CORRUPT_SUFFIX in str(warned[0].message)
    assert str(entry.path) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, StoreError) and info.value.moved and info.value.moved[0].exists()
    assert not [p for p in tmp_path.glob(f"{entry.key}.*") if CORRUPT_SUFFIX not in p.name]  # every file moved
    assert f"{entry.key}.json" in _moved_aside(tmp_path, entry.key)
    # then absent: get raises KeyError, get_or_compute recomputes, and the new entry is sound
    assert not store.contains({"k": 1}) and store.keys() == []
    with pytest.raises(KeyError):
        store.get({"k": 1})
    calls = []

    def compute():
        calls.append(1)
        return put_args({"x": 1}, arrays={"a": np.zeros(2)}, attachments={"csv": lambda p: p.write_text("a\n")})

    again, reused = store.get_or_compute({"k": 1}, compute)
    assert (reused, calls) == (False, [1]) and again.result == {"x": 1}
    np.testing.assert_array_equal(again.load_arrays()["a"], np.zeros(2))
    assert store.get_or_compute({"k": 1}, compute)[1] and calls == [1]


def test_get_or_compute_repairs_with_a_warning(tmp_path):
    """The common path: a truncated record is moved aside (warned) and recomputed by get_or_compute."""
    store = ResultStore(tmp_path)
    entry = store.put({"k": 1}, {"x": 1})
    _truncate(entry.path)
    with pytest.warns(StoreRepairWarning, match="moved aside"):
        got, reused = store.get_or_compute({"k": 1}, lambda: {"x": 2})
    assert not reused and got.result == {"x": 2} and store.get({"k": 1}).result == {"x": 2}
    assert _moved_aside(tmp_path, entry.key) == [f"{entry.key}.json"]


def test_payload_altered_after_get_is_moved_aside_by_load_arrays(tmp_path):
    store = ResultStore(tmp_path)
    entry = store.put({"k": 1}, {"x": 1}, arrays={"a": np.zeros(2)})
    got = store.get({"k": 1})
    write_npz_atomic(entry.path.with_suffix(".npz"), {"a": np.ones(2)})
    with pytest.warns(StoreRepairWarning, match="checksum"), pytest.raises(EntryMovedAside, match="checksum"):
        got.load_arrays()
    assert {"k": 1} not in store


def test_list_skips_and_moves_aside_corrupt_entries(tmp_path):
    store = ResultStore(tmp_path)
    good = store.put({"k": 1}, {"x": 1})
    bad = store.put({"k": 2}, {"x": 2})
    bad.path.write_text("{")
    with pytest.warns(StoreRepairWarning, match="not valid JSON"):
        assert [e.key for e in store.list()] == [good.key]
    assert store.keys() == [good.key]


def test_unreadable_record_is_an_error_not_moved(tmp_path):
    """A record the process may not read is not corrupt: StoreError, and the file stays."""
    store = ResultStore(tmp_path)
    entry = store.put({"k": 1}, {"x": 1})
    entry.path.chmod(0)
    try:
        if os.access(entry.path, os.R_OK):
            pytest.skip("running as a user who reads any file")
        with pytest.raises(StoreError, match="unreadable") as info:
            store.get({"k": 1})
        assert not isinstance(info.value, EntryMovedAside) and entry.path.exists()
    finally:
        entry.path.chmod(0o644)


def test_store_root_must_be_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        ResultStore(f)
    with pytest.raises(StoreError, match="parent is a file"):
        ResultStore(f / "sub")


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / ".tmp-999999999-x.json"
    dead.write_text("partial")
    ResultStore(tmp_path)
    assert not dead.exists()


def test_result_key_order_is_kept(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"k": 1}, {"z": 1, "a": {"6": 0.7, "5": 0.3}})
    got = store.get({"k": 1}).result
    assert list(got) == ["z", "a"] and list(got["a"]) == ["6", "5"]  # e.g. occupancy, decreasing
