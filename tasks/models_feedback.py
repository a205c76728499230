"""What users tell Taskweb about its runs: ratings, and runs saved as regression cases.

Kept apart from `models.py` (the run core) so the feedback loop can grow without touching it;
`models.py` imports this module so Django registers the models with the `tasks` app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Verdict(models.TextChoices):
    UP = "up", "👍"
    DOWN = "down", "👎"


class RunRating(models.Model):
    """One user's 👍/👎 on one run's answer; rating again replaces the verdict."""

    run = models.ForeignKey("tasks.AgentRun", on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="run_ratings"
    )
    verdict = models.CharField(max_length=4, choices=Verdict.choices)
    comment = models.TextField(blank=True, default="", max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["run", "user"], name="rating_run_user")]
        indexes = [models.Index(fields=["verdict", "updated_at"], name="rating_verdict_upd")]

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.get_verdict_display()}"


class SavedCase(models.Model):
    """An `agent_eval` case (evals/FORMAT.md) made from a run, kept to replay on new models."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_cases"
    )
    run = models.ForeignKey(
        "tasks.AgentRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case_id = models.CharField(max_length=100, unique=True)
    case = models.JSONField(help_text="One suite line: id, now, setup, turns, expect")
    notes = models.TextField(
        blank=True, default="", help_text="What the reconstruction could not know"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.case_id


class SavedCaseResult(models.Model):
    """The latest `agent_eval --saved` outcome of a case on one backend route."""

    case = models.ForeignKey(SavedCase, on_delete=models.CASCADE, related_name="results")
    backend = models.CharField(max_length=500, help_text="Profile name or route")
    passed = models.BooleanField()
    failures = models.JSONField(default=list, blank=True)
    ran_at = models.DateTimeField()

    class Meta:
        ordering = ["backend"]
        constraints = [
            models.UniqueConstraint(fields=["case", "backend"], name="saved_result_case_backend")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} on {self.backend}: {'pass' if self.passed else 'fail'}"
