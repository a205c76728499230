"""Runs saved as `agent_eval` cases, their suite file, and their latest result per backend.

A saved case replays the conversation up to the saved run: its user messages are the turns,
and the tasks before the first turn are the setup, reconstructed from the tool results stored
in the runs' steps (`agentcore.evals.from_calls` says how, and what it cannot know). The
tasks as they are when the user clicks "save" would be wrong: this run and every later one
have changed them since.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from agentcore.evals import CaseResult, Report
from agentcore.evals.from_calls import ObservedCall, case_from_calls

from .models import AgentRun
from .models_feedback import SavedCase, SavedCaseResult
from .run_record import RunRecord, run_record


def window(run: AgentRun) -> list[AgentRun]:
    """The runs of the conversation up to and including `run`, oldest first."""
    runs = AgentRun.objects.filter(conversation_id=run.conversation_id, pk__lte=run.pk)
    return list(runs.order_by("id"))


def observed_calls(record: RunRecord) -> list[ObservedCall]:
    """The run's tool calls with their structured results; failed or rejected ones give None."""
    return [
        ObservedCall(
            name=t.name,
            arguments=t.arguments,
            result=None if (t.error or t.rejected) else t.value,
        )
        for t in record.tool_runs
    ]


def case_for_run(run: AgentRun) -> tuple[dict[str, object], list[str]]:
    records = [run_record(r) for r in window(run)]
    turns = [r.user_text for r in records if r.user_text]
    calls = [call for r in records for call in observed_calls(r)]
    case, notes = case_from_calls(
        case_id=f"run-{run.pk}", now=records[0].now, turns=turns, calls=calls
    )
    days = {r.now.date() for r in records}
    if len(days) > 1:
        day = f"{records[0].now:%Y-%m-%d}"
        notes.append(f"the turns span {len(days)} days; the replay runs them all on {day}")
    return case, notes


def save_run(*, run: AgentRun, owner: AbstractBaseUser) -> SavedCase:
    """Save (or save again, replacing) the case made from `run`."""
    case, notes = case_for_run(run)
    saved, _ = SavedCase.objects.update_or_create(
        case_id=str(case["id"]),
        defaults={"owner_id": owner.pk, "run": run, "case": case, "notes": "\n".join(notes)},
    )
    return saved


def suite_text(cases: Iterable[SavedCase]) -> str:
    return "".join(json.dumps(c.case, ensure_ascii=False) + "\n" for c in cases)


def record_results(report: Report) -> int:
    """Keep the latest pass/fail of each saved case on each backend of `report`."""
    by_id = {c.case_id: c for c in SavedCase.objects.all()}
    now = timezone.now()
    count = 0
    for backend, results in report.results.items():
        for result in results:
            saved = by_id.get(result.case.id)
            if saved is None:
                continue
            SavedCaseResult.objects.update_or_create(
                case=saved,
                backend=backend,
                defaults={"passed": result.passed, "failures": _failures(result), "ran_at": now},
            )
            count += 1
    return count


def _failures(result: CaseResult) -> list[str]:
    return [*result.errors, *(f"{c.key}: {c.detail}" for c in result.verdict.failures)]


@dataclass(frozen=True, kw_only=True)
class Row:
    case: SavedCase
    results: tuple[SavedCaseResult | None, ...]
    """One per backend of the table, in its order; None where the case never ran there."""


@dataclass(frozen=True, kw_only=True)
class Table:
    backends: tuple[str, ...]
    rows: tuple[Row, ...]


def results_table(cases: Sequence[SavedCase]) -> Table:
    """Each case against each backend it ran on (results prefetched by the caller)."""
    backends = sorted({r.backend for c in cases for r in c.results.all()})
    rows = []
    for case in cases:
        mine = {r.backend: r for r in case.results.all()}
        rows.append(Row(case=case, results=tuple(mine.get(b) for b in backends)))
    return Table(backends=tuple(backends), rows=tuple(rows))
