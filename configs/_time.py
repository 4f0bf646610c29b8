"""Checks for the time values configuration holds: cron expressions and IANA time zone names.

Pure functions raising ``ValueError`` with a message that says what to write instead; the dataclasses'
callers (:mod:`configs.settings`) turn the error into a ConfigError naming the file and the key.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

__all__ = ["check_cron", "check_zone", "DEFAULT_ZONE"]

DEFAULT_ZONE = "Asia/Shanghai"


def check_cron(expr: str | None) -> None:
    """``expr`` must be a five-field cron expression (``*/15 * * * *``) or None."""
    if expr is None:
        return
    fields = expr.split() if isinstance(expr, str) else []
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0].startswith("@"))) or not croniter.is_valid(expr):
        raise ValueError(f"invalid cron expression {expr!r} — use five fields: minute hour day month weekday, "
                         "e.g. '*/15 * * * *' or '0 9 * * 1'")


def check_zone(name: str) -> ZoneInfo:
    """``name`` must be an IANA time zone (``Asia/Shanghai``, ``UTC``); returns it."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r} — use an IANA name such as Asia/Shanghai or UTC") from exc
