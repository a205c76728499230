from __future__ import annotations

from django.urls import include, path

from . import views, views_conversations

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/new/", views_conversations.conversation_new, name="conversation_new"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/route/", views.conversation_route, name="conversation_route"),
    path(
        "c/<int:conversation_id>/rename/",
        views_conversations.conversation_rename,
        name="conversation_rename",
    ),
    path(
        "c/<int:conversation_id>/delete/",
        views_conversations.conversation_delete,
        name="conversation_delete",
    ),
    path("tasks/panel/", views.task_panel, name="task_panel"),
    path("tasks/<int:task_id>/", views_conversations.task_detail, name="task_detail"),
    path("", include("tasks.urls_stats")),
    path("", include("tasks.urls_feedback")),
]
