"""``SqliteIndex``: the zero-setup backend — SQLite with FTS5 over the jieba ``tokens`` column.

* Schema changes are named migrations (:mod:`index.sqlite_schema`) recorded in ``feedback_migrations``;
  the FTS tokenizer, the text source and the sub-word analysis are recorded in ``feedback_meta`` and
  checked on open (:class:`SchemaMismatchError`). SQL comes from the pure builders in
  :mod:`index.sqlite_sql` (``voc search --sql`` shows it, :meth:`SqliteIndex.explain`); histogram buckets
  from :mod:`index.sqlite_buckets`.
* Sub-word recall: beside the jieba words, FTS5 indexes the Chinese character bigrams of title and text
  (:mod:`index._grams`), so ``续费`` finds ``自动续费``; whole words and phrases rank first.
* Every multi-statement write goes through :meth:`SqliteIndex._tx` (lock, ``BEGIN IMMEDIATE``, commit,
  roll back on any error), and ``sqlite3.Error`` becomes the index error tree in one place
  (:meth:`SqliteIndex._error`). A search that runs past :attr:`SqliteIndex.query_timeout_s` is stopped
  (progress handler) with :class:`QueryTimeoutError`.
* WAL journal, ``busy_timeout``: the alert store keeps its own tables in the same file.
* All writes go through one connection under a lock; each ``upsert`` batch is ONE transaction, so a
  writer killed mid-batch leaves nothing of it. Reads use one connection per thread.
* Speed at a million documents: with free words, the value filters are FTS5 tags of each document
  (``feedback_fts.tags``), so FTS5 intersects words and filters itself and a count reads no rows at all;
  otherwise filters, counts, facets and histograms read the narrow ``feedback_dims`` table (and its
  indexes), never the wide rows; time bounds always read ``feedback_dims``. Histograms over whole hours — and the
  ``total`` of queries without free words spanning a day or more — read hourly rollups (product/source/
  sentiment, topic, app_version/rating, intent/platform; partial edge hours are counted from the
  documents): summed per hour and group value in primary-key order, so the rollup rows are not sorted
  (:func:`index.sqlite_buckets.rollup_pivot_sql`); day buckets in UTC or UTC+8 read the 8-hour blocks of
  ``feedback_hourly`` (``feedback_8h``, kept by triggers on its rows) instead of its hours. Relevance ranking of a query matching more than :attr:`SqliteIndex.rank_window`
  documents (after filters) ranks the newest ``rank_window`` of them: one statement fetches those
  candidates' rowids (FTS5 walks the matches newest first and stops, scoring nothing), a second scores the
  free words alone among them (bm25 of the whole expression would also count the documents of every filter
  tag, per search). Fewer candidates than ``rank_window`` are every match: no count is run. Facets count
  every match, or the newest ``SearchQuery.facet_sample`` matches when the query allows it
  (``SearchResult.facets_sampled``) — counted in the statement that finds the candidates when they hold
  them (each candidate's dims row is read once, in the walk that finds it; the rowids come back as one JSON
  array: 2,000 Python rows cost more than the grouping); ``total`` always counts every match, and
  ``sort="time"`` is never windowed. All facets of a search come from one statement (one GROUP BY per field
  over the matches materialized once).
* The filter indexes are ``(column)`` alone: they grow at their end as rowids ascend, so a batch of
  upserts touches few of their pages (``(column, created_ts)`` indexes took each document at a random
  place and halved the upsert rate at a million documents). Time ranges use ``feedback_dims_created``.
* Readers map the file (``PRAGMA mmap_size``): the threads' connections share the OS page cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from configs.closing import Closeable
from configs.sqlite_wal import use_wal
from index._docs import normalize_batch
from index._errors import BackendUnavailableError, IndexBackendError, QueryTimeoutError, SchemaMismatchError
from index._grams import doc_grams
from index._highlight import highlight_segments
from index._normalization import check_normalization, tokenizer_normalization
from index.base import (
    Doc, FACET_FIELDS, Bucket, Filters, Hit, SearchQuery, SearchResult, UpsertResult,
)
from index.query import Term, excluded_terms, query_terms
from index.sqlite_buckets import (
    WIDTH, bucket_starts, constant_offset, local_bucket, range_count_histogram_sql, raw_histogram_sql,
    rollup_count_sql, rollup_for, rollup_keys_sql, rollup_pivot_sql, rollup_spans, rollup_sql, whole_hour_offsets,
)
from index.sqlite_schema import FTS_TOKENIZE, GRAMS_FUNCTION, MIGRATIONS, SCHEMA_META
from index.sqlite_sql import (
    COLUMNS, Terms, build_candidates_facets_sql, build_candidates_sql, build_count_sql, build_facets_sql, build_ranked_sql,
    build_search_sql, build_text_histogram_sql, build_where, doc_row, exclusion, row_doc, upsert_sql,
)


log = logging.getLogger("voc.index")

__all__ = ["SqliteIndex", "build_search_sql", "MIGRATIONS", "FTS_TOKENIZE", "UPSERT_ROWS"]

#: Rows per upsert statement at most. One statement for many rows, not one per row: FTS5 fed by a trigger
#: costs per statement as well as per row — one statement per row made the full-text insert 2.4 times as
#: costly (measured; 5,000 documents: 0.37 → 0.22 CPU-s for the whole upsert).
UPSERT_ROWS = 256
#: SQLite VM instructions between two checks of a query's time limit: about a millisecond of a search's work
#: (~20 instructions a microsecond, measured on the 1M bench). Each check calls into Python and takes the
#: GIL: at 1,000 a page search made ~550 of them, ~1 ms of CPU and a GIL hand-over each time between
#: the threads serving other clients.
_PROGRESS_STEPS = 20_000


def _chunks(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class SqliteIndex(Closeable):
    """The SQLite FTS5 backend. ``path`` may be a file or ``":memory:"`` (one connection, for tests)."""

    def __init__(self, path: str | Path, *, tokenizer: Callable[[str], Sequence[str]],
                 busy_timeout_ms: int = 10_000, cache_size_mb: int = 256, synchronous: str = "FULL",
                 query_timeout_s: float | None = None) -> None:
        self.path = str(path)
        if query_timeout_s is not None:
            self.query_timeout_s = query_timeout_s
        self.backend = f"sqlite:///{self.path}"
        self.tokenizer = tokenizer
        self._busy = busy_timeout_ms
        self._cache_kib = cache_size_mb * 1024
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._memory = self.path == ":memory:"
        try:
            if not self._memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailableError(f"cannot create the folder of the SQLite index: {exc}",
                                          backend=self.backend) from exc
        try:
            self._writer = self._connect()
            self._writer.execute(f"PRAGMA synchronous={synchronous}")
            # checkpoint every ~40 MB of WAL rather than 4 MB: hot index pages are written back once per
            # checkpoint, so bulk upserts do far less repeated I/O; readers are unaffected
            self._writer.execute("PRAGMA wal_autocheckpoint=10000")
            # as many rows per upsert statement as this SQLite's bound-parameter limit allows, up to UPSERT_ROWS
            variables = self._writer.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._upsert_rows = max(1, min(UPSERT_ROWS, variables // len(COLUMNS)))
        except sqlite3.Error as exc:
            raise self._error("cannot open the SQLite index", exc, unavailable=True) from exc
        self._migrate()

    # ---------------------------------------------------------------- errors and transactions
    def _error(self, what: str, exc: sqlite3.Error, limit_s: float | None = None,
               unavailable: bool = False) -> Exception:
        """The one translation of ``sqlite3.Error`` into the index error tree (see :mod:`index._errors`):
        a query stopped at its time limit (``limit_s``) → :class:`QueryTimeoutError`; a file that cannot be
        opened, is locked by another writer or read-only → :class:`BackendUnavailableError`; else
        :class:`IndexBackendError`. ``what`` says what failed."""
        message = str(exc)
        if limit_s is not None and isinstance(exc, sqlite3.OperationalError) and "interrupted" in message:
            return QueryTimeoutError(limit_s, backend=self.backend)
        if unavailable or isinstance(exc, sqlite3.OperationalError) and any(
                s in message for s in ("locked", "busy", "unable to open", "readonly", "disk I/O")):
            return BackendUnavailableError(f"{what}: {message}", backend=self.backend)
        return IndexBackendError(f"{what}: {message}", backend=self.backend)

    @contextlib.contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection: take the lock, ``BEGIN IMMEDIATE``, commit;
        roll back on any exception (so the connection never stays inside a failed transaction), and
        raise ``sqlite3.Error`` as the index error tree, naming ``what`` failed."""
        with self._lock:
            if self._closed:
                raise IndexBackendError("the index is closed", backend=self.backend)
            w = self._writer
            try:
                w.execute("BEGIN IMMEDIATE")
                try:
                    yield w
                    w.execute("COMMIT")
                except BaseException:
                    if w.in_transaction:
                        w.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(what, exc) from exc

    # ---------------------------------------------------------------- connections and schema
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self._busy / 1000)
        conn.row_factory = sqlite3.Row
        # the triggers that keep feedback_fts compute each document's bigrams with it (sqlite_schema)
        conn.create_function(GRAMS_FUNCTION, 2, doc_grams, deterministic=True)
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
        with self._tx("opening the index (schema migrations)") as w:
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
            for key, value in SCHEMA_META.items():
                if key in meta and meta[key] != value:
                    raise SchemaMismatchError(
                        f"index was built with {key}={meta[key]!r} but this code uses {value!r}; "
                        f"rebuild it with `voc reindex`", backend=self.backend)
                w.execute("INSERT OR IGNORE INTO feedback_meta VALUES (?, ?)", (key, value))
            tok_name = getattr(self.tokenizer, "version", None) or getattr(self.tokenizer, "__qualname__", None)
            if tok_name:
                w.execute("INSERT OR REPLACE INTO feedback_meta VALUES ('tokenizer', ?)", (str(tok_name),))
            self._check_normalization(w, meta)

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
    def upsert(self, docs: Sequence[Doc]) -> UpsertResult:
        """Insert or replace a batch in one transaction (all or nothing); idempotent by ``id``."""
        if not docs:
            return UpsertResult(0, 0)
        normalized = normalize_batch(docs, self.tokenizer, self.backend)
        rows = [doc_row(d) for d in normalized]
        ids = list(dict.fromkeys(r[0] for r in rows))
        with self._tx(f"upsert of {len(rows)} documents") as w:
            existing = 0
            for chunk in _chunks(ids, 500):
                existing += w.execute(f"SELECT count(*) FROM feedback WHERE id IN ({','.join('?' * len(chunk))})",
                                      chunk).fetchone()[0]
            for part in _chunks(rows, self._upsert_rows):
                w.execute(upsert_sql(len(part)), [v for row in part for v in row])
        return UpsertResult(new=len(ids) - existing, updated=existing)

    def delete(self, ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        n = 0
        with self._tx(f"delete of {len(ids)} documents") as w:
            for chunk in _chunks(ids, 500):
                n += w.execute(f"DELETE FROM feedback WHERE id IN ({','.join('?' * len(chunk))})", chunk).rowcount
        return n

    # ---------------------------------------------------------------- reads
    def _exec(self, sql: str, params: Sequence[Any] = (), deadline: float | None = None) -> list[sqlite3.Row]:
        """Run one read; ``deadline`` (``time.monotonic()``): stop it there with :class:`QueryTimeoutError`."""
        conn = self._reader()
        if deadline is not None and time.monotonic() > deadline:  # spent by the statements before this one
            raise QueryTimeoutError(self.query_timeout_s, backend=self.backend)
        with self._lock if conn is self._writer else contextlib.nullcontext():
            if deadline is not None:
                conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error("query failed", exc, self.query_timeout_s if deadline is not None else None) from exc
            finally:
                if deadline is not None:
                    conn.set_progress_handler(None, 0)

    def get(self, id: str) -> Doc | None:
        rows = self._exec("SELECT * FROM feedback WHERE id = ?", (id,))
        return row_doc(rows[0]) if rows else None

    def terms(self, text: str) -> list[Term]:
        """The query's free words segmented like the stored tokens."""
        return query_terms(text, self.tokenizer)

    def _terms(self, query: SearchQuery) -> tuple[list[Term], list[Term]]:
        """``(words to match, words to exclude)`` of a query (none for raw FTS5 text)."""
        if query.raw:
            return [], []
        return self.terms(query.text), excluded_terms(query.text, self.tokenizer)

    def explain(self, query: SearchQuery) -> str:
        """The SQL and parameters :meth:`search` runs for the hits (``voc search --sql``): by relevance, the
        newest matches first (the candidates), then the page ranked among them."""
        terms, exclude = self._terms(query)
        if self._ranks(query, terms):
            csql, cparams = build_candidates_sql(query, terms, self.rank_window, exclude)
            sql, params = build_ranked_sql(query, terms, [0], exclude)
            shown = len(params) - 3  # the candidates' range, and the candidates themselves when they are listed
            params[1:1 + shown] = ["<first candidate>", "<last candidate>", "<candidates as a JSON array>"][:shown]
            return f"-- candidates\n{csql}\n-- params: {cparams!r}\n-- page\n{sql}\n-- params: {params!r}"
        sql, params = build_search_sql(query, terms, exclude=exclude)
        return f"{sql}\n-- params: {params!r}"

    #: Seconds a search (or a histogram of free words) may run before it is stopped with
    #: :class:`QueryTimeoutError`, so one costly query cannot hold a query slot; reports, alerts and scans
    #: read without a limit.
    query_timeout_s: float = 2.0

    #: Bytes of the database file each connection maps (``PRAGMA mmap_size``); 0 turns mapping off.
    mmap_size: int = 1 << 34
    #: Relevance ranking considers at most this many matches, the newest (highest rowid) ones, so a query
    #: matching a large share of the corpus stays fast; ``total`` still counts every match. 2,000 — the web
    #: page's ``facet_sample`` — made a page search a fifth cheaper in CPU than 5,000 (bench/api.py's
    #: searches, 1M documents: 24.6 → 19.4 ms), and the same candidates then serve its sampled facets. What
    #: ranking costs beyond that is mostly not per candidate: bm25 first counts every document of each word
    #: for its IDF, a walk as long as a count (质量 at 1M: 3.6 ms over 20 candidates, 3.8 ms over 2,000).
    rank_window: int = 2_000

    @staticmethod
    def _ranks(query: SearchQuery, terms: Terms) -> bool:
        """Whether the hits are ranked by relevance (free words to match and ``sort="relevance"``)."""
        return query.sort == "relevance" and bool(terms or (query.raw and query.text.strip()))

    def search(self, query: SearchQuery) -> SearchResult:
        terms, exclude = self._terms(query)  # punctuation only → no text constraint
        deadline = time.monotonic() + self.query_timeout_s
        fields = list(dict.fromkeys(query.facets))
        # facets of more matches than the query's facet_sample count the newest facet_sample of them
        sample = query.facet_sample if fields else 0
        candidates: list[int] | None = None
        total: int | None = None
        counts: list[Any] | None = None  # facet rows found with the candidates
        if self._ranks(query, terms) and (query.limit or fields):
            # By relevance: the newest rank_window matches first (nothing scored), then the page ranked
            # among them; sampled facets count the newest of them (found in the same statement when the
            # sample is no larger), and fewer than rank_window candidates are every match: no count needed.
            if 0 < sample <= self.rank_window:
                found = self._exec(*build_candidates_facets_sql(query, terms, self.rank_window, fields, sample, exclude),
                                   deadline)
                candidates = sorted(json.loads(found[0][1]), reverse=True)
                counts = [r for r in found if r[0] >= 0]
            else:
                csql, cparams = build_candidates_sql(query, terms, self.rank_window, exclude)
                candidates = [r[0] for r in self._exec(csql, cparams, deadline)]
            if len(candidates) < self.rank_window:
                total = len(candidates)
        elif not terms and not exclude and not query.raw:
            total = self._rollup_count(query.filters)
        if total is None:
            csql, cparams = build_count_sql(query, terms, exclude)
            total = self._exec(csql, cparams, deadline)[0][0]
        no_text = not terms and not (query.raw and query.text.strip())
        rolled = self._rollup_facets(query.filters, fields) if no_text and not exclude and total else None
        sampled = sample if sample and total > sample and rolled is None else None
        hits_hint = facet_hint = ""
        if no_text and total:
            # Without free words the dims table drives. Newest-first hits: walk the created_ts index back
            # while the filters keep enough of the rows to fill the page soon (else a filter index + sort).
            rows = self._exec("SELECT max(rowid) FROM feedback_dims", (), deadline)[0][0] or 0
            if (query.offset + query.limit) * rows / total <= self.scan_budget:
                hits_hint = "INDEXED BY feedback_dims_created"
            # sampled facets: the newest rows by rowid are the table's tail, read in order
            facet_hint = "NOT INDEXED" if sampled else \
                "INDEXED BY feedback_dims_created" if query.facets and rolled is None and self._narrow(query.filters) \
                else ""
        if not query.limit:
            rows = []
        elif candidates is not None:
            rows = self._exec(*build_ranked_sql(query, terms, candidates, exclude), deadline) if candidates else []
        else:
            rows = self._exec(*build_search_sql(query, terms, dims_hint=hits_hint, exclude=exclude), deadline)
        words = [t for toks, _ in terms for t in toks]
        if query.raw:
            words = [w.strip('"') for w in query.text.split() if w.upper() not in ("AND", "OR", "NOT")]
        hits = [Hit(doc=row_doc(r), score=float(r["score"]), highlight=highlight_segments(r["text"], words))
                for r in rows]
        facets: dict[str, list[tuple[str, int]]] = {}
        if fields:  # every facet in one statement over the matches
            per_field: list[list[tuple[Any, int]]] = [[] for _ in fields]
            if rolled is not None:
                counts = [(fields.index(field), v, n) for field, vn in rolled.items() for v, n in vn.items()]
            elif counts is None:
                of_rows: list[int] | None = None  # the matches to count, when the candidates hold them
                if candidates is not None and (total == len(candidates) or sampled and sampled <= len(candidates)):
                    of_rows = candidates[:sampled] if sampled else candidates
                fsql, fparams = build_facets_sql(query, fields, terms, window=sampled, dims_hint=facet_hint,
                                                 exclude=exclude, rows=of_rows)
                counts = self._exec(fsql, fparams, deadline) if of_rows != [] else []
            for i, v, n in counts:
                if v is not None:
                    per_field[i].append((v, n))
            for field, values in zip(fields, per_field):
                ordered = sorted(values, key=lambda kv: (-kv[1], isinstance(kv[0], str), kv[0]))
                facets[field] = [(str(v), int(n)) for v, n in ordered[:self.facet_limit]]
        facets = {f: facets[f] for f in query.facets}
        return SearchResult(hits=hits, total=int(total), facets=facets, facets_sampled=sampled)

    def _rollup_facets(self, filters: Filters, fields: Sequence[str]) -> dict[str, dict[Any, int]] | None:
        """Exact facet counts of a query without words from the hourly rollups (8-hour blocks, partial edge
        hours from the documents: :meth:`histogram`), when its time range spans a day or more and a rollup
        answers every field with these filters; else None (the documents are counted). A month of one
        product at 1M documents: a few ms instead of grouping its ~300,000 rows per field."""
        if not fields or filters.since is None or filters.until is None or \
                filters.until - filters.since < timedelta(days=1) or \
                any(rollup_for(filters, field) is None for field in fields):
            return None
        out: dict[str, dict[Any, int]] = {}
        for field in fields:
            counts: dict[Any, int] = {}
            for bucket in self.histogram(filters, interval="day", tz="UTC", group_by=field):
                key: Any = bucket.key
                if bucket.count and key is not None:
                    if field == "rating" and key.lstrip("-").isdigit():
                        key = int(key)  # as the documents hold it
                    counts[key] = counts.get(key, 0) + bucket.count
            out[field] = counts
        return out

    #: Rows a newest-first walk of the created_ts index may expect to read to fill a page of hits
    #: (estimated from the match count) before a filter index and a sort are cheaper.
    scan_budget: int = 200_000
    #: Values per facet field, most frequent first.
    facet_limit: int = 50

    def _rollup_count(self, filters: Filters) -> int | None:
        """``count(filters)`` from the hourly rollups, or None where no rollup answers these filters exactly
        (then the documents are counted); see :func:`index.sqlite_buckets.rollup_count_sql`."""
        statements = rollup_count_sql(filters)
        if statements is None:
            return None
        return sum(int(self._exec(sql, params)[0][0]) for sql, params in statements)

    def count(self, filters: Filters = Filters()) -> int:
        total = self._rollup_count(filters)
        if total is not None:
            return total
        where, params = build_where(filters)
        return int(self._exec("SELECT count(*) FROM feedback_dims d" + (" WHERE " + where if where else ""),
                              params)[0][0])

    def scan(self, filters: Filters = Filters(), *, fields: Sequence[str] | None = None,
             batch_size: int = 1000) -> Iterator[Doc]:
        """Every matching document in insertion order, fetched in keyset-paginated batches. A time range
        holding few documents (by the hourly rollup) is read through the ``created_ts`` index; otherwise
        the filters' value indexes (or the table) drive in rowid order."""
        where, params = build_where(filters)
        cols = "f.*" if fields is None else ", ".join([*(f"f.{c}" for c in fields if c in COLUMNS), "f.extra"])
        hint = " INDEXED BY feedback_dims_created" if self._narrow(filters, batch_size) else ""
        last = 0
        while True:
            cond = "d.rowid > ?" + (" AND " + where if where else "")
            rows = self._exec(f"SELECT {cols}, d.rowid AS _r FROM feedback_dims d{hint} JOIN feedback f ON f.rowid = "
                              f"d.rowid WHERE {cond} ORDER BY d.rowid LIMIT ?", [last, *params, batch_size])
            for r in rows:
                yield row_doc(r, fields)
            if len(rows) < batch_size:
                return
            last = rows[-1]["_r"]

    #: The created_ts index drives a read whose time range holds at most this share of all documents
    #: (whatever their values): SQLite has no statistics, and would otherwise walk a value index
    #: (``product = ?`` can be half the corpus) to find a few hours' rows.
    narrow_share: float = 0.05
    #: ... and, for a scan, at most this many batches (each batch re-reads the range).
    scan_range_batches: int = 20

    def _narrow(self, filters: Filters, batch_size: int | None = None) -> bool:
        """``[since, until)`` holds few documents: by the hourly rollup (whole hours around the range), at
        most ``narrow_share`` of the corpus (and ``scan_range_batches`` batches of a scan)."""
        if filters.since is None or filters.until is None:
            return False
        lo, hi = int(filters.since.timestamp()) // 3600, -(-int(filters.until.timestamp()) // 3600)
        n = int(self._exec("SELECT coalesce(sum(n), 0) FROM feedback_hourly WHERE hour >= ? AND hour < ?",
                           (lo, hi))[0][0])
        if batch_size is not None and n > self.scan_range_batches * batch_size:
            return False
        return n <= self.narrow_share * (self._exec("SELECT max(rowid) FROM feedback_dims")[0][0] or 0)

    # ---------------------------------------------------------------- histograms
    #: Most values of a group_by field for which a histogram from the rollups sums each value's column per
    #: hour (no sort of the rollup rows, :func:`index.sqlite_buckets.rollup_pivot_sql`); with more, each
    #: rollup row is sorted by bucket and value instead (fewer passes over the rows).
    pivot_keys: int = 16

    def _group_keys(self, group_by: str | None) -> list[Any] | None:
        """``[None]`` without ``group_by``; else every value of it among the documents, or None where they
        are more than :attr:`pivot_keys`."""
        if group_by is None:
            return [None]
        keys = [r[0] for r in self._exec(*rollup_keys_sql(group_by, self.pivot_keys + 2))]
        return keys if len(keys) <= self.pivot_keys else None

    def histogram(self, filters: Filters = Filters(), *, interval: str = "hour", tz: str = "Asia/Shanghai",
                  group_by: str | None = None, start: datetime | None = None,
                  end: datetime | None = None, text: str = "") -> list[Bucket]:
        if interval not in WIDTH:
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
        width = WIDTH[interval]
        offset = constant_offset(zone, lo, hi)
        sql_width, sql_off, exact = width, 0, True
        if interval == "hour":
            if offset is not None:
                sql_off = offset % 3600
            elif not whole_hour_offsets(zone, lo, hi):
                sql_width, exact = 900, False
        elif interval == "day":
            if offset is not None:
                sql_off = offset
            else:
                sql_width, exact = 900, False
        counts: dict[tuple[int, str | None], int] = {}

        def add(rows: Sequence[Sequence[Any]]) -> None:
            for bkt, k, n in rows:
                if not n:
                    continue
                epoch = bkt * sql_width - sql_off
                if not exact:
                    epoch = local_bucket(epoch, zone, interval)
                key = None if k is None or (group_by is not None and k == "") else str(k)
                if group_by is not None and key is None:
                    continue
                counts[(epoch, key)] = counts.get((epoch, key), 0) + n

        terms = self.terms(text) if text.strip() else []
        exclude = excluded_terms(text, self.tokenizer) if text.strip() else []
        deadline = time.monotonic() + self.query_timeout_s if terms or exclude else None
        rollup = rollup_for(bounded, group_by) if exact and sql_off % 3600 == 0 and interval != "minute" else None
        first_hour, last_hour = -(-lo // 3600), hi // 3600
        if terms:  # only the documents matching the free words: FTS5 drives
            hsql, hparams = build_text_histogram_sql(bounded, terms, group_by, sql_off, sql_width, exclude)
            add(self._exec(hsql, hparams, deadline))
        elif exclude:  # excluded words only: the documents drive, those matching the words are left out
            add(self._exec(*raw_histogram_sql(bounded, group_by, sql_off, sql_width, exclusion(exclude)), deadline))
        elif rollup is not None and first_hour < last_hour:
            values = self._group_keys(group_by)
            for table, first, last in rollup_spans(rollup, first_hour, last_hour, sql_off, sql_width):
                if values is None:
                    add(self._exec(*rollup_sql(table, bounded, group_by, first, last, sql_off, sql_width)))
                elif values:  # (no document has a value of group_by: nothing to count)
                    rows = self._exec(*rollup_pivot_sql(table, bounded, group_by, values, first, last, sql_off,
                                                        sql_width))
                    add([(row[0], value, n) for row in rows for value, n in zip(values, row[1:])])
            for edge_lo, edge_hi in ((lo, first_hour * 3600), (last_hour * 3600, hi)):
                if edge_lo < edge_hi:
                    edge = dataclasses.replace(bounded, since=datetime.fromtimestamp(edge_lo, timezone.utc),
                                               until=datetime.fromtimestamp(edge_hi, timezone.utc))
                    add(self._exec(*raw_histogram_sql(edge, group_by, sql_off, sql_width, by_time=True)))
        elif group_by is None and exact and (hi - lo) // sql_width <= 2000 and not (bounded.topic or bounded.risk):
            add(self._exec(*range_count_histogram_sql(bounded, lo, hi, sql_off, sql_width)))
        else:
            add(self._exec(*raw_histogram_sql(bounded, group_by, sql_off, sql_width)))
        if start is not None and end is not None:
            keys = {k for _, k in counts} or ({None} if group_by is None else set())
            for epoch in bucket_starts(start, end, zone, interval):
                for k in keys:
                    counts.setdefault((epoch, k), 0)
        when = {e: datetime.fromtimestamp(e, zone) for e in {e for e, _ in counts}}  # one per start, shared
        return [Bucket(when[e], k, n) for (e, k), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]

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

    def __repr__(self) -> str:
        return f"<SqliteIndex {self.path}>"

