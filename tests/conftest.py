"""Shared pytest fixtures.

``catalogue6``: the default c = 6, r = 2 critical-point catalogue (``kgon.default_catalogue(6)``),
computed at most once per test session (and cached on disk across sessions, keyed by the code).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def catalogue6():
    import kgon

    return kgon.default_catalogue(6)
