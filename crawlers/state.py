"""Crawl state: cursors, run history, source health and per-source locks, in one SQLite file.

The file lives at ``settings.resolve(settings.crawl.state_path)``. The crawler process writes it; the
scheduler, ``voc status`` and the web page read it::

    state = CrawlState(settings.resolve(settings.crawl.state_path))
    state.last_runs(limit=10)            # newest first: list[SourceRun]
    state.source_health()                # one SourceHealth per source ever run
    with state.acquire_lock("weibo"):    # raises LockHeld while another live process crawls weibo
        ...
    state.cursor("appstore", "1600000001")   # the committed high-water mark (aware datetime) or None

Cursors only move forward and are committed by the cursor pipeline after the items they cover were
durably indexed. Locks name the owning process; a lock whose process died (SIGKILL) is stale and is
taken over by the next :meth:`CrawlState.acquire_lock`.

Errors: :class:`LockHeld` (a :class:`CrawlError`) when a source is already being crawled.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, overload

from configs.closing import Closeable
from configs.sqlite_wal import use_wal, write_tx
from configs.times import format_utc as iso  # ``2026-11-24T03:05:00Z``; naive taken as UTC
from configs.times import parse_utc
from crawlers.errors import CrawlError

__all__ = ["CrawlState", "SourceRun", "SourceHealth", "LockInfo", "SourceLock", "LockHeld", "pid_alive", "utcnow", "iso", "new_run_id"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL, target TEXT NOT NULL, high_water TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (source, target));
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT NOT NULL, source TEXT NOT NULL, product TEXT, status TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, duration REAL,
    pages INTEGER NOT NULL DEFAULT 0, new INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
    dropped TEXT NOT NULL DEFAULT '{}', errors INTEGER NOT NULL DEFAULT 0, error_messages TEXT NOT NULL DEFAULT '[]',
    blocked_reason TEXT, blocked_fix TEXT, pid INTEGER, failures TEXT NOT NULL DEFAULT '[]',
    warnings TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, source));
CREATE INDEX IF NOT EXISTS runs_by_source ON runs (source, started_at);
CREATE TABLE IF NOT EXISTS locks (
    source TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS texts (digest TEXT PRIMARY KEY, doc_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS target_yields (
    source TEXT NOT NULL, target TEXT NOT NULL, run_id TEXT NOT NULL, items INTEGER NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (source, target, run_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS first_seen (
    source TEXT NOT NULL, source_id TEXT NOT NULL, seen_at TEXT NOT NULL, PRIMARY KEY (source, source_id)) WITHOUT ROWID;
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id() -> str:
    """``20261124T030500Z-1a2b3c``: when the run started (UTC) and a random suffix."""
    return utcnow().strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


@overload
def _parse(value: str) -> datetime: ...
@overload
def _parse(value: str | None) -> datetime | None: ...
def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return parse_utc(value)


class LockHeld(CrawlError):
    """Another live process is crawling this source. Raised only by :meth:`CrawlState.acquire_lock`."""

    def __init__(self, source: str, holder: LockInfo) -> None:
        self.source = source
        self.holder = holder
        super().__init__(f"{source} is already being crawled by {holder.owner} (pid {holder.pid} on {holder.host}, "
                         f"since {iso(holder.acquired_at)})")


@dataclass(frozen=True)
class LockInfo:
    source: str
    owner: str
    pid: int
    host: str
    acquired_at: datetime


@dataclass(frozen=True)
class SourceRun:
    """One source's part of one crawl run."""

    run_id: str
    source: str
    product: str | None
    #: running | ok | blocked | failed | skipped
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    duration: float | None = None
    pages: int = 0
    new: int = 0
    updated: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    error_messages: tuple[str, ...] = ()
    blocked_reason: str | None = None
    blocked_fix: str | None = None
    #: pages that had content and yielded nothing: ``{"reason", "url", "detail", "saved"}`` each.
    failures: tuple[dict[str, str], ...] = ()
    #: things worth a look that did not fail the run (a target that yielded items last time and none now).
    warnings: tuple[str, ...] = ()
    #: the process that wrote the record (a ``running`` record whose process is gone belongs to a dead run).
    pid: int | None = field(default=None, compare=False)

    @property
    def blocked(self) -> bool:
        return self.blocked_reason is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "source": self.source, "product": self.product, "status": self.status,
            "started_at": iso(self.started_at), "finished_at": iso(self.finished_at), "duration": self.duration,
            "pages": self.pages, "new": self.new, "updated": self.updated, "dropped": dict(self.dropped),
            "errors": self.errors, "error_messages": list(self.error_messages),
            "blocked": {"reason": self.blocked_reason, "fix": self.blocked_fix} if self.blocked_reason else None,
            "failures": [dict(f) for f in self.failures], "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class SourceHealth:
    source: str
    last_run: SourceRun
    #: finish time of the newest run that ended ``ok``.
    last_success: datetime | None
    #: new items per UTC day over the last ``days`` days, oldest first: ``[("2026-11-24", 12), …]``.
    items_per_day: tuple[tuple[str, int], ...]
    #: the newest run's block, if it was blocked: (reason, fix).
    blocked: tuple[str, str] | None
    #: whether a live process holds the source's lock right now.
    running: bool
    #: the newest run says ``running`` but nothing runs it: ``"pid 1234"`` of its vanished process (killed, or it
    #: died unable to record its end — a full disk), else None.
    dead: str | None = None


class SourceLock:
    """Held lock on one source; release it with :meth:`release` or by leaving the ``with`` block."""

    def __init__(self, state: CrawlState, source: str, pid: int) -> None:
        self.state, self.source, self.pid = state, source, pid
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.state._release(self.source, self.pid)
            self.released = True

    def __enter__(self) -> SourceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists and is not a zombie (a lock it holds still counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) holds nothing.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class CrawlState(Closeable):
    """The crawl state database. One instance per process/thread; every write is its own transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added since the first schema (a state file of an older version gains them, empty)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        for column in ("failures", "warnings"):
            if column not in have:
                self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT NOT NULL DEFAULT '[]'")

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_tx(self._db, self._lock)

    # -- cursors ---------------------------------------------------------------------------------------
    def cursor(self, source: str, target: str) -> datetime | None:
        """The committed high-water mark (newest ``created_at`` durably indexed) of (source, target)."""
        row = self._db.execute("SELECT high_water FROM cursors WHERE source=? AND target=?", (source, target)).fetchone()
        return _parse(row[0]) if row else None

    def cursors(self) -> dict[tuple[str, str], datetime]:
        rows = self._db.execute("SELECT source, target, high_water FROM cursors ORDER BY source, target").fetchall()
        return {(s, t): _parse(h) for s, t, h in rows}

    def advance_cursor(self, source: str, target: str, high_water: datetime) -> datetime:
        """Move the mark forward to ``high_water`` (never back); returns the mark now stored."""
        hw = iso(high_water)
        assert hw is not None
        with self._tx() as db:
            row = db.execute("SELECT high_water FROM cursors WHERE source=? AND target=?", (source, target)).fetchone()
            if row is None or row[0] < hw:
                db.execute("INSERT OR REPLACE INTO cursors (source, target, high_water, updated_at) VALUES (?,?,?,?)",
                           (source, target, hw, iso(utcnow())))
                return _parse(hw)
            return _parse(row[0])

    # -- texts seen in earlier runs (dup_of across runs) ------------------------------------------------
    def first_with_text(self, digest: str) -> str | None:
        """The id of the first indexed document with this text digest (see DedupePipeline), if any."""
        row = self._db.execute("SELECT doc_id FROM texts WHERE digest = ?", (digest,)).fetchone()
        return row[0] if row else None

    def record_texts(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Remember ``(digest, doc id)`` of indexed documents; a digest keeps its first document."""
        if pairs:
            with self._tx() as db:
                db.executemany("INSERT OR IGNORE INTO texts (digest, doc_id) VALUES (?, ?)", pairs)

    # -- items per target and run (a target that yielded items last time and none now is worth a warning) ----
    def record_yields(self, source: str, run_id: str, yields: dict[str, int]) -> None:
        if yields:
            now = iso(utcnow())
            with self._tx() as db:
                db.executemany("INSERT OR REPLACE INTO target_yields (source, target, run_id, items, at) VALUES (?,?,?,?,?)",
                               [(source, t, run_id, n, now) for t, n in yields.items()])

    def previous_yields(self, source: str, run_id: str) -> dict[str, int]:
        """Per target of ``source``: the items of its newest recorded run other than ``run_id``."""
        rows = self._db.execute(
            "SELECT target, items FROM target_yields y WHERE source = ? AND run_id != ? AND at = (SELECT MAX(at) FROM"
            " target_yields z WHERE z.source = y.source AND z.target = y.target AND z.run_id != ?)",
            (source, run_id, run_id)).fetchall()
        return {t: n for t, n in rows}

    # -- first sight of items whose source gives no time (App Store entries without `updated`) -----------
    def first_seen(self, source: str, source_ids: Sequence[str], now: datetime) -> dict[str, datetime]:
        """When each id was first seen: ``now`` for ids new to the state, the remembered time for the others.
        A source without per-item times gets a stable time this way, and the cursor can advance on it."""
        ids = list(dict.fromkeys(source_ids))
        if not ids:
            return {}
        stamp = iso(now)
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO first_seen (source, source_id, seen_at) VALUES (?, ?, ?)",
                           [(source, i, stamp) for i in ids])
            rows = db.execute(f"SELECT source_id, seen_at FROM first_seen WHERE source = ? AND source_id IN "
                              f"({','.join('?' * len(ids))})", (source, *ids)).fetchall()
        return {sid: _parse(at) for sid, at in rows}

    def reset_cursor(self, source: str, target: str | None = None) -> int:
        with self._tx() as db:
            if target is None:
                return db.execute("DELETE FROM cursors WHERE source=?", (source,)).rowcount
            return db.execute("DELETE FROM cursors WHERE source=? AND target=?", (source, target)).rowcount

    # -- runs ------------------------------------------------------------------------------------------
    def start_run(self, run_id: str, source: str, *, product: str | None = None, started_at: datetime | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO runs (run_id, source, product, status, started_at, pid) VALUES (?,?,?,?,?,?)",
                       (run_id, source, product, "running", iso(started_at or utcnow()), os.getpid()))

    def finish_run(self, run: SourceRun) -> None:
        """Store a source's final summary (inserting it if :meth:`start_run` was never called)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, source, product, status, started_at, finished_at, duration, pages,"
                " new, updated, dropped, errors, error_messages, blocked_reason, blocked_fix, pid, failures, warnings)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.run_id, run.source, run.product, run.status, iso(run.started_at), iso(run.finished_at or utcnow()),
                 run.duration, run.pages, run.new, run.updated, json.dumps(run.dropped, ensure_ascii=False, sort_keys=True),
                 run.errors, json.dumps(list(run.error_messages), ensure_ascii=False), run.blocked_reason,
                 run.blocked_fix, os.getpid(), json.dumps([dict(f) for f in run.failures], ensure_ascii=False),
                 json.dumps(list(run.warnings), ensure_ascii=False)))

    def fail_unfinished(self, run_id: str, message: str) -> int:
        """Mark the run's sources still ``running`` as ``failed`` with ``message`` (the process died)."""
        now = utcnow()
        with self._tx() as db:
            rows = db.execute("SELECT source, started_at FROM runs WHERE run_id=? AND status='running'", (run_id,)).fetchall()
            for source, started in rows:
                duration = (now - _parse(started)).total_seconds()
                db.execute("UPDATE runs SET status='failed', finished_at=?, duration=?, errors=errors+1,"
                           " error_messages=? WHERE run_id=? AND source=?",
                           (iso(now), duration, json.dumps([message], ensure_ascii=False), run_id, source))
            return len(rows)

    def runs(self, run_id: str) -> list[SourceRun]:
        rows = self._db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE run_id=? ORDER BY source", (run_id,)).fetchall()
        return [_run(r) for r in rows]

    def last_runs(self, limit: int = 20, *, source: str | None = None) -> list[SourceRun]:
        """The newest source runs first (optionally of one source)."""
        if source:
            rows = self._db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE source=? ORDER BY started_at DESC, rowid DESC LIMIT ?",
                                    (source, limit)).fetchall()
        else:
            rows = self._db.execute(f"SELECT {_RUN_COLS} FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [_run(r) for r in rows]

    def source_health(self, *, days: int = 7, now: datetime | None = None) -> list[SourceHealth]:
        """Per source: its newest run, last success, new items per day and block state, sorted by source."""
        now = now or utcnow()
        first_day = (now - timedelta(days=days - 1)).date()
        out = []
        sources = [r[0] for r in self._db.execute("SELECT DISTINCT source FROM runs ORDER BY source")]
        host = socket.gethostname()
        locked = {info.source for info in self.locks() if info.host == host and pid_alive(info.pid)}
        held = {info.source for info in self.locks() if info.host != host or pid_alive(info.pid)}
        for source in sources:
            last = self.last_runs(1, source=source)[0]
            ok = self._db.execute("SELECT MAX(finished_at) FROM runs WHERE source=? AND status='ok'", (source,)).fetchone()[0]
            per_day = dict(self._db.execute(
                "SELECT substr(started_at, 1, 10), SUM(new) FROM runs WHERE source=? AND started_at >= ? GROUP BY 1",
                (source, first_day.isoformat())).fetchall())
            series = tuple(((first_day + timedelta(days=i)).isoformat(), int(per_day.get((first_day + timedelta(days=i)).isoformat(), 0)))
                           for i in range(days))
            blocked = (last.blocked_reason, last.blocked_fix or "") if last.blocked_reason else None
            owner = source.split(":", 1)[0]  # forum:<name> runs are crawled under the forum spider's lock
            dead = None
            if last.status == "running" and not ({source, owner} & held) and not (last.pid and pid_alive(last.pid)):
                dead = f"pid {last.pid}" if last.pid else "its process"
            out.append(SourceHealth(source=source, last_run=last, last_success=_parse(ok), items_per_day=series,
                                    blocked=blocked, running=bool({source, owner} & locked), dead=dead))
        return out

    # -- for crawl health (app/health.py) -----------------------------------------------------------------
    def source_times(self, source: str) -> tuple[datetime | None, datetime | None]:
        """(start of the source's first recorded run, end of its newest run that brought new items)."""
        first, new = self._db.execute(
            "SELECT MIN(started_at), (SELECT MAX(finished_at) FROM runs WHERE source = ? AND new > 0) FROM runs"
            " WHERE source = ?", (source, source)).fetchone()
        return _parse(first), _parse(new)

    # -- locks -----------------------------------------------------------------------------------------
    def acquire_lock(self, source: str, *, owner: str = "crawl", pid: int | None = None) -> SourceLock:
        """Take the source's lock for process ``pid`` (default: this one), or raise :class:`LockHeld`.

        A lock held by a process that no longer runs on this host is stale and is taken over.
        """
        pid = os.getpid() if pid is None else pid
        host = socket.gethostname()
        with self._tx() as db:
            row = db.execute("SELECT source, owner, pid, host, acquired_at FROM locks WHERE source=?", (source,)).fetchone()
            if row is not None:
                info = LockInfo(row[0], row[1], int(row[2]), row[3], _parse(row[4]))
                alive = info.host != host or pid_alive(info.pid)
                if alive and not (info.pid == pid and info.host == host):
                    raise LockHeld(source, info)
            db.execute("INSERT OR REPLACE INTO locks (source, owner, pid, host, acquired_at) VALUES (?,?,?,?,?)",
                       (source, owner, pid, host, iso(utcnow())))
        return SourceLock(self, source, pid)

    def locks(self) -> list[LockInfo]:
        rows = self._db.execute("SELECT source, owner, pid, host, acquired_at FROM locks ORDER BY source").fetchall()
        return [LockInfo(r[0], r[1], int(r[2]), r[3], _parse(r[4])) for r in rows]

    def is_locked(self, source: str) -> bool:
        """Whether a live process holds ``source``'s lock (stale locks do not count)."""
        host = socket.gethostname()
        return any(i.source == source and (i.host != host or pid_alive(i.pid)) for i in self.locks())

    def _release(self, source: str, pid: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE source=? AND pid=? AND host=?", (source, pid, socket.gethostname()))


_RUN_COLS = ("run_id, source, product, status, started_at, finished_at, duration, pages, new, updated, dropped, errors,"
             " error_messages, blocked_reason, blocked_fix, failures, warnings, pid")


def _run(r: tuple[Any, ...]) -> SourceRun:
    return SourceRun(run_id=r[0], source=r[1], product=r[2], status=r[3], started_at=_parse(r[4]),
                     finished_at=_parse(r[5]), duration=r[6], pages=r[7], new=r[8], updated=r[9],
                     dropped=json.loads(r[10] or "{}"), errors=r[11], error_messages=tuple(json.loads(r[12] or "[]")),
                     blocked_reason=r[13], blocked_fix=r[14], failures=tuple(json.loads(r[15] or "[]")),
                     warnings=tuple(json.loads(r[16] or "[]")), pid=r[17])
