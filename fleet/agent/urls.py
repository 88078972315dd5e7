"""Routes of the agent protocol; mounted at /api/agent/."""

from django.urls import path

from fleet.agent import views

app_name = "agent"

urlpatterns = [
    path("v1/heartbeat", views.heartbeat, name="heartbeat"),
    path("v1/commands", views.commands, name="commands"),
    path("v1/commands/<int:command_id>/ack", views.acknowledge, name="acknowledge"),
]
