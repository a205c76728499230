"""Write fine-tuning data from the stored runs: `export_dataset OUT.jsonl [--format ...]`.

Thin: choosing and shaping the lines lives in `tasks.dataset`. It prints what it wrote and,
per reason, what it left out, so a user knows what the file holds before training on it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tasks import dataset


def parse_since(value: str) -> dt.datetime:
    """An ISO date or date-time; a naive one is in the server's time zone."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since {value!r}: expected YYYY-MM-DD or an ISO date-time") from exc
    return timezone.make_aware(when) if timezone.is_naive(when) else when


class Command(BaseCommand):
    help = (
        "Export completed runs as fine-tuning data (OpenAI chat format with tools, or "
        "ShareGPT), one line per turn window; runs with failed or rejected tool calls, "
        "interrupted runs and 👎 answers are left out unless asked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", help="The JSON Lines file to write, e.g. train.jsonl")
        parser.add_argument("--format", choices=dataset.FORMATS, default="openai")
        parser.add_argument("--since", type=parse_since, metavar="DATE", help="Runs since then")
        parser.add_argument("--profile", metavar="NAME", help="Only runs this profile answered")
        parser.add_argument("--rated-only", action="store_true", help="Only runs rated 👍")
        parser.add_argument(
            "--exclude-errors",
            action="store_true",
            help="Also leave out runs that retried, fell back or met a backend error",
        )
        parser.add_argument("--include-failed-tools", action="store_true")
        parser.add_argument("--include-interrupted", action="store_true")
        parser.add_argument("--include-disliked", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        opts = dataset.Options(
            format=options["format"],
            since=options["since"],
            profile=options["profile"],
            rated_only=options["rated_only"],
            exclude_errors=options["exclude_errors"],
            include_failed_tools=options["include_failed_tools"],
            include_interrupted=options["include_interrupted"],
            include_disliked=options["include_disliked"],
        )
        summary = dataset.Summary()
        path = Path(options["out"])
        try:
            with path.open("w", encoding="utf-8") as out:
                for line in dataset.export_lines(dataset.runs_for(opts), opts, summary):
                    out.write(line)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from exc
        self.stdout.write(f"{path}: {summary.describe()}")
