"""A real LiteLLM proxy (from .venv-litellm) in front of a scripted upstream, for one benchmark.

Started the way tests/interop starts it (a config file, a master key, the local cost map so it
never reaches for the network), on a free loopback port, and stopped when the block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from .stats import ROOT
from .webstack import stop_process

MASTER_KEY = "sk-bench-master-key"


def litellm_binary() -> Path | None:
    binary = ROOT / ".venv-litellm" / "bin" / "litellm"
    return binary if binary.is_file() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiteLLMProxy:
    """`with LiteLLMProxy("http://127.0.0.1:PORT/v1") as proxy:` serves model `scripted`."""

    def __init__(self, api_base: str, *, start_timeout: float = 180) -> None:
        self.api_base = api_base
        self.start_timeout = start_timeout
        self.key = MASTER_KEY
        self.port = _free_port()
        self.work = tempfile.TemporaryDirectory(prefix="bench-litellm-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiteLLMProxy:
        binary = litellm_binary()
        if binary is None:
            raise RuntimeError("LiteLLM is not installed in .venv-litellm (`make litellm`)")
        work = Path(self.work.name)
        config = work / "config.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: scripted\n"
            "    litellm_params:\n"
            "      model: openai/scripted\n"
            f"      api_base: {self.api_base}\n"
            "      api_key: none\n"
            "general_settings:\n"
            f"  master_key: {MASTER_KEY}\n"
        )
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        command = [str(binary), "--config", str(config), "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        log = (work / "proxy.log").open("wb")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work
        )
        try:
            self._wait_ready(work / "proxy.log")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, log: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"LiteLLM exited early:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v1/models", headers=headers, timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"LiteLLM not ready after {self.start_timeout}s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            stop_process(self.process, 10)
            self.process = None
        self.work.cleanup()
