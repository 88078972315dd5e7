"""ASGI entry point of the CenterOS server (served by uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "centeros.settings")
application = get_asgi_application()
