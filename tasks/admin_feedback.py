"""Admin for ratings and saved eval cases: filter ratings by verdict, backend and date."""

from __future__ import annotations

from django.contrib import admin

from .models_feedback import RunRating, SavedCase, SavedCaseResult


@admin.register(RunRating)
class RunRatingAdmin(admin.ModelAdmin[RunRating]):
    list_display = ["id", "run", "user", "verdict", "comment", "answered_by", "updated_at"]
    list_filter = ["verdict", "run__answered_by", ("updated_at", admin.DateFieldListFilter)]
    search_fields = ["comment"]
    list_select_related = ["run", "user"]
    readonly_fields = ["run", "user", "created_at", "updated_at"]

    @admin.display(description="Answered by", ordering="run__answered_by")
    def answered_by(self, obj: RunRating) -> str:
        return obj.run.answered_by


class SavedCaseResultInline(admin.TabularInline[SavedCaseResult, SavedCase]):
    model = SavedCaseResult
    extra = 0
    fields = ("backend", "passed", "failures", "ran_at")
    readonly_fields = fields
    can_delete = False


@admin.register(SavedCase)
class SavedCaseAdmin(admin.ModelAdmin[SavedCase]):
    list_display = ["case_id", "owner", "run", "created_at"]
    list_filter = ["owner"]
    search_fields = ["case_id", "notes"]
    readonly_fields = ["run", "created_at"]
    inlines = [SavedCaseResultInline]
