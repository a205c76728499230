"""Run an eval suite on one or more backends and report how well each drives the Task tools.

Thin by design: loading and judging live in `agentcore.evals`, running in `tasks.evaluation`.
Exit codes are for scripts: 0 when the run completed (whatever the pass rate), 2 for a suite
file that cannot be run, 1 for other usage errors (an unknown backend, unknown case ids).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in requirements-dev

from agentcore.errors import ConfigError
from agentcore.evals import Case, CaseResult, SuiteError, load_suite, parse_suite
from agentcore.evals.render_html import render_html
from agentcore.evals.render_text import render_report
from tasks.backend_routes import default_route
from tasks.evaluation import run_suite
from tasks.models_feedback import SavedCase
from tasks.saved_cases import record_results, suite_text


def saved_suite() -> list[Case]:
    """The saved cases, validated as any suite file is."""
    rows = SavedCase.objects.order_by("created_at", "id")
    return parse_suite(suite_text(rows).splitlines(), source="saved cases")


class _RawStream:
    """Lets tqdm redraw its line on the command's stderr (OutputWrapper adds newlines)."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


def select_cases(cases: list[Case], wanted: str | None) -> list[Case]:
    if not wanted:
        return cases
    ids = [i.strip() for i in wanted.split(",") if i.strip()]
    known = {c.id for c in cases}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise CommandError(f"unknown case id(s): {', '.join(unknown)}")
    return [c for c in cases if c.id in set(ids)]


class Command(BaseCommand):
    help = (
        "Run an eval suite (evals/FORMAT.md) on a throw-away database, one or more backends "
        "side by side; print pass rate, tool accuracy, latency, tokens and cost per backend."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("suite", nargs="?", help="A JSON Lines suite, e.g. evals/dev.jsonl")
        parser.add_argument(
            "--saved",
            action="store_true",
            help="Run the cases saved from runs (instead of a suite file) and record the "
            "latest pass/fail of each on each backend",
        )
        parser.add_argument(
            "--backend",
            action="append",
            dest="backends",
            metavar="NAME",
            help="A profile name, spec or comma-separated route; repeat to compare "
            "(default: the default route)",
        )
        parser.add_argument("--json", dest="json_out", metavar="OUT", help="Write all results")
        parser.add_argument("--html", dest="html_out", metavar="OUT", help="Write a report page")
        parser.add_argument("--cases", metavar="ID,...", help="Run only these case ids")
        parser.add_argument(
            "--turn-timeout", type=float, metavar="SECONDS", help="Fail a turn that takes longer"
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["saved"]) == bool(options["suite"]):
            raise CommandError("give a suite file or --saved (one of the two)")
        try:
            cases = saved_suite() if options["saved"] else load_suite(options["suite"])
        except SuiteError as exc:
            raise CommandError(f"bad suite: {exc}", returncode=2) from exc
        cases = select_cases(cases, options["cases"])
        backends = options["backends"] or [default_route()]
        bar = tqdm(
            total=len(cases) * len(dict.fromkeys(backends)),
            file=_RawStream(self.stderr),
            unit="case",
            disable=options["no_progress"],
            dynamic_ncols=True,
        )

        def on_case(backend: str, case: Case) -> None:
            bar.set_description(backend[:40])
            bar.set_postfix_str(case.id, refresh=False)

        def on_result(result: CaseResult) -> None:
            bar.update(1)

        try:
            with bar:
                report = run_suite(
                    cases,
                    backends,
                    suite=options["suite"] or "saved cases",
                    on_case=on_case,
                    on_result=on_result,
                    turn_timeout=options["turn_timeout"],
                )
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(render_report(report), ending="")
        if options["saved"]:
            self.stdout.write(f"recorded {record_results(report)} results of saved cases")
        if options["json_out"]:
            self._write(options["json_out"], json.dumps(report.to_dict(), indent=2))
        if options["html_out"]:
            self._write(options["html_out"], render_html(report))

    def _write(self, out: str, text: str) -> None:
        path = Path(out)
        try:
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from exc
        self.stderr.write(f"wrote {path}")
