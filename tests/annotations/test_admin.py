"""The annotation admin pages: listed, searchable, status read-only."""

import pytest

from tests.factories import AnnotationReviewFactory, AnnotationTaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_task_list_and_search(staff_client, org):
    AnnotationTaskFactory(org=org, title="Label box grasps")
    AnnotationTaskFactory(org=org, title="Segment shelves")

    response = staff_client.get(
        "/admin/annotations/annotationtask/", {"q": "box", "status": "open"}
    )

    assert response.status_code == 200
    assert b"Label box grasps" in response.content
    assert b"Segment shelves" not in response.content


def test_admin_task_page_shows_reviews(staff_client, org):
    task = AnnotationTaskFactory(org=org, status="rejected")
    AnnotationReviewFactory(task=task, decision="rejected", comment="Missed frame 12")

    response = staff_client.get(f"/admin/annotations/annotationtask/{task.pk}/change/")

    assert response.status_code == 200
    assert b"Missed frame 12" in response.content


def test_admin_status_is_read_only(staff_client, org):
    task = AnnotationTaskFactory(org=org, status="open")

    form = (
        staff_client.get(f"/admin/annotations/annotationtask/{task.pk}/change/")
        .context["adminform"]
        .form
    )

    assert "status" not in form.fields
    assert "title" in form.fields


def test_admin_review_list_is_view_only(staff_client, org):
    review = AnnotationReviewFactory(task=AnnotationTaskFactory(org=org))

    listing = staff_client.get("/admin/annotations/annotationreview/")
    adding = staff_client.get("/admin/annotations/annotationreview/add/")

    assert listing.status_code == 200
    assert str(review.task).encode() in listing.content
    assert adding.status_code == 403
