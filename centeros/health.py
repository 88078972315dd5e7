"""Health checks of the database, storage and task queue."""

import logging
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("Database health check failed: %s", error)
        return {"status": "error", "detail": str(error)[:200]}
    return {"status": "ok", "vendor": connection.vendor}


def check_storage() -> dict:
    """Write, read back and delete a small probe object."""
    key = f"health/{uuid.uuid4().hex}.txt"
    try:
        saved = default_storage.save(key, ContentFile(b"ok"))
        with default_storage.open(saved, "rb") as handle:
            content = handle.read()
        default_storage.delete(saved)
    except Exception as error:
        logger.warning("Storage health check failed: %s", error)
        return {"status": "error", "detail": str(error)[:200]}
    if content != b"ok":
        return {"status": "error", "detail": "The probe object read back differs."}
    return {"status": "ok", "backend": type(default_storage._wrapped).__name__}


def check_task_queue(stale_after: timedelta = timedelta(minutes=5)) -> dict:
    """Count waiting tasks; tasks waiting longer than ``stale_after`` suggest
    that no worker is running."""
    from django_tasks_db.models import DBTaskResult

    try:
        waiting = DBTaskResult.objects.ready()
        oldest = waiting.order_by("enqueued_at").values_list("enqueued_at", flat=True)
        oldest_at = oldest.first()
        count = waiting.count()
    except Exception as error:
        logger.warning("Task queue health check failed: %s", error)
        return {"status": "error", "detail": str(error)[:200]}

    result = {"status": "ok", "waiting": count}
    if oldest_at is not None:
        age = timezone.now() - oldest_at
        result["oldest_waiting_s"] = round(age.total_seconds(), 1)
        if age > stale_after:
            result["status"] = "degraded"
            result["detail"] = (
                "Tasks have waited for more than "
                f"{int(stale_after.total_seconds())} s; is a worker running "
                "(manage.py db_worker)?"
            )
    return result
