"""Taskweb's data: tasks, conversations and their messages, agent runs and their steps.

Runs and steps are the audit trail of what the agent did; they are written once and shown
read-only in the admin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from agentcore.errors import ConfigError
from agentcore.specs import check_tool_choice


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class Task(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True, default="")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_date = models.DateField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "due_date", "-priority", "id"]
        indexes = [
            models.Index(fields=["owner", "status", "due_date"], name="task_owner_status_due"),
            models.Index(fields=["owner", "-updated_at"], name="task_owner_updated"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def to_tool_dict(self) -> dict[str, Any]:
        """The shape every task tool returns to the model (a contract the engines rely on)."""
        return {
            "id": self.pk,
            "title": self.title,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "tags": list(self.tags or []),
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, default="New conversation")
    route = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Comma-separated backend profiles or specs; empty means the default route.",
    )
    local_only = models.BooleanField(
        default=False, help_text="Never send this conversation to a cloud backend."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conv_owner_updated")]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"
        TOOL = "tool"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    run = models.ForeignKey(
        "AgentRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True, default="")
    tool_calls = models.JSONField(default=list, blank=True)
    tool_call_id = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=100, blank=True, default="", help_text="Tool name")
    abandoned = models.BooleanField(
        default=False, help_text="Text streamed by an attempt that failed and was replaced."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"], name="msg_conv_id")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


class AgentRun(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="runs")
    user_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    route = models.CharField(max_length=500, help_text="Backends tried, in order")
    answered_by = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))
    model_calls = models.PositiveIntegerField(default=0)
    tool_calls = models.PositiveIntegerField(default=0)
    tool_errors = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    worker = models.CharField(
        max_length=200, blank=True, default="", help_text="host:pid:tag of the process running it"
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One run at a time per conversation, whichever process starts it: a turn that
            # landed between a tool call and its result would make the history invalid.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status="running"),
                name="one_running_run_per_conversation",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "started_at"], name="run_conv_started"),
            models.Index(fields=["status"], name="run_status"),
            models.Index(fields=["started_at"], name="run_started"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def owner_id(self) -> int:
        return self.conversation.owner_id


class RunStep(models.Model):
    run = models.ForeignKey(AgentRun, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    ts = models.DateTimeField(help_text="When the event happened")
    backend = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    duration_ms = models.FloatField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="step_run_seq")]
        indexes = [models.Index(fields=["type", "ts"], name="step_type_ts")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.type}"


class Worker(models.Model):
    """A server process that runs runs, and its heartbeat.

    Runs name their worker; a worker that stopped beating (or whose pid is gone on this host)
    no longer owns them, and any process may close them as interrupted.
    """

    name = models.CharField(max_length=200, unique=True, help_text="host:pid:tag")
    control_channel = models.CharField(
        max_length=200, blank=True, default="", help_text="Channel-layer name for approvals"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(help_text="Last heartbeat")

    def __str__(self) -> str:
        return self.name


class BackendProfile(models.Model):
    """A configured model backend; routes name profiles in order (the fallback chain)."""

    class Kind(models.TextChoices):
        OLLAMA = "ollama", "Ollama (native /api/chat)"
        OPENAI_COMPAT = "openai_compat", "OpenAI-compatible (/v1/chat/completions)"
        LLAMACPP = "llamacpp", "GGUF in-process (llama-cpp-python)"
        BUILTIN = "builtin", "Built-in offline engine"

    class Locality(models.TextChoices):
        LOCAL = "local", "Local"
        CLOUD = "cloud", "Cloud"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    base_url = models.CharField(max_length=300, blank=True, default="")
    model = models.CharField(max_length=300, blank=True, default="")
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Name of the environment variable that holds the API key (not the key).",
    )
    connect_timeout = models.FloatField(default=3.0, help_text="Seconds")
    first_token_timeout = models.FloatField(default=30.0, help_text="Seconds")
    total_timeout = models.FloatField(default=300.0, help_text="Seconds")
    idle_timeout = models.FloatField(
        default=30.0, help_text="Seconds without output, once an answer started, before a stall"
    )
    locality = models.CharField(max_length=10, choices=Locality.choices, default=Locality.LOCAL)
    price_in_per_mtok = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal(0), help_text="$ per million input tokens"
    )
    price_out_per_mtok = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal(0), help_text="$ per million output tokens"
    )
    tool_choice = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text=(
            "Blank or auto lets the model decide. required, or a tool name such as create_task, "
            "forces a tool call on each turn's first request (OpenAI-compatible and GGUF only)."
        ),
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            check_tool_choice(self.kind, self.tool_choice)
        except ConfigError as exc:
            raise ValidationError({"tool_choice": str(exc)}) from exc


from .models_feedback import RunRating, SavedCase, SavedCaseResult  # noqa: E402, F401
