"""Close runs left `running` by a process that stopped, so no conversation hangs forever."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tasks.services import runs_interrupt_stale


class Command(BaseCommand):
    help = "Mark runs still marked running as interrupted (run at server start)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = runs_interrupt_stale()
        self.stdout.write(f"{count} interrupted run(s) closed.")
