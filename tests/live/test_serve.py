"""`make run`'s command: one process migrates, prints the login and serves the first page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.live]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_answer(url: str, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"serve exited: {proc.communicate()[0]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            assert time.monotonic() < deadline, "no answer in 60 s"
            time.sleep(0.2)


def test_serve_migrates_a_new_database_prints_the_login_and_serves_the_login_page(tmp_path):
    port = free_port()
    admin_file = tmp_path / "admin-password"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("REDIS_URL", None)
    command = [sys.executable, "manage.py", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--admin-file", str(admin_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = first_answer(f"http://127.0.0.1:{port}/accounts/login/", proc)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert status == 200
    password = admin_file.read_text().strip()
    assert f"Admin login: username admin, password {password}" in output
    assert str(admin_file) in output
    assert f"Serving Taskweb on http://127.0.0.1:{port}/" in output
