"""Explicit global JAX settings: float64 and the host device count.

Importing ``kgon``, ``sampling`` or ``theory`` changes no global state. A program that uses the
toolkit calls :func:`configure_jax` once, at its start, as with numpyro's ``enable_x64`` and
``set_host_device_count``; the ``tmsphase`` command and the test configuration do so. Functions whose
results are certified or compared with published values in float64 (the k-gon solver
:func:`kgon.kgon`, the critical-point search and catalogue, the Hessian geometry and the LLC of a
critical point) check the setting with :func:`require_x64` and raise a clear error instead of
silently running in float32.
"""

from __future__ import annotations

import os

import jax

__all__ = ["configure_jax", "require_x64"]

_XLA_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def configure_jax(*, x64: bool = True, host_devices: int | None = None) -> None:
    """Set JAX's float64 mode and the number of host (CPU) devices.

    Parameters
    ----------
    x64 : bool, keyword-only
        Switch ``jax_enable_x64`` on (default) or off. May be called at any time; arrays created
        before keep their dtype.
    host_devices : int or None, keyword-only
        Number of CPU devices XLA exposes, so that NUTS chains run in parallel with ``jax.pmap``
        (:func:`sampling.run_nuts`). Takes effect only before JAX's backend starts (before the first
        JAX operation). ``None`` (default): one device per CPU core, unless ``XLA_FLAGS`` already
        sets ``--xla_force_host_platform_device_count`` (then that is respected), and silently
        nothing if the backend has already started. An explicit value after the backend has
        started raises ``RuntimeError``.
    """
    if not isinstance(x64, bool):
        raise ValueError(f"`x64` must be True or False; got {x64!r}.")
    if host_devices is not None and (
        isinstance(host_devices, bool) or not isinstance(host_devices, int) or host_devices < 1
    ):
        raise ValueError(f"`host_devices` must be a positive integer or None; got {host_devices!r}.")
    jax.config.update("jax_enable_x64", x64)
    if host_devices is None:
        if _XLA_DEVICE_FLAG in os.environ.get("XLA_FLAGS", ""):
            return
        try:
            jax.config.update("jax_num_cpu_devices", max(1, os.cpu_count() or 1))
        except RuntimeError:
            pass  # backend already started: keep its device count
        return
    try:
        jax.config.update("jax_num_cpu_devices", host_devices)
    except RuntimeError as err:
        raise RuntimeError(
            f"`host_devices` = {host_devices} cannot be set: JAX's backend has already started; "
            "call kgon.configure_jax() before the first JAX operation."
        ) from err


def require_x64(what: str) -> None:
    """Raise ``RuntimeError`` unless JAX runs in float64 (``kgon.configure_jax()`` switches it on).

    ``what`` names the computation in the message, e.g. ``"kgon.find_critical_points"``.
    """
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            f"{what} certifies results in float64, but JAX runs in float32; "
            "call kgon.configure_jax() once at the start of the program."
        )
