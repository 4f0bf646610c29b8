"""How the command line shows times and destinations: one time zone (voc.yaml ``time_zone``) for every
printed time, and where a notification went without showing any secret (no URL paths or queries, which
carry webhook tokens on most platforms)."""

from __future__ import annotations

import re
import urllib.parse
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from configs import Settings
    from configs.alerts import Channel

__all__ = ["local_time", "localize", "channel_target"]

_UTC_STAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?Z\b")


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


def localize(text: str, zone: str) -> str:
    """``text`` with every UTC stamp (``2026-11-24T03:05:00Z``, as alert summaries store them) shown as local
    time in ``zone`` (``2026-11-24 11:05``)."""
    return _UTC_STAMP.sub(lambda m: local_time(m.group(0), zone), text)


def channel_target(settings: Settings, channel: Channel) -> str:
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
