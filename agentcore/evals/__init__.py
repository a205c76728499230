"""Eval suites for Task-tool agents: load a suite, judge a case, report per backend.

Django-free, like the rest of agentcore: the `tasks` app runs cases against the ORM
(`tasks.evaluation`), tests run them against in-memory tools, and both judge and report here.
"""

from __future__ import annotations

from .judge import CheckResult, Verdict, judge
from .report import BackendSummary, CaseResult, Report, ToolCallRecord, TurnRecord, evaluate
from .suite import Case, Expectations, Predicate, SetupTask, SuiteError, load_suite, parse_suite

__all__ = [
    "BackendSummary",
    "Case",
    "CaseResult",
    "CheckResult",
    "Expectations",
    "Predicate",
    "Report",
    "SetupTask",
    "SuiteError",
    "ToolCallRecord",
    "TurnRecord",
    "Verdict",
    "evaluate",
    "judge",
    "load_suite",
    "parse_suite",
]
