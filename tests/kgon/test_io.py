"""kgon.io: the one strict-JSON conversion and the one atomic writer."""

import dataclasses
import json
import math

import numpy as np
import pytest

from kgon.io import dumps_json, to_jsonable, write_atomic, write_json_atomic, write_text_atomic


@dataclasses.dataclass(frozen=True)
class _Cfg:
    a: int
    b: float

    def to_dict(self):
        return {"a": self.a, "b": self.b, "kind": "cfg"}


@dataclasses.dataclass(frozen=True)
class _Plain:
    x: tuple
    y: np.ndarray


def test_strict_json_conversion():
    obj = {"nan": float("nan"), "inf": -math.inf, "np": np.float32(1.5), "i": np.int64(3), "b": np.bool_(True),
           "arr": np.array([[1.0, np.nan], [2.0, np.inf]]), "cfg": _Cfg(1, float("nan")), 4: (1, 2),
           "plain": _Plain((1,), np.arange(2))}
    got = to_jsonable(obj)
    assert got == {"nan": None, "inf": None, "np": 1.5, "i": 3, "b": True, "arr": [[1.0, None], [2.0, None]],
                   "cfg": {"a": 1, "b": None, "kind": "cfg"}, "4": [1, 2], "plain": {"x": [1], "y": [0, 1]}}
    text = dumps_json(obj, sort_keys=True, compact=True)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert " " not in text
    with pytest.raises(TypeError, match="cannot convert"):
        to_jsonable({"x": object()})


def test_atomic_writers(tmp_path):
    p = write_json_atomic(tmp_path / "a.json", {"x": float("nan"), "y": [1, 2]})
    assert json.loads(p.read_text()) == {"x": None, "y": [1, 2]}
    write_text_atomic(tmp_path / "a.json", "replaced")
    assert (tmp_path / "a.json").read_text() == "replaced"

    def boom(tmp):
        tmp.write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "a.json", boom)
    assert (tmp_path / "a.json").read_text() == "replaced"  # untouched
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.json"]  # no temporary left
