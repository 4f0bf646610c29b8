"""``SqliteIndex``: the zero-setup backend — SQLite with FTS5 over the jieba ``tokens`` column.

* Schema changes are named migrations recorded in ``feedback_migrations``; the FTS tokenizer and the
  text source are recorded in ``feedback_meta`` and checked on open (:class:`SchemaMismatchError`).
* WAL journal, ``busy_timeout``: the alert store keeps its own tables in the same file.
* All writes go through one connection under a lock; each ``upsert`` batch is ONE transaction, so a
  writer killed mid-batch leaves nothing of it. Reads use one connection per thread.
* SQL comes from the pure builders in :mod:`index.sqlite_sql` (``voc search --sql`` shows it).
* Speed at a million documents: with free words, the value filters are FTS5 tags of each document
  (``feedback_fts.tags``), so FTS5 intersects words and filters itself and a count reads no rows at all;
  otherwise filters, counts, facets and histograms read the narrow ``feedback_dims`` table (and its
  indexes), never the wide rows; time bounds always read ``feedback_dims``. Histograms over whole hours — and the
  ``total`` of queries without free words spanning a day or more — read hourly rollups (product/source/
  sentiment, topic, app_version/rating, intent/platform; partial edge hours are counted from the
  documents). Relevance ranking of a query matching more than :attr:`SqliteIndex.rank_window`
  documents (after filters) ranks the newest ``rank_window`` of them (one statement: FTS5 walks the
  matches newest first and stops). Facets count every match, or the newest ``SearchQuery.facet_sample``
  matches when the query allows it (``SearchResult.facets_sampled``); ``total`` always counts every match,
  and ``sort="time"`` is never windowed. All facets of a search come from one statement and one pass over the matches.
* The filter indexes are ``(column)`` alone: they grow at their end as rowids ascend, so a batch of
  upserts touches few of their pages (``(column, created_ts)`` indexes took each document at a random
  place and halved the upsert rate at a million documents). Time ranges use ``feedback_dims_created``.
* Readers map the file (``PRAGMA mmap_size``): the threads' connections share the OS page cache.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from configs.sqlite_wal import use_wal
from index._docs import normalize_batch
from index._errors import BackendUnavailableError, IndexBackendError, SchemaMismatchError
from index._highlight import highlight_segments
from index._normalization import check_normalization, tokenizer_normalization
from index.base import (
    Doc, DOC_FIELDS, FACET_FIELDS, Bucket, Filters, Hit, SearchQuery, SearchResult, UpsertResult,
)
from index.query import query_terms
from index.sqlite_sql import (
    COLUMNS, DIMS, SIDE_TABLES, TAG_PREFIX, build_count_sql, build_facets_sql,
    build_search_sql, build_text_histogram_sql, build_where, tags_sql,
)


log = logging.getLogger("voc.index")

__all__ = ["SqliteIndex", "build_search_sql", "MIGRATIONS", "FTS_TOKENIZE"]

#: The FTS5 tokenizer over the space-joined jieba tokens (whitespace and punctuation split; case folded).
FTS_TOKENIZE = "unicode61 remove_diacritics 0"
TEXT_SOURCE = "jieba tokens column (space-joined)"

#: Every Filters field on a plain column gets an index led by it, with created_ts for time-bounded counts.
_FILTER_INDEXES = ("product", "source", "sentiment", "intent", "platform", "app_version", "rating")

_M1 = [
    """CREATE TABLE feedback (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE, source TEXT, source_id TEXT, url TEXT, parent_id TEXT, product TEXT,
        kind TEXT, title TEXT, text TEXT, raw_text TEXT, tokens TEXT, author_id TEXT, author_name TEXT,
        created_at TEXT, created_ts INTEGER, crawled_at TEXT, rating INTEGER, app_version TEXT, platform TEXT,
        likes INTEGER, replies INTEGER, reposts INTEGER, sentiment TEXT, sentiment_score REAL, intent TEXT,
        topics TEXT NOT NULL DEFAULT '[]', risk TEXT NOT NULL DEFAULT '[]', dup_of TEXT, model_version TEXT,
        extra TEXT)""",
    f"""CREATE VIRTUAL TABLE feedback_fts USING fts5(tokens, content='feedback', content_rowid='rowid',
        tokenize='{FTS_TOKENIZE}')""",
    "CREATE INDEX feedback_created ON feedback(created_ts)",
    *[f"CREATE INDEX feedback_{c} ON feedback({c}, created_ts)" for c in _FILTER_INDEXES],
    "CREATE INDEX feedback_parent ON feedback(parent_id)",
]
for _field, _table in SIDE_TABLES.items():
    _M1 += [
        f"CREATE TABLE {_table} (value TEXT NOT NULL, ts INTEGER, doc INTEGER NOT NULL, "
        f"PRIMARY KEY (value, ts, doc)) WITHOUT ROWID",
        f"CREATE INDEX {_table}_doc ON {_table}(doc)",
    ]
_side_insert = "".join(
    f"INSERT OR IGNORE INTO {t}(value, ts, doc) SELECT value, new.created_ts, new.rowid FROM json_each(new.{f});"
    for f, t in SIDE_TABLES.items())
_side_delete = "".join(f"DELETE FROM {t} WHERE doc = old.rowid;" for t in SIDE_TABLES.values())
_M1 += [
    f"""CREATE TRIGGER feedback_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_fts(rowid, tokens) VALUES (new.rowid, new.tokens); {_side_insert} END""",
    f"""CREATE TRIGGER feedback_ad AFTER DELETE ON feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens) VALUES ('delete', old.rowid, old.tokens);
        {_side_delete} END""",
    """CREATE TRIGGER feedback_au_fts AFTER UPDATE OF tokens ON feedback WHEN old.tokens IS NOT new.tokens BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens) VALUES ('delete', old.rowid, old.tokens);
        INSERT INTO feedback_fts(rowid, tokens) VALUES (new.rowid, new.tokens); END""",
    f"""CREATE TRIGGER feedback_au_side AFTER UPDATE OF topics, risk, created_ts ON feedback
        WHEN old.topics IS NOT new.topics OR old.risk IS NOT new.risk OR old.created_ts IS NOT new.created_ts
        BEGIN {_side_delete.replace('old.rowid', 'new.rowid')} {_side_insert} END""",
]


def _keyed_roll(table: str, cols: tuple[str, ...], sign: str, row: str) -> str:
    """The statement adding ``sign`` (+1/-1) for document ``row`` (new/old) to the hourly rollup ``table``
    keyed by ``cols`` (a missing value counts as '')."""
    key = [f"coalesce({row}.{c}, '')" for c in cols]
    if sign == "+":
        return (f"INSERT INTO {table} SELECT {row}.created_ts / 3600, {', '.join(key)}, 1 "
                f"WHERE {row}.created_ts IS NOT NULL ON CONFLICT DO UPDATE SET n = n + 1;")
    return (f"UPDATE {table} SET n = n - 1 WHERE hour = {row}.created_ts / 3600 AND "
            + " AND ".join(f"{c} = {k}" for c, k in zip(cols, key)) + ";")


def _roll(sign: str, row: str) -> list[str]:
    """Statements adding ``sign`` (+1/-1) for document ``row`` (new/old) to the hourly rollups."""
    if sign == "+":
        topics = (f"INSERT INTO feedback_topic_hourly SELECT {row}.created_ts / 3600, value, "
                  f"coalesce({row}.product, ''), coalesce({row}.sentiment, ''), 1 FROM json_each({row}.topics) "
                  f"WHERE {row}.created_ts IS NOT NULL ON CONFLICT DO UPDATE SET n = n + 1;")
    else:
        topics = (f"UPDATE feedback_topic_hourly SET n = n - 1 WHERE hour = {row}.created_ts / 3600 "
                  f"AND topic IN (SELECT value FROM json_each({row}.topics)) AND product = coalesce({row}.product, '') "
                  f"AND sentiment = coalesce({row}.sentiment, '');")
    return [_keyed_roll("feedback_hourly", ("product", "source", "sentiment"), sign, row), topics]


#: Counts per UTC hour for the dimensions dashboards and spike detection read most; histograms over
#: whole hours with only these filters read them instead of the documents.
ROLLUPS: dict[str, tuple[str, ...]] = {
    "feedback_hourly": ("product", "source", "sentiment"),
    "feedback_topic_hourly": ("topic", "product", "sentiment"),
}
_M2 = [
    "CREATE TABLE feedback_hourly (hour INTEGER NOT NULL, product TEXT NOT NULL, source TEXT NOT NULL, "
    "sentiment TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, product, source, sentiment)) WITHOUT ROWID",
    "CREATE TABLE feedback_topic_hourly (hour INTEGER NOT NULL, topic TEXT NOT NULL, product TEXT NOT NULL, "
    "sentiment TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, topic, product, sentiment)) WITHOUT ROWID",
    "INSERT INTO feedback_hourly SELECT created_ts / 3600, coalesce(product, ''), coalesce(source, ''), "
    "coalesce(sentiment, ''), count(*) FROM feedback WHERE created_ts IS NOT NULL GROUP BY 1, 2, 3, 4",
    "INSERT INTO feedback_topic_hourly SELECT s.ts / 3600, s.value, coalesce(f.product, ''), "
    "coalesce(f.sentiment, ''), count(*) FROM feedback_topic s JOIN feedback f ON f.rowid = s.doc "
    "WHERE s.ts IS NOT NULL GROUP BY 1, 2, 3, 4",
    f"CREATE TRIGGER feedback_roll_ai AFTER INSERT ON feedback BEGIN {' '.join(_roll('+', 'new'))} END",
    f"CREATE TRIGGER feedback_roll_ad AFTER DELETE ON feedback BEGIN {' '.join(_roll('-', 'old'))} END",
    f"""CREATE TRIGGER feedback_roll_au AFTER UPDATE OF created_ts, product, source, sentiment, topics ON feedback
        WHEN old.created_ts IS NOT new.created_ts OR old.product IS NOT new.product OR old.source IS NOT new.source
          OR old.sentiment IS NOT new.sentiment OR old.topics IS NOT new.topics
        BEGIN {' '.join(_roll('-', 'old') + _roll('+', 'new'))} END""",
]

_dims_cols = ", ".join(DIMS)
_dims_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in DIMS)
_M3 = [
    f"CREATE TABLE feedback_dims (rowid INTEGER PRIMARY KEY, {', '.join(c + (' INTEGER' if c in ('created_ts', 'rating') else ' TEXT') for c in DIMS)})",
    f"INSERT INTO feedback_dims (rowid, {_dims_cols}) SELECT rowid, {_dims_cols} FROM feedback",
    "CREATE INDEX feedback_dims_created ON feedback_dims(created_ts)",
    *[f"CREATE INDEX feedback_dims_{c} ON feedback_dims({c}, created_ts)" for c in _FILTER_INDEXES],
    f"""CREATE TRIGGER feedback_dims_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_dims (rowid, {_dims_cols}) VALUES (new.rowid, {', '.join('new.' + c for c in DIMS)}); END""",
    "CREATE TRIGGER feedback_dims_ad AFTER DELETE ON feedback BEGIN DELETE FROM feedback_dims WHERE rowid = old.rowid; END",
    f"""CREATE TRIGGER feedback_dims_au AFTER UPDATE OF {_dims_cols} ON feedback WHEN {_dims_changed} BEGIN
        UPDATE feedback_dims SET {', '.join(f'{c} = new.{c}' for c in DIMS)} WHERE rowid = new.rowid; END""",
    # the wide table no longer needs its filter indexes: every filter reads feedback_dims
    "DROP INDEX IF EXISTS feedback_created",
    *[f"DROP INDEX IF EXISTS feedback_{c}" for c in (*_FILTER_INDEXES, "kind", "dup")],
    # side tables: (doc, value) answers "does this match carry topic X" without touching anything else
    *[stmt for t in SIDE_TABLES.values() for stmt in (
        f"DROP INDEX IF EXISTS {t}_doc", f"DROP INDEX IF EXISTS {t}_ts", f"CREATE INDEX {t}_doc ON {t}(doc, value)")],
]

_VCOLS = ("product", "source", "app_version", "rating")


def _vroll(sign: str, row: str) -> str:
    return _keyed_roll("feedback_version_hourly", _VCOLS, sign, row)


_M4 = [
    # app_version/rating trends (rating by version, app_version series) without reading the documents
    "CREATE TABLE feedback_version_hourly (hour INTEGER NOT NULL, product TEXT NOT NULL, source TEXT NOT NULL, "
    "app_version TEXT NOT NULL, rating NOT NULL, n INTEGER NOT NULL, "
    "PRIMARY KEY (hour, product, source, app_version, rating)) WITHOUT ROWID",
    "INSERT INTO feedback_version_hourly SELECT created_ts / 3600, coalesce(product, ''), coalesce(source, ''), "
    "coalesce(app_version, ''), coalesce(rating, ''), count(*) FROM feedback_dims WHERE created_ts IS NOT NULL "
    "GROUP BY 1, 2, 3, 4, 5",
    f"CREATE TRIGGER feedback_vroll_ai AFTER INSERT ON feedback BEGIN {_vroll('+', 'new')} END",
    f"CREATE TRIGGER feedback_vroll_ad AFTER DELETE ON feedback BEGIN {_vroll('-', 'old')} END",
    f"""CREATE TRIGGER feedback_vroll_au AFTER UPDATE OF created_ts, product, source, app_version, rating ON feedback
        WHEN old.created_ts IS NOT new.created_ts OR old.product IS NOT new.product OR old.source IS NOT new.source
          OR old.app_version IS NOT new.app_version OR old.rating IS NOT new.rating
        BEGIN {_vroll('-', 'old')} {_vroll('+', 'new')} END""",
]
ROLLUPS["feedback_version_hourly"] = _VCOLS


def _croll(sign: str, row: str) -> str:
    return _keyed_roll("feedback_class_hourly", ("intent", "platform"), sign, row)


#: Single-value filter columns; their indexes are ``(column)`` alone, i.e. ``(column, rowid)``.
_PLAIN_INDEXES = ("product", "source", "sentiment", "intent", "platform", "app_version", "rating")
_M5 = [
    # Indexes ``(column, created_ts)`` take each new document at a random place (documents do not arrive in
    # created_at order), so a batch of 2,000 dirtied thousands of pages per index: at a million documents
    # they halved the upsert rate. ``(column)`` indexes grow at their end (rowids ascend); time-bounded
    # counts and histograms read the hourly rollups (edges via ``feedback_dims_created``), which now cover
    # intent and platform too.
    *[f"DROP INDEX IF EXISTS feedback_dims_{c}" for c in _PLAIN_INDEXES],
    *[f"CREATE INDEX feedback_dims_{c} ON feedback_dims({c})" for c in _PLAIN_INDEXES],
    "CREATE TABLE feedback_class_hourly (hour INTEGER NOT NULL, intent TEXT NOT NULL, platform TEXT NOT NULL, "
    "n INTEGER NOT NULL, PRIMARY KEY (hour, intent, platform)) WITHOUT ROWID",
    "INSERT INTO feedback_class_hourly SELECT created_ts / 3600, coalesce(intent, ''), coalesce(platform, ''), "
    "count(*) FROM feedback_dims WHERE created_ts IS NOT NULL GROUP BY 1, 2, 3",
    f"CREATE TRIGGER feedback_croll_ai AFTER INSERT ON feedback BEGIN {_croll('+', 'new')} END",
    f"CREATE TRIGGER feedback_croll_ad AFTER DELETE ON feedback BEGIN {_croll('-', 'old')} END",
    f"""CREATE TRIGGER feedback_croll_au AFTER UPDATE OF created_ts, intent, platform ON feedback
        WHEN old.created_ts IS NOT new.created_ts OR old.intent IS NOT new.intent OR old.platform IS NOT new.platform
        BEGIN {_croll('-', 'old')} {_croll('+', 'new')} END""",
]
ROLLUPS["feedback_class_hourly"] = ("intent", "platform")

_tagged = ", ".join(TAG_PREFIX)
_tags_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in ("tokens", *TAG_PREFIX))
_M6 = [
    # The filter values join the full-text index as tags (a second FTS column, fed by a view over the
    # documents): a query with free words and value filters becomes one intersection of posting lists
    # instead of a lookup of every match's filter columns (`质量 product:phone` read 138k dims rows).
    "DROP TRIGGER feedback_ai", "DROP TRIGGER feedback_ad", "DROP TRIGGER feedback_au_fts",
    "DROP TABLE feedback_fts",
    f"CREATE VIEW feedback_fts_content AS SELECT rowid AS rid, tokens, {tags_sql('feedback')} AS tags FROM feedback",
    f"""CREATE VIRTUAL TABLE feedback_fts USING fts5(tokens, tags, content='feedback_fts_content', content_rowid='rid',
        tokenize='{FTS_TOKENIZE}')""",
    # (FTS5's 'rebuild' cannot read this view — its json_each — so the documents are inserted instead)
    "INSERT INTO feedback_fts(rowid, tokens, tags) SELECT rid, tokens, tags FROM feedback_fts_content",
    f"""CREATE TRIGGER feedback_fts_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_fts(rowid, tokens, tags) VALUES (new.rowid, new.tokens, {tags_sql('new')}); END""",
    f"""CREATE TRIGGER feedback_fts_ad AFTER DELETE ON feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens, tags) VALUES ('delete', old.rowid, old.tokens, {tags_sql('old')});
        END""",
    f"""CREATE TRIGGER feedback_fts_au AFTER UPDATE OF tokens, {_tagged} ON feedback WHEN {_tags_changed} BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens, tags) VALUES ('delete', old.rowid, old.tokens, {tags_sql('old')});
        INSERT INTO feedback_fts(rowid, tokens, tags) VALUES (new.rowid, new.tokens, {tags_sql('new')}); END""",
    # (the dropped insert/delete triggers also kept the topics/risk side tables)
    f"CREATE TRIGGER feedback_side_ai AFTER INSERT ON feedback BEGIN {_side_insert} END",
    f"CREATE TRIGGER feedback_side_ad AFTER DELETE ON feedback BEGIN {_side_delete} END",
]

_side_insert_all = "".join(
    f"INSERT INTO {t}(value, ts, doc) SELECT DISTINCT value, new.created_ts, new.rowid FROM json_each(new.{f});"
    for f, t in SIDE_TABLES.items())
_M7 = [
    # The side tables' key (value, ts, doc) could not hold a NULL ts, so documents without created_at had no
    # topics/risk rows (topic filters and facets missed them, and re-upserting one failed). Rowid tables
    # with the same two indexes take ts NULL; every time condition on ts already excludes NULL.
    "DROP TRIGGER feedback_side_ai", "DROP TRIGGER feedback_side_ad", "DROP TRIGGER feedback_au_side",
    *[stmt for f, t in SIDE_TABLES.items() for stmt in (
        f"DROP TABLE {t}",
        f"CREATE TABLE {t} (value TEXT NOT NULL, ts INTEGER, doc INTEGER NOT NULL)",
        f"INSERT INTO {t} SELECT DISTINCT j.value, f.created_ts, f.rowid FROM feedback f, json_each(f.{f}) j",
        f"CREATE INDEX {t}_value ON {t}(value, ts, doc)",
        f"CREATE INDEX {t}_doc ON {t}(doc, value)",
    )],
    f"CREATE TRIGGER feedback_side_ai AFTER INSERT ON feedback BEGIN {_side_insert_all} END",
    f"CREATE TRIGGER feedback_side_ad AFTER DELETE ON feedback BEGIN {_side_delete} END",
    f"""CREATE TRIGGER feedback_side_au AFTER UPDATE OF topics, risk, created_ts ON feedback
        WHEN old.topics IS NOT new.topics OR old.risk IS NOT new.risk OR old.created_ts IS NOT new.created_ts
        BEGIN {_side_delete.replace('old.rowid', 'new.rowid')} {_side_insert_all} END""",
]

_M8 = [
    # A time-bounded word search reads each match's time by rowid; this narrow covering index answers that
    # from a few dense pages instead of the dims table's wide rows (see sqlite_sql.TIME_BY_ROWID).
    "CREATE INDEX feedback_dims_time_by_rowid ON feedback_dims(rowid, created_ts)",
]

#: Named schema migrations, applied in order, each recorded in ``feedback_migrations``.
MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("0001_feedback_fts_side_tables", tuple(_M1)),
    ("0002_hourly_rollups", tuple(_M2)),
    ("0003_narrow_dims_table", tuple(_M3)),
    ("0004_version_rating_rollup", tuple(_M4)),
    ("0005_append_only_filter_indexes", tuple(_M5)),
    ("0006_filter_tags_in_fts", tuple(_M6)),
    ("0007_side_rows_for_undated_documents", tuple(_M7)),
    ("0008_time_by_rowid_index", tuple(_M8)),
)

_UPSERT_ROW = "(" + ", ".join("?" * len(COLUMNS)) + ")"
_UPSERT_TAIL = " ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
#: Rows per upsert statement at most. One statement for many rows, not one per row: FTS5 fed by a trigger
#: costs per statement as well as per row — one statement per row made the full-text insert 2.4 times as
#: costly (measured; 5,000 documents: 0.37 → 0.22 CPU-s for the whole upsert).
UPSERT_ROWS = 256


@functools.lru_cache(maxsize=8)
def _upsert_sql(rows: int) -> str:
    """``INSERT … VALUES (…), (…) … ON CONFLICT(id) DO UPDATE``: a later row with the same id updates the
    earlier one, so the last one wins, as one row at a time did."""
    return f"INSERT INTO feedback ({', '.join(COLUMNS)}) VALUES " + ", ".join([_UPSERT_ROW] * rows) + _UPSERT_TAIL


_WIDTH = {"minute": 60, "hour": 3600, "day": 86400}
_DOC_FIELD_SET = frozenset(DOC_FIELDS)


def _chunks(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class SqliteIndex:
    """The SQLite FTS5 backend. ``path`` may be a file or ``":memory:"`` (one connection, for tests)."""

    def __init__(self, path: str | Path, *, tokenizer: Callable[[str], Sequence[str]],
                 busy_timeout_ms: int = 10_000, cache_size_mb: int = 256, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.backend = f"sqlite:///{self.path}"
        self.tokenizer = tokenizer
        self._busy = busy_timeout_ms
        self._cache_kib = cache_size_mb * 1024
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._memory = self.path == ":memory:"
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = self._connect()
            self._writer.execute(f"PRAGMA synchronous={synchronous}")
            # checkpoint every ~40 MB of WAL rather than 4 MB: hot index pages are written back once per
            # checkpoint, so bulk upserts do far less repeated I/O; readers are unaffected
            self._writer.execute("PRAGMA wal_autocheckpoint=10000")
            # as many rows per upsert statement as this SQLite's bound-parameter limit allows, up to UPSERT_ROWS
            variables = self._writer.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._upsert_rows = max(1, min(UPSERT_ROWS, variables // len(COLUMNS)))
            self._migrate()
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open the SQLite index: {exc}", backend=self.backend) from exc

    # ---------------------------------------------------------------- connections and schema
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self._busy / 1000)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={self._busy}")
        if not self._memory:
            use_wal(conn, timeout_s=self._busy / 1000)
        conn.execute(f"PRAGMA cache_size=-{self._cache_kib}")
        conn.execute("PRAGMA temp_store=MEMORY")
        if not self._memory:
            # readers on many threads share the OS page cache through the mapping instead of each
            # warming a private page cache with read() copies (SQLite caps it at its compile-time maximum)
            conn.execute(f"PRAGMA mmap_size={self.mmap_size}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise IndexBackendError("the index is closed", backend=self.backend)
        if self._memory:
            return self._writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _migrate(self) -> None:
        w = self._writer
        with self._lock:
            w.execute("BEGIN IMMEDIATE")
            try:
                w.execute("CREATE TABLE IF NOT EXISTS feedback_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
                w.execute("CREATE TABLE IF NOT EXISTS feedback_meta (key TEXT PRIMARY KEY, value TEXT)")
                done = {r[0] for r in w.execute("SELECT name FROM feedback_migrations")}
                pending = [(name, statements) for name, statements in MIGRATIONS if name not in done]
                docs = 0
                if pending and done:  # an existing index: a migration may rewrite every document
                    docs = w.execute("SELECT max(rowid) FROM feedback").fetchone()[0] or 0
                for name, statements in pending:
                    if docs:
                        log.warning("%s: upgrading the index schema (%s) over about %s documents; on a large "
                                    "index this takes minutes — let it finish", self.path, name, f"{docs:,}")
                    t0 = time.perf_counter()
                    for stmt in statements:
                        w.execute(stmt)
                    if docs:
                        log.warning("%s: %s done in %.1f s", self.path, name, time.perf_counter() - t0)
                    w.execute("INSERT INTO feedback_migrations VALUES (?, ?)",
                              (name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
                meta = dict(w.execute("SELECT key, value FROM feedback_meta").fetchall())
                want = {"fts_tokenize": FTS_TOKENIZE, "text_source": TEXT_SOURCE}
                for key, value in want.items():
                    if key in meta and meta[key] != value:
                        raise SchemaMismatchError(
                            f"index was built with {key}={meta[key]!r} but this code uses {value!r}; "
                            f"rebuild it with `voc reindex`", backend=self.backend)
                    w.execute("INSERT OR IGNORE INTO feedback_meta VALUES (?, ?)", (key, value))
                tok_name = getattr(self.tokenizer, "version", None) or getattr(self.tokenizer, "__qualname__", None)
                if tok_name:
                    w.execute("INSERT OR REPLACE INTO feedback_meta VALUES ('tokenizer', ?)", (str(tok_name),))
                self._check_normalization(w, meta)
                w.execute("COMMIT")
            except BaseException:
                w.execute("ROLLBACK")
                raise

    def _check_normalization(self, w: sqlite3.Connection, meta: dict[str, str]) -> None:
        """Record the text normalization the ``tokens`` column was built with in ``feedback_meta`` and
        refuse a different one (see :mod:`index._normalization`)."""
        current = tokenizer_normalization(self.tokenizer)
        if current is None:
            return
        saved = json.loads(meta["normalization"]) if "normalization" in meta else None
        if check_normalization(saved, current, self.backend):
            w.execute("INSERT OR REPLACE INTO feedback_meta VALUES ('normalization', ?)",
                      (json.dumps(current, sort_keys=True),))

    def metadata(self) -> dict[str, str]:
        """The recorded schema metadata (tokenizer choice …) and applied migrations."""
        conn = self._reader()
        meta = dict(conn.execute("SELECT key, value FROM feedback_meta").fetchall())
        meta["migrations"] = ",".join(r[0] for r in conn.execute("SELECT name FROM feedback_migrations ORDER BY name"))
        return meta

    # ---------------------------------------------------------------- writes
    @staticmethod
    def _row(doc: Doc) -> tuple[Any, ...]:
        created = doc["created_at"]
        extra = {k: v for k, v in doc.items() if k not in _DOC_FIELD_SET} if len(doc) > len(DOC_FIELDS) else None
        values = dict(doc)
        values["created_ts"] = int(datetime.fromisoformat(created[:-1] + "+00:00").timestamp()) if created else None
        values["topics"] = json.dumps(doc["topics"], ensure_ascii=False) if doc["topics"] else "[]"
        values["risk"] = json.dumps(doc["risk"], ensure_ascii=False) if doc["risk"] else "[]"
        values["extra"] = json.dumps(extra, ensure_ascii=False, default=str) if extra else None
        return tuple(values[c] for c in COLUMNS)

    def upsert(self, docs: Sequence[Doc]) -> UpsertResult:
        """Insert or replace a batch in one transaction (all or nothing); idempotent by ``id``."""
        if not docs:
            return UpsertResult(0, 0)
        normalized = normalize_batch(docs, self.tokenizer, self.backend)
        rows = [self._row(d) for d in normalized]
        ids = list(dict.fromkeys(r[0] for r in rows))
        w = self._writer
        with self._lock:
            if self._closed:
                raise IndexBackendError("the index is closed", backend=self.backend)
            try:
                w.execute("BEGIN IMMEDIATE")
                try:
                    existing = 0
                    for chunk in _chunks(ids, 500):
                        existing += w.execute(
                            f"SELECT count(*) FROM feedback WHERE id IN ({','.join('?' * len(chunk))})",
                            chunk).fetchone()[0]
                    for part in _chunks(rows, self._upsert_rows):
                        w.execute(_upsert_sql(len(part)), [v for row in part for v in row])
                    w.execute("COMMIT")
                except BaseException:
                    if w.in_transaction:
                        w.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise IndexBackendError(f"upsert of {len(rows)} documents failed: {exc}", backend=self.backend) from exc
        return UpsertResult(new=len(ids) - existing, updated=existing)

    def delete(self, ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        w = self._writer
        with self._lock:
            try:
                w.execute("BEGIN IMMEDIATE")
                n = 0
                for chunk in _chunks(ids, 500):
                    n += w.execute(f"DELETE FROM feedback WHERE id IN ({','.join('?' * len(chunk))})", chunk).rowcount
                w.execute("COMMIT")
            except sqlite3.Error as exc:
                if w.in_transaction:
                    w.execute("ROLLBACK")
                raise IndexBackendError(f"delete failed: {exc}", backend=self.backend) from exc
        return n

    # ---------------------------------------------------------------- reads
    def _exec(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._reader()
        try:
            if conn is self._writer:
                with self._lock:
                    return conn.execute(sql, params).fetchall()
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise IndexBackendError(f"query failed: {exc}", backend=self.backend) from exc

    @staticmethod
    def _doc(row: sqlite3.Row, fields: Sequence[str] | None = None) -> Doc:
        keys = row.keys()
        doc: dict[str, Any] = {}
        for f in (fields or DOC_FIELDS):
            if f in ("topics", "risk"):
                doc[f] = json.loads(row[f]) if f in keys and row[f] else []
            elif f in keys and f in DOC_FIELDS:
                doc[f] = row[f]
        if "extra" in keys and row["extra"]:
            extra = json.loads(row["extra"])
            doc.update({k: v for k, v in extra.items() if fields is None or k in fields})
        return doc

    def get(self, id: str) -> Doc | None:
        rows = self._exec("SELECT * FROM feedback WHERE id = ?", (id,))
        return self._doc(rows[0]) if rows else None

    def terms(self, text: str) -> list[tuple[list[str], bool]]:
        """The query's free words segmented like the stored tokens."""
        return query_terms(text, self.tokenizer)

    def search_sql(self, query: SearchQuery) -> tuple[str, list[Any]]:
        """The SQL and parameters :meth:`search` runs for the hits (for ``voc search --sql``)."""
        return build_search_sql(query, [] if query.raw else self.terms(query.text))

    #: Bytes of the database file each connection maps (``PRAGMA mmap_size``); 0 turns mapping off.
    mmap_size: int = 1 << 34
    #: Relevance ranking considers at most this many matches, the newest (highest rowid) ones, so a query
    #: matching a large share of the corpus stays fast; ``total`` and facets still count every match.
    rank_window: int = 5_000

    def search(self, query: SearchQuery) -> SearchResult:
        terms = [] if query.raw else self.terms(query.text)  # punctuation only → no text constraint
        total = self._rollup_count(query.filters) if not terms and not query.raw else None
        if total is None:
            csql, cparams = build_count_sql(query, terms)
            total = self._exec(csql, cparams)[0][0]
        # relevance ranks the newest rank_window matches: one statement walks them newest first
        window = self.rank_window if query.sort == "relevance" and total > self.rank_window else None
        no_text = not terms and not (query.raw and query.text.strip())
        # facets of more matches than the query's facet_sample count the newest facet_sample of them
        sampled = query.facet_sample if query.facets and query.facet_sample and total > query.facet_sample else None
        hits_hint = facet_hint = ""
        if no_text and total:
            # Without free words the dims table drives. Newest-first hits: walk the created_ts index back
            # while the filters keep enough of the rows to fill the page soon (else a filter index + sort).
            rows = self._exec("SELECT max(rowid) FROM feedback_dims")[0][0] or 0
            if (query.offset + query.limit) * rows / total <= self.scan_budget:
                hits_hint = "INDEXED BY feedback_dims_created"
            # sampled facets: the newest rows by rowid are the table's tail, read in order
            facet_hint = "NOT INDEXED" if sampled else ""
        sql, params = build_search_sql(query, terms, window=window, dims_hint=hits_hint)
        rows = self._exec(sql, params) if query.limit else []
        words = [t for toks, _ in terms for t in toks]
        if query.raw:
            words = [w.strip('"') for w in query.text.split() if w.upper() not in ("AND", "OR", "NOT")]
        hits = [Hit(doc=self._doc(r), score=float(r["score"]), highlight=highlight_segments(r["text"], words))
                for r in rows]
        facets: dict[str, list[tuple[str, int]]] = {}
        fields = list(dict.fromkeys(query.facets))
        if fields:  # every facet in one statement, one pass over the matches
            plain = [f for f in fields if f not in SIDE_TABLES]
            side = [f for f in fields if f in SIDE_TABLES]
            per_field: dict[str, dict[Any, int]] = {f: {} for f in fields}
            for row in self._exec(*build_facets_sql(query, fields, terms, window=sampled, dims_hint=facet_hint)):
                n = row[-1]
                if row[0] == 0:
                    for i, field in enumerate(plain, start=1):
                        v = row[i]
                        if v is not None:
                            counts = per_field[field]
                            counts[v] = counts.get(v, 0) + n
                elif row[1] is not None:
                    counts = per_field[side[row[0] - 1]]
                    counts[row[1]] = counts.get(row[1], 0) + n
            for field, counts in per_field.items():
                ordered = sorted(counts.items(), key=lambda kv: (-kv[1], isinstance(kv[0], str), kv[0]))
                facets[field] = [(str(v), int(n)) for v, n in ordered[:self.facet_limit]]
        facets = {f: facets[f] for f in query.facets}
        return SearchResult(hits=hits, total=int(total), facets=facets, facets_sampled=sampled)

    #: Rows a newest-first walk of the created_ts index may expect to read to fill a page of hits
    #: (estimated from the match count) before a filter index and a sort are cheaper.
    scan_budget: int = 200_000
    #: Values per facet field, most frequent first.
    facet_limit: int = 50

    def _rollup_count(self, filters: Filters) -> int | None:
        """``count(filters)`` from the hourly rollups (edge hours and undated documents from the documents),
        or None where no rollup answers these filters exactly (then the documents are counted)."""
        if len(filters.topic) > 1:  # a document with two of the topics sits in two rollup rows
            return None
        table = _rollup_for(filters, None)
        if table is None:
            return None
        lo = int(filters.since.timestamp()) if filters.since is not None else None
        hi = int(filters.until.timestamp()) if filters.until is not None else None
        first = -(-lo // 3600) if lo is not None else None
        last = hi // 3600 if hi is not None else None
        if first is not None and last is not None and last - first < 24:
            return None  # a short range: the filter indexes count it directly
        conds, params = ["n > 0"], []
        if first is not None:
            conds.append("hour >= ?")
            params.append(first)
        if last is not None:
            conds.append("hour < ?")
            params.append(last)
        for name in ROLLUPS[table]:
            values = getattr(filters, name)
            if values:
                conds.append(f"{name} IN ({','.join('?' * len(values))})")
                params.extend(values)
        total = self._exec(f"SELECT coalesce(sum(n), 0) FROM {table} WHERE {' AND '.join(conds)}", params)[0][0]
        edges: list[tuple[int | None, int | None]] = []
        if lo is not None and lo < first * 3600:  # type: ignore[operator]
            edges.append((lo, first * 3600))  # type: ignore[operator]
        if hi is not None and last * 3600 < hi:  # type: ignore[operator]
            edges.append((last * 3600, hi))  # type: ignore[operator]
        for e_lo, e_hi in edges:
            edge = dataclasses.replace(filters, since=datetime.fromtimestamp(e_lo, timezone.utc),  # type: ignore[arg-type]
                                       until=datetime.fromtimestamp(e_hi, timezone.utc))  # type: ignore[arg-type]
            where, eparams = build_where(edge)
            total += self._exec(f"SELECT count(*) FROM feedback_dims d WHERE {where}", eparams)[0][0]
        if lo is None:  # the rollups hold dated documents only
            where, uparams = build_where(filters)
            total += self._exec("SELECT count(*) FROM feedback_dims d WHERE d.created_ts IS NULL"
                                + (" AND " + where if where else ""), uparams)[0][0]
        return int(total)

    def count(self, filters: Filters = Filters()) -> int:
        where, params = build_where(filters)
        return int(self._exec("SELECT count(*) FROM feedback_dims d" + (" WHERE " + where if where else ""),
                              params)[0][0])

    def scan(self, filters: Filters = Filters(), *, fields: Sequence[str] | None = None,
             batch_size: int = 1000) -> Iterator[Doc]:
        """Every matching document in insertion order, fetched in keyset-paginated batches."""
        where, params = build_where(filters)
        cols = "f.*" if fields is None else ", ".join([*(f"f.{c}" for c in fields if c in COLUMNS), "f.extra"])
        last = 0
        while True:
            cond = "d.rowid > ?" + (" AND " + where if where else "")
            rows = self._exec(f"SELECT {cols}, d.rowid AS _r FROM feedback_dims d JOIN feedback f ON f.rowid = d.rowid "
                              f"WHERE {cond} ORDER BY d.rowid LIMIT ?", [last, *params, batch_size])
            for r in rows:
                yield self._doc(r, fields)
            if len(rows) < batch_size:
                return
            last = rows[-1]["_r"]

    # ---------------------------------------------------------------- histograms
    def histogram(self, filters: Filters = Filters(), *, interval: str = "hour", tz: str = "Asia/Shanghai",
                  group_by: str | None = None, start: datetime | None = None,
                  end: datetime | None = None, text: str = "") -> list[Bucket]:
        if interval not in _WIDTH:
            raise ValueError(f"interval must be minute, hour or day, got {interval!r}")
        if group_by is not None and group_by not in FACET_FIELDS:
            raise ValueError(f"cannot group by {group_by!r} (one of: {', '.join(FACET_FIELDS)})")
        zone = ZoneInfo(tz)
        start = start if start is not None else filters.since
        end = end if end is not None else filters.until
        bounded = dataclasses.replace(
            filters, since=max([t for t in (start, filters.since) if t is not None], default=None),
            until=min([t for t in (end, filters.until) if t is not None], default=None))
        lo = int(bounded.since.timestamp()) if bounded.since else None
        hi = int(bounded.until.timestamp()) if bounded.until else None
        if lo is None or hi is None:
            row = self._exec("SELECT min(created_ts), max(created_ts) FROM feedback_dims")[0]
            if row[0] is None:
                return []
            lo = lo if lo is not None else row[0]
            hi = hi if hi is not None else row[1] + 1
        width = _WIDTH[interval]
        offset = _constant_offset(zone, lo, hi)
        sql_width, sql_off, exact = width, 0, True
        if interval == "hour":
            if offset is not None:
                sql_off = offset % 3600
            elif not _whole_hour_offsets(zone, lo, hi):
                sql_width, exact = 900, False
        elif interval == "day":
            if offset is not None:
                sql_off = offset
            else:
                sql_width, exact = 900, False
        counts: dict[tuple[int, str | None], int] = {}

        def add(rows: list[sqlite3.Row]) -> None:
            for bkt, k, n in rows:
                if not n:
                    continue
                epoch = bkt * sql_width - sql_off
                if not exact:
                    epoch = _local_bucket(epoch, zone, interval)
                key = None if k is None or (group_by is not None and k == "") else str(k)
                if group_by is not None and key is None:
                    continue
                counts[(epoch, key)] = counts.get((epoch, key), 0) + n

        terms = self.terms(text) if text.strip() else []
        rollup = _rollup_for(bounded, group_by) if exact and sql_off % 3600 == 0 and interval != "minute" else None
        first_hour, last_hour = -(-lo // 3600), hi // 3600
        if terms:  # only the documents matching the free words: FTS5 drives
            add(self._exec(*build_text_histogram_sql(bounded, terms, group_by, sql_off, sql_width)))
        elif rollup is not None and first_hour < last_hour:
            add(self._exec(*_rollup_sql(rollup, bounded, group_by, first_hour, last_hour, sql_off, sql_width)))
            for edge_lo, edge_hi in ((lo, first_hour * 3600), (last_hour * 3600, hi)):
                if edge_lo < edge_hi:
                    edge = dataclasses.replace(bounded, since=datetime.fromtimestamp(edge_lo, timezone.utc),
                                               until=datetime.fromtimestamp(edge_hi, timezone.utc))
                    add(self._exec(*_raw_histogram_sql(edge, group_by, sql_off, sql_width)))
        elif group_by is None and exact and (hi - lo) // sql_width <= 2000 and not (bounded.topic or bounded.risk):
            add(self._exec(*_range_count_histogram_sql(bounded, lo, hi, sql_off, sql_width)))
        else:
            add(self._exec(*_raw_histogram_sql(bounded, group_by, sql_off, sql_width)))
        if start is not None and end is not None:
            keys = {k for _, k in counts} or ({None} if group_by is None else set())
            for epoch in _bucket_starts(start, end, zone, interval):
                for k in keys:
                    counts.setdefault((epoch, k), 0)
        return [Bucket(datetime.fromtimestamp(e, zone), k, n)
                for (e, k), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for conn in self._readers:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:  # created in another thread that is gone
                    pass
            self._writer.close()

    def __enter__(self) -> SqliteIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqliteIndex {self.path}>"


def _raw_histogram_sql(filters: Filters, group_by: str | None, off: int, width: int) -> tuple[str, list[Any]]:
    """Bucket counts straight from the documents (or the topics/risk side table)."""
    if group_by in SIDE_TABLES:
        other = dataclasses.replace(filters, since=None, until=None)
        owhere, oparams = build_where(other)
        conds, tparams = ["s.ts IS NOT NULL"], []
        if filters.since is not None:
            conds.append("s.ts >= ?")
            tparams.append(int(filters.since.timestamp()))
        if filters.until is not None:
            conds.append("s.ts < ?")
            tparams.append(int(filters.until.timestamp()))
        join = f" JOIN feedback_dims d ON d.rowid = s.doc AND {owhere}" if owhere else ""
        sql = (f"SELECT (s.ts + ?) / ? AS b, s.value AS k, count(*) FROM {SIDE_TABLES[group_by]} s{join} "
               f"WHERE {' AND '.join(conds)} GROUP BY b, k")
        return sql, [off, width, *oparams, *tparams]
    where, params = build_where(filters)
    key = f"d.{group_by}" if group_by else "NULL"
    cond = "d.created_ts IS NOT NULL" + (" AND " + where if where else "")
    if group_by:
        cond += f" AND {key} IS NOT NULL"
    sql = f"SELECT (d.created_ts + ?) / ? AS b, {key} AS k, count(*) FROM feedback_dims d WHERE {cond} GROUP BY b, k"
    return sql, [off, width, *params]


def _range_count_histogram_sql(filters: Filters, lo: int, hi: int, off: int, width: int) -> tuple[str, list[Any]]:
    """One index range count per bucket (no sort of the matching rows): what an index led by the filter
    column and ``created_ts`` answers best. Returns ``(bucket number, NULL, count)`` rows like the others."""
    # (topic/risk filters take the GROUP BY path: a side-table subquery here would run once per bucket)
    where, params = build_where(dataclasses.replace(filters, since=None, until=None))
    first = (lo + off) // width
    last = (hi - 1 + off) // width
    sql = (f"WITH RECURSIVE b(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM b WHERE n < ?) "
           f"SELECT n, NULL, (SELECT count(*) FROM feedback_dims d WHERE d.created_ts >= max(n * ? - ?, ?) "
           f"AND d.created_ts < min((n + 1) * ? - ?, ?){' AND ' + where if where else ''}) AS c FROM b")
    return sql, [first, last, width, off, lo, width, off, hi, *params]


def _rollup_for(filters: Filters, group_by: str | None) -> str | None:
    """The rollup table that can answer this histogram exactly, if any."""
    used = {name for name in ("product", "source", "sentiment", "topic", "intent", "risk", "platform",
                              "app_version", "rating") if getattr(filters, name)}
    group = {"topics": "topic"}.get(group_by or "", group_by)
    if group is not None:
        used.add(group)
    for table, dims in ROLLUPS.items():
        if used <= set(dims) and ("topic" in dims) == ("topic" in used):
            return table
    return None


def _rollup_sql(table: str, filters: Filters, group_by: str | None, first_hour: int, last_hour: int,
                off: int, width: int) -> tuple[str, list[Any]]:
    conds, params = ["hour >= ?", "hour < ?", "n > 0"], [first_hour, last_hour]
    for name in ROLLUPS[table]:
        values = getattr(filters, name)
        if values:
            conds.append(f"{name} IN ({','.join('?' * len(values))})")
            params.extend(values)
    key = {"topics": "topic"}.get(group_by or "", group_by) or "NULL"
    sql = (f"SELECT (hour * 3600 + ?) / ? AS b, {key} AS k, sum(n) FROM {table} "
           f"WHERE {' AND '.join(conds)} GROUP BY b, k")
    return sql, [off, width, *params]


def _offset(zone: ZoneInfo, epoch: int) -> int:
    off = datetime.fromtimestamp(epoch, zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _constant_offset(zone: ZoneInfo, lo: int, hi: int) -> int | None:
    """The zone's UTC offset if it is the same at every hour boundary checked in [lo, hi] (daily probes)."""
    first = _offset(zone, lo)
    step = 86400 if hi - lo < 86400 * 800 else (hi - lo) // 800
    t = lo
    while t <= hi:
        if _offset(zone, t) != first:
            return None
        t += step
    return first if _offset(zone, hi) == first else None


def _whole_hour_offsets(zone: ZoneInfo, lo: int, hi: int) -> bool:
    step = 86400 if hi - lo < 86400 * 800 else (hi - lo) // 800
    t = lo
    while t <= hi:
        if _offset(zone, t) % 3600:
            return False
        t += step
    return _offset(zone, hi) % 3600 == 0


def _local_bucket(epoch: int, zone: ZoneInfo, interval: str) -> int:
    local = datetime.fromtimestamp(epoch, zone)
    if interval == "day":
        local = datetime(local.year, local.month, local.day, tzinfo=zone)
    elif interval == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(second=0, microsecond=0)
    return int(local.timestamp())


def _bucket_starts(start: datetime, end: datetime, zone: ZoneInfo, interval: str) -> Iterator[int]:
    lo, hi = int(start.timestamp()), int(end.timestamp())
    if interval == "day":
        d = datetime.fromtimestamp(lo, zone).date()
        while True:
            e = int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())
            if e >= hi:
                return
            yield e
            d = d + timedelta(days=1)
    e = _local_bucket(lo, zone, interval)
    width = _WIDTH[interval]
    while e < hi:
        yield e
        e += width
