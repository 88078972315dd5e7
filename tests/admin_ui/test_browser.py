"""The operator admin in headless Chromium against a live server.

Needs Debian's chromium at /usr/bin/chromium (scripts/test.sh installs it
when it can) and the playwright package; without either the tests are
skipped, except under CI=true, where they fail. Screenshots of the key pages
go to test-artifacts/screenshots/.
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from centeros.models import AuditLogEntry
from centeros.scopes import Role
from tests.admin_ui.conftest import PASSWORD
from tests.factories import (
    AlertFactory,
    AnnotationTaskFactory,
    ModelVersionFactory,
    RobotCommandFactory,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _missing(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing; install Debian's chromium package")

    # Playwright's sync API runs an event loop in this thread, and Django
    # rejects ORM calls from a thread with a running loop unless
    # DJANGO_ALLOW_ASYNC_UNSAFE is set. The ORM calls of these tests are
    # plain synchronous calls, so setting it is safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def login(page, live_server, user):
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_operator_dashboard_and_launch(
    page, live_server, org, make_member, fleet, pending_job, finished_job
):
    AlertFactory(robot=fleet[0], severity="critical", message="Gripper jammed")
    AnnotationTaskFactory(org=org, status="in_review")
    AnnotationTaskFactory(org=org, status="open")
    operator = make_member(org, Role.OPERATOR)
    login(page, live_server, operator)

    # The dashboard shows the fleet and the stale robot.
    assert page.inner_text("#fleet-cards [data-status=online]") == "1"
    assert page.inner_text("#stale-count") == "1"
    assert "arm-02" in page.inner_text("#stale-robots")
    assert "critical" in page.inner_text("#alerts-by-severity")
    shot(page, "01-dashboard")

    # The finished job's page draws its loss curve.
    page.goto(
        live_server.url
        + reverse("admin:training_trainingjob_change", args=[finished_job.pk])
    )
    assert page.locator("#loss-chart svg polyline").count() == 2
    shot(page, "02-job-loss-curve")

    # Launch the pending job from its page.
    page.goto(
        live_server.url
        + reverse("admin:training_trainingjob_change", args=[pending_job.pk])
    )
    page.click("#tool-launch_jobs")
    page.wait_for_selector(".messagelist .success")
    assert "queued" in page.inner_text(".messagelist")
    shot(page, "03-job-launched")

    pending_job.refresh_from_db()
    assert pending_job.status == "queued"
    assert AuditLogEntry.objects.filter(
        action="launch_training", source="admin", status_code=200
    ).exists()

    # A personal access token is shown once, on the page after the form.
    page.goto(live_server.url + reverse("admin:orgs_personalaccesstoken_add"))
    page.fill("#id_name", "ci-runner")
    page.select_option("#id_org", str(org.pk))
    page.check("input[name=scopes][value='training:read']")
    page.click("#create-token")
    token = page.inner_text("#new-token")
    assert token.startswith("frl_")
    shot(page, "10-token-created")
    page.goto(live_server.url + reverse("admin:orgs_personalaccesstoken_changelist"))
    assert "ci-runner" in page.inner_text("#result_list")
    assert token not in page.content()


def test_emergency_stop_through_confirmation(
    page, live_server, org, make_member, fleet
):
    RobotCommandFactory(robot=fleet[0])
    operator = make_member(org, Role.OPERATOR)
    login(page, live_server, operator)

    # Select the robot in the list and pick the action.
    page.goto(live_server.url + reverse("admin:fleet_robot_changelist"))
    page.check(f"input[name=_selected_action][value='{fleet[0].pk}']")
    page.select_option("select[name=action]", "emergency_stop_robots")
    page.click("button[name=index]")

    # The confirmation page names the robot and does nothing yet.
    page.wait_for_selector("#centeros-apply")
    lines = page.inner_text(".centeros-object-lines")
    assert "arm-01" in lines
    assert "arm-02" not in lines
    shot(page, "04-estop-confirmation")
    fleet[0].refresh_from_db()
    assert not fleet[0].estopped

    page.fill("#id_reason", "person in the cell")
    page.click("#centeros-apply")
    page.wait_for_selector("#estop-banner")
    assert "person in the cell" in page.inner_text("#estop-banner")
    shot(page, "05-robot-stopped")

    fleet[0].refresh_from_db()
    entry = AuditLogEntry.objects.get(action="emergency_stop")
    assert fleet[0].estopped
    assert entry.source == "admin"
    assert entry.user == operator
    assert entry.params == {"robot_id": "arm-01", "reason": "person in the cell"}


def test_viewer_cannot_change(
    page, live_server, org, make_member, fleet, finished_job, ready_dataset
):
    version = ModelVersionFactory(
        org=org, name="pick-policy", training_job=finished_job, status="validated"
    )
    viewer = make_member(org, Role.VIEWER)
    login(page, live_server, viewer)

    # Reading pages: dataset contents and model lineage.
    page.goto(
        live_server.url
        + reverse("admin:datasets_dataset_change", args=[ready_dataset.pk])
    )
    assert "obs/joint_pos" in page.inner_text("#inspection-keys")
    shot(page, "08-dataset-contents")
    page.goto(
        live_server.url
        + reverse("admin:models_registry_modelversion_change", args=[version.pk])
    )
    assert ready_dataset.sha256 in page.inner_text("#lineage-datasets")
    assert page.locator("#tool-promote_versions").count() == 0
    shot(page, "09-model-lineage")
    change_url = live_server.url + reverse(
        "admin:fleet_robot_change", args=[fleet[0].pk]
    )

    page.goto(change_url)
    shot(page, "06-viewer-robot-page")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#tool-emergency_stop_robots").count() == 0
    assert page.locator("#robot-history").count() == 1

    page.goto(live_server.url + reverse("admin:fleet_robot_changelist"))
    actions = page.locator("select[name=action] option").all_inner_texts()
    assert not any("Emergency stop" in text for text in actions)

    # A hand-made POST with a valid CSRF token is still rejected.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        change_url,
        form={"name": "renamed", "mode": "maintenance", "metadata": "{}"},
        headers={"X-CSRFToken": csrf, "Referer": change_url},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()
    fleet[0].refresh_from_db()
    assert fleet[0].name == "Left arm"


def test_other_org_user_sees_nothing(
    page, live_server, org, other_org, make_member, fleet, pending_job
):
    version = ModelVersionFactory(org=org, name="pick-policy")
    outsider = make_member(other_org, Role.ADMIN)
    login(page, live_server, outsider)

    assert "arm-01" not in page.inner_text("#content")
    for name in ("fleet_robot", "training_trainingjob", "models_registry_modelversion"):
        page.goto(live_server.url + reverse(f"admin:{name}_changelist"))
        assert "0 " in page.inner_text("#changelist-form .paginator"), name
    shot(page, "07-outsider-model-list")

    direct = [
        reverse("admin:fleet_robot_change", args=[fleet[0].pk]),
        reverse("admin:training_trainingjob_change", args=[pending_job.pk]),
        reverse("admin:models_registry_modelversion_change", args=[version.pk]),
    ]
    for path in direct:
        page.goto(live_server.url + path)
        assert page.url == live_server.url + reverse("admin:index"), path
        assert "doesn’t exist" in page.inner_text(".messagelist"), path
