"""Fixtures for the trainer, catalog and cost tests.

These modules import nothing from Django, so the suite-wide autouse fixtures
that prepare Django storage and caches are replaced here by no-ops. The tests
then also run with the Django plugin disabled (``-p no:django``).
"""

import pytest


@pytest.fixture(autouse=True)
def _storage_root():
    """Replace the Django storage fixture: these tests use no storage."""


@pytest.fixture(autouse=True)
def _clear_throttle_cache():
    """Replace the Django cache fixture: these tests use no cache."""
