"""The alert store: alert records, their state-change history and the delivery outbox.

``open_store(settings)`` returns a :class:`SqliteAlertStore` (tables in the index's SQLite file, own
connection, WAL, ``busy_timeout``) for ``sqlite:///`` index URLs. Every method that changes state runs in
one ``BEGIN IMMEDIATE`` transaction through one helper, :meth:`SqliteAlertStore._tx` (lock, begin, commit;
roll back on any exception, so one failed write never leaves the connection inside a transaction; SQLite
errors come out as :class:`AlertStoreError` naming the store), so concurrent evaluators serialize: the
second one reads what the first wrote and computes no duplicate transition; ``UNIQUE(fingerprint,
version, subscriber, channel)`` on the outbox makes a duplicate delivery row impossible even so. Deliveries are claimed with a lease
(``claim``): one worker sends a row; a crashed worker's claim expires and the row is retried.

Tables (schema version 3, recorded in ``alert_meta``; each migration applied is a row of
``alert_migrations``): ``alert_state`` (one row per incident id — or, from schema 1, per rule alert — the
record as JSON, its ``kind`` and ``opened_at``), ``alert_events`` (one row per version), ``alert_outbox``
(one row per version × subscriber × channel).

Migrations (:data:`MIGRATIONS`, applied in order inside the opening transaction, each recorded once):

1. ``initial`` — the tables above.
2. ``incidents`` — ``alert_state`` gains ``kind`` and ``opened_at``; alerts of schema 1 (one per rule ×
   key) that are still open are closed as ``resolved`` with the event ``superseded`` and no message: the
   incidents raised from the next evaluation carry their problems, and nothing would ever resolve them.
3. ``replies`` — ``review_replies`` (one row per review: the drafted reply, its approval and sending;
   :mod:`alerts.replies`).
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
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alerts._errors import AlertsError
from alerts.lifecycle import AlertRecord, Transition
from configs.closing import Closeable
from configs.sqlite_wal import use_wal
from configs.times import format_utc

if TYPE_CHECKING:
    from configs import Settings

__all__ = ["AlertStore", "AlertState", "SqliteAlertStore", "OutboxEntry", "PendingDelivery", "AlertStoreError", "open_store",
           "open_store_at"]

SCHEMA_VERSION = 3

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
CREATE TABLE IF NOT EXISTS alert_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
"""


def _migrate_incidents(db: sqlite3.Connection, now: str) -> None:
    cols = {r[1] for r in db.execute("PRAGMA table_info(alert_state)")}
    if "kind" not in cols:
        db.execute("ALTER TABLE alert_state ADD COLUMN kind TEXT NOT NULL DEFAULT 'alert'")
    if "opened_at" not in cols:
        db.execute("ALTER TABLE alert_state ADD COLUMN opened_at TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS alert_state_by_kind ON alert_state (kind, state)")
    for fp, data in db.execute("SELECT fingerprint, data FROM alert_state").fetchall():
        try:
            rec = json.loads(data)
        except ValueError:
            continue
        kind, opened = str(rec.get("kind") or "alert"), rec.get("opened_at")
        if kind != "incident" and rec.get("state") == "open":
            rec.update(state="resolved", resolved_at=now, updated_at=now, version=int(rec.get("version", 0)) + 1)
            rec.setdefault("detail", {})["superseded_by"] = "incidents"
            db.execute("INSERT OR IGNORE INTO alert_events (fingerprint, version, event, at, data) VALUES (?, ?, ?, ?, ?)",
                       (fp, rec["version"], "superseded", now, json.dumps(rec.get("figures") or {})))
        db.execute("UPDATE alert_state SET kind = ?, opened_at = ?, state = ?, version = ?, updated_at = ?, data = ?"
                   " WHERE fingerprint = ?", (kind, opened, rec.get("state"), rec.get("version"),
                                              rec.get("updated_at"), json.dumps(rec, ensure_ascii=False), fp))


def _migrate_replies(db: sqlite3.Connection, now: str) -> None:
    """Replies to reviewers (:mod:`alerts.replies`): one row per review, so a review is answered once."""
    db.execute("""CREATE TABLE IF NOT EXISTS review_replies (
        review TEXT PRIMARY KEY, incident TEXT NOT NULL, product TEXT NOT NULL, source TEXT NOT NULL,
        source_id TEXT NOT NULL, app_version TEXT, review_text TEXT NOT NULL, body TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft',        -- draft | approved | sending | sent | failed
        created_at TEXT NOT NULL, approved_by TEXT, approved_at TEXT, sent_at TEXT, response_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)""")
    db.execute("CREATE INDEX IF NOT EXISTS review_replies_by_status ON review_replies (status, incident)")


#: (version, name, step): applied in order, each once, recorded in ``alert_migrations``.
MIGRATIONS: tuple[tuple[int, str, Callable[[sqlite3.Connection, str], None]], ...] = (
    (1, "initial", lambda db, now: None),
    (2, "incidents", _migrate_incidents),
    (3, "replies", _migrate_replies),
)


class AlertStoreError(AlertsError):
    """The alert store cannot be opened or written (carries the store location)."""


@dataclass(frozen=True)
class OutboxEntry:
    """A delivery to queue: one notification for one subscriber on one channel."""

    subscriber: str
    channel: str
    notification: dict[str, Any]
    #: Not sent before this time (the subscriber's quiet hours end then).
    not_before: datetime | None = None


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


@dataclass(frozen=True)
class AlertState:
    """Everything an alert store holds, store-neutral (``voc reindex`` moves it between stores):
    records (``AlertRecord.to_json()``), events (``fingerprint, version, event, at, figures``) and outbox
    rows (``fingerprint, version, subscriber, channel, notification, status, attempts, next_attempt_at,
    last_error, created_at, sent_at``; claims are not moved)."""

    records: list[dict[str, Any]]
    events: list[dict[str, Any]]
    outbox: list[dict[str, Any]]


OUTBOX_FIELDS = ("fingerprint", "version", "subscriber", "channel", "notification", "status", "attempts",
                 "next_attempt_at", "last_error", "created_at", "sent_at")


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

    def export_state(self) -> AlertState: ...

    def restore_state(self, state: AlertState) -> int: ...

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


def _utcnow() -> str:
    return format_utc(datetime.now(timezone.utc))


def _ts(dt: datetime) -> float:
    return dt.timestamp()


class SqliteAlertStore(Closeable):
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
            self._migrate(db)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Apply the migrations not yet recorded (inside the opening transaction: all or nothing)."""
        done = {r[0] for r in db.execute("SELECT version FROM alert_migrations")}
        row = db.execute("SELECT value FROM alert_meta WHERE key = 'schema_version'").fetchone()
        if row is not None and not done:  # a store created before migrations were recorded: schema 1
            done = {v for v, _n, _f in MIGRATIONS if v <= int(row[0])}
            for v, name, _f in MIGRATIONS:
                if v in done:
                    db.execute("INSERT INTO alert_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                               (v, name, "before-migrations"))
        now = _utcnow()
        for version, name, step in MIGRATIONS:
            if version in done:
                continue
            step(db, now)
            db.execute("INSERT INTO alert_migrations (version, name, applied_at) VALUES (?, ?, ?)", (version, name, now))
        db.execute("INSERT OR REPLACE INTO alert_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def migrations(self) -> builtins.list[tuple[int, str, str]]:
        """``(version, name, applied_at)`` of every migration applied to this store."""
        return [tuple(r) for r in self._select("SELECT version, name, applied_at FROM alert_migrations ORDER BY version")]

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
                        "INSERT INTO alert_state (fingerprint, rule, product, key, state, severity, version, updated_at,"
                        " data, kind, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.fingerprint, rec.rule, rec.product, rec.key, rec.state, rec.severity, rec.version,
                         rec.to_json()["updated_at"], data, rec.kind, rec.to_json()["opened_at"]))
                else:
                    cur = self._db.execute(
                        "UPDATE alert_state SET state = ?, severity = ?, version = ?, updated_at = ?, data = ?,"
                        " rule = ?, key = ?, kind = ?, opened_at = ? WHERE fingerprint = ? AND version = ?",
                        (rec.state, rec.severity, rec.version, rec.to_json()["updated_at"], data, rec.rule, rec.key,
                         rec.kind, rec.to_json()["opened_at"], rec.fingerprint, before.version))
                    if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; guard anyway
                        raise AlertStoreError(f"alert {fingerprint} changed concurrently")
                if tr.event:
                    self._db.execute("INSERT OR IGNORE INTO alert_events (fingerprint, version, event, at, data)"
                                     " VALUES (?, ?, ?, ?, ?)",
                                     (rec.fingerprint, rec.version, tr.event, format_utc(now),
                                      json.dumps(rec.figures.as_dict())))
                if tr.notify:
                    for entry in deliveries(tr):
                        due = max(_ts(now), _ts(entry.not_before)) if entry.not_before else _ts(now)
                        self._db.execute(
                            "INSERT OR IGNORE INTO alert_outbox (fingerprint, version, subscriber, channel, notification,"
                            " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (rec.fingerprint, rec.version, entry.subscriber, entry.channel,
                             json.dumps(entry.notification, ensure_ascii=False), due, _ts(now)))
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

    def claim_held(self, delivery: PendingDelivery, *, now: datetime, lease_s: float) -> builtins.list[PendingDelivery]:
        """The other due rows held for quiet hours of ``delivery``'s subscriber × channel, claimed with its
        token: they are sent together as one message."""
        t = _ts(now)
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM alert_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND subscriber = ?"
                " AND channel = ? AND id != ? AND (claimed_until IS NULL OR claimed_until <= ?)"
                " AND json_extract(notification, '$.extra.held_until') IS NOT NULL ORDER BY id",
                (t, delivery.subscriber, delivery.channel, delivery.id, t))]
            for i in ids:
                db.execute("UPDATE alert_outbox SET claimed_until = ?, claim_token = ? WHERE id = ?",
                           (t + lease_s, delivery.claim_token, i))
            rows = [db.execute(f"SELECT {self._COLS} FROM alert_outbox WHERE id = ?", (i,)).fetchone() for i in ids]
        return [self._delivery(r) for r in rows]

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

    # --- moving the state (voc reindex) ---------------------------------------------------------------
    def export_state(self) -> AlertState:
        records = [json.loads(r[0]) for r in self._select("SELECT data FROM alert_state ORDER BY fingerprint")]
        events = [{"fingerprint": f, "version": v, "event": e, "at": at, "figures": json.loads(d)} for f, v, e, at, d in
                  self._select("SELECT fingerprint, version, event, at, data FROM alert_events ORDER BY rowid")]
        rows = self._select(f"SELECT {', '.join(OUTBOX_FIELDS)} FROM alert_outbox ORDER BY id")
        outbox = [{**dict(zip(OUTBOX_FIELDS, r)), "notification": json.loads(r[4])} for r in rows]
        return AlertState(records, events, outbox)

    def restore_state(self, state: AlertState) -> int:
        """Write records (replacing the same fingerprint), events and outbox rows (kept if present) in one
        transaction; return the number of records written."""
        with self._tx() as db:
            for d in state.records:
                rec = AlertRecord.from_json(d)
                db.execute(
                    "INSERT OR REPLACE INTO alert_state (fingerprint, rule, product, key, state, severity, version,"
                    " updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.fingerprint, rec.rule, rec.product, rec.key, rec.state, rec.severity, rec.version,
                     rec.to_json()["updated_at"], json.dumps(d, ensure_ascii=False)))
            for e in state.events:
                db.execute("INSERT OR IGNORE INTO alert_events (fingerprint, version, event, at, data)"
                           " VALUES (?, ?, ?, ?, ?)",
                           (e["fingerprint"], e["version"], e["event"], e["at"], json.dumps(e["figures"])))
            for o in state.outbox:
                db.execute(
                    f"INSERT OR IGNORE INTO alert_outbox ({', '.join(OUTBOX_FIELDS)}) VALUES ({', '.join('?' * len(OUTBOX_FIELDS))})",
                    tuple(json.dumps(o[k], ensure_ascii=False) if k == "notification" else o[k] for k in OUTBOX_FIELDS))
        return len(state.records)

    def close(self) -> None:
        self._db.close()


def open_store(settings: Settings) -> SqliteAlertStore:
    """The alert store next to the feedback: the index's SQLite file (``settings.sqlite_path()``)."""
    return open_store_at(settings, settings.index.url, settings.index.name)


def open_store_at(settings: Settings, url: str, name: str) -> SqliteAlertStore:
    """The alert store beside the index at ``url`` (named ``name`` on Elasticsearch), e.g. a reindex target."""
    path = settings.sqlite_path(url)
    if path is None:
        try:
            from alerts._es_store import ElasticsearchAlertStore
        except ImportError as exc:  # pragma: no cover
            raise AlertStoreError("the Elasticsearch alert store is not available") from exc
        return ElasticsearchAlertStore.from_settings(settings, url=url, name=name)  # type: ignore[return-value]
    return SqliteAlertStore(path)

