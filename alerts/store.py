"""The alert store: alert records, their state-change history and the delivery outbox.

``open_store(settings)`` returns a :class:`SqliteAlertStore` (tables in the index's SQLite file, own
connection, WAL, ``busy_timeout``) for ``sqlite:///`` index URLs. Every method that changes state runs in
one ``BEGIN IMMEDIATE`` transaction through one helper, :meth:`SqliteAlertStore._tx` (lock, begin, commit;
roll back on any exception, so one failed write never leaves the connection inside a transaction; SQLite
errors come out as :class:`AlertStoreError` naming the store), so concurrent evaluators serialize: the
second one reads what the first wrote and computes no duplicate transition; ``UNIQUE(fingerprint,
version, subscriber, channel)`` on the outbox makes a duplicate delivery row impossible even so. Deliveries are claimed with a lease
(``claim``): one worker sends a row; a crashed worker's claim expires and the row is retried.

Tables (schema version 1, recorded in ``alert_meta``): ``alert_state`` (one row per fingerprint, the
record as JSON), ``alert_events`` (one row per version), ``alert_outbox`` (one row per version ×
subscriber × channel).
"""

from __future__ import annotations

import builtins

import json
import secrets as _secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from alerts._errors import AlertsError
from alerts.lifecycle import AlertRecord, Transition
from configs.sqlite_wal import use_wal
from configs.times import format_utc

__all__ = ["AlertStore", "SqliteAlertStore", "OutboxEntry", "PendingDelivery", "AlertStoreError", "open_store"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_state (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL, product TEXT NOT NULL, key TEXT NOT NULL,
    state TEXT NOT NULL, severity TEXT NOT NULL, version INTEGER NOT NULL,
    updated_at TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_state_by_state ON alert_state (state, rule);
CREATE TABLE IF NOT EXISTS alert_events (
    fingerprint TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (fingerprint, version, event));
CREATE TABLE IF NOT EXISTS alert_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL, version INTEGER NOT NULL, subscriber TEXT NOT NULL, channel TEXT NOT NULL,
    notification TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',          -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL, claimed_until REAL, claim_token TEXT,
    last_error TEXT, created_at REAL NOT NULL, sent_at REAL,
    UNIQUE (fingerprint, version, subscriber, channel));
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (status, next_attempt_at);
"""


class AlertStoreError(AlertsError):
    """The alert store cannot be opened or written (carries the store location)."""


@dataclass(frozen=True)
class OutboxEntry:
    """A delivery to queue: one notification for one subscriber on one channel."""

    subscriber: str
    channel: str
    notification: dict[str, Any]


@dataclass(frozen=True)
class PendingDelivery:
    id: int
    fingerprint: str
    version: int
    subscriber: str
    channel: str
    notification: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    claim_token: str | None = None
    sent_at: float | None = None


class AlertStore(Protocol):
    """What evaluation, delivery and the CLI need; SQLite implements it (Elasticsearch: same methods)."""

    def apply(self, fingerprint: str, compute: Callable[[AlertRecord | None], Transition | None],
              deliveries: Callable[[Transition], Sequence[OutboxEntry]], *, now: datetime) -> Transition | None: ...

    def enqueue(self, fingerprint: str, version: int, entries: Sequence[OutboxEntry], *, now: datetime) -> int: ...

    def get(self, fingerprint: str) -> AlertRecord | None: ...

    def list(self, *, state: str | None = None, rule: str | None = None, product: str | None = None,
             limit: int = 100) -> list[AlertRecord]: ...

    def events(self, fingerprint: str) -> builtins.list[dict[str, Any]]: ...

    def claim(self, *, now: datetime, lease_s: float, skip: Iterable[tuple[str, str]] = ()) -> PendingDelivery | None: ...

    def mark_sent(self, delivery: PendingDelivery, *, now: datetime) -> bool: ...

    def mark_failed(self, delivery: PendingDelivery, *, now: datetime, error: str, retry_at: datetime | None,
                    hold_channel: bool = True) -> None: ...

    def outbox(self, *, status: str | None = None) -> builtins.list[PendingDelivery]: ...

    def close(self) -> None: ...


def _notification(text: Any, delivery_id: str) -> dict[str, Any]:
    """A stored notification; one that is not a JSON object (a damaged or hand-edited row) is returned as
    ``{"id", "unreadable"}`` so that claiming it never raises and delivery records the row as failed."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if isinstance(value, dict):
        return value
    return {"id": delivery_id, "unreadable": str(text)[:200]}


def _ts(dt: datetime) -> float:
    return dt.timestamp()


class SqliteAlertStore:
    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            use_wal(self._db, timeout_s=timeout_s)
            self._db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise AlertStoreError(f"cannot open the alert store in {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        with self._tx() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO alert_meta (key, value) VALUES ('schema_version', ?)",
                       (str(SCHEMA_VERSION),))

    def __repr__(self) -> str:
        return f"SqliteAlertStore({str(self.path)!r})"

    # --- transactions ---------------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: lock, ``BEGIN IMMEDIATE``, commit; roll back on any exception (the
        connection is never left inside a transaction). SQLite errors become :class:`AlertStoreError`."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise AlertStoreError(f"alert store {self.path}: cannot start a write: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise AlertStoreError(f"alert store {self.path}: write failed and was rolled back: {exc}") from exc
                raise

    def _select(self, sql: str, args: Sequence[Any] = ()) -> builtins.list[Any]:
        """A read outside a write transaction; SQLite errors become :class:`AlertStoreError` here too."""
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise AlertStoreError(f"alert store {self.path}: read failed: {exc}") from exc

    def _read(self, fingerprint: str) -> AlertRecord | None:
        row = self._db.execute("SELECT data FROM alert_state WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return AlertRecord.from_json(json.loads(row[0])) if row else None

    def apply(self, fingerprint: str, compute: Callable[[AlertRecord | None], Transition | None],
              deliveries: Callable[[Transition], Sequence[OutboxEntry]], *, now: datetime) -> Transition | None:
        """Atomically: read the record, ``compute`` its transition, write it and queue its deliveries."""
        with self._tx():
            before = self._read(fingerprint)
            tr = compute(before)
            if tr is not None:
                rec = tr.record
                data = json.dumps(rec.to_json(), ensure_ascii=False)
                if before is None:
                    self._db.execute(
                        "INSERT INTO alert_state (fingerprint, rule, product, key, state, severity, version, updated_at, data)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.fingerprint, rec.rule, rec.product, rec.key, rec.state, rec.severity, rec.version,
                         rec.to_json()["updated_at"], data))
                else:
                    cur = self._db.execute(
                        "UPDATE alert_state SET state = ?, severity = ?, version = ?, updated_at = ?, data = ?"
                        " WHERE fingerprint = ? AND version = ?",
                        (rec.state, rec.severity, rec.version, rec.to_json()["updated_at"], data, rec.fingerprint,
                         before.version))
                    if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; guard anyway
                        raise AlertStoreError(f"alert {fingerprint} changed concurrently")
                if tr.event:
                    self._db.execute("INSERT OR IGNORE INTO alert_events (fingerprint, version, event, at, data)"
                                     " VALUES (?, ?, ?, ?, ?)",
                                     (rec.fingerprint, rec.version, tr.event, format_utc(now),
                                      json.dumps(rec.figures.as_dict())))
                if tr.notify:
                    for entry in deliveries(tr):
                        self._db.execute(
                            "INSERT OR IGNORE INTO alert_outbox (fingerprint, version, subscriber, channel, notification,"
                            " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (rec.fingerprint, rec.version, entry.subscriber, entry.channel,
                             json.dumps(entry.notification, ensure_ascii=False), _ts(now), _ts(now)))
            return tr

    def enqueue(self, fingerprint: str, version: int, entries: Sequence[OutboxEntry], *, now: datetime) -> int:
        """Queue deliveries not tied to an alert state change (digests); returns rows added."""
        added = 0
        with self._tx():
            for e in entries:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO alert_outbox (fingerprint, version, subscriber, channel, notification,"
                    " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (fingerprint, version, e.subscriber, e.channel, json.dumps(e.notification, ensure_ascii=False),
                     _ts(now), _ts(now)))
                added += cur.rowcount
        return added

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, fingerprint: str) -> AlertRecord | None:
        rows = self._select("SELECT data FROM alert_state WHERE fingerprint LIKE ? ORDER BY fingerprint LIMIT 2",
                            (fingerprint.replace("%", "").replace("_", "") + "%",))
        if len(rows) != 1:
            return None
        return AlertRecord.from_json(json.loads(rows[0][0]))

    def list(self, *, state: str | None = None, rule: str | None = None, product: str | None = None,
             limit: int = 100) -> list[AlertRecord]:
        sql = "SELECT data FROM alert_state WHERE 1=1"
        args: builtins.list[Any] = []
        for col, val in (("state", state), ("rule", rule), ("product", product)):
            if val:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY updated_at DESC, fingerprint LIMIT ?"
        args.append(limit)
        return [AlertRecord.from_json(json.loads(r[0])) for r in self._select(sql, args)]

    def events(self, fingerprint: str) -> builtins.list[dict[str, Any]]:
        rows = self._select("SELECT version, event, at, data FROM alert_events WHERE fingerprint = ? ORDER BY version",
                            (fingerprint,))
        return [{"version": v, "event": e, "at": at, "figures": json.loads(d)} for v, e, at, d in rows]

    # --- outbox ---------------------------------------------------------------------------------------
    def _delivery(self, row: Sequence[Any]) -> PendingDelivery:
        return PendingDelivery(id=row[0], fingerprint=row[1], version=row[2], subscriber=row[3], channel=row[4],
                               notification=_notification(row[5], f"{row[1]}:{row[2]}"), status=row[6], attempts=row[7],
                               next_attempt_at=row[8], last_error=row[9], claim_token=row[10], sent_at=row[11])

    _COLS = ("id, fingerprint, version, subscriber, channel, notification, status, attempts, next_attempt_at, "
             "last_error, claim_token, sent_at")

    def claim(self, *, now: datetime, lease_s: float, skip: Iterable[tuple[str, str]] = ()) -> PendingDelivery | None:
        """Take the oldest due pending delivery, skipping (subscriber, channel) pairs in ``skip``."""
        skip = list(skip)
        t = _ts(now)
        token = _secrets.token_hex(8)
        with self._tx():
            sql = ("SELECT id FROM alert_outbox WHERE status = 'pending' AND next_attempt_at <= ?"
                   " AND (claimed_until IS NULL OR claimed_until <= ?)")
            args: list[Any] = [t, t]
            for sub, ch in skip:
                sql += " AND NOT (subscriber = ? AND channel = ?)"
                args += [sub, ch]
            row = self._db.execute(sql + " ORDER BY id LIMIT 1", args).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE alert_outbox SET claimed_until = ?, claim_token = ? WHERE id = ?",
                             (t + lease_s, token, row[0]))
            full = self._db.execute(f"SELECT {self._COLS} FROM alert_outbox WHERE id = ?", (row[0],)).fetchone()
        return self._delivery(full)

    def mark_sent(self, delivery: PendingDelivery, *, now: datetime) -> bool:
        """Record success; False when the claim was lost (another worker took over after the lease)."""
        with self._tx() as db:
            cur = db.execute("UPDATE alert_outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                             " claimed_until = NULL, last_error = NULL WHERE id = ? AND claim_token = ?",
                             (_ts(now), delivery.id, delivery.claim_token))
            return cur.rowcount == 1

    def mark_failed(self, delivery: PendingDelivery, *, now: datetime, error: str, retry_at: datetime | None,
                    hold_channel: bool = True) -> None:
        """Record a failure: retry at ``retry_at`` (with ``hold_channel``, later rows of the same subscriber ×
        channel wait too: the channel is down), or give up (status ``failed``) when it is None."""
        with self._tx() as db:
            if retry_at is None:
                db.execute("UPDATE alert_outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
                           " claimed_until = NULL WHERE id = ? AND claim_token = ?",
                           (error, delivery.id, delivery.claim_token))
                return
            db.execute("UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
                       " claimed_until = NULL WHERE id = ? AND claim_token = ?",
                       (error, _ts(retry_at), delivery.id, delivery.claim_token))
            if hold_channel:  # the channel is down for this subscriber: later rows wait with it (order kept)
                db.execute("UPDATE alert_outbox SET next_attempt_at = max(next_attempt_at, ?) WHERE status = 'pending'"
                           " AND subscriber = ? AND channel = ? AND id > ?",
                           (_ts(retry_at), delivery.subscriber, delivery.channel, delivery.id))

    def retry_failed(self, *, now: datetime) -> int:
        """Put every given-up delivery back in the queue (after fixing a channel)."""
        with self._tx() as db:
            cur = db.execute("UPDATE alert_outbox SET status = 'pending', attempts = 0, next_attempt_at = ?"
                             " WHERE status = 'failed'", (_ts(now),))
            return cur.rowcount

    def outbox(self, *, status: str | None = None) -> builtins.list[PendingDelivery]:
        sql = f"SELECT {self._COLS} FROM alert_outbox"
        args: list[Any] = []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        return [self._delivery(r) for r in self._select(sql + " ORDER BY id", args)]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteAlertStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(settings: Any) -> SqliteAlertStore:
    """The alert store next to the feedback: the index's SQLite file (``settings.sqlite_path()``)."""
    path = settings.sqlite_path()
    if path is None:
        try:
            from alerts._es_store import ElasticsearchAlertStore
        except ImportError as exc:  # pragma: no cover
            raise AlertStoreError("the Elasticsearch alert store is not available") from exc
        return ElasticsearchAlertStore.from_settings(settings)  # type: ignore[return-value]
    return SqliteAlertStore(path)

