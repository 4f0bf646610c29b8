"""Log channel: append one JSON line per notification to a file (``path``, relative to the home)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification, to_plain
from alerts.notifiers._base import PermanentNotifierError, Target, TransientNotifierError
from configs.times import format_utc

__all__ = ["render", "send"]


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    payload = alert.to_json()
    payload["text"] = to_plain(alert)
    return payload


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client | None = None, now: datetime) -> None:
    if target.path is None:
        raise PermanentNotifierError(target.channel, "no path configured")
    line = json.dumps({"logged_at": format_utc(now), **payload}, ensure_ascii=False) + "\n"
    try:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        with open(target.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise TransientNotifierError(target.channel, f"cannot append to {target.path}: {exc.strerror}") from exc
