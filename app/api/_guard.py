"""Which requests are answered at all, decided before any route or credential: :class:`RequestGuard`.

* **Host allow-list** (DNS rebinding): the ``Host`` a request names must be a loopback name (``localhost``,
  ``127.x.x.x``, ``[::1]``), the host of ``web.base_url`` or one of ``web.allowed_hosts``; anything else gets
  400 ``bad_host``, whether or not tokens are set. A page at ``http://127.attacker.example:8080`` that
  resolves to 127.0.0.1 therefore never reaches a route.
* **Proxies**: only from an address in ``web.trusted_proxies`` are ``X-Forwarded-For`` (the client address),
  ``X-Forwarded-Proto`` (the scheme) and ``X-Forwarded-Host`` (checked instead of ``Host``) believed; from
  anyone else they are ignored.
* **Origin** of state-changing requests (POST, PUT, PATCH, DELETE: the login form, logout and the admin
  API): a browser's ``Origin`` must name the host the request was sent to, and ``Sec-Fetch-Site`` must not
  be ``cross-site``/``same-site``; else 403 ``forbidden`` with ``field: origin``. Clients that send neither
  (curl, scripts with a bearer token) are not affected.

Rejections are JSON like every other API error: ``{"error", "message", "field"}``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from configs.web import WebSettings

__all__ = ["RequestGuard", "HostPolicy", "host_name", "is_loopback_name", "FORWARDING_HEADERS"]

#: Headers a proxy adds; a request carrying one came through a proxy (never an anonymous loopback user).
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_HOST_PORT = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]{2,45})\]|(?P<name>[a-z0-9._-]{1,253}))(?::(?P<port>[0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split_host(value: str | None) -> tuple[str, int | None] | None:
    """``'Example.com:8080'`` → ``('example.com', 8080)``, ``'[::1]'`` → ``('::1', None)``; None when the value
    is not a well-formed ``host[:port]`` (non-ASCII, a path, userinfo, a port above 65535, ...)."""
    if not value or len(value) > 300 or not value.isascii():
        return None
    m = _HOST_PORT.fullmatch(value.strip().lower())
    if m is None:
        return None
    port = int(m["port"]) if m["port"] else None
    if port is not None and port > 65535:
        return None
    if m["v6"]:
        try:
            return str(ipaddress.IPv6Address(m["v6"])), port
        except ValueError:
            return None
    return m["name"], port


def host_name(value: str | None) -> str | None:
    """The lower-case host name of a ``Host`` header value, without port or brackets; None when malformed."""
    split = _split_host(value)
    return split[0] if split else None


def is_loopback_name(name: str | None) -> bool:
    """``localhost`` or a loopback IP literal (``127.0.0.1``, ``127.1.2.3``, ``::1``). ``127.attacker.example``
    is a DNS name that anyone can point at 127.0.0.1, so it is not one."""
    if not name:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or an ``X-Forwarded-For`` entry (``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``)."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class HostPolicy:
    """The host names this server answers to and the proxies it believes, from the ``web:`` settings."""

    def __init__(self, web: WebSettings) -> None:
        names = {n.strip("[]") for n in web.allowed_hosts}
        base = urlsplit(web.base_url).hostname
        if base:
            names.add(base.lower())
        self._exact = frozenset(n for n in names if not n.startswith("."))
        self._domains = tuple(n for n in names if n.startswith("."))
        self._proxies: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(p, strict=False)
                                                      for p in web.trusted_proxies)

    @property
    def has_proxies(self) -> bool:
        return bool(self._proxies)

    def allows(self, name: str | None) -> bool:
        if not name:
            return False
        return (is_loopback_name(name) or name in self._exact
                or any(name.endswith(d) or name == d[1:] for d in self._domains))

    def trusts(self, peer: str | None) -> bool:
        addr = _address(peer) if peer else None
        return addr is not None and any(addr in net for net in self._proxies)

    def client_from(self, forwarded_for: Iterable[str]) -> str | None:
        """The client address an ``X-Forwarded-For`` chain names: the right-most entry that is not one of our
        proxies (entries left of it are whatever the client claimed); None when there is none."""
        entries = [e for value in forwarded_for for e in value.split(",") if e.strip()]
        for entry in reversed(entries):
            addr = _address(entry)
            if addr is None:
                return None
            if not any(addr in net for net in self._proxies):
                return str(addr)
        return None


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether an ``Origin`` header (``http://127.0.0.1:8080``) names the host:port the request was sent to."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or parts.path or parts.query or parts.username:
        return False
    theirs, ours = _split_host(parts.netloc), _split_host(host)
    if theirs is None or ours is None:
        return False
    default = _DEFAULT_PORTS[parts.scheme]
    return theirs[0] == ours[0] and (theirs[1] or default) == (ours[1] or default)


async def _reject(send: Any, status: int, code: str, message: str, field: str) -> None:
    body = json.dumps({"error": code, "message": message, "field": field}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Pure ASGI middleware: proxy headers from trusted proxies, then the Host allow-list, then the Origin of
    state-changing requests. Sets ``scope["client"]``/``scope["scheme"]`` to what a trusted proxy says."""

    def __init__(self, app: Any, *, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            if name in ("host", "origin", "sec-fetch-site", "x-forwarded-for", "x-forwarded-proto",
                        "x-forwarded-host"):
                headers.setdefault(name, []).append(raw_value.decode("latin-1"))
        host = next(iter(headers.get("host", [])), None)
        peer = scope["client"][0] if scope.get("client") else None
        if self.policy.trusts(peer):
            client = self.policy.client_from(headers.get("x-forwarded-for", []))
            if client:
                scope["client"] = (client, 0)
            proto = (headers.get("x-forwarded-proto") or [""])[-1].strip().lower()
            if proto in _DEFAULT_PORTS:
                scope["scheme"] = proto
            if headers.get("x-forwarded-host"):
                host = headers["x-forwarded-host"][-1].split(",")[-1].strip()
        name = host_name(host)
        if not self.policy.allows(name):
            shown = (host or "")[:100]
            await _reject(send, 400, "bad_host",
                          f"this server does not answer to the host {shown!r}; add its name to web.allowed_hosts "
                          "in voc.yaml if it is yours (see the README: Web page and API)", "host")
            return
        if scope.get("method", "GET").upper() not in _SAFE_METHODS:
            origin = next(iter(headers.get("origin", [])), None)
            site = (headers.get("sec-fetch-site") or [""])[0].strip().lower()
            if (origin is not None and not _same_origin(origin, host)) or site in ("cross-site", "same-site"):
                await _reject(send, 403, "forbidden",
                              "a state-changing request from another site's page is refused (Origin/Sec-Fetch-Site)",
                              "origin")
                return
        await self.app(scope, receive, send)
