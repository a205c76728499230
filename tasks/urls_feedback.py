"""URLs of the feedback loop: ratings, saved eval cases, the fine-tuning dataset download."""

from __future__ import annotations

from django.urls import path

from . import views_feedback

urlpatterns = [
    path("runs/<int:run_id>/rate/", views_feedback.run_rate, name="run_rate"),
    path("runs/<int:run_id>/save-case/", views_feedback.run_save_case, name="run_save_case"),
    path("cases/", views_feedback.case_list, name="saved_cases"),
    path("cases/suite.jsonl", views_feedback.case_suite, name="saved_cases_suite"),
    path("stats/dataset.jsonl", views_feedback.dataset_download, name="dataset_download"),
]
