"""Pure SQL builders for :class:`index.sqlite_fts.SqliteIndex` (no I/O; shown by ``voc search --sql``).

Schema (created by the named migrations in :mod:`index.sqlite_fts`):

* ``feedback``        one row per document; ``created_ts`` = ``created_at`` as epoch seconds;
                      ``topics``/``risk`` as JSON arrays; ``extra`` = keys outside the design schema
* ``feedback_fts``    FTS5, external content over ``feedback.tokens`` (jieba tokens joined by spaces)
* ``feedback_dims``   the narrow part of each row (rowid, created_ts and every filter/facet column) with
                      the filter indexes: filters, counts, facets and histograms read it, never the wide rows
* ``feedback_topic``, ``feedback_risk``   side tables ``(value, ts, doc)`` for the multi-valued fields
* ``feedback_hourly``, ``feedback_topic_hourly``   counts per UTC hour for the commonest dimensions
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from index.base import FACET_FIELDS, Filters, SearchQuery

__all__ = ["COLUMNS", "DIMS", "SIDE_TABLES", "build_search_sql", "build_rank_window_sql", "build_count_sql", "build_facet_sql", "build_multi_facet_sql", "build_facets_sql", "build_where",
           "fts_match_expression", "quote_fts", "SqlQuery"]

#: Columns of ``feedback`` besides the integer rowid, in insert order.
COLUMNS: tuple[str, ...] = (
    "id", "source", "source_id", "url", "parent_id", "product", "kind", "title", "text", "raw_text", "tokens",
    "author_id", "author_name", "created_at", "created_ts", "crawled_at", "rating", "app_version", "platform",
    "likes", "replies", "reposts", "sentiment", "sentiment_score", "intent", "topics", "risk", "dup_of",
    "model_version", "extra",
)
#: Columns of ``feedback_dims`` besides rowid.
DIMS: tuple[str, ...] = ("created_ts", "product", "source", "sentiment", "intent", "platform", "app_version",
                         "rating", "kind")
#: multi-valued document field → side table
SIDE_TABLES = {"topics": "feedback_topic", "risk": "feedback_risk"}

SqlQuery = tuple[str, list[Any]]


def quote_fts(token: str) -> str:
    """One FTS5 string literal: the token can never act as an operator."""
    return '"' + token.replace('"', '""') + '"'


def fts_match_expression(terms: Sequence[tuple[Sequence[str], bool]]) -> str:
    """``[(tokens, is_phrase)]`` → an escaped FTS5 expression: every token ANDed, phrases kept together."""
    parts = []
    for toks, phrase in terms:
        if phrase:
            parts.append(quote_fts(" ".join(toks)))
        else:
            parts.extend(quote_fts(t) for t in toks)
    return " AND ".join(parts)


def build_where(filters: Filters, alias: str = "d", *, probe: bool = False) -> SqlQuery:
    """``WHERE`` conditions on ``feedback_dims`` (joined by AND, without the keyword) and their parameters.

    Topic/risk filters read the side tables: as ``rowid IN (…)`` (the side table drives), or with
    ``probe=True`` — when full-text matches drive — as an ``EXISTS`` probe per match."""
    conds: list[str] = []
    params: list[Any] = []
    time_conds: list[str] = []
    time_params: list[Any] = []
    if filters.since is not None:
        time_conds.append(">= ?")
        time_params.append(int(filters.since.timestamp()))
    if filters.until is not None:
        time_conds.append("< ?")
        time_params.append(int(filters.until.timestamp()))
    for field, values in filters.items():
        marks = ",".join("?" * len(values))
        if field in SIDE_TABLES and probe:
            conds.append(f"EXISTS (SELECT 1 FROM {SIDE_TABLES[field]} s WHERE s.doc = {alias}.rowid "
                         f"AND s.value IN ({marks}))")
            params.extend(values)
        elif field in SIDE_TABLES:
            extra = "".join(" AND ts " + c for c in time_conds)
            conds.append(f"{alias}.rowid IN (SELECT doc FROM {SIDE_TABLES[field]} WHERE value IN ({marks}){extra})")
            params.extend(values)
            params.extend(time_params)
        else:
            conds.append(f"{alias}.{field} IN ({marks})")
            params.extend(values)
    for c, p in zip(time_conds, time_params):
        conds.append(f"{alias}.created_ts {c}")
        params.append(p)
    return " AND ".join(conds), params


def _from_where(query: SearchQuery, match: str | None, need_dims: bool = True, dims_hint: str = "") -> SqlQuery:
    """``FROM … WHERE …`` over the matches: FTS5 drives (CROSS JOIN keeps that order), the narrow
    ``feedback_dims`` row of each match answers the filters; without free words, dims' indexes drive."""
    where, params = build_where(query.filters, probe=match is not None)
    if match is not None and not where and not need_dims:
        return "FROM feedback_fts WHERE feedback_fts MATCH ?", [match]
    if match is not None:
        sql = "FROM feedback_fts CROSS JOIN feedback_dims d ON d.rowid = feedback_fts.rowid WHERE feedback_fts MATCH ?"
        params = [match, *params]
        if where:
            sql += " AND " + where
    else:
        sql = "FROM feedback_dims d" + (f" {dims_hint}" if dims_hint else "") + (" WHERE " + where if where else "")
    return sql, params


def _match(query: SearchQuery, terms: Sequence[tuple[Sequence[str], bool]]) -> str | None:
    if query.raw and query.text.strip():
        return query.text
    expr = fts_match_expression(terms)
    return expr or None


def build_search_sql(query: SearchQuery, terms: Sequence[tuple[Sequence[str], bool]] = (),
                     min_rowid: int | None = None, window: int | None = None, dims_hint: str = "") -> SqlQuery:
    """The page of hits: ``SELECT f.*, score …``; ``terms`` are the segmented free words.

    Relevance is FTS5's bm25 (``score`` = −bm25, higher is better; ties newest first). The page is picked
    from ``(rowid, score)`` alone and only its rows are read whole. ``min_rowid`` restricts ranking to
    matches at or after that rowid (the newest N matches; see ``SqliteIndex.rank_window``). Without free
    words, and with ``sort="time"``, hits come newest first. ``window`` does the same in the one statement:
    relevance ranks only the newest ``window`` matches (FTS5 walks its doclist newest first and stops).
    ``dims_hint`` (``INDEXED BY …``/``NOT INDEXED``) picks the access path when no free words drive.
    """
    match = _match(query, terms)
    by_relevance = match is not None and query.sort == "relevance"
    body, params = _from_where(query, match, need_dims=not by_relevance, dims_hint=dims_hint)
    if min_rowid is not None and match is not None:
        body += " AND feedback_fts.rowid >= ?"
        params = [*params, min_rowid]
    if by_relevance and window is not None:
        newest = (f"SELECT feedback_fts.rowid AS rid, -bm25(feedback_fts) AS score {body} "
                  f"ORDER BY feedback_fts.rowid DESC LIMIT ?")
        inner = f"SELECT rid, score FROM ({newest}) ORDER BY score DESC, rid DESC LIMIT ? OFFSET ?"
        params = [*params, window]
        order = "ORDER BY r.score DESC, r.rid DESC"
    elif by_relevance:
        inner = (f"SELECT feedback_fts.rowid AS rid, -bm25(feedback_fts) AS score {body} "
                 f"ORDER BY score DESC, feedback_fts.rowid DESC LIMIT ? OFFSET ?")
        order = "ORDER BY r.score DESC, r.rid DESC"
    else:
        score = "-bm25(feedback_fts)" if match is not None else "0.0"
        inner = (f"SELECT d.rowid AS rid, {score} AS score {body} "
                 f"ORDER BY d.created_ts DESC, d.rowid DESC LIMIT ? OFFSET ?")
        order = "ORDER BY f.created_ts DESC, f.rowid DESC"
    sql = f"SELECT f.*, r.score AS score FROM ({inner}) r JOIN feedback f ON f.rowid = r.rid {order}"
    return sql, [*params, query.limit, query.offset]


def build_rank_window_sql(query: SearchQuery, terms: Sequence[tuple[Sequence[str], bool]],
                          window: int, *, text_only: bool = True) -> SqlQuery | None:
    """The rowid of the ``window``-th newest match (after filters): relevance ranks (and sampled facets
    count) matches from there on. None when the query has no free words and ``text_only``."""
    match = _match(query, terms)
    if match is None and text_only:
        return None
    body, params = _from_where(query, match, need_dims=False)
    rid = "feedback_fts.rowid" if match is not None else "d.rowid"
    return f"SELECT {rid} {body} ORDER BY {rid} DESC LIMIT 1 OFFSET ?", [*params, window - 1]


def build_count_sql(query: SearchQuery, terms: Sequence[tuple[Sequence[str], bool]] = ()) -> SqlQuery:
    match = _match(query, terms)
    body, params = _from_where(query, match, need_dims=False)
    return f"SELECT count(*) {body}", params


def build_facet_sql(query: SearchQuery, field: str, terms: Sequence[tuple[Sequence[str], bool]] = (),
                    limit: int = 50, min_rowid: int | None = None, window: int | None = None,
                    dims_hint: str = "") -> SqlQuery:
    """Counts per value of ``field`` over everything the query matches (from ``min_rowid`` on, or the
    newest ``window`` matches, when given), most frequent first."""
    if field not in FACET_FIELDS:
        raise ValueError(f"unknown facet {field!r}")
    match = _match(query, terms)
    need_dims = field not in SIDE_TABLES
    body, params = _from_where(query, match, need_dims=need_dims, dims_hint=dims_hint)
    rid = "feedback_fts.rowid" if match is not None else "d.rowid"
    if min_rowid is not None:
        body += (" AND " if " WHERE " in body else " WHERE ") + f"{rid} >= ?"
        params = [*params, min_rowid]
    newest = ""
    if window is not None:
        newest = f" ORDER BY {rid} DESC LIMIT ?"
        params = [*params, window]
    if field in SIDE_TABLES:
        sql = (f"SELECT s.value AS value, count(*) AS n FROM (SELECT {rid} AS rid {body}{newest}) m "
               f"CROSS JOIN {SIDE_TABLES[field]} s ON s.doc = m.rid GROUP BY s.value ORDER BY n DESC, value LIMIT ?")
    elif window is not None:
        sql = (f"SELECT value, count(*) AS n FROM (SELECT d.{field} AS value {body}{newest}) "
               f"WHERE value IS NOT NULL GROUP BY value ORDER BY n DESC, value LIMIT ?")
    else:
        sql = (f"SELECT d.{field} AS value, count(*) AS n {body} "
               + ("AND" if " WHERE " in body else "WHERE")
               + f" d.{field} IS NOT NULL GROUP BY d.{field} ORDER BY n DESC, value LIMIT ?")
    return sql, [*params, limit]


def build_multi_facet_sql(query: SearchQuery, fields: Sequence[str], terms: Sequence[tuple[Sequence[str], bool]] = (),
                          min_rowid: int | None = None, window: int | None = None, dims_hint: str = "") -> SqlQuery:
    """Counts for several ``feedback_dims`` facet fields in ONE pass over the matches: one row per
    combination of their values, ``(value1, …, valueN, count)``; the caller sums per field. A match set
    is read once instead of once per field (the combinations are few: each field has a handful of values)."""
    for field in fields:
        if field not in FACET_FIELDS or field in SIDE_TABLES:
            raise ValueError(f"not a plain facet field: {field!r}")
    match = _match(query, terms)
    body, params = _from_where(query, match, need_dims=True, dims_hint=dims_hint)
    rid = "feedback_fts.rowid" if match is not None else "d.rowid"
    if min_rowid is not None:
        body += (" AND " if " WHERE " in body else " WHERE ") + f"{rid} >= ?"
        params = [*params, min_rowid]
    cols = ", ".join(f"d.{f}" for f in fields)
    if window is not None:  # the newest ``window`` matches: FTS5 (or the rowid order) walks newest first
        names = ", ".join(fields)
        return (f"SELECT {names}, count(*) FROM (SELECT {cols} {body} ORDER BY {rid} DESC LIMIT ?) GROUP BY {names}",
                [*params, window])
    return f"SELECT {cols}, count(*) {body} GROUP BY {cols}", params


def build_facets_sql(query: SearchQuery, fields: Sequence[str], terms: Sequence[tuple[Sequence[str], bool]] = (),
                     window: int | None = None, dims_hint: str = "") -> SqlQuery:
    """Every facet in ONE statement and one pass over the matches (the newest ``window`` of them, when
    given): the matches (rowid and plain facet columns) are materialized once; rows come back as
    ``(0, value1, …, valueN, count)`` per combination of the plain fields' values and ``(i, value, NULL…,
    count)`` per value of the i-th multi-valued field (``fields`` order, from 1). The caller sums and sorts."""
    for field in fields:
        if field not in FACET_FIELDS:
            raise ValueError(f"unknown facet {field!r}")
    plain = [f for f in fields if f not in SIDE_TABLES]
    side = [f for f in fields if f in SIDE_TABLES]
    match = _match(query, terms)
    body, params = _from_where(query, match, need_dims=bool(plain), dims_hint=dims_hint)
    rid = "feedback_fts.rowid" if match is not None else "d.rowid"
    newest = ""
    if window is not None:
        newest = f" ORDER BY {rid} DESC LIMIT ?"
        params = [*params, window]
    width = max(len(plain), 1)
    cols = "".join(f", d.{f} AS {f}" for f in plain)
    parts = []
    if plain:
        names = ", ".join(plain)
        parts.append(f"SELECT 0, {names}, count(*) FROM m GROUP BY {names}")
    nulls = ", NULL" * (width - 1)
    for i, field in enumerate(side, start=1):
        parts.append(f"SELECT {i}, s.value{nulls}, count(*) FROM m CROSS JOIN {SIDE_TABLES[field]} s "
                     f"ON s.doc = m.rid GROUP BY s.value")
    sql = f"WITH m AS MATERIALIZED (SELECT {rid} AS rid{cols} {body}{newest}) " + " UNION ALL ".join(parts)
    return sql, params
