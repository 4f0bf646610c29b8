"""How the command line shows times and destinations: one time zone (voc.yaml ``time_zone``) for every
printed time, and where a notification went without showing any secret (no URL paths or queries, which
carry webhook tokens on most platforms)."""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["local_time", "channel_target"]


def local_time(value: datetime | str | None, zone: str, *, seconds: bool = False) -> str:
    """A UTC time (aware datetime or ISO text) as ``2026-11-24 09:05`` in ``zone``; "" for none or bad text."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def channel_target(settings: Any, channel: Any) -> str:
    """Where a channel delivers, safe to print: the log file, the mail recipients, or the URL's host."""
    if channel.kind == "log":
        return str(settings.resolve(channel.path)) if channel.path else "(no path)"
    if channel.kind == "email":
        return ", ".join(channel.recipients) or "(no recipients)"
    url = channel.url or settings.secrets.get(channel.url_env)
    if not url:
        return f"(no URL: set {channel.url_env})" if channel.url_env else "(no URL)"
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "") + "/…"
