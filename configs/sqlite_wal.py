"""One SQLite habit every store shares (index, alert store, crawl state, label corrections, scheduler runs).

Switching a fresh database file to WAL needs a moment of exclusive access, and SQLite reports "database is
locked" at once — without waiting for ``busy_timeout`` — when another connection opens the same new file at
that moment (say the scheduler and ``voc serve`` starting together). :func:`use_wal` waits and retries."""

from __future__ import annotations

import sqlite3
import time

__all__ = ["use_wal"]


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
