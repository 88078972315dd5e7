"""Discovery, dispatch, validation, errors, audit and schema of the action layer."""

import pytest
from django.db import connection

from centeros.actions import Risk, action, registry
from centeros.actions.params import ActionParams, StrictIntegerField
from centeros.models import AuditLogEntry
from centeros.scopes import ALL_SCOPES, AUTHENTICATED
from tests.conftest import ActionCaller

pytestmark = pytest.mark.django_db

REFERENCE_ACTIONS = {
    "datasets": {
        "list_datasets",
        "get_dataset",
        "delete_dataset",
        "upload_dataset",
        "get_upload_signed_url",
        "confirm_upload",
    },
    "training": {
        "list_training_jobs",
        "create_training_job",
        "get_training_status",
        "launch_training",
        "get_finetune_catalog",
        "estimate_cost",
    },
    "models": {"list_models", "register_model", "promote_model", "get_model_lineage"},
    "fleet": {
        "get_fleet_summary",
        "list_robots",
        "get_robot_state",
        "register_robot",
        "deploy_model",
        "emergency_stop",
    },
    "annotations": {
        "list_annotation_tasks",
        "create_annotation_task",
        "get_annotation_metrics",
        "submit_task",
    },
    "orgs": {"list_orgs", "list_org_members", "invite_member"},
    "stats": {"get_platform_stats", "get_system_health"},
    "tokens": {"whoami", "list_pats", "create_pat", "revoke_pat"},
    "evaluations": {
        "list_evaluations",
        "get_evaluation",
        "create_evaluation",
        "record_evaluation_result",
    },
}

REFERENCE_SCOPES = {
    "list_datasets": ["datasets:read"],
    "delete_dataset": ["datasets:write"],
    "confirm_upload": ["datasets:write"],
    "estimate_cost": ["training:read"],
    "launch_training": ["training:write"],
    "promote_model": ["models:write"],
    "get_model_lineage": ["models:read"],
    "deploy_model": ["fleet:write", "models:read"],
    "emergency_stop": ["fleet:write"],
    "submit_task": ["annotations:write"],
    "invite_member": ["orgs:write"],
    "get_system_health": ["stats:read"],
    "create_evaluation": ["models:write"],
    "list_evaluations": ["models:read"],
}


class EchoParams(ActionParams):
    count = StrictIntegerField(min_value=0, max_value=10)


@pytest.fixture
def temporary_action():
    """Register actions for one test and remove them afterwards."""
    added = []

    def register(**kwargs):
        def decorator(handler):
            action(**kwargs)(handler)
            added.append(kwargs["name"])
            return handler

        return decorator

    yield register
    for name in added:
        registry._actions.pop(name, None)


def test_all_reference_actions_are_registered():
    registered = {a.name: a.category for a in registry.all()}
    for category, names in REFERENCE_ACTIONS.items():
        for name in names:
            assert registered.get(name) == category, name


def test_reference_scopes_are_declared():
    for name, scopes in REFERENCE_SCOPES.items():
        assert sorted(registry.get(name).scopes) == sorted(scopes), name


def test_every_action_declares_known_scopes():
    for declared in registry.all():
        assert declared.scopes, declared.name
        for scope in declared.scopes:
            assert scope in ALL_SCOPES or scope == AUTHENTICATED, declared.name


def test_registry_rejects_action_without_scopes():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="declares no scopes"):

        @action(
            name="scopeless",
            category="test",
            description="x",
            scopes=[],
            risk=Risk.READ,
            params=EchoParams,
        )
        def scopeless(context, params):
            return None


def test_discovery_is_public_and_lists_schemas(client):
    body = client.get("/api/actions").json()
    names = {entry["name"] for entry in body["data"]}
    assert body["ok"] is True
    assert names >= REFERENCE_ACTIONS["datasets"]
    entry = next(e for e in body["data"] if e["name"] == "get_upload_signed_url")
    assert entry["input_schema"]["type"] == "object"
    assert set(entry["input_schema"]["required"]) >= {"filename", "file_size"}
    assert entry["scopes"] == ["datasets:write"]
    assert entry["risk"] == "write"


def test_discovery_filters_by_category(client):
    body = client.get("/api/actions?category=training").json()
    assert {e["name"] for e in body["data"]} == REFERENCE_ACTIONS["training"] | {
        e["name"] for e in body["data"] if e["category"] == "training"
    }
    assert all(e["category"] == "training" for e in body["data"])


def test_discovery_unknown_category_is_400(client):
    response = client.get("/api/actions?category=nope")
    assert response.status_code == 400
    assert "nope" in response.json()["detail"]


def test_discovery_filters_by_token_scopes(client, make_token, org):
    token = make_token(scopes=["datasets:read"], org=org)
    response = client.get("/api/actions", HTTP_AUTHORIZATION=f"Bearer {token}")
    names = {e["name"] for e in response.json()["data"]}
    assert {"list_datasets", "get_dataset", "whoami"} <= names
    assert "delete_dataset" not in names
    assert "emergency_stop" not in names


def test_describe_one_action(client):
    body = client.get("/api/actions/list_datasets").json()
    assert body["data"]["name"] == "list_datasets"


def test_list_meta(call):
    body = call("list_orgs", {"limit": 1}).body
    assert body["meta"] == {"total": 1, "limit": 1, "offset": 0}


def test_no_token_is_401(client):
    result = ActionCaller(client)("list_datasets")
    assert result.status == 401
    assert result.body["ok"] is False
    assert "Authorization" in result.body["detail"]
    assert result.response["WWW-Authenticate"].startswith("Bearer")


def test_missing_scope_is_403(client, make_token, org):
    caller = ActionCaller(client, make_token(scopes=["datasets:read"], org=org))
    result = caller("invite_member", {"org_id": org.pk, "email": "a@b.co"})
    assert result.status == 403
    assert "orgs:write" in result.body["detail"]


def test_unknown_param_is_400_naming_it(call):
    result = call("list_orgs", {"limit": 5, "colour": "red"})
    assert result.status == 400
    assert "colour" in result.body["errors"]
    assert "colour" in result.body["detail"]


@pytest.mark.parametrize("value", ["5", 5.5, True, None, [5], {"n": 5}])
def test_wrong_json_type_is_400_naming_field(call, value):
    result = call("list_orgs", {"limit": value})
    assert result.status == 400
    assert "limit" in result.body["errors"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"params": {"limit": NaN}}',
        '{"params": {"limit": Infinity}}',
        '{"params": {"limit": -Infinity}}',
        '{"params": {"limit": 1e400}}',
        '{"params": {"limit": 99999999999999999999999999}}',
        '{"params": {"offset": -1}}',
        '{"params": {"limit": 1' + "0" * 5000 + "}}",
    ],
)
def test_non_finite_numbers_are_400(call, raw):
    result = call("list_orgs", body=raw)
    assert result.status == 400, result
    assert result.body["ok"] is False


@pytest.mark.parametrize(
    "raw",
    ["[]", '"text"', "42", "null", '{"params": []}', '{"params": "x"}', "{not json"],
)
def test_non_object_body_or_params_is_400(call, raw):
    result = call("list_orgs", body=raw)
    assert result.status == 400, result


def test_unknown_top_level_field_is_400(call):
    result = call("list_orgs", body={"params": {}, "extra": 1})
    assert result.status == 400
    assert "extra" in result.body["errors"]


def test_empty_body_means_no_params(call):
    assert call("whoami", body="").status == 200


def test_explicit_other_org_is_403(call, other_org):
    result = call("list_org_members", {"org_id": other_org.pk})
    assert result.status == 403


def test_unhandled_error_is_500_with_request_id(call, temporary_action):
    @temporary_action(
        name="explode",
        category="test",
        description="Raises.",
        scopes=["stats:read"],
        risk=Risk.READ,
        params=EchoParams,
    )
    def explode(context, params):
        raise RuntimeError("secret internals")

    result = call("explode", {"count": 1})
    assert result.status == 500
    assert "secret internals" not in str(result.body)
    assert result.body["request_id"] == result.response["X-Request-ID"]


def test_handler_runs_in_a_transaction(call, temporary_action, org):
    from tests.factories import OrganizationFactory

    @temporary_action(
        name="half_write",
        category="test",
        description="Writes then fails.",
        scopes=["stats:read"],
        risk=Risk.WRITE,
        params=EchoParams,
    )
    def half_write(context, params):
        OrganizationFactory(slug="half-written")
        raise RuntimeError("after the write")

    assert call("half_write", {"count": 1}).status == 500
    from orgs.models import Organization

    assert not Organization.objects.filter(slug="half-written").exists()


def test_every_post_is_audited_with_secrets_redacted(call, make_token, org):
    call("create_pat", {"name": "audited", "scopes": ["*"]})
    call("list_orgs", {"limit": "bad"})
    ActionCaller(call.client)("whoami")
    entries = list(AuditLogEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["create_pat", "list_orgs", "whoami"]
    assert [e.status_code for e in entries] == [200, 400, 401]
    assert entries[0].org == org
    assert entries[0].token_kind == "pat"
    assert entries[0].params["name"] == "audited"
    assert entries[0].request_id
    assert entries[1].detail


def test_audit_redacts_secret_params():
    from centeros.audit import redact

    cleaned = redact({"password": "p", "nested": {"refresh_token": "t"}, "x": 1})
    assert cleaned == {
        "password": "[redacted]",
        "nested": {"refresh_token": "[redacted]"},
        "x": 1,
    }


def test_health(client):
    response = client.get("/api/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["version"]


def test_openapi_has_one_path_per_action(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    for declared in registry.all():
        operation = schema["paths"][f"/api/actions/{declared.name}"]["post"]
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body_schema["properties"]["params"]["type"] == "object"
    assert "/api/auth/login" in schema["paths"]


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_request_id_is_echoed(client):
    response = client.get("/api/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_action_rate_limit(call, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "actions": "2/min",
        },
    }
    statuses = [call("whoami").status for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_list_orgs_queries_do_not_grow(call, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        call("list_org_members")
    assert connection.vendor in ("sqlite", "postgresql")


def test_audit_keeps_entry_with_nul_and_surrogate(call):
    raw = '{"params": {"bad\\u0000key": "\\ud800"}}'
    assert call("list_orgs", body=raw).status == 400
    assert call("whoami").status == 200
    entries = list(AuditLogEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["list_orgs", "whoami"]
    assert "\x00" not in str(entries[0].params)
