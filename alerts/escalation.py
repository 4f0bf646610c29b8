"""Escalation: an open incident nobody acknowledged within its severity's ``escalation.ack_within``
escalates, once per episode, to the subscribers of ``level: 1`` (one "escalated" message that says who
was not answering and for how long); later messages of that incident reach them too.

Pure decision (:func:`escalate_transition`) plus :func:`escalate_due` run at the end of every evaluation
with its ``now`` (the injected clock). An incident acknowledged in time, or whose severity has no
deadline, never escalates; a reopened incident starts a new episode (its escalation is cleared).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alerts.lifecycle import AlertRecord, Transition
from configs.alerts import format_duration
from configs.times import format_utc

if TYPE_CHECKING:
    from configs import Settings

    from alerts.store import AlertStore, OutboxEntry

__all__ = ["escalate_transition", "escalate_due", "escalation_level"]

_SEVERITY_WORDS = {"critical": "严重", "warning": "警告", "info": "提示"}


def escalation_level(rec: AlertRecord) -> int:
    """0 until the incident escalated, then 1."""
    esc = rec.detail.get("escalation")
    return int(esc.get("level", 0)) if isinstance(esc, dict) else 0


def escalate_transition(settings: Settings, rec: AlertRecord, *, now: datetime) -> Transition | None:
    """The "escalated" transition if ``rec`` is due, else None."""
    limit = settings.alerts.escalation.ack_within.get(rec.severity)
    if limit is None or rec.state != "open" or rec.acked_at is not None or escalation_level(rec) >= 1:
        return None
    if now < rec.opened_at + limit:
        return None
    group = [s.name for s in settings.alerts.subscribers if s.level == 1]
    if not group:
        return None
    text = (f"{_SEVERITY_WORDS.get(rec.severity, rec.severity)}告警 {format_duration(limit)} 内无人确认，"
            f"已上报给 {'、'.join(group)}")
    detail = {**dict(rec.detail), "escalation": {"level": 1, "at": format_utc(now), "after": format_duration(limit),
                                                 "to": group, "text": text}}
    new = dataclasses.replace(rec, version=rec.version + 1, updated_at=now, detail=detail,
                              notify_count=rec.notify_count + 1, last_notified_at=now)
    return Transition(new, "escalated", True)


def escalate_due(settings: Settings, st: AlertStore, *, now: datetime,
                 deliveries: Callable[[Transition], Sequence[OutboxEntry]]) -> list[Transition]:
    """Escalate every open, unacknowledged incident past its deadline (each once)."""
    if not settings.alerts.escalation.ack_within or not any(s.level == 1 for s in settings.alerts.subscribers):
        return []
    out = []
    for rec in st.list(state="open", limit=100_000):
        if escalate_transition(settings, rec, now=now) is None:
            continue

        def compute(r: AlertRecord | None) -> Transition | None:
            return escalate_transition(settings, r, now=now) if r is not None else None

        tr = st.apply(rec.fingerprint, compute, deliveries, now=now)
        if tr is not None:
            out.append(tr)
    return out


_ = Any
