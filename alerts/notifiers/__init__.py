"""One module per channel kind; each has a pure ``render(alert, target=None) -> payload`` and
``send(payload, *, target, client, now)`` using an injected ``httpx.Client`` (:class:`Notifier`).

Every member has the same signatures, so callers never branch on the kind: a channel's own options
(DingTalk's ``style``) reach its ``render`` through the :class:`Target`.

Errors: see :mod:`alerts.notifiers._base` (``AlertsError`` → ``NotifierError`` → ``TransientNotifierError`` |
``PermanentNotifierError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification
from alerts.notifiers import dingtalk, email, feishu, log, slack, webhook, wecom
from alerts.notifiers._base import Notifier, NotifierError, PermanentNotifierError, Target, TransientNotifierError

__all__ = ["NOTIFIERS", "Notifier", "Target", "NotifierError", "TransientNotifierError", "PermanentNotifierError",
           "render", "send"]

#: Channel kind → module.
NOTIFIERS: Mapping[str, Notifier] = {"webhook": webhook, "dingtalk": dingtalk, "wecom": wecom, "feishu": feishu,
                                     "slack": slack, "email": email, "log": log}


def render(kind: str, alert: Notification, target: Target | None = None) -> dict[str, Any]:
    return NOTIFIERS[kind].render(alert, target)


def send(kind: str, payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    NOTIFIERS[kind].send(payload, target=target, client=client, now=now)
