"""Websocket URLs (the backend routes live in backend_routes.py)."""

from __future__ import annotations

from django.urls import path

from .consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<int:conversation_id>/", ChatConsumer.as_asgi()),  # type: ignore[arg-type]
]
