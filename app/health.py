"""Crawl health operations alerts: a source blocked, failing or silent too long tells the operators, once.

Separate from product alerts (alerts/): these are about the crawl itself, read from the crawl state (run
history), not from the index. ``crawl.health`` in voc.yaml says when and to whom::

    crawl:
      health:
        notify: [ops]          # subscribers of alerts.yaml; each gets it on every channel it lists
        blocked_hours: 6       # the newest run was blocked, and nothing succeeded for this long
        failing_hours: 12      # the newest run failed (or died), and nothing succeeded for this long
        silent_hours: 72       # runs go on but no new item came for this long

One alert per source at a time (the most serious problem: blocked, then failing, then silent). It opens once the
problem has lasted past its threshold, is sent once per channel (a channel that failed is tried again at the next
check, the others are not sent twice), and resolves — with one "resolved" message — when the source recovers.
:func:`check` runs after every crawl (``voc crawl``), at each scheduled alert evaluation (``voc schedule``) and on
``voc status --check-health``. What was opened and sent is kept beside the run history in the crawl state file
(:class:`HealthLog`). Each notification carries a stable id (``crawl-health:<source>:<opened>`` and
``…:resolved``) that receivers can de-duplicate on.
"""

from __future__ import annotations

import html
import logging
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from alerts.message import Notification, md_escape
from alerts.notifiers import NOTIFIERS, NotifierError, render, send
from configs import Settings
from configs.sqlite_wal import use_wal, write_tx
from crawlers.state import CrawlState, SourceHealth, iso
from configs.times import parse_utc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS health_alerts (
    alert_id TEXT PRIMARY KEY, source TEXT NOT NULL, problem TEXT NOT NULL, detail TEXT NOT NULL, since TEXT NOT NULL,
    opened_at TEXT NOT NULL, resolved_at TEXT);
CREATE TABLE IF NOT EXISTS health_sent (
    notification_id TEXT NOT NULL, channel TEXT NOT NULL, sent_at TEXT NOT NULL,
    PRIMARY KEY (notification_id, channel)) WITHOUT ROWID;
"""

__all__ = ["Problem", "HealthReport", "HealthLog", "problems", "check"]

log = logging.getLogger("voc.health")

_LABELS = {"blocked": "被封锁", "failing": "采集失败", "silent": "没有新内容"}


@dataclass(frozen=True)
class Problem:
    source: str
    problem: str  # blocked | failing | silent
    since: datetime
    detail: str


@dataclass
class HealthReport:
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (notification id, channel)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (notification id, channel, error)

    def summary(self) -> str:
        return (f"crawl health: {len(self.opened)} opened, {len(self.resolved)} resolved, {len(self.sent)} sent, "
                f"{len(self.failed)} failed")


def _parse(value: str | None) -> datetime | None:
    return parse_utc(value) if value else None


class HealthLog:
    """What was opened, resolved and sent: two tables beside the run history, in the crawl state file."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        use_wal(self._db)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_tx(self._db, self._lock)

    def alerts(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT alert_id, source, problem, detail, since, opened_at, resolved_at FROM health_alerts"
        rows = self._db.execute(sql + (" WHERE resolved_at IS NULL" if open_only else "") + " ORDER BY opened_at").fetchall()
        return [{"alert_id": r[0], "source": r[1], "problem": r[2], "detail": r[3], "since": _parse(r[4]),
                 "opened_at": _parse(r[5]), "resolved_at": _parse(r[6])} for r in rows]

    def open(self, source: str, problem: str, detail: str, *, since: datetime, now: datetime) -> str:
        alert_id = f"crawl-health:{source}:{iso(now)}"
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO health_alerts (alert_id, source, problem, detail, since, opened_at)"
                       " VALUES (?,?,?,?,?,?)", (alert_id, source, problem, detail, iso(since), iso(now)))
        return alert_id

    def resolve(self, alert_id: str, *, now: datetime) -> None:
        with self._tx() as db:
            db.execute("UPDATE health_alerts SET resolved_at = ? WHERE alert_id = ? AND resolved_at IS NULL",
                       (iso(now), alert_id))

    def sent(self, notification_id: str) -> set[str]:
        """The channels a notification already reached."""
        return {r[0] for r in self._db.execute("SELECT channel FROM health_sent WHERE notification_id = ?",
                                                (notification_id,))}

    def mark_sent(self, notification_id: str, channel: str, *, now: datetime) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO health_sent (notification_id, channel, sent_at) VALUES (?,?,?)",
                       (notification_id, channel, iso(now)))


def problems(state: CrawlState, settings: Settings, *, now: datetime) -> dict[str, Problem]:
    """Every source's problem that has lasted past its threshold (``crawl.health``), by source."""
    cfg = settings.crawl.health
    found: dict[str, Problem] = {}
    for h in state.source_health(now=now):
        first, last_new = state.source_times(h.source)
        problem = _problem(h, cfg, now=now, first=first, last_new=last_new)
        if problem is not None:
            found[h.source] = problem
    return found


def _problem(h: SourceHealth, cfg: Any, *, now: datetime, first: datetime | None,
             last_new: datetime | None) -> Problem | None:
    run = h.last_run
    since_ok = h.last_success or first or run.started_at
    if run.status == "blocked" and cfg.blocked_hours and now - since_ok >= timedelta(hours=cfg.blocked_hours):
        return Problem(h.source, "blocked", since_ok, f"{run.blocked_reason} — {run.blocked_fix}")
    failing = run.status == "failed" or h.dead is not None
    if failing and cfg.failing_hours and now - since_ok >= timedelta(hours=cfg.failing_hours):
        why = (f"its process ({h.dead}) died" if h.dead else
               (f"{run.failures[0]['reason']} at {run.failures[0]['url']}" if run.failures else
                (run.error_messages[-1] if run.error_messages else "failed")))
        return Problem(h.source, "failing", since_ok, why)
    quiet_since = last_new or first or run.started_at
    if (run.status == "ok" and not h.running and cfg.silent_hours
            and now - quiet_since >= timedelta(hours=cfg.silent_hours)):
        return Problem(h.source, "silent", quiet_since, f"no new item since {iso(quiet_since)}, though its runs succeed")
    return None


def _channels(settings: Settings) -> list[Any]:
    """The channels of the subscribers ``crawl.health.notify`` names (each once); a name alerts.yaml lacks is an
    error that says where to fix it."""
    out: dict[str, Any] = {}
    for name in settings.crawl.health.notify:
        sub = next((s for s in settings.alerts.subscribers if s.name == name), None)
        if sub is None:
            known = ", ".join(s.name for s in settings.alerts.subscribers) or "none"
            raise ValueError(f"crawl.health.notify names subscriber {name!r}, which alerts.yaml does not define "
                             f"(subscribers: {known})")
        for ch in sub.channels:
            channel = settings.alerts.channel(ch)
            if channel is not None:
                out.setdefault(channel.name, channel)
    return list(out.values())


def _notification(alert: dict[str, Any], event: str, *, now: datetime) -> Notification:
    source, problem = alert["source"], alert["problem"]
    label = _LABELS.get(problem, problem)
    title = f"数据采集{'已恢复' if event == 'resolved' else '异常'}：{source} {label}"
    since = iso(alert["since"]) or ""
    lines = [f"来源：{source}", f"问题：{label}（自 {since} UTC）", f"详情：{alert['detail']}"]
    if event == "resolved":
        lines.append(f"已于 {iso(now)} UTC 恢复")
    else:
        lines.append(f"查看：voc status（问题页面的正文保存在 data/quarantine/{source.replace(':', '_')}/）")
    nid = alert["alert_id"] + (":resolved" if event == "resolved" else "")
    return Notification(
        id=nid, event=event, title=title, severity="warning" if event != "resolved" else "info",
        fingerprint=alert["alert_id"], version=2 if event == "resolved" else 1, rule="crawl-health",
        kind="crawl_health", key=source, state="resolved" if event == "resolved" else "open", at=iso(now) or "",
        body_text="\n".join([title, *lines]),
        body_markdown="\n".join([f"### {md_escape(title, 200)}", "", *(f"- {md_escape(x, 500)}" for x in lines)]),
        body_html="<h3>" + html.escape(title) + "</h3><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines)
        + "</ul>",
        extra={"source": source, "problem": problem, "since": since, "detail": alert["detail"]})


def _deliver(book: HealthLog, settings: Settings, note: Notification, channels: list[Any], *, now: datetime,
             client: httpx.Client, report: HealthReport) -> None:
    from alerts._deliver import target_for

    done = book.sent(note.id)
    for channel in channels:
        if channel.name in done or channel.kind not in NOTIFIERS:
            continue
        target = target_for(settings, channel)
        try:
            send(channel.kind, render(channel.kind, note, target), target=target, client=client, now=now)
        except NotifierError as exc:
            log.warning("crawl health notification %s to %s failed: %s", note.id, channel.name, exc)
            report.failed.append((note.id, channel.name, str(exc)))
            continue
        book.mark_sent(note.id, channel.name, now=now)
        report.sent.append((note.id, channel.name))


def check(settings: Settings, *, now: datetime, client: httpx.Client | None = None) -> HealthReport:
    """Open, resolve and send crawl health alerts (see the module docstring)."""
    report = HealthReport()
    path = settings.resolve(settings.crawl.state_path)
    if not path.exists():
        return report
    channels = _channels(settings)
    own = client is None
    http = client if client is not None else httpx.Client(timeout=10.0, follow_redirects=False)
    book = HealthLog(path)
    try:
        with CrawlState(path) as state:
            current = problems(state, settings, now=now)
        open_by_source = {a["source"]: a for a in book.alerts(open_only=True)}
        for source, alert in open_by_source.items():
            if source not in current:  # recovered
                book.resolve(alert["alert_id"], now=now)
                report.resolved.append(alert["alert_id"])
        for source, problem in current.items():
            if source not in open_by_source:
                report.opened.append(book.open(source, problem.problem, problem.detail, since=problem.since, now=now))
        # Send what is due: every open alert's opening, every resolved alert's resolution, on channels not reached
        # yet (so a failed channel is tried again next time, and nothing goes twice).
        for alert in book.alerts():
            event = "resolved" if alert["resolved_at"] is not None else "opened"
            if event == "resolved" and not book.sent(alert["alert_id"]):
                continue  # its opening never reached anyone: no "resolved" for an alert nobody saw
            _deliver(book, settings, _notification(alert, event, now=alert["resolved_at"] or now), channels, now=now,
                     client=http, report=report)
    finally:
        book.close()
        if own:
            http.close()
    return report
