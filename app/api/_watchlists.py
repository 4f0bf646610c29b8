"""Saved searches (watchlists), per user: a name and a query, kept in a small SQLite file
(``web.watchlists_path``).

Who "a user" is: the token that authenticated (a bearer token, or the token a login session was opened
with), stored only as a hash (``Principal.user``); anonymous loopback access is one
local user. Names and queries are user input: bounded,
validated, and only ever shown as text.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.api._ops import FieldError

if TYPE_CHECKING:
    from app.api._auth import Principal

__all__ = ["WatchlistStore", "WatchlistError", "user_key", "MAX_PER_USER"]

MAX_PER_USER = 50
_MAX_NAME = 60
_MAX_QUERY = 500


class WatchlistError(FieldError):
    """A watchlist name or query the store refuses (400 ``bad_watchlist``)."""


def user_key(principal: Principal) -> str:
    """A stable, non-reversible key for the person behind a request: a hash of their token (the same for a
    bearer token and every session it opens), or "local" for an anonymous loopback user."""
    return "t:" + principal.user if principal.user else "local"


class WatchlistStore:
    """Thread-safe (one connection, one lock); opened lazily, closed at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("CREATE TABLE IF NOT EXISTS watchlist (id TEXT PRIMARY KEY, user TEXT NOT NULL, name TEXT NOT NULL,"
                       " q TEXT NOT NULL, created_at TEXT NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS watchlist_user ON watchlist(user, created_at)")
            self._db = db
        return self._db

    def list(self, user: str) -> list[dict[str, str]]:
        with self._lock:
            rows = self._conn().execute("SELECT id, name, q, created_at FROM watchlist WHERE user = ? "
                                        "ORDER BY created_at, id", (user,)).fetchall()
        return [{"id": r[0], "name": r[1], "q": r[2], "created_at": r[3]} for r in rows]

    def add(self, user: str, *, name: str, q: str, now: datetime) -> dict[str, str]:
        name, q = (name or "").strip(), (q or "").strip()
        if not name or len(name) > _MAX_NAME or any(ord(c) < 32 for c in name):
            raise WatchlistError("name", f"give a name of 1–{_MAX_NAME} characters without control characters")
        if len(q) > _MAX_QUERY:
            raise WatchlistError("q", f"at most {_MAX_QUERY} characters")
        from index.base import format_time

        row = {"id": uuid.uuid4().hex[:12], "name": name, "q": q, "created_at": format_time(now) or ""}
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                (n,) = db.execute("SELECT count(*) FROM watchlist WHERE user = ?", (user,)).fetchone()
                if n >= MAX_PER_USER:
                    raise WatchlistError("name", f"you already keep {MAX_PER_USER} watchlists; delete one first")
                if db.execute("SELECT 1 FROM watchlist WHERE user = ? AND name = ?", (user, name)).fetchone():
                    raise WatchlistError("name", f"you already have a watchlist named {name!r}")
                db.execute("INSERT INTO watchlist VALUES (?, ?, ?, ?, ?)",
                           (row["id"], user, name, q, row["created_at"]))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return row

    def delete(self, user: str, watch_id: str) -> bool:
        with self._lock:
            cur = self._conn().execute("DELETE FROM watchlist WHERE user = ? AND id = ?", (user, watch_id))
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
