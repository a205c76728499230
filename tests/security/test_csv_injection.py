"""CSV exports never hand a spreadsheet a formula (OWASP CSV injection), whatever its delimiter."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from agentcore.backends.base import BackendInfo
from agentcore.testing import ScriptedBackend
from tasks.runner import execute_run
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)
FORMULA = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = [
    "x;=cmd|' /C calc'!A0",
    'x,=HYPERLINK("http://evil")',
    "=1+1",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
    'q";=2+5',
    "a;\t=1,\r@x",
]


async def _ignore(event) -> None:
    return None


def exported(user, path: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("what", ["steps", "runs"])
def test_no_cell_starts_a_formula_in_a_comma_or_semicolon_spreadsheet(alice, scripted_route, what):
    for text in PAYLOADS:
        info = BackendInfo(name=text, kind="scripted", model=text)
        route = scripted_route(ScriptedBackend([text], info=info))
        conversation = conversation_create(user=alice, route=route, title=text)
        async_to_sync(execute_run)(conversation, text, publish=_ignore)
    body = exported(alice, f"/export/{what}.csv?period=all")
    assert any("calc" in line for line in body.splitlines()), "the hostile text is exported"
    for row in csv.reader(io.StringIO(body, newline="")):  # a reader that honours quotes
        for cell in row:
            assert not cell.startswith(FORMULA), cell
    for delimiter in (",", ";", "\t"):  # one that splits every line blindly
        for line in body.splitlines():
            for cell in line.split(delimiter):
                assert not cell.startswith(FORMULA), (delimiter, cell)
    for record in filter(None, body.split("\r\n")):  # the writer ends records with CRLF
        assert record.startswith('"') and record.endswith('"'), "every cell is quoted"
