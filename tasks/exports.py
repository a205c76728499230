"""Runs and steps of a period as CSV or JSON, for spreadsheets and notebooks.

The rows come through the same ownership gate as the stats page (`stats.runs_in_scope`), and
the same cap: the newest `stats.MAX_RUNS` runs of the period, and the steps of exactly those.
Titles, reasons and payloads are hostile data. CSV follows OWASP's CSV-injection advice:
every cell is quoted; a text cell that starts with = + - @, a tab or a carriage return gets a
leading apostrophe, and so does any such character right after a `,` or `;` inside a cell
(a spreadsheet that splits on `;` and ignores quotes would start a cell there). Upstream
error detail is for staff only (`disclosure`), as on the pages.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone

from . import disclosure, stats
from .models import AgentRun, RunStep

RUN_FIELDS = (
    "id", "conversation_id", "conversation__owner__username", "status", "route", "answered_by",
    "started_at", "finished_at", "duration_ms", "input_tokens", "output_tokens", "cost",
    "model_calls", "tool_calls", "tool_errors", "error",
)  # fmt: skip
STEP_FIELDS = (
    "id", "run_id", "seq", "type", "ts", "backend", "model", "duration_ms", "ttft_ms",
    "input_tokens", "output_tokens", "cost", "payload",
)  # fmt: skip
RUN_HEADER = ["id", "owner", *RUN_FIELDS[1:2], *RUN_FIELDS[3:]]
STEP_HEADER = [*STEP_FIELDS, "tokens_estimated"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_AFTER_DELIMITER = re.compile(r"([,;\t\r\n])(?=[=+\-@\t\r])")


def runs_for_export(*, user: AbstractBaseUser, period: stats.Period, all_users: bool) -> list[int]:
    """Ids of the period's runs in scope, newest first, at most MAX_RUNS."""
    since = stats.period_start(period, timezone.now())
    runs = stats.runs_in_scope(user=user, all_users=all_users, since=since)
    return list(runs.order_by("-started_at", "-id").values_list("id", flat=True)[: stats.MAX_RUNS])


def _plain(value: Any) -> Any:
    """Exact, portable values: Decimal as fixed-point text, datetimes to the microsecond."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _public_errors(run_ids: list[int]) -> dict[int, str]:
    """Each run's error line as a user may see it, from its last error step."""
    steps = RunStep.objects.filter(run_id__in=run_ids, type="error").order_by("run_id", "seq")
    return {
        run_id: str(disclosure.public_payload("error", payload or {}).get("message") or "")
        for run_id, payload in steps.values_list("run_id", "payload")
    }


def run_rows(run_ids: list[int], *, detail: bool = True) -> Iterator[dict[str, Any]]:
    rows = AgentRun.objects.filter(pk__in=run_ids).order_by("started_at", "id").values(*RUN_FIELDS)
    errors = {} if detail else _public_errors(run_ids)
    for row in rows.iterator(chunk_size=1000):
        owner = row.pop("conversation__owner__username")
        if not detail and row["error"]:
            row["error"] = errors.get(row["id"]) or disclosure.scrub(row["error"])
        yield {"id": row.pop("id"), "owner": owner} | {k: _plain(v) for k, v in row.items()}


def step_rows(run_ids: list[int], *, detail: bool = True) -> Iterator[dict[str, Any]]:
    steps = RunStep.objects.filter(run_id__in=run_ids).order_by("run_id", "seq")
    steps = steps.values(*STEP_FIELDS)
    for row in steps.iterator(chunk_size=2000):
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        row["tokens_estimated"] = bool(payload.get("tokens_estimated"))
        if not detail:
            row["payload"] = disclosure.public_payload(row["type"], payload)
        yield {k: _plain(v) for k, v in row.items()}


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """Id lists small enough for any database's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _cell(value: Any) -> Any:
    """A value a spreadsheet shows as text, never runs: see the module docstring."""
    if isinstance(value, dict | list):
        value = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    if not isinstance(value, str):
        return value
    value = _FORMULA_AFTER_DELIMITER.sub(r"\1'", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: list[str], rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(row[key]) for key in header])


def respond(
    *, user: AbstractBaseUser, what: str, fmt: str, period: stats.Period, all_users: bool
) -> HttpResponse | StreamingHttpResponse:
    if what not in ("runs", "steps") or fmt not in ("csv", "json"):
        raise Http404("No such export")
    run_ids = runs_for_export(user=user, period=period, all_users=all_users)
    make = run_rows if what == "runs" else step_rows
    detail = disclosure.sees_detail(user)

    def rows() -> Iterator[dict[str, Any]]:
        for ids in _chunks(run_ids):
            yield from make(ids, detail=detail)

    filename = f"taskweb-{what}-{period}.{fmt}"
    if fmt == "json":
        body = {"period": period, "capped_at": stats.MAX_RUNS, what: list(rows())}
        response: HttpResponse | StreamingHttpResponse = JsonResponse(
            body, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False}
        )
    else:
        header = RUN_HEADER if what == "runs" else STEP_HEADER
        response = StreamingHttpResponse(
            _csv_lines(header, rows()), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
