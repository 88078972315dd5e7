"""Signed upload endpoint under /api/uploads/."""

from django.urls import path

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("<str:token>", views.signed_upload, name="signed-upload"),
]
