"""What `make run` runs: prepare the database and the login, then serve, in one process.

`migrate`, `close_stale_runs` and `ensure_admin` each used to start Django on its own before
daphne started it a fourth time: about 2 s apiece on two busy cores, most of a restart.
Here Django starts once, and daphne serves from the same process (as its `runserver` does).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections


class Command(BaseCommand):
    help = "Migrate, close stale runs, ensure the admin login, then serve with daphne."
    requires_system_checks: list[str] = []  # migrate runs them

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--admin-file", help="ensure_admin's --file (default .admin-password)")
        parser.add_argument(
            "daphne_args", nargs="*", help="More daphne options, after `--` (e.g. -- -v 2)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from daphne.cli import CommandLineInterface

        call_command("migrate", interactive=False)
        call_command("close_stale_runs")
        admin_file = ["--file", options["admin_file"]] if options["admin_file"] else []
        call_command("ensure_admin", *admin_file)
        connections.close_all()  # requests open their own, on daphne's threads
        host, port = options["host"], options["port"]
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"Serving Taskweb on http://{shown}:{port}/ (Ctrl+C to stop)")
        self.stdout.flush()
        if settings.TASKWEB_WARM_UP:  # the app's ready() ran before daphne was imported
            from tasks.warmup import start_in_background

            start_in_background()
        bind = ["-b", host, "-p", str(port), *options["daphne_args"]]
        CommandLineInterface().run([*bind, "taskweb.asgi:application"])
