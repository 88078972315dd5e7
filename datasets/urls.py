"""Signed upload endpoint under /api/uploads/."""

urlpatterns = []
