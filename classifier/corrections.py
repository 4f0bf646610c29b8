"""Label corrections: a person fixes a document's tags; the fix is stored and used by the next ``voc train``.

Public API (the CLI and the web UI call these)::

    store = CorrectionStore(settings.resolve(settings.classifier.labels_path))
    store.add(doc_id, text=doc["text"], sentiment="negative", topics=("login",))  -> Correction
    store.list(limit=50)                                                         -> list[Correction]
    store.training_rows()     latest correction per document, as training rows
    store.latest_labels(ids)  {doc_id: the corrected fields} — what a re-crawl must keep
    parse_assignments(["sentiment=negative", "topics=login,payment", "risk="], topic_ids=...) -> dict
    apply_labels(doc, labels) -> the document with the corrected fields

Risk flags (``risk=media_threat`` or ``risk=`` for none) are corrected on the document and kept across
re-crawls; they come from rules, so training does not use them.

Stored in SQLite (one table, WAL, every write in its own transaction). Invalid labels raise
:class:`CorrectionError` (a :class:`ValueError`) naming the field and the allowed values.
"""

from __future__ import annotations

import builtins  # the method CorrectionStore.list shadows the builtin inside the class
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier._base import INTENTS, RISKS, SENTIMENTS, ClassifierError
from configs.closing import Closeable
from configs.sqlite_wal import use_wal
from configs.times import format_utc

if TYPE_CHECKING:
    from configs import Settings

__all__ = ["Correction", "CorrectionError", "CorrectionStore", "apply_labels", "parse_assignments", "open_store",
           "validate_labels"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    text TEXT NOT NULL,
    sentiment TEXT,
    intent TEXT,
    topics TEXT,
    risk TEXT,
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
    risk: tuple[str, ...] | None = None

    def labels(self) -> dict[str, Any]:
        """Only the fields this correction sets, as document fields."""
        out: dict[str, Any] = {}
        if self.sentiment is not None:
            out["sentiment"] = self.sentiment
        if self.intent is not None:
            out["intent"] = self.intent
        if self.topics is not None:
            out["topics"] = list(self.topics)
        if self.risk is not None:
            out["risk"] = list(self.risk)
        return out


def apply_labels(doc: dict[str, Any], labels: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the corrected fields; a corrected sentiment is certain (``sentiment_score`` 1.0)."""
    out = {**doc, **{k: list(v) if isinstance(v, (list, tuple)) else v for k, v in labels.items()}}
    if "sentiment" in labels:
        out["sentiment_score"] = 1.0
    return out


def _json_list(values: tuple[str, ...] | None) -> str | None:
    return json.dumps(list(values)) if values is not None else None


def _tuple(raw: str | None) -> tuple[str, ...] | None:
    return tuple(json.loads(raw)) if raw is not None else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in (p.strip() for p in value.replace("，", ",").split(",")) if v)


def validate_labels(labels: dict[str, Any], topic_ids: Iterable[str] | None = None) -> None:
    """Raise :class:`CorrectionError` (``"<field>: …"``) for an invalid label in ``{"sentiment": …, "intent": …,
    "topics": […], "risk": […]}`` (the fields a correction may set; None or absent: not set)."""
    sentiment, intent, topics = labels.get("sentiment"), labels.get("intent"), labels.get("topics")
    bad_risk = [r for r in (labels.get("risk") or ()) if r not in RISKS]
    if bad_risk:
        raise CorrectionError(f"risk: {', '.join(map(repr, bad_risk))} is not one of {', '.join(RISKS)} "
                              "(risk= with nothing clears the flags)")
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
            raise CorrectionError(f"{item!r}: expected FIELD=VALUE (sentiment=, intent=, topics=, risk=)")
        if key in ("topics", "risk"):
            out[key] = _split(value)
        elif key in ("sentiment", "intent"):
            out[key] = value
        else:
            raise CorrectionError(f"{key}: unknown field; use sentiment, intent, topics or risk")
    if not out:
        raise CorrectionError("nothing to correct; give at least one of sentiment=, intent=, topics=, risk=")
    validate_labels(out, topic_ids)
    return out


class CorrectionStore(Closeable):
    """Corrections in a SQLite file (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        use_wal(self._conn)
        self._conn.executescript(_SCHEMA)
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(corrections)")}
        if "risk" not in columns:  # a store from before risk corrections
            self._conn.execute("ALTER TABLE corrections ADD COLUMN risk TEXT")

    def add(self, doc_id: str, *, text: str, sentiment: str | None = None, intent: str | None = None,
            topics: Sequence[str] | None = None, author: str | None = None, topic_ids: Iterable[str] | None = None,
            now: datetime | None = None, risk: Sequence[str] | None = None) -> Correction:
        if sentiment is None and intent is None and topics is None and risk is None:
            raise CorrectionError("nothing to correct; give sentiment, intent, topics or risk")
        validate_labels({"sentiment": sentiment, "intent": intent, "topics": topics, "risk": risk}, topic_ids)
        created = format_utc(now or datetime.now(timezone.utc))
        c = Correction(doc_id=doc_id, text=text, sentiment=sentiment, intent=intent,
                       topics=tuple(topics) if topics is not None else None, author=author, created_at=created,
                       risk=tuple(risk) if risk is not None else None)
        with self._lock:
            self._conn.execute(
                "INSERT INTO corrections(doc_id, text, sentiment, intent, topics, risk, author, created_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (c.doc_id, c.text, c.sentiment, c.intent, _json_list(c.topics), _json_list(c.risk),
                 c.author, c.created_at))
        return c

    def list(self, *, doc_id: str | None = None, limit: int | None = None) -> list[Correction]:
        """Corrections, newest first (optionally of one document)."""
        return self._select("WHERE doc_id = ?" if doc_id is not None else "", [doc_id] if doc_id is not None else [],
                            limit=limit)

    def _select(self, where: str, args: builtins.list[Any], *, limit: int | None = None) -> builtins.list[Correction]:
        sql = f"SELECT doc_id, text, sentiment, intent, topics, author, created_at, risk FROM corrections {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args = [*args, int(limit)]
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [Correction(doc_id=r[0], text=r[1], sentiment=r[2], intent=r[3], topics=_tuple(r[4]), author=r[5],
                           created_at=r[6], risk=_tuple(r[7]))
                for r in rows]

    def latest_labels(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The corrected fields of those documents that have corrections (latest value of each field)."""
        ids = list(dict.fromkeys(doc_ids))
        merged: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for c in reversed(self._select(f"WHERE doc_id IN ({','.join('?' * len(chunk))})", chunk)):
                merged.setdefault(c.doc_id, {}).update(c.labels())
        return merged

    def training_rows(self) -> builtins.list[dict[str, Any]]:
        """The latest value of each trained field per document, merged, as ``{"text", "sentiment"?, ...}`` rows
        (risk flags come from rules, not training)."""
        merged: dict[str, dict[str, Any]] = {}
        for c in reversed(self.list()):
            merged.setdefault(c.doc_id, {"text": c.text}).update(c.labels())
        rows = [{k: v for k, v in row.items() if k != "risk"} for row in merged.values()]
        return [r for r in rows if len(r) > 1]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(settings: Settings) -> CorrectionStore:
    """The store at ``settings.classifier.labels_path`` (relative to the project home)."""
    return CorrectionStore(settings.resolve(settings.classifier.labels_path))
