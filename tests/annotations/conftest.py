"""Fixtures of the annotation tests."""

import pytest


@pytest.fixture
def admin_user(admin_token, make_token):
    """Return the user behind ``admin_token`` (the caller of ``call``)."""
    return make_token.last.owner
