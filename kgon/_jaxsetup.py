"""Configure JAX once, before it initialises: float64 and one CPU device per core.

Every module of the toolkit imports ``jax`` through this module. Published values are compared in
float64, so ``jax_enable_x64`` is switched on. The host device count must be set before the XLA
backend starts; it lets NUTS chains run in parallel over CPU devices (``sampling.run_nuts``). A
user-provided ``XLA_FLAGS`` device count is respected.
"""

from __future__ import annotations

import os

_FLAG = "--xla_force_host_platform_device_count"
_flags = os.environ.get("XLA_FLAGS", "")
if _FLAG not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} {_FLAG}={max(1, os.cpu_count() or 1)}".strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_enable_x64", True)

__all__ = ["jax", "jnp"]
