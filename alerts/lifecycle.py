"""Alert lifecycle: fingerprints, open → updated → resolved, acknowledge, re-alert silencing with backoff.

Pure functions over :class:`AlertRecord` plus a :class:`Lifecycle` that holds an injected clock. No I/O:
the store (``alerts.store``) calls these inside a transaction and persists what they return.

States and events::

    (none) ──match──► open  [event "opened", version 1, notify]
    open ──match, count ≥ peak·update_growth or severity up──► open  [event "updated", version+1,
                                             notify unless acknowledged or silenced by backoff]
    open ──no match for resolve_after──► resolved  [event "resolved", version+1, notify]
    resolved ──match──► open  [event "reopened", version+1, notify unless silenced by backoff]
    open ──ack──► open, acknowledged (no notification; updates stay quiet until resolved)

Re-alert silencing: after ``n`` notifications in one episode, the next one waits
``min(realert · 2^(n-1), realert_max)`` since the last; a silenced update is sent later, once the wait is
over, if the signal is still up. Every version is one state change, queued once per subscriber and channel
(delivered at least once, with the version in its delivery id).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.detect import Figures, Match
from configs.times import format_utc as _iso, parse_utc as _parse

__all__ = ["AlertRecord", "Policy", "Transition", "Lifecycle", "fingerprint", "on_match", "on_quiet", "acknowledge",
           "resolve_manually", "silence_for", "SEVERITY_RANK"]

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def fingerprint(rule: str, product: str, key: str) -> str:
    """Stable id of one ongoing problem: rule + product + topic/term/version/post."""
    return hashlib.sha1(f"{rule}\x1f{product}\x1f{key}".encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Policy:
    resolve_after: timedelta = timedelta(hours=6)
    realert: timedelta = timedelta(hours=1)
    realert_max: timedelta = timedelta(hours=24)
    update_growth: float = 1.5
    #: Tell subscribers when an alert resolves (off for single-post alerts: a post does not "recover").
    notify_resolve: bool = True


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    fingerprint: str
    rule: str
    kind: str
    product: str
    key: str
    state: str  # "open" | "resolved"
    severity: str
    version: int
    title: str
    figures: Figures
    opened_at: datetime
    updated_at: datetime
    last_match_at: datetime
    resolved_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    #: Count at the last notification; growth beyond ``peak·update_growth`` is an update.
    peak: float = 0.0
    notify_count: int = 0
    last_notified_at: datetime | None = None
    #: Sources, representative posts, search query, terms … (what the message shows).
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """Why, in numbers: current vs baseline, range, ratio, window."""
        return self.figures.describe()

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["figures"] = self.figures.as_dict()
        for k, v in d.items():
            if isinstance(v, datetime):
                d[k] = _iso(v)
        d["detail"] = dict(self.detail)
        d["summary"] = self.summary
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AlertRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["figures"] = Figures.from_dict(d["figures"])
        for k in ("opened_at", "updated_at", "last_match_at", "resolved_at", "acked_at", "last_notified_at"):
            kw[k] = _parse(d[k]) if d.get(k) else None
        return cls(**kw)


@dataclass(frozen=True)
class Transition:
    record: AlertRecord
    #: "opened" | "updated" | "resolved" | "reopened" | "acknowledged" | None (figures refreshed only)
    event: str | None
    notify: bool


def silence_for(notify_count: int, policy: Policy) -> timedelta:
    """How long after the last notification the next one must wait."""
    if notify_count <= 0:
        return timedelta(0)
    return min(policy.realert * int(2 ** (notify_count - 1)), policy.realert_max)


def _silenced(rec: AlertRecord, now: datetime, policy: Policy) -> bool:
    return rec.last_notified_at is not None and now < rec.last_notified_at + silence_for(rec.notify_count, policy)


def on_match(rec: AlertRecord | None, match: Match, *, rule: str, kind: str, product: str, title: str,
             detail: Mapping[str, Any], now: datetime, policy: Policy) -> Transition:
    """The detector fired for this fingerprint at ``now``."""
    fp = fingerprint(rule, product, match.key)
    current = match.figures.current
    if rec is None:
        new = AlertRecord(fingerprint=fp, rule=rule, kind=kind, product=product, key=match.key, state="open",
                          severity=match.severity, version=1, title=title, figures=match.figures, opened_at=now,
                          updated_at=now, last_match_at=now, peak=current, notify_count=1, last_notified_at=now,
                          detail=dict(detail))
        return Transition(new, "opened", True)
    refreshed = dataclasses.replace(rec, figures=match.figures, last_match_at=now, detail=dict(detail), title=title)
    if rec.state == "resolved":
        # A new episode; flapping within the silence keeps the backoff counter going.
        notify = not _silenced(rec, now, policy)
        count = rec.notify_count if rec.resolved_at and now - rec.resolved_at < policy.realert_max else 0
        new = dataclasses.replace(refreshed, state="open", severity=match.severity, version=rec.version + 1,
                                  opened_at=now, updated_at=now, resolved_at=None, acked_at=None, acked_by=None,
                                  peak=current, notify_count=count + (1 if notify else 0),
                                  last_notified_at=now if notify else rec.last_notified_at)
        return Transition(new, "reopened", notify)
    grew = current >= rec.peak * policy.update_growth and current > rec.peak
    worse = SEVERITY_RANK.get(match.severity, 0) > SEVERITY_RANK.get(rec.severity, 0)
    if not (grew or worse) or rec.acked_at is not None or _silenced(rec, now, policy):
        sev = rec.severity if rec.acked_at is None else max(rec.severity, match.severity, key=SEVERITY_RANK.__getitem__)
        return Transition(dataclasses.replace(refreshed, severity=sev), None, False)
    new = dataclasses.replace(refreshed, severity=max(rec.severity, match.severity, key=SEVERITY_RANK.__getitem__),
                              version=rec.version + 1, updated_at=now, peak=current,
                              notify_count=rec.notify_count + 1, last_notified_at=now)
    return Transition(new, "updated", True)


def on_quiet(rec: AlertRecord, *, now: datetime, policy: Policy) -> Transition | None:
    """The detector did not fire for this open alert at ``now``: resolve once quiet for ``resolve_after``."""
    if rec.state != "open" or now - rec.last_match_at < policy.resolve_after:
        return None
    new = dataclasses.replace(rec, state="resolved", resolved_at=now, updated_at=now, version=rec.version + 1,
                              last_notified_at=now if policy.notify_resolve else rec.last_notified_at)
    return Transition(new, "resolved", policy.notify_resolve)


def acknowledge(rec: AlertRecord, *, by: str, now: datetime) -> Transition:
    return Transition(dataclasses.replace(rec, acked_at=now, acked_by=by), "acknowledged", False)


def resolve_manually(rec: AlertRecord, *, now: datetime) -> Transition | None:
    if rec.state == "resolved":
        return None
    new = dataclasses.replace(rec, state="resolved", resolved_at=now, updated_at=now, version=rec.version + 1,
                              last_notified_at=now)
    return Transition(new, "resolved", True)


class Lifecycle:
    """The lifecycle with an injected clock (``clock()`` returns an aware datetime)."""

    def __init__(self, *, clock: Callable[[], datetime], policy: Policy) -> None:
        self.clock = clock
        self.policy = policy

    def match(self, rec: AlertRecord | None, match: Match, *, rule: str, kind: str, product: str, title: str,
              detail: Mapping[str, Any]) -> Transition:
        return on_match(rec, match, rule=rule, kind=kind, product=product, title=title, detail=detail,
                        now=self.clock(), policy=self.policy)

    def quiet(self, rec: AlertRecord) -> Transition | None:
        return on_quiet(rec, now=self.clock(), policy=self.policy)

    def ack(self, rec: AlertRecord, by: str) -> Transition:
        return acknowledge(rec, by=by, now=self.clock())

    def resolve(self, rec: AlertRecord) -> Transition | None:
        return resolve_manually(rec, now=self.clock())
