"""URLs of the cost and latency pages: /stats/, the run timeline, and the exports."""

from __future__ import annotations

from django.urls import path

from . import views_stats

urlpatterns = [
    path("stats/", views_stats.stats_page, name="stats"),
    path("runs/<int:run_id>/", views_stats.run_detail, name="run_detail"),
    path("export/<str:what>.<str:fmt>", views_stats.export, name="stats_export"),
]
