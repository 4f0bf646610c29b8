"""One SQLite habit every store shares (index, alert store, crawl state, label corrections, scheduler runs).

Switching a fresh database file to WAL needs a moment of exclusive access, and SQLite reports "database is
locked" at once — without waiting for ``busy_timeout`` — when another connection opens the same new file at
that moment (say the scheduler and ``voc serve`` starting together). :func:`use_wal` waits and retries."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["use_wal", "write_tx"]


def use_wal(conn: sqlite3.Connection, *, timeout_s: float = 30.0) -> str:
    """``PRAGMA journal_mode=WAL`` on ``conn``, retried while another connection holds the file; returns the
    journal mode now in force (``memory`` for an in-memory database)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@contextmanager
def write_tx(conn: sqlite3.Connection, lock: threading.Lock | threading.RLock) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``conn`` (opened with ``isolation_level=None``): take ``lock``, ``BEGIN IMMEDIATE``,
    commit; roll back on any exception, so the connection never stays inside a failed transaction."""
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
