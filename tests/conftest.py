"""Shared fixtures. The compiled extension is imported lazily so that test_reference.py (which
needs only the pure-Python reference) still runs from a checkout where it is not built."""

from __future__ import annotations

import os
import re

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


# -- no Rust panic may reach Python ---------------------------------------------------------------
# A panic in the extension surfaces as pyo3_runtime.PanicException (a BaseException), and Rust's
# panic hook prints "thread '...' panicked at ..." to stderr first. Either one, in any phase of
# any test, fails that test and the session. Limits: a test that catches the exception itself
# (`except BaseException`) is still caught through the stderr line, but only while pytest
# captures output (not with -s), and panics inside subprocesses are for those tests to check.

RUST_PANIC = re.compile(r"thread '[^']*'(?: \(\d+\))? panicked at ")
_panics: list[str] = []


def is_panic(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from or during, is a PanicException."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "PanicException":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    raised = call.excinfo is not None and is_panic(call.excinfo.value)
    printed = RUST_PANIC.search(report.capstderr or "")
    if raised or printed:
        how = "raised PanicException" if raised else f"printed a Rust panic: {printed.group(0)!r}"
        _panics.append(f"{item.nodeid} ({call.when}) {how}")
        report.outcome = "failed"
        if not raised:
            report.longrepr = f"a Rust panic was printed during {call.when}:\n{report.capstderr}"


def pytest_sessionfinish(session, exitstatus):
    if _panics:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _panics:
        terminalreporter.section("Rust panics reached Python", red=True)
        for line in _panics:
            terminalreporter.line(line)
