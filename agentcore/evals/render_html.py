"""A self-contained HTML page of a report, for a person to read and to share as one file.

Everything shown comes from the suite and from model output (task titles, replies, tool
arguments), so every value is escaped: a title such as `<script>` stays text. No script, no
external stylesheet or font: the page works offline and under a strict CSP.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from .render_text import COLUMNS, summary_row
from .report import DEFINITIONS, CaseResult, Report

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem}
body{color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
details{border:1px solid #d0d7de;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.4rem;margin:.2rem 0}
code{background:#f6f8fa;padding:0 .2rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _json(value: Any) -> str:
    return _e(json.dumps(value, ensure_ascii=False, indent=1, default=str))


def _summary_table(report: Report) -> str:
    head = "".join(
        f'<th class="{"" if i == 0 else "num"}">{_e(c)}</th>' for i, c in enumerate(COLUMNS)
    )
    rows = []
    for summary in report.summaries():
        cells = "".join(
            f'<td class="{"" if i == 0 else "num"}">{_e(c)}</td>'
            for i, c in enumerate(summary_row(summary))
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _definitions() -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in DEFINITIONS.items())
    return f"<dl>{items}</dl>"


def _verdict(passed: bool) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def _case_rows(results: list[CaseResult]) -> str:
    rows = []
    for r in results:
        latency = ", ".join(f"{t.latency_ms:.1f}" for t in r.turns)
        rows.append(
            f"<tr><td>{_verdict(r.passed)}</td><td><code>{_e(r.case.id)}</code></td>"
            f'<td>{_e(", ".join(r.calls) or "-")}</td><td class="num">{_e(latency)}</td>'
            f"<td>{_e('; '.join(r.errors))}</td></tr>"
        )
    head = (
        "<tr><th>verdict</th><th>case</th><th>tools called</th>"
        '<th class="num">turn ms</th><th>errors</th></tr>'
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _failure(result: CaseResult) -> str:
    turns = []
    for n, turn in enumerate(result.turns, start=1):
        calls = [c.to_dict() for c in turn.tool_calls]
        turns.append(
            f"<p>Turn {n}: <q>{_e(turn.message)}</q> — {_e(turn.status)}</p>"
            f"<pre>calls: {_json(calls)}</pre><pre>reply: {_e(turn.reply or turn.error)}</pre>"
        )
    checks = []
    for check in result.verdict.failures:
        checks.append(
            f"<tr><td><code>{_e(check.key)}</code></td><td><pre>{_e(check.detail)}</pre></td>"
            f"<td><pre>{_json(check.expected)}</pre></td><td><pre>{_json(check.actual)}</pre></td></tr>"
        )
    table = (
        "<table><thead><tr><th>check</th><th>what differed</th><th>expected</th>"
        f"<th>actual</th></tr></thead><tbody>{''.join(checks)}</tbody></table>"
    )
    return (
        f"<details open><summary>{_e(result.case.id)} (suite line {result.case.line})</summary>"
        f"{''.join(turns)}{table}<p>Tasks after the last turn:</p>"
        f"<pre>{_json(list(result.tasks))}</pre></details>"
    )


def render_html(report: Report) -> str:
    """The report page: summary, definitions, then per backend every case and each failure."""
    sections = []
    for backend in report.backends:
        results = report.results.get(backend, [])
        failures = [_failure(r) for r in results if not r.passed]
        sections.append(
            f"<section><h2>{_e(backend)}</h2>{_case_rows(results)}"
            + (f"<h3>Failed cases ({len(failures)})</h3>{''.join(failures)}" if failures else "")
            + "</section>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Taskweb eval — {_e(report.suite)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Taskweb eval report</h1><p>Suite <code>{_e(report.suite)}</code>, started "
        f"{_e(report.started_at)}, {report.duration_s:.1f} s.</p>"
        f"{_summary_table(report)}<h2>Definitions</h2>{_definitions()}{''.join(sections)}"
        "</body></html>\n"
    )
