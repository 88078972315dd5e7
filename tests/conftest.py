"""Shared pytest fixtures for the CenterOS test suite."""

import os
from pathlib import Path

import pytest

RECORDED_DATA_ENV = "CENTEROS_TEST_DATA"


@pytest.fixture(scope="session")
def recorded_data() -> Path:
    """Return the folder of recorded robot files named by CENTEROS_TEST_DATA.

    The files are public recordings kept outside the repository. Without the
    folder the tests that need it are skipped, except under CI=true, where a
    missing folder is a configuration error and fails the run.
    """
    folder = os.environ.get(RECORDED_DATA_ENV, "")
    if folder and Path(folder).is_dir():
        return Path(folder)

    message = (
        f"{RECORDED_DATA_ENV} must name the folder of recorded robot files "
        f"(got {folder!r})"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# ---------------------------------------------------------------------------
# Database and action-layer fixtures


def _is_postgresql() -> bool:
    # Read from the environment, as settings do, so collection works without
    # Django configured (the trainer tests run with the Django plugin off).
    return os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``postgres`` on SQLite, saying why."""
    if _is_postgresql():
        return
    reason = (
        "needs PostgreSQL (row locks and concurrent transactions); set "
        "DATABASE_URL=postgres://... to run it"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _storage_root(settings, tmp_path):
    """Give every test its own storage folder on disk.

    Changing STORAGES through the settings fixture makes Django drop its
    cached storage objects, so default_storage points at the new folder.
    """
    root = tmp_path / "storage"
    root.mkdir()
    settings.STORAGE_ROOT = root
    settings.MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # PBKDF2 at production strength costs ~0.3 s a hash; tests only need a
    # hasher that checks passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_throttle_cache():
    from django.core.cache import cache

    cache.clear()
    yield


class ActionResult:
    """The status, JSON body and response of one action call."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.body = response.json()

    @property
    def data(self):
        assert self.body.get("ok") is True, self.body
        return self.body["data"]

    def __repr__(self) -> str:
        return f"<ActionResult {self.status} {self.body!r:.300}>"


class ActionCaller:
    """Call actions through the real URL, view, auth and serializers."""

    def __init__(self, client, token: str | None = None):
        self.client = client
        self.token = token

    def __call__(self, name: str, params=None, *, token: str | None = ..., body=...):
        import json

        token = self.token if token is ... else token
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if body is ...:
            body = {"params": params if params is not None else {}}
        payload = body if isinstance(body, str | bytes) else json.dumps(body)
        response = self.client.post(
            f"/api/actions/{name}",
            data=payload,
            content_type="application/json",
            **headers,
        )
        return ActionResult(response)


@pytest.fixture
def org(db):
    from tests.factories import OrganizationFactory

    return OrganizationFactory(name="Pick Lab", slug="pick-lab")


@pytest.fixture
def other_org(db):
    from tests.factories import OrganizationFactory

    return OrganizationFactory(name="Other Lab", slug="other-lab")


@pytest.fixture
def make_token(db):
    """Create a member with a role and return a PAT for them.

    ``make_token(role="operator", scopes=["*"], org=org)`` returns the token
    string; the user and PAT are on ``make_token.last``.
    """
    from orgs.services import pat_create
    from tests.factories import MembershipFactory

    def make(role="admin", scopes=("*",), org=None, user=None):
        from tests.factories import OrganizationFactory

        org = org or OrganizationFactory()
        membership = (
            MembershipFactory(role=role, org=org, user=user)
            if user
            else MembershipFactory(role=role, org=org)
        )
        pat, token = pat_create(
            owner=membership.user, org=org, name="test", scopes=list(scopes)
        )
        make.last = pat
        return token

    return make


@pytest.fixture
def admin_token(make_token, org):
    return make_token(role="admin", org=org)


@pytest.fixture
def call(client, admin_token):
    """Call an action as an admin of ``org``; pass ``token=`` to change caller."""
    return ActionCaller(client, admin_token)
