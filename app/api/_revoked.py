"""Logged-out sessions: :class:`RevokedSessions`, a small SQLite table of session ids until they expire.

A session cookie is signed, not stored, so logging out must name it somewhere the server checks: here.
The table lives in a file (``web.sessions_path``), so a logged-out cookie stays refused after a restart
that keeps ``VOC_SESSION_SECRET``. Rows whose session has expired anyway are deleted on the next logout.
The file is created on the first logout; until then nothing is revoked and nothing is opened.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from configs.sqlite_wal import use_wal

__all__ = ["RevokedSessions"]


class RevokedSessions:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self, *, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            if not create and not self.path.exists():
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            use_wal(conn)
            conn.execute("CREATE TABLE IF NOT EXISTS revoked_sessions "
                         "(sid TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)")
            self._conn = conn
        return self._conn

    def revoke(self, sid: str, *, expires_at: int) -> None:
        with self._lock:
            db = self._db(create=True)
            assert db is not None
            # two independent autocommit statements: purging the expired and adding this one
            db.execute("DELETE FROM revoked_sessions WHERE expires_at < ?", (int(self._clock()),))
            db.execute("INSERT OR REPLACE INTO revoked_sessions (sid, expires_at) VALUES (?, ?)", (sid, expires_at))

    def is_revoked(self, sid: str) -> bool:
        with self._lock:
            db = self._db(create=False)
            if db is None:
                return False
            return db.execute("SELECT 1 FROM revoked_sessions WHERE sid = ?", (sid,)).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
