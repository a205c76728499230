"""One error taxonomy for agentcore.

Errors a model causes (bad tool names, invalid arguments) are not raised: they go back to the
model as tool errors. What is raised here is what a caller has to deal with: a backend that
failed, a configuration a developer got wrong, a loop that ran past its limit.
"""

from __future__ import annotations


class AgentCoreError(Exception):
    """Root of every error agentcore raises."""


class ConfigError(AgentCoreError):
    """A developer or operator configured something wrong; the message says what to type."""


class BackendError(AgentCoreError):
    """A backend could not produce an answer.

    `retryable` tells the fallback chain whether trying the same backend again can help.
    """

    retryable: bool = False
    kind: str = "backend_error"

    def __init__(self, message: str, *, backend: str = "") -> None:
        super().__init__(message)
        self.backend = backend


class BackendUnavailable(BackendError):
    """The server could not be reached (refused connection, DNS, reset)."""

    retryable = True
    kind = "unavailable"


class BackendTimeout(BackendError):
    """The server did not answer in time (connect, first token or total)."""

    retryable = True
    kind = "timeout"

    def __init__(self, message: str, *, backend: str = "", waited_s: float = 0.0) -> None:
        super().__init__(message, backend=backend)
        self.waited_s = waited_s
        """How long the user already waited on this attempt (0 for a connect timeout)."""


class BackendHTTPError(BackendError):
    """The server answered with an HTTP error status."""

    kind = "http_error"

    def __init__(
        self,
        message: str = "",
        *,
        status: int,
        retry_after: float | None = None,
        backend: str = "",
    ) -> None:
        super().__init__(message or f"HTTP {status}", backend=backend)
        self.status = status
        self.retry_after = retry_after
        self.retryable = status in {408, 429, 500, 502, 503, 504}


class ContextTooLong(BackendHTTPError):
    """The request does not fit the model's context window; a larger model may take it."""

    kind = "context_too_long"


class ModelNotFound(BackendError):
    """The server is up but does not have the model; the message names the fix."""

    kind = "model_not_found"


class BackendMisconfigured(BackendError):
    """The backend's settings do not fit this request (a `tool_choice` naming no offered tool).

    A `BackendError`, not a `ConfigError`: the fallback chain moves on to the next backend
    and the trace names the setting to fix.
    """

    kind = "misconfigured"


class BackendProtocolError(BackendError):
    """The server answered something that is not the protocol (bad JSON, truncated stream)."""

    retryable = True
    kind = "protocol_error"


class AnswerTooLong(BackendProtocolError):
    """The server's answer stream passed its size limit; asking again would do the same."""

    retryable = False
    kind = "answer_too_long"


class StepLimitExceeded(AgentCoreError):
    """The model kept calling tools past the loop's step limit."""
