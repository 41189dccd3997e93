"""Shared pytest configuration and fixtures.

JAX is configured once, at the import of this file (before any test runs a JAX operation):
float64 and one host device per CPU core, ``kgon.configure_jax()``; importing the packages changes
nothing global.

``catalogue6``: the default c = 6, r = 2 critical-point catalogue (``kgon.default_catalogue(6)``),
computed at most once per test session (and cached on disk across sessions, keyed by the code).
"""

from __future__ import annotations

import pytest

import kgon

kgon.configure_jax()


@pytest.fixture(scope="session")
def catalogue6():
    return kgon.default_catalogue(6)
