"""Shared pytest configuration and fixtures.

JAX is configured once, at the import of this file (before any test runs a JAX operation):
float64 and one host device per CPU core, ``kgon.configure_jax()``; importing the packages changes
nothing global.

The default c = 6, r = 2 catalogue (``kgon.default_catalogue(6)``, about a minute to compute) is
frozen in ``tests/fixtures/catalogue_c6_r2.json``. For the whole session ``default_catalogue``'s disk
cache (``$TMSPHASE_CACHE``, inherited by CLI subprocesses) is a fresh temporary directory that holds
the frozen file under the current cache key, so neither the tests nor the commands they run
recompute it. The slow test ``tests/kgon/test_catalogue_frozen.py`` recomputes the catalogue and checks
that the frozen file is current; regenerate the file with ``python tests/fixtures/freeze_catalogue.py``.

``catalogue6``: that catalogue.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import kgon
from kgon.critical.cache import store_default_catalogue
from kgon.critical.catalogue import Catalogue

if os.environ.get("TMSPHASE_TEST_JAX_CACHE", "1") != "0":
    # One persistent XLA compilation cache per test session (a fresh temporary directory, so a clean
    # clone starts empty): a computation compiled once is not compiled again by a later test that
    # builds the same program anew (a new closure, another module's fixture, a CLI subprocess, which
    # inherits these variables).
    import atexit
    import tempfile

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="tmsphase-xla-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
kgon.configure_jax()


def pytest_configure(config):
    """The default run (``-m 'not slow'``) compiles with XLA's backend optimisation level 0.

    Compilation is about two thirds of the default run's time (its programs are small and run briefly),
    and level 0 compiles them about a third faster; it changes the machine code's speed, not what it
    computes (no fast-math). The slow statistical tests run long chains and keep the default level. Set
    ``TMSPHASE_TEST_FAST_COMPILE=0`` to compile as usual. The flag must be set before JAX's backend
    starts (the first JAX operation); nothing above starts it. CLI subprocesses inherit it.
    """
    fast = os.environ.get("TMSPHASE_TEST_FAST_COMPILE", "1") != "0"
    if fast and (config.getoption("markexpr") or "").strip() == "not slow":
        flags = os.environ.get("XLA_FLAGS", "")
        if "--xla_backend_optimization_level" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()


FROZEN_CATALOGUE6 = Path(__file__).resolve().parent / "fixtures" / "catalogue_c6_r2.json"


@pytest.fixture(scope="session", autouse=True)
def frozen_catalogue_cache(tmp_path_factory):
    """A private ``$TMSPHASE_CACHE`` holding the frozen c = 6 catalogue under the current key."""
    old = os.environ.get("TMSPHASE_CACHE")
    os.environ["TMSPHASE_CACHE"] = str(tmp_path_factory.mktemp("tmsphase-cache"))
    path = store_default_catalogue(Catalogue.from_json(FROZEN_CATALOGUE6.read_text()))
    yield path.parent
    if old is None:
        os.environ.pop("TMSPHASE_CACHE", None)
    else:
        os.environ["TMSPHASE_CACHE"] = old


@pytest.fixture(scope="session")
def catalogue6(frozen_catalogue_cache):
    return kgon.default_catalogue(6)


# The modules that take longest (about 8-30 s each on 2 cores), collected first. The default run
# spreads whole modules over the cores (`-n auto --dist loadscope --no-loadscope-reorder`, README):
# handing out the longest first lets the workers finish together instead of one waiting on a long
# module drawn last. The order changes nothing else; the other modules keep theirs.
_LONGEST_FIRST = (
    "test_zoo_search.py", "test_reproduce.py", "test_llc_cli.py", "test_sweep_run.py",
    "test_occupancy.py", "test_tempering.py", "test_zoo_scale.py", "test_llc_tms.py",
    "test_llc_calibrate.py", "test_potential.py", "test_general_study.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable
