"""Admin: tasks with filters, search and actions; runs and steps as a read-only audit trail."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import AgentRun, BackendProfile, Conversation, Message, RunStep, Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin[Task]):
    list_display = ["id", "title", "owner", "priority", "status", "due_date", "updated_at"]
    list_filter = ["status", "priority", ("due_date", admin.DateFieldListFilter), "owner"]
    search_fields = ["title", "description"]
    date_hierarchy = "due_date"
    readonly_fields = ["created_at", "updated_at", "completed_at"]
    actions = ["complete", "reopen"]

    @admin.action(description="Mark selected tasks done")
    def complete(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        self._set_status(request, queryset, "done")

    @admin.action(description="Reopen selected tasks")
    def reopen(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        self._set_status(request, queryset, "open")

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Task], status: str) -> None:
        changed = 0
        for task in queryset.exclude(status=status):
            task.status = status
            task.completed_at = timezone.now() if status == "done" else None
            task.save(update_fields=["status", "completed_at", "updated_at"])
            # Django's LogEntry is the audit trail of admin changes, with the user who made them.
            self.log_change(request, task, f"Set status to {status} (admin action)")
            changed += 1
        self.message_user(request, f"{changed} task(s) set to {status}.", messages.SUCCESS)


class MessageInline(admin.TabularInline[Message, Conversation]):
    model = Message
    extra = 0
    fields = ("role", "content", "tool_calls", "tool_call_id", "name", "abandoned", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    list_display = ["id", "title", "owner", "route", "local_only", "updated_at"]
    list_filter = ["local_only", "owner"]
    search_fields = ["title"]
    inlines = [MessageInline]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The audit trail is written by runs only: nobody edits or deletes it by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RunStepInline(admin.TabularInline[RunStep, AgentRun]):
    model = RunStep
    extra = 0
    fields = ("seq", "type", "backend", "model", "duration_ms", "input_tokens", "output_tokens",
              "cost", "payload_json")  # fmt: skip
    readonly_fields = fields
    can_delete = False

    class Media:
        # Long payloads wrap inside their cell instead of widening the page past the screen.
        css = {"all": ("css/admin.css",)}

    @admin.display(description="payload")
    def payload_json(self, obj: RunStep) -> str:
        text = json.dumps(obj.payload, indent=2, ensure_ascii=False, default=str)
        return format_html('<pre class="step-payload">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AgentRun)
class AgentRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation", "status", "answered_by", "duration_ms", "input_tokens",
                    "output_tokens", "cost", "started_at", "timeline"]  # fmt: skip
    list_filter = ["status", "answered_by"]
    search_fields = ["error", "route"]
    readonly_fields = ["timeline"]
    inlines = [RunStepInline]

    @admin.display(description="timeline")
    def timeline(self, obj: AgentRun) -> str:
        """The run's waterfall page (/runs/<id>/), which staff may open for any run."""
        return format_html('<a href="{}">timeline</a>', reverse("run_detail", args=[obj.pk]))


@admin.register(RunStep)
class RunStepAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "seq", "type", "backend", "duration_ms", "input_tokens",
                    "output_tokens", "cost"]  # fmt: skip
    list_filter = ["type", "backend"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation", "role", "short", "abandoned", "created_at"]
    list_filter = ["role", "abandoned"]
    search_fields = ["content"]

    @admin.display(description="content")
    def short(self, obj: Message) -> str:
        return obj.content[:80]


@admin.register(BackendProfile)
class BackendProfileAdmin(admin.ModelAdmin[BackendProfile]):
    list_display = ["name", "kind", "model", "base_url", "locality", "tool_choice",
                    "price_in_per_mtok", "price_out_per_mtok", "enabled"]  # fmt: skip
    list_filter = ["kind", "locality", "enabled"]
    list_editable = ["enabled"]


from .admin_feedback import RunRatingAdmin, SavedCaseAdmin  # noqa: E402, F401
