"""The public health endpoint."""

from django.http import JsonResponse

from centeros import __version__
from centeros.health import check_database


def health(request):
    """``GET /api/health``: 200 when the database answers, 503 when it does not."""
    database = check_database()
    healthy = database["status"] == "ok"
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "version": __version__,
            "database": "ok" if healthy else "error",
        },
        status=200 if healthy else 503,
    )
