"""Close runs left `running` by a process that stopped, so no conversation hangs forever."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tasks.services import runs_interrupt_stale


class Command(BaseCommand):
    help = "Mark runs whose process died as interrupted (run at server start)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--any-host",
            action="store_true",
            help="Also close running runs of other hosts (only when all of them are down)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = runs_interrupt_stale(any_host=options["any_host"])
        self.stdout.write(f"{count} interrupted run(s) closed.")
