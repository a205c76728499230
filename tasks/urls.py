from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/new/", views.conversation_new, name="conversation_new"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/route/", views.conversation_route, name="conversation_route"),
    path("tasks/panel/", views.task_panel, name="task_panel"),
    path("", include("tasks.urls_stats")),
    path("", include("tasks.urls_feedback")),
]
