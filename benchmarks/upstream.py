"""The scripted model server the web benchmarks talk to, in a process of its own.

A separate process keeps the fake model's work off the GIL of both the daphne server and the
benchmark's clients, so it adds nothing to what is measured. In `stream` mode every streamed
token carries the wall-clock time it left the server (stamped as its frame is written), which
the relay benchmark compares with the time the websocket frame arrives: one machine, one clock.

    python -m benchmarks.upstream --mode tool --latency 0.3     # prints the port, runs to EOF
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from types import TracebackType

from agentcore.backends.base import ModelRequest
from agentcore.messages import ToolCall
from agentcore.testing.scripted import CallInfo, Turn
from agentcore.testing.server import ScriptedServer, _Response

from .stats import ROOT

STAMP = b"@TS@"
MODES = ("tool", "text", "stream")


class StampingServer(ScriptedServer):
    """A ScriptedServer that stamps streamed frames' `@TS@` marks and counts connections."""

    connections = 0

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        StampingServer.connections += 1
        await super()._connection(reader, writer)

    async def _write(
        self, writer: asyncio.StreamWriter, response: _Response, *, truncate: bool
    ) -> None:
        if response.frames is None or truncate:
            await super()._write(writer, response, truncate=truncate)
            return
        head = [
            f"HTTP/1.1 {response.status} OK",
            f"Content-Type: {response.content_type}",
            "Transfer-Encoding: chunked",
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for i, frame in enumerate(response.frames):
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            frame = frame.replace(STAMP, b"%.6f" % time.time())
            writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def responder(mode: str, tokens: int) -> object:
    """A tool call for a user message; then plain text, or `tokens` stamped tokens."""

    def respond(request: ModelRequest, info: CallInfo) -> Turn:
        last = request.messages[-1]
        if mode != "text" and last.role == "user":
            return ToolCall(
                id=f"call_{info.index}", name="create_task", arguments={"title": "Benchmark task"}
            )
        if mode == "stream":
            return " ".join(["@TS@"] * tokens)
        return "Done: the task is on your list."

    return respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=MODES, default="tool")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    server = StampingServer(
        responder(args.mode, args.tokens),  # type: ignore[arg-type]
        latency=args.latency,
        token_delay=args.token_delay,
    ).start()
    print(server.port, flush=True)
    sys.stdin.read()  # runs until the parent closes our stdin (or dies)
    server.stop()
    print(StampingServer.connections, flush=True)


class Upstream:
    """`with Upstream(mode="tool", latency=0.3) as up:` — `up.url` is the Ollama base URL."""

    def __init__(
        self,
        *,
        mode: str = "tool",
        latency: float = 0.0,
        token_delay: float = 0.0,
        tokens: int = 20,
    ) -> None:
        self.args = [
            "--mode", mode, "--latency", str(latency),
            "--token-delay", str(token_delay), "--tokens", str(tokens),
        ]  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.connections = -1
        """TCP connections the server accepted (known once the block has ended)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Upstream:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.upstream", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.__exit__(None, None, None)
            raise RuntimeError(f"upstream did not start: {line!r}")
        self.port = int(line)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
            assert self.process.stdout is not None
            last = self.process.stdout.read().strip()
            self.connections = int(last) if last.isdigit() else -1
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


if __name__ == "__main__":
    main()
