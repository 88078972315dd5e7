"""ASGI entry point of the CenterOS server (served by uvicorn).

Signed upload PUTs are streamed to storage by ``datasets.asgi_uploads``
rather than spooled to a temporary file by Django first; every other
request goes to Django.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "centeros.settings")
django_application = get_asgi_application()

# Imported after Django is set up, because it imports models.
from datasets.asgi_uploads import UploadStreamingApp  # noqa: E402

application = UploadStreamingApp(django_application)
