"""URL configuration of the CenterOS server."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from centeros.actions.views import ActionDispatchView, ActionListView
from centeros.views import admin_login, health

urlpatterns = [
    path("api/health", health, name="health"),
    path("api/actions", ActionListView.as_view(), name="action-list"),
    path(
        "api/actions/<str:name>",
        ActionDispatchView.as_view(),
        name="action-dispatch",
    ),
    path("api/auth/", include("orgs.urls")),
    path("api/uploads/", include("datasets.urls")),
    path("api/downloads/", include("datasets.download_urls")),
    path("api/agent/", include("fleet.agent.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
]

handler404 = "centeros.views.not_found"
handler500 = "centeros.views.server_error"
