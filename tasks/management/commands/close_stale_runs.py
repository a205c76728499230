"""Close runs left `running` by a process that stopped, so no conversation hangs forever."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tasks.workers import runs_interrupt_stale


class Command(BaseCommand):
    help = (
        "Mark runs whose process died (pid gone on this host, or heartbeat silent on any "
        "host) as interrupted. Servers also do this at start and periodically."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--any-host",
            action="store_true",
            help="Close every running run (only when the whole deployment is down)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        closed = runs_interrupt_stale(any_host=options["any_host"])
        self.stdout.write(f"{len(closed)} interrupted run(s) closed.")
