"""The public health endpoint, JSON error pages for API paths, and the
rate-limited admin login."""

import logging

from django.http import HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from centeros import __version__
from centeros.health import check_database

logger = logging.getLogger(__name__)


@csrf_exempt
@require_GET
def health(request):
    """``GET /api/health``: 200 when the database responds, 503 when it does not."""
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


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """Return the JSON error body under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {
                "ok": False,
                "detail": f"No API endpoint at {request.path[:200]}.",
                "code": "not_found",
            },
            status=404,
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    """Return the JSON error body under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {
                "ok": False,
                "detail": "Internal server error.",
                "code": "server_error",
                "request_id": getattr(request, "request_id", ""),
            },
            status=500,
        )
    return defaults.server_error(request)


def admin_login(request, **kwargs):
    """Serve the admin's login page, with the API login's rate limit on POSTs."""
    from django.contrib import admin

    from centeros.actions.throttles import LoginRateThrottle

    if request.method == "POST":
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, None):
            wait = int(throttle.wait() or 60) + 1
            logger.warning(
                "Admin login rate limit reached for %s", request.META.get("REMOTE_ADDR")
            )
            response = HttpResponse(
                f"Too many login attempts. Try again in {wait} seconds.",
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = str(wait)
            return response
    return admin.site.login(request, **kwargs)
