"""Signed download endpoint under /api/downloads/ (local storage)."""

from django.urls import path

from datasets import views

app_name = "downloads"

urlpatterns = [
    path("<str:token>", views.signed_download, name="signed-download"),
]
