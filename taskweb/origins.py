"""The websocket's Origin check: scheme, host and port must be one of the site's own origins.

Channels' `AllowedHostsOriginValidator` compares the host only, so a page on another port of
the same host (`http://127.0.0.1:9997`), another scheme (`https://127.0.0.1:1`, `ftp://`) or
a browser extension (`chrome-extension://127.0.0.1`) could open a signed-in user's socket and
drive their agent. Here an Origin is accepted only when it is, exactly:

- the socket's own origin: `http://` or `https://` (per the connection, or the proxy's
  `X-Forwarded-Proto` when `SECURE_PROXY_SSL_HEADER` trusts it) plus the request's `Host`,
  which must itself be one of `ALLOWED_HOSTS`; or
- one of `CSRF_TRUSTED_ORIGINS` (`https://app.example.com`, `https://*.example.com`), the
  list Django already uses for cross-origin form posts.

Default ports are normalised (`http://h` is `http://h:80`). A missing Origin is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int] | None:
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin; None for anything else (null, ftp, ...)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        return None
    return _origin(parts.scheme.lower(), parts.hostname or "", port)


def _trusted(origin: tuple[str, str, int]) -> bool:
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = parse_origin(entry.replace("://*.", "://", 1))
        if trusted is None or trusted[0] != scheme or trusted[2] != port:
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def _own(scope: dict[str, Any], headers: dict[bytes, bytes]) -> tuple[str, str, int] | None:
    """The origin a page of this site has when it opens this socket."""
    host_header = headers.get(b"host", b"").decode("latin-1")
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        if headers.get(name, b"").decode("latin-1").split(",")[0].strip() == proxy[1]:
            scheme = "https"
    return _origin(scheme, domain, int(port) if port.isdigit() else None)


def origin_allowed(scope: dict[str, Any]) -> bool:
    headers = dict(scope.get("headers") or [])
    raw = headers.get(b"origin")
    if not raw:
        return False
    origin = parse_origin(raw.decode("latin-1"))
    if origin is None:
        return False
    return origin == _own(scope, headers) or _trusted(origin)


class ExactOriginValidator:
    """ASGI middleware: websockets whose Origin is not exactly the site's are denied (403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
