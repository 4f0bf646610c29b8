"""One module per channel kind; each has a pure ``render(alert) -> payload`` and
``send(payload, *, target, client, now)`` using an injected ``httpx.Client``.

Errors: see :mod:`alerts.notifiers._base` (``NotifierError`` → ``TransientNotifierError`` |
``PermanentNotifierError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import ModuleType
from typing import Any

import httpx

from alerts.message import Notification
from alerts.notifiers import dingtalk, email, feishu, log, slack, webhook, wecom
from alerts.notifiers._base import NotifierError, PermanentNotifierError, Target, TransientNotifierError

__all__ = ["NOTIFIERS", "Target", "NotifierError", "TransientNotifierError", "PermanentNotifierError", "render",
           "send"]

#: Channel kind → module.
NOTIFIERS: Mapping[str, ModuleType] = {"webhook": webhook, "dingtalk": dingtalk, "wecom": wecom, "feishu": feishu,
                                       "slack": slack, "email": email, "log": log}


def render(kind: str, alert: Notification, target: Target | None = None) -> dict[str, Any]:
    if kind == "dingtalk" and target is not None:
        return dingtalk.render(alert, style=target.style)
    result: dict[str, Any] = NOTIFIERS[kind].render(alert)
    return result


def send(kind: str, payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    NOTIFIERS[kind].send(payload, target=target, client=client, now=now)
