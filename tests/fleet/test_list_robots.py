"""list_robots: filters on derived status, site and text, pagination, queries."""

import pytest

from tests.factories import ModelVersionFactory, RobotFactory
from tests.fleet.conftest import count_queries, online_heartbeat, stale_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(org, other_org):
    RobotFactory(
        org=org,
        robot_id="arm-01",
        name="Left arm",
        site="lab-1",
        last_heartbeat_at=online_heartbeat(),
    )
    RobotFactory(
        org=org,
        robot_id="arm-02",
        name="Right arm",
        site="lab-2",
        last_heartbeat_at=stale_heartbeat(),
    )
    RobotFactory(
        org=org,
        robot_id="rover-01",
        name="Yard rover",
        robot_type="mobile_base",
        site="yard",
        estopped=True,
        last_heartbeat_at=online_heartbeat(),
    )
    RobotFactory(org=org, robot_id="arm-03", site="lab-1", mode="maintenance")
    RobotFactory(org=org, robot_id="arm-04", site="lab-1", mode="error")
    RobotFactory(org=other_org, robot_id="arm-05", last_heartbeat_at=online_heartbeat())


def robot_ids(result) -> list[str]:
    return [robot["robot_id"] for robot in result.data]


def test_list_all_in_org(call, fleet):
    result = call("list_robots")
    assert robot_ids(result) == ["arm-01", "arm-02", "arm-03", "arm-04", "rover-01"]
    assert result.body["meta"] == {"total": 5, "limit": 50, "offset": 0}


def test_list_item_fields(call, fleet):
    first = call("list_robots", {"limit": 1}).data[0]
    assert first["status"] == "online"
    assert first["name"] == "Left arm"
    assert first["site"] == "lab-1"
    assert 0 <= first["heartbeat_age_seconds"] < 60
    assert first["token_prefix"] == ""
    assert "token_hash" not in first


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("online", ["arm-01"]),
        ("offline", ["arm-02"]),
        ("estopped", ["rover-01"]),
        ("maintenance", ["arm-03"]),
        ("error", ["arm-04"]),
    ],
)
def test_list_filter_by_status(call, fleet, status, expected):
    result = call("list_robots", {"status": status})
    assert robot_ids(result) == expected
    assert {robot["status"] for robot in result.data} == {status}


def test_list_offline_includes_never_reported(call, org):
    RobotFactory(org=org, robot_id="fresh", last_heartbeat_at=None)
    assert robot_ids(call("list_robots", {"status": "offline"})) == ["fresh"]


def test_list_status_follows_timeout(call, fleet, settings):
    settings.CENTEROS_HEARTBEAT_TIMEOUT = 1
    assert robot_ids(call("list_robots", {"status": "online"})) == []

    settings.CENTEROS_HEARTBEAT_TIMEOUT = 100000
    assert robot_ids(call("list_robots", {"status": "online"})) == ["arm-01", "arm-02"]


def test_list_filter_by_site(call, fleet):
    assert robot_ids(call("list_robots", {"site": "lab-1"})) == [
        "arm-01",
        "arm-03",
        "arm-04",
    ]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("rover", ["rover-01"]),
        ("RIGHT", ["arm-02"]),
        ("mobile", ["rover-01"]),
        ("nothing-like-this", []),
    ],
)
def test_list_search(call, fleet, search, expected):
    assert robot_ids(call("list_robots", {"search": search})) == expected


def test_list_filters_combine(call, fleet):
    result = call("list_robots", {"site": "lab-1", "status": "maintenance"})
    assert robot_ids(result) == ["arm-03"]


def test_list_pagination(call, fleet):
    result = call("list_robots", {"limit": 2, "offset": 2})
    assert robot_ids(result) == ["arm-03", "arm-04"]
    assert result.body["meta"] == {"total": 5, "limit": 2, "offset": 2}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"status": 1}, "status"),
        ({"site": 5}, "site"),
        ({"search": ["arm"]}, "search"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"limit": 1.5}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 2**70}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**64}, "offset"),
    ],
)
def test_list_invalid_params_are_400(call, params, field):
    result = call("list_robots", params)
    assert result.status == 400
    assert field in result.body["errors"]


def test_list_query_count_constant(call, org):
    call("list_robots")
    model = ModelVersionFactory(org=org, status="deployed")
    RobotFactory.create_batch(3, org=org, current_model_version=model)
    few = count_queries(call, "list_robots")

    for number in range(30):
        version = ModelVersionFactory(org=org, name="policy", version=number + 1)
        RobotFactory(org=org, current_model_version=version)
    assert count_queries(call, "list_robots") == few


def test_list_shows_current_model_version(call, org):
    model = ModelVersionFactory(
        org=org, name="pick-policy", version=2, status="deployed"
    )
    RobotFactory(org=org, current_model_version=model)
    current = call("list_robots").data[0]["current_model_version"]
    assert current == {
        "id": model.pk,
        "name": "pick-policy",
        "version": 2,
        "status": "deployed",
    }
