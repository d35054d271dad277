"""Shared test set-up: the repository root on sys.path, so tests import ``tests.harness``;
and the ``needs_bwrap`` mark: a test that needs a usable bubblewrap is skipped on a
developer's machine without one, and FAILS under ``CI=true``, where a missing sandbox must
never pass for a green run."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.xdist_groups", "tests.timeline"]


def pytest_configure(config):
    """Every rnn-grade run of this test session (the test processes' and the ones they start)
    keeps its grading kits in one folder (``rnngrade.batch.cached_kit``): the same course graded
    twice builds its kits once. The folder is this session's, as the shared student runs are."""
    from rnngrade.batch import KIT_CACHE_ENV
    from tests.harness import remove_earlier_sessions

    if KIT_CACHE_ENV in os.environ:
        return
    caches = ROOT / "_build" / "kit-cache"
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"run-{os.getpid()}"
    remove_earlier_sessions(caches, keep=run)
    os.environ[KIT_CACHE_ENV] = str(caches / run)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module's tiny models: faster, and fair to a busy machine
    (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    from rnncourse.device import cpu_threads

    with cpu_threads(1):
        yield


@pytest.fixture(scope="session")
def book_build():
    """The book, built once per test session by the tests of the "book" xdist group (one
    worker): test_book checks the build itself, the others read its HTML."""
    from tests.book import build_book

    return build_book()


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_bwrap") is None:
        return
    from rnngrade import sandbox

    mode, why = sandbox.probe()
    if mode == "bwrap":
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"bubblewrap is required under CI=true and is not usable: {why}", pytrace=False)
    pytest.skip(f"bubblewrap is not usable here: {why}")
