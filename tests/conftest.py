"""Shared fixtures. The compiled extension is imported lazily so that test_reference.py (which
needs only the pure-Python reference) still runs from a checkout where it is not built."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

try:
    import hashembed
except ImportError:  # test_reference.py copes; every other file fails on its own import
    hashembed = None

settings.register_profile(
    "hashembed",
    deadline=None,  # the reference oracle is slow by design, and timing varies with load
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "hashembed"))

KERNELS = hashembed.available_kernels() if hashembed is not None else []


@pytest.fixture(params=KERNELS)
def kernel(request):
    """Runs the test once per kernel this CPU supports, with that kernel active."""
    previous = hashembed.get_kernel()
    hashembed.set_kernel(request.param)
    try:
        yield request.param
    finally:
        hashembed.set_kernel(previous)


@pytest.fixture
def restore_kernel():
    """For tests that switch kernels themselves: puts back the kernel that was active."""
    previous = hashembed.get_kernel()
    try:
        yield
    finally:
        hashembed.set_kernel(previous)


@pytest.fixture(scope="session")
def default_embedder():
    return hashembed.HashEmbedder()
