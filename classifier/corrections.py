"""Label corrections: a person fixes a document's tags; the fix is stored and used by the next ``voc train``.

Public API (the CLI and the web UI call these)::

    store = CorrectionStore(settings.resolve(settings.classifier.labels_path))
    store.add(doc_id, text=doc["text"], sentiment="negative", topics=("login",))  -> Correction
    store.list(limit=50)                                                         -> list[Correction]
    store.training_rows()     latest correction per document, as training rows
    parse_assignments(["sentiment=negative", "topics=login,payment"], topic_ids=...) -> dict

Stored in SQLite (one table, WAL, every write in its own transaction). Invalid labels raise
:class:`CorrectionError` (a :class:`ValueError`) naming the field and the allowed values.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from classifier._base import INTENTS, SENTIMENTS, ClassifierError

__all__ = ["Correction", "CorrectionError", "CorrectionStore", "parse_assignments", "open_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    text TEXT NOT NULL,
    sentiment TEXT,
    intent TEXT,
    topics TEXT,
    author TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_doc ON corrections(doc_id, id);
"""


class CorrectionError(ClassifierError, ValueError):
    """A correction names an unknown field or an invalid label."""


@dataclass(frozen=True)
class Correction:
    doc_id: str
    text: str
    sentiment: str | None
    intent: str | None
    topics: tuple[str, ...] | None
    author: str | None
    created_at: str

    def labels(self) -> dict[str, Any]:
        """Only the fields this correction sets, as document fields."""
        out: dict[str, Any] = {}
        if self.sentiment is not None:
            out["sentiment"] = self.sentiment
        if self.intent is not None:
            out["intent"] = self.intent
        if self.topics is not None:
            out["topics"] = list(self.topics)
        return out


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in (p.strip() for p in value.replace("，", ",").split(",")) if v)


def _validate(sentiment: str | None, intent: str | None, topics: Sequence[str] | None,
              topic_ids: Iterable[str] | None) -> None:
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise CorrectionError(f"sentiment: {sentiment!r} is not one of {', '.join(SENTIMENTS)}")
    if intent is not None and intent not in INTENTS:
        raise CorrectionError(f"intent: {intent!r} is not one of {', '.join(INTENTS)}")
    if topics is not None and topic_ids is not None:
        known = set(topic_ids)
        bad = [t for t in topics if t not in known]
        if bad:
            raise CorrectionError(f"topics: unknown topic {', '.join(map(repr, bad))}; known: {', '.join(sorted(known))}")


def parse_assignments(items: Sequence[str], *, topic_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """``["sentiment=negative", "topics=login,payment"]`` → ``{"sentiment": ..., "topics": (...)}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise CorrectionError(f"{item!r}: expected FIELD=VALUE (sentiment=, intent=, topics=)")
        if key == "topics":
            out["topics"] = _split(value)
        elif key in ("sentiment", "intent"):
            out[key] = value
        else:
            raise CorrectionError(f"{key}: unknown field; use sentiment, intent or topics")
    if not out:
        raise CorrectionError("nothing to correct; give at least one of sentiment=, intent=, topics=")
    ids = tuple(topic_ids) if topic_ids is not None else None
    _validate(out.get("sentiment"), out.get("intent"), out.get("topics"), ids)
    return out


class CorrectionStore:
    """Corrections in a SQLite file (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def add(self, doc_id: str, *, text: str, sentiment: str | None = None, intent: str | None = None,
            topics: Sequence[str] | None = None, author: str | None = None, topic_ids: Iterable[str] | None = None,
            now: datetime | None = None) -> Correction:
        if sentiment is None and intent is None and topics is None:
            raise CorrectionError("nothing to correct; give sentiment, intent or topics")
        _validate(sentiment, intent, topics, tuple(topic_ids) if topic_ids is not None else None)
        created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        c = Correction(doc_id=doc_id, text=text, sentiment=sentiment, intent=intent,
                       topics=tuple(topics) if topics is not None else None, author=author, created_at=created)
        with self._lock:
            self._conn.execute(
                "INSERT INTO corrections(doc_id, text, sentiment, intent, topics, author, created_at) VALUES (?,?,?,?,?,?,?)",
                (c.doc_id, c.text, c.sentiment, c.intent, json.dumps(list(c.topics)) if c.topics is not None else None,
                 c.author, c.created_at))
        return c

    def list(self, *, doc_id: str | None = None, limit: int | None = None) -> list[Correction]:
        """Corrections, newest first (optionally of one document)."""
        sql = "SELECT doc_id, text, sentiment, intent, topics, author, created_at FROM corrections"
        args: list[Any] = []
        if doc_id is not None:
            sql += " WHERE doc_id = ?"
            args.append(doc_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [Correction(doc_id=r[0], text=r[1], sentiment=r[2], intent=r[3],
                           topics=tuple(json.loads(r[4])) if r[4] is not None else None, author=r[5], created_at=r[6])
                for r in rows]

    def training_rows(self) -> list[dict[str, Any]]:
        """The latest value of each field per document, merged, as ``{"text", "sentiment"?, ...}`` rows."""
        merged: dict[str, dict[str, Any]] = {}
        for c in reversed(self.list()):
            merged.setdefault(c.doc_id, {"text": c.text}).update(c.labels())
        return list(merged.values())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> CorrectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(settings: Any) -> CorrectionStore:
    """The store at ``settings.classifier.labels_path`` (relative to the project home)."""
    return CorrectionStore(settings.resolve(settings.classifier.labels_path))
