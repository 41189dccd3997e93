"""Importing the packages changes no global JAX state; ``kgon.configure_jax`` does, explicitly."""

import json
import os
import subprocess
import sys

import pytest

import kgon
from kgon.config import require_x64

_PROBE = """
import json, os, sys
before = os.environ.get("XLA_FLAGS")
import kgon, sampling, theory  # noqa: F401
import jax
out = {"x64": bool(jax.config.jax_enable_x64), "same_flags": os.environ.get("XLA_FLAGS") == before}
kgon.configure_jax(host_devices=3)   # still possible: the imports did not start the backend
out["x64_after"] = bool(jax.config.jax_enable_x64)
out["devices"] = jax.local_device_count()
print(json.dumps(out))
"""


def test_import_has_no_global_side_effects():
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_ENABLE_X64")}
    env["XLA_FLAGS"] = "--xla_cpu_enable_fast_math=false"
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res == {"x64": False, "same_flags": True, "x64_after": True, "devices": 3}


def test_configure_jax_validates_arguments():
    with pytest.raises(ValueError, match="`host_devices`"):
        kgon.configure_jax(host_devices=0)
    with pytest.raises(ValueError, match="`x64`"):
        kgon.configure_jax(x64=1)


def test_float64_computations_refuse_float32():
    import jax

    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match=r"kgon\.configure_jax\(\)"):
            require_x64("kgon.find_critical_points")
        with pytest.raises(RuntimeError, match=r"kgon\.kgon .*configure_jax"):
            kgon.kgon(5, 6)
    finally:
        kgon.configure_jax()
    require_x64("anything")  # no error in float64
