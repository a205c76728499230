"""What Python 3.10 lacks and the code uses, in one place (Taskweb supports 3.10 to 3.13).

Each name is the standard library's own on 3.11+, and a backport of the same behaviour on
3.10. When 3.10 is dropped, import these from the standard library and delete this module.
"""

from __future__ import annotations

import sys
from datetime import timezone

UTC = timezone.utc
"""`datetime.UTC` (3.11+) is this very object."""

if sys.version_info >= (3, 11):
    from asyncio import timeout
    from builtins import BaseExceptionGroup
else:  # pragma: no cover - exercised by the 3.10 run of .ci/run
    import asyncio
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import async_timeout
    from exceptiongroup import BaseExceptionGroup

    @asynccontextmanager
    async def timeout(delay: float | None) -> AsyncIterator[None]:
        """`asyncio.timeout`: cancels the block after `delay` s and raises `TimeoutError`.

        On 3.10 `asyncio.TimeoutError` is not yet the builtin `TimeoutError` that callers
        catch, so the backport's error is translated.
        """
        try:
            async with async_timeout.timeout(delay):
                yield
        except asyncio.TimeoutError as exc:
            raise TimeoutError(*exc.args) from None


__all__ = ["UTC", "BaseExceptionGroup", "timeout"]
