"""The one home for how VOC writes and reads times and durations.

Times are stored and exchanged as UTC ISO-8601 with a ``Z`` (``2026-11-24T03:05:00Z``, whole seconds);
durations are a positive whole number and one unit, ``s`` ``m`` ``h`` ``d`` ``w`` (``30m``, ``6h``, ``14d``, ``2w``).
The same grammar serves configuration (``window: 2h``), the query language (``since:30m``) and the CLI
(``voc prune --older-than 30d``). Pure functions; errors are ``ValueError`` naming the value.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import overload

__all__ = ["UTC_FORMAT", "DURATION_UNITS", "DURATION_HINT", "as_utc", "format_utc", "parse_utc",
           "parse_duration", "format_duration"]

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HINT = "a positive duration like 30m, 6h, 14d or 2w (units s, m, h, d, w)"
_DURATION = re.compile(r"([0-9]{1,9})\s*([smhdw])", re.ASCII)


def as_utc(dt: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken to be UTC already."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


@overload
def format_utc(dt: datetime) -> str: ...
@overload
def format_utc(dt: None) -> None: ...
def format_utc(dt: datetime | None) -> str | None:
    """``datetime`` → ``2026-11-24T03:05:00Z`` (converted to UTC, naive taken as UTC, sub-seconds dropped)."""
    if dt is None:
        return None
    return as_utc(dt).strftime(UTC_FORMAT)


def parse_utc(value: str | datetime) -> datetime:
    """ISO-8601 (``2026-11-24T03:05:00Z``, ``…+08:00``, naive taken as UTC) → aware UTC datetime.

    ValueError for anything else, including a time whose offset takes it outside the years 1–9999
    (``9999-12-31T23:59:59-23:59``), so callers that answer ValueError as bad input never see an OverflowError.
    """
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    try:
        return as_utc(dt)
    except OverflowError:
        raise ValueError(f"time out of range: {value!r}") from None


def parse_duration(text: str) -> timedelta:
    """``30s``, ``30m``, ``6h``, ``14d``, ``2w`` → timedelta; ValueError naming the value otherwise."""
    m = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"expected {DURATION_HINT}, got {text!r}")
    return timedelta(seconds=int(m.group(1)) * DURATION_UNITS[m.group(2)])


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration` in the largest whole unit up to days (``14d``, ``90m``)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % DURATION_UNITS[unit] == 0:
            return f"{seconds // DURATION_UNITS[unit]}{unit}"
    return f"{seconds}s"
