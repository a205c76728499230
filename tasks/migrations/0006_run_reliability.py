from __future__ import annotations

from django.db import migrations, models
from django.db.models import Count


def close_extra_running_runs(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Before the constraint: keep the newest running run of a conversation, interrupt others."""
    AgentRun = apps.get_model("tasks", "AgentRun")
    busy = (
        AgentRun.objects.filter(status="running")
        .values("conversation_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in busy:
        runs = AgentRun.objects.filter(
            status="running", conversation_id=row["conversation_id"]
        ).order_by("-id")
        AgentRun.objects.filter(pk__in=[r.pk for r in runs[1:]]).update(
            status="interrupted", error="closed: another run was running in the conversation"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0005_backendprofile_tool_choice"),
    ]

    operations = [
        migrations.CreateModel(
            name="Worker",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="host:pid:tag", max_length=200, unique=True)),
                ("control_channel", models.CharField(blank=True, default="", help_text="Channel-layer name for approvals", max_length=200)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("seen_at", models.DateTimeField(help_text="Last heartbeat")),
            ],
        ),
        migrations.AddField(
            model_name="backendprofile",
            name="idle_timeout",
            field=models.FloatField(default=30.0, help_text="Seconds without output, once an answer started, before a stall"),
        ),
        migrations.AlterField(
            model_name="agentrun",
            name="worker",
            field=models.CharField(blank=True, default="", help_text="host:pid:tag of the process running it", max_length=200),
        ),
        migrations.RunPython(close_extra_running_runs, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="agentrun",
            constraint=models.UniqueConstraint(condition=models.Q(("status", "running")), fields=("conversation",), name="one_running_run_per_conversation"),
        ),
    ]
