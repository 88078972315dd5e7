"""First checks of the action layer through the real URL and view."""

import pytest

pytestmark = pytest.mark.django_db


def test_whoami_with_pat(call, org):
    result = call("whoami")
    assert result.status == 200
    assert result.data["org"]["slug"] == "pick-lab"


def test_unknown_action_is_404(call):
    assert call("no_such_action").status == 404
