"""Shared parts of the notifiers: the resolved :class:`Target`, the error tree, response checking.

Exception tree (:class:`NotifierError` carries the channel name; it sits under the package root
``alerts.AlertsError``)::

    AlertsError
    └── NotifierError
        ├── TransientNotifierError   network error, timeout, HTTP 429/5xx, platform rate limits — retried
        └── PermanentNotifierError   bad URL/token/signature, HTTP 4xx, rejected payload — retried only by hand
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from alerts._errors import AlertsError

if TYPE_CHECKING:
    from alerts.message import Notification

__all__ = ["Notifier", "Target", "NotifierError", "TransientNotifierError", "PermanentNotifierError", "check_response",
           "post_json"]


class NotifierError(AlertsError):
    """A delivery failed. ``channel`` names the channel; never carries a URL with a token or a secret."""

    def __init__(self, channel: str, message: str) -> None:
        self.channel = channel
        super().__init__(f"{channel}: {message}")


class TransientNotifierError(NotifierError):
    """Worth retrying later (raised by ``send`` of any notifier)."""


class PermanentNotifierError(NotifierError):
    """Retrying the same payload will not help."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """A channel with its secrets resolved from the environment. Secrets are excluded from ``repr``."""

    channel: str
    kind: str
    url: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    path: Path | None = None
    host: str | None = None
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    style: str = "markdown"


class Notifier(Protocol):
    """What every channel module provides (the registry ``alerts.notifiers.NOTIFIERS`` maps kinds to them)."""

    def render(self, alert: Notification, target: Target | None = None) -> dict[str, Any]:
        """The platform's payload; pure. ``target`` carries the channel's own options (never needed to
        be pure: no secret is read here)."""
        ...

    def send(self, payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
        """Deliver; raise :class:`TransientNotifierError` or :class:`PermanentNotifierError`."""
        ...


class _RedactURLs(logging.Filter):
    """httpx logs every request URL at INFO; robot URLs carry their access token in the query or path.
    This filter (attached to the ``httpx`` logger on first send, once) keeps only scheme://host:port/…"""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(f"{a.scheme}://{a.host}{':' + str(a.port) if a.port else ''}/…"
                                if isinstance(a, httpx.URL) else a for a in record.args)
        return True


_REDACT = _RedactURLs()


def _redact_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)


def post_json(client: httpx.Client, target: Target, body: bytes, *, params: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> httpx.Response:
    if not target.url:
        raise PermanentNotifierError(target.channel, "no URL configured (set the channel's url_env variable)")
    hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    _redact_httpx_logs()
    try:
        url = httpx.URL(target.url)
        if params:  # merged into a copy (``params=`` would replace the URL's own query, e.g. access_token)
            url = url.copy_merge_params(params)
        return client.post(url, content=body, headers=hdrs, timeout=target.timeout)
    except httpx.TimeoutException as exc:
        raise TransientNotifierError(target.channel, f"timed out after {target.timeout:g}s") from exc
    except httpx.InvalidURL as exc:
        raise PermanentNotifierError(target.channel, "the configured URL is invalid") from exc
    except httpx.TransportError as exc:  # connection refused/reset, DNS …; the message has no URL
        raise TransientNotifierError(target.channel, f"{type(exc).__name__}: cannot reach the receiver") from exc


#: Platform error codes that mean "try again later" (rate limits, busy); others are permanent.
_TRANSIENT_CODES = {-1, 130101, 45009, 11232, 9499, 99991400}


def check_response(resp: httpx.Response, channel: str, *, code_keys: tuple[str, ...] = ("errcode", "code", "StatusCode")) -> Any:
    """Success only when the HTTP status is 2xx and the body's error code (if any) is 0."""
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TransientNotifierError(channel, f"HTTP {resp.status_code}")
    if not resp.is_success:
        raise PermanentNotifierError(channel, f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return resp.text
    if isinstance(body, dict):
        for key in code_keys:
            if key in body:
                code = body[key]
                if code not in (0, "0"):
                    msg = body.get("errmsg") or body.get("msg") or body.get("StatusMessage") or ""
                    cls = TransientNotifierError if code in _TRANSIENT_CODES else PermanentNotifierError
                    raise cls(channel, f"platform error {key}={code}: {msg}")
                break
    return body
