"""Pure SQL builders and row conversions for :class:`index.sqlite_fts.SqliteIndex` (no I/O; ``voc search
--sql`` shows the SQL).

Schema (created by the named migrations in :mod:`index.sqlite_schema`):

* ``feedback``        one row per document; ``created_ts`` = ``created_at`` as epoch seconds;
                      ``topics``/``risk`` as JSON arrays; ``extra`` = keys outside the design schema
* ``feedback_fts``    FTS5, external content (the view ``feedback_fts_content``) with three columns:
                      ``tokens`` (jieba tokens joined by spaces), ``tags``, one token per filter value of
                      the document (:func:`tag`), so a query with free words intersects its filters inside
                      FTS5 (posting lists) instead of reading every match's row, and ``grams``, the
                      Chinese character bigrams of title and text (:mod:`index._grams`: sub-word recall)
* ``feedback_dims``   the narrow part of each row (rowid, created_ts and every filter/facet column) with
                      the filter indexes: filters, counts, facets and histograms read it, never the wide rows
* ``feedback_topic``, ``feedback_risk``   side tables ``(value, ts, doc)`` for the multi-valued fields
                      (``ts`` NULL for a document without ``created_at``)
* ``feedback_time``   ``(rowid, created_ts)`` alone: the time of a full-text match, read by rowid
* ``feedback_hourly``, ``feedback_topic_hourly``   counts per UTC hour for the commonest dimensions
* ``feedback_8h``     ``feedback_hourly`` summed per 8 hours (``block`` = hour // 8): day charts in UTC/UTC+8
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from index._grams import bigrams, is_cjk, query_runs
from index.base import DOC_FIELDS, FACET_FIELDS, Doc, Filters, SearchQuery

__all__ = ["COLUMNS", "DIMS", "SIDE_TABLES", "TAG_PREFIX", "tag", "tags_sql", "tags_match", "BM25", "build_search_sql",
           "build_count_sql", "build_candidates_sql", "build_candidates_facets_sql", "build_ranked_sql", "build_facets_sql", "build_text_histogram_sql",
           "build_where", "fts_match_expression", "term_expression", "exclusion", "quote_fts", "upsert_sql", "doc_row",
           "row_doc", "SqlQuery", "Terms"]

#: Columns of ``feedback`` besides the integer rowid, in insert order.
COLUMNS: tuple[str, ...] = (
    "id", "source", "source_id", "url", "parent_id", "product", "kind", "title", "text", "raw_text", "tokens",
    "author_id", "author_name", "created_at", "created_ts", "crawled_at", "rating", "app_version", "platform",
    "likes", "replies", "reposts", "sentiment", "sentiment_score", "intent", "topics", "risk", "dup_of",
    "model_version", "extra",
)
#: The narrow table ``(rowid, created_ts)``: a match's time, read by rowid (migration 0010).
TIME_BY_ROWID = "feedback_time"
#: Columns of ``feedback_dims`` besides rowid.
DIMS: tuple[str, ...] = ("created_ts", "product", "source", "sentiment", "intent", "platform", "app_version",
                         "rating", "kind")
#: multi-valued document field → side table
SIDE_TABLES = {"topics": "feedback_topic", "risk": "feedback_risk"}

SqlQuery = tuple[str, list[Any]]
#: Segmented free words, ``[(tokens, is_phrase), …]`` (:func:`index.query.query_terms`).
Terms = Sequence[tuple[Sequence[str], bool]]

#: Document field → prefix of its tags in ``feedback_fts.tags``: two letters that are not hex digits, then
#: the hex of the value's UTF-8 bytes, so every tag is one unicode61 token and parses back one way.
TAG_PREFIX: dict[str, str] = {"product": "xp", "source": "xs", "sentiment": "xe", "intent": "xi", "platform": "xl",
                              "app_version": "xv", "rating": "xr", "topics": "xt", "risk": "xq"}
#: Relevance: bm25 over the ``tokens`` column (whole jieba words) and, at a quarter of that weight, the
#: ``grams`` column (sub-word bigrams); the tags column weighs nothing. A document holding the query's
#: whole word (or the words as a contiguous phrase) matches both columns, so it ranks above one where the
#: word only occurs inside a longer word.
BM25 = "bm25(feedback_fts, 1.0, 0.0, 0.25)"


def tag(field: str, value: str | int) -> str:
    """The FTS token standing for ``field = value`` (what :func:`tags_sql` stores; SQL ``hex`` of the text)."""
    return TAG_PREFIX[field] + str(value).encode("utf-8").hex()


def tags_sql(row: str) -> str:
    """SQL for the space-separated tags of document ``row`` (``new``, ``old`` or a table name)."""
    parts = []
    for field, prefix in TAG_PREFIX.items():
        if field in SIDE_TABLES:
            parts.append(f"coalesce((SELECT group_concat('{prefix}' || hex(value), ' ') FROM json_each({row}.{field})), '')")
        else:
            parts.append(f"iif({row}.{field} IS NULL, '', '{prefix}' || hex({row}.{field}))")
    return " || ' ' || ".join(parts)


def quote_fts(token: str) -> str:
    """One FTS5 string literal: the token can never act as an operator."""
    return '"' + token.replace('"', '""') + '"'


def _chinese(token: str) -> bool:
    return bool(token) and all(is_cjk(c) for c in token)


def _on_tokens(token: str) -> str:
    """One token on the ``tokens`` column. A token of Chinese characters other than two of them long needs
    no column filter: ``grams`` holds two-character tokens and ``x`` only, ``tags`` hex only. A column filter
    makes FTS5 read every candidate's position list (costly for common words), so it is left off there."""
    return quote_fts(token) if _chinese(token) and len(token) != 2 else f"tokens : {quote_fts(token)}"


def _tokens_phrase(tokens: Sequence[str]) -> str:
    """The phrase of ``tokens`` on the ``tokens`` column (without a column filter where no other column can
    hold it: see :func:`_on_tokens`)."""
    phrase = quote_fts(" ".join(tokens))
    return phrase if all(_chinese(t) and len(t) != 2 for t in tokens) else f"tokens : {phrase}"


def term_expression(tokens: Sequence[str], phrase: bool) -> str:
    """One free word (or phrase) as an escaped FTS5 expression: its tokens on ``tokens`` (all of them; a
    phrase in order) OR its text on ``grams`` — each run of Chinese characters as the phrase of its bigrams,
    so the word is found inside longer words. A phrase matches on ``grams`` only when it is one run. A word
    whose run jieba cuts into single characters matches on ``grams`` only (the characters must be adjacent).
    A word that is one two-character Chinese token is that token in any column: the same documents as the
    token on ``tokens`` OR its bigram on ``grams``, found without reading position lists."""
    runs, others = query_runs(tokens)
    if len(tokens) == 1 and _chinese(tokens[0]) and len(tokens[0]) == 2:
        return quote_fts(tokens[0])
    expr = _tokens_phrase(tokens) if phrase else " AND ".join(_on_tokens(t) for t in dict.fromkeys(tokens))
    if len(tokens) > 1 and not phrase:
        expr = f"({expr})"
    if not phrase and runs and any(len(t) == 1 and is_cjk(t) for t in tokens if t not in others):
        # a run jieba cut into single characters (的问, 没法用 → 没法 + 用): only the run itself, never those
        # characters scattered over the text
        expr = ""
    if phrase:
        grams = f"grams : {quote_fts(' '.join(bigrams(runs[0])))}" if len(runs) == 1 and not others else ""
    elif runs:
        grams = " AND ".join([*(f"grams : {quote_fts(' '.join(bigrams(r)))}" for r in dict.fromkeys(runs)),
                              *(_on_tokens(t) for t in dict.fromkeys(others))])
    else:
        grams = ""
    if not expr:
        return f"({grams})"
    return f"({expr} OR ({grams}))" if grams else expr


def fts_match_expression(terms: Terms) -> str:
    """``[(tokens, is_phrase)]`` → an escaped FTS5 expression: every term (:func:`term_expression`) ANDed."""
    return " AND ".join(term_expression(toks, phrase) for toks, phrase in terms)


def exclusion(exclude: Terms) -> str:
    """The excluded terms as one FTS5 expression (a document matching any of them is excluded)."""
    return " OR ".join(term_expression(toks, phrase) for toks, phrase in exclude)


def time_bounds(filters: Filters) -> tuple[list[str], list[int]]:
    """The time window as comparisons for a timestamp column (``>= ?`` for since, ``< ?`` for until) and their
    epoch seconds."""
    comparisons: list[str] = []
    params: list[int] = []
    if filters.since is not None:
        comparisons.append(">= ?")
        params.append(int(filters.since.timestamp()))
    if filters.until is not None:
        comparisons.append("< ?")
        params.append(int(filters.until.timestamp()))
    return comparisons, params


def build_where(filters: Filters, alias: str = "d") -> SqlQuery:
    """``WHERE`` conditions on ``feedback_dims`` (joined by AND, without the keyword) and their parameters.

    Topic/risk filters read the side tables as ``rowid IN (…)`` (the side table drives)."""
    conds: list[str] = []
    params: list[Any] = []
    time_conds, time_params = time_bounds(filters)
    for field, values in filters.items():
        marks = ",".join("?" * len(values))
        if field in SIDE_TABLES:
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


def tags_match(filters: Filters) -> str:
    """The value filters as an FTS5 expression on the ``tags`` column (empty when there are none)."""
    return " AND ".join("tags : (" + " OR ".join(quote_fts(tag(field, v)) for v in values) + ")"
                        for field, values in filters.items())


def _dims_of_matches(time_only: bool) -> str:
    """The join from each FTS5 match to its ``feedback_dims`` row (CROSS JOIN keeps FTS5 first); when only
    its time is read, to its row of the narrow table ``TIME_BY_ROWID`` instead (an integer-key seek into
    dense pages; the same alias ``d`` and column ``created_ts``)."""
    return f"CROSS JOIN {TIME_BY_ROWID if time_only else 'feedback_dims'} d ON d.rowid = feedback_fts.rowid"


def _from_where(query: SearchQuery, match: str | None, need_dims: bool = True, dims_hint: str = "",
                excluded: str = "") -> SqlQuery:
    """``FROM … WHERE …`` over the matches. With free words FTS5 drives and answers the value filters too
    (``match`` carries them as tags); only time bounds read each match's narrow ``feedback_dims`` row (CROSS
    JOIN keeps FTS5 first). Without free words, dims' indexes drive, and ``excluded`` (the FTS5 expression
    of excluded words) removes the documents it matches."""
    if match is not None:
        where, params = build_where(Filters(since=query.filters.since, until=query.filters.until))
    else:
        where, params = build_where(query.filters)
        if excluded:
            where = " AND ".join(x for x in (where, _NOT_MATCHING) if x)
            params = [*params, excluded]
    if match is not None and not where and not need_dims:
        return "FROM feedback_fts WHERE feedback_fts MATCH ?", [match]
    if match is not None:
        sql = f"FROM feedback_fts {_dims_of_matches(time_only=not need_dims)} WHERE feedback_fts MATCH ?"
        params = [match, *params]
        if where:
            sql += " AND " + where
    else:
        sql = "FROM feedback_dims d" + (f" {dims_hint}" if dims_hint else "") + (" WHERE " + where if where else "")
    return sql, params


#: A document none of whose excluded words match (the query has no words to match).
_NOT_MATCHING = "d.rowid NOT IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)"


def _text(query: SearchQuery, terms: Terms) -> str:
    """The free words as an FTS5 expression (the raw FTS5 text on ``tokens`` for a raw query); empty without."""
    return f"tokens : ({query.text})" if query.raw and query.text.strip() else fts_match_expression(terms)


def _match(query: SearchQuery, terms: Terms, exclude: Terms = ()) -> tuple[str | None, str]:
    """``(match, excluded)``: the MATCH expression — the free words (or the raw FTS5 text on ``tokens``),
    ANDed with the value filters as tags, NOT the excluded words — or None without free words to match;
    and the excluded words' expression, for a query that has no words to match."""
    text = _text(query, terms)
    excluded = exclusion(exclude)
    if not text:
        return None, excluded
    tags = tags_match(query.filters)
    match = text + (" AND " + tags if tags else "")
    return (f"({match}) NOT ({excluded})" if excluded else match), ""


def build_search_sql(query: SearchQuery, terms: Terms = (), dims_hint: str = "", exclude: Terms = ()) -> SqlQuery:
    """The page of hits newest first (without free words, or ``sort="time"``; relevance ranks the candidates:
    :func:`build_ranked_sql`): ``SELECT f.*, score …``; ``terms`` are the segmented free words, ``exclude`` the
    excluded (``-word``) ones. The page is picked from ``(rowid, created_ts)`` alone and only its rows are read
    whole; ``score`` is −bm25 with free words (higher is better), else 0. ``dims_hint`` (``INDEXED BY …``/``NOT
    INDEXED``) picks the access path when no free words drive.
    """
    match, excluded = _match(query, terms, exclude)
    body, params = _from_where(query, match, dims_hint=dims_hint, excluded=excluded)
    score = f"-{BM25}" if match is not None else "0.0"
    inner = (f"SELECT d.rowid AS rid, {score} AS score {body} "
             f"ORDER BY d.created_ts DESC, d.rowid DESC LIMIT ? OFFSET ?")
    sql = f"SELECT f.*, r.score AS score FROM ({inner}) r JOIN feedback f ON f.rowid = r.rid " \
          "ORDER BY f.created_ts DESC, f.rowid DESC"
    return sql, [*params, query.limit, query.offset]


def build_candidates_sql(query: SearchQuery, terms: Terms, limit: int, exclude: Terms = ()) -> SqlQuery:
    """The rowids of the newest ``limit`` matches of the free words (and filters, minus excluded words),
    newest first: what relevance ranks (:func:`build_ranked_sql`; ``SqliteIndex.rank_window``) and what
    sampled facets count. FTS5 walks its doclists newest first and stops; nothing is scored."""
    match, excluded = _match(query, terms, exclude)
    if match is None:
        raise ValueError("build_candidates_sql needs free words")
    body, params = _from_where(query, match, need_dims=False, excluded=excluded)
    return f"SELECT feedback_fts.rowid {body} ORDER BY feedback_fts.rowid DESC LIMIT ?", [*params, limit]


def build_candidates_facets_sql(query: SearchQuery, terms: Terms, limit: int, fields: Sequence[str], sample: int,
                                exclude: Terms = ()) -> SqlQuery:
    """The candidates (:func:`build_candidates_sql`) and the facets of the newest ``sample`` of them in ONE
    statement: each candidate's ``feedback_dims`` row is read once, in the walk that finds it, and the
    facets are grouped from those rows (no second lookup of each candidate by rowid). Rows come back as
    ``(-1, JSON array of the candidates' rowids, NULL)``, then ``(i, value, count)`` for the i-th of ``fields``."""
    match, excluded = _match(query, terms, exclude)
    if match is None:
        raise ValueError("build_candidates_facets_sql needs free words")
    plain = _facet_plain(fields)
    body, params = _from_where(query, match, need_dims=bool(plain), excluded=excluded)  # each match's dims row
    cols = "".join(f", d.{f} AS {f}" for f in plain)
    ctes = f"c AS MATERIALIZED (SELECT feedback_fts.rowid AS rid{cols} {body} ORDER BY feedback_fts.rowid DESC LIMIT ?)"
    params = [*params, limit]
    counted = "c"
    if sample < limit:  # the sample: the newest of the candidates
        ctes += ", m AS MATERIALIZED (SELECT * FROM c ORDER BY rid DESC LIMIT ?)"
        params.append(sample)
        counted = "m"
    parts = ["SELECT -1, json_group_array(rid), NULL FROM c",  # one row: 2,000 Python rows cost 0.8 ms
             *_facet_groups(fields, counted)]
    return f"WITH {ctes} " + " UNION ALL ".join(parts), params


def build_ranked_sql(query: SearchQuery, terms: Terms, candidates: Sequence[int], exclude: Terms = ()) -> SqlQuery:
    """The page of hits by relevance among ``candidates`` (rowids from :func:`build_candidates_sql`, whose
    ``exclude`` it was given): ``SELECT f.*, score …``, FTS5's bm25 (``score`` = −bm25, higher is better;
    ties newest first).

    The MATCH holds the free words alone: the tags weigh nothing in :data:`BM25` and excluded words never
    occur in a candidate, so each score equals that of the whole expression — but bm25 no longer counts the
    documents of every tag (for ``sentiment:negative`` a walk over some 40% of the index, per search).
    FTS5 walks the free words' matches inside the candidates' rowid range; with filters or excluded words
    only the candidates among them are scored (without, they are the same documents)."""
    if not candidates:
        raise ValueError("build_ranked_sql needs candidates")
    params: list[Any] = [_text(query, terms), min(candidates), max(candidates)]
    among = ""
    if exclude or query.filters != Filters():
        among = " AND +feedback_fts.rowid IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(candidates)))
    inner = (f"SELECT feedback_fts.rowid AS rid, -{BM25} AS score FROM feedback_fts WHERE feedback_fts MATCH ? "
             f"AND feedback_fts.rowid BETWEEN ? AND ?{among} ORDER BY score DESC, rid DESC LIMIT ? OFFSET ?")
    sql = f"SELECT f.*, r.score AS score FROM ({inner}) r JOIN feedback f ON f.rowid = r.rid ORDER BY r.score DESC, r.rid DESC"
    return sql, [*params, query.limit, query.offset]


def build_count_sql(query: SearchQuery, terms: Terms = (), exclude: Terms = ()) -> SqlQuery:
    match, excluded = _match(query, terms, exclude)
    body, params = _from_where(query, match, need_dims=False, excluded=excluded)
    return f"SELECT count(*) {body}", params


def build_facets_sql(query: SearchQuery, fields: Sequence[str], terms: Terms = (), window: int | None = None,
                     dims_hint: str = "", exclude: Terms = (), rows: Sequence[int] | None = None) -> SqlQuery:
    """Every facet in ONE statement over the matches (the newest ``window`` of them, when given; or the
    documents ``rows``, rowids of matches already found, when given — then the query is not run again):
    the matches (rowid and plain facet columns) are materialized once, then grouped by each field in turn.
    Rows come back as ``(i, value, count)`` for the i-th field of ``fields`` (from 0); the caller sorts.
    (Grouping by every plain field at once returned a row per combination — 1,134 at a million documents —
    for Python to add up, and was no faster in SQLite.)"""
    plain = _facet_plain(fields)
    cols = "".join(f", d.{f} AS {f}" for f in plain)
    if rows is not None:
        matches = (f"SELECT d.rowid AS rid{cols} FROM feedback_dims d WHERE d.rowid IN (SELECT value FROM json_each(?))"
                   if plain else "SELECT value AS rid FROM json_each(?)")
        params: list[Any] = [json.dumps(list(rows))]
    else:
        match, excluded = _match(query, terms, exclude)
        body, params = _from_where(query, match, need_dims=bool(plain), dims_hint=dims_hint, excluded=excluded)
        rid = "feedback_fts.rowid" if match is not None else "d.rowid"
        matches = f"SELECT {rid} AS rid{cols} {body}"
        if window is not None:
            matches += f" ORDER BY {rid} DESC LIMIT ?"
            params = [*params, window]
    return f"WITH m AS MATERIALIZED ({matches}) " + " UNION ALL ".join(_facet_groups(fields, "m")), params


def _facet_plain(fields: Sequence[str]) -> list[str]:
    """The single-valued ones of the facet ``fields`` (columns of ``feedback_dims``); an unknown field is a
    ``ValueError``."""
    for field in fields:
        if field not in FACET_FIELDS:
            raise ValueError(f"unknown facet {field!r}")
    return [f for f in fields if f not in SIDE_TABLES]


def _facet_groups(fields: Sequence[str], matches: str) -> list[str]:
    """One ``SELECT i, value, count(*)`` per facet field over the materialized ``matches`` (``rid`` and the
    plain fields' columns): a GROUP BY of the column, or of the side table's values joined by document."""
    return [f"SELECT {i}, s.value, count(*) FROM {matches} CROSS JOIN {SIDE_TABLES[field]} s ON s.doc = {matches}.rid "
            f"GROUP BY s.value" if field in SIDE_TABLES else f"SELECT {i}, {field}, count(*) FROM {matches} GROUP BY {field}"
            for i, field in enumerate(fields)]


def build_text_histogram_sql(filters: Filters, terms: Terms, group_by: str | None, off: int, width: int,
                             exclude: Terms = ()) -> SqlQuery:
    """``(bucket number, key, count)`` rows over the dated documents matching the free words ``terms`` (and
    none of ``exclude``): FTS5 drives (value filters as tags), each match's ``feedback_dims`` row gives its
    time (and group). Bucket number = ``(created_ts + off) / width``."""
    match, _ = _match(SearchQuery(filters=filters), terms, exclude)
    if match is None:
        raise ValueError("build_text_histogram_sql needs free words")
    where, params = build_where(Filters(since=filters.since, until=filters.until))
    cond = "d.created_ts IS NOT NULL" + (" AND " + where if where else "")
    join, key = "", f"d.{group_by}" if group_by else "NULL"
    if group_by in SIDE_TABLES:
        join, key = f" CROSS JOIN {SIDE_TABLES[group_by]} s ON s.doc = feedback_fts.rowid", "s.value"
    elif group_by:
        cond += f" AND {key} IS NOT NULL"
    sql = (f"SELECT (d.created_ts + ?) / ? AS b, {key} AS k, count(*) FROM feedback_fts "
           f"{_dims_of_matches(time_only=not key.startswith('d.'))}{join} WHERE feedback_fts MATCH ? AND {cond} "
           "GROUP BY b, k")
    return sql, [off, width, match, *params]


_UPSERT_ROW = "(" + ", ".join("?" * len(COLUMNS)) + ")"
_UPSERT_TAIL = " ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")


@functools.lru_cache(maxsize=8)
def upsert_sql(rows: int) -> str:
    """``INSERT … VALUES (…), (…) … ON CONFLICT(id) DO UPDATE`` for ``rows`` documents: a later row with the
    same id updates the earlier one, so the last one wins, as one row at a time did."""
    return f"INSERT INTO feedback ({', '.join(COLUMNS)}) VALUES " + ", ".join([_UPSERT_ROW] * rows) + _UPSERT_TAIL


_DOC_FIELD_SET = frozenset(DOC_FIELDS)


def doc_row(doc: Doc) -> tuple[Any, ...]:
    """A normalized document → the values of a ``feedback`` row, in :data:`COLUMNS` order."""
    created = doc["created_at"]
    extra = {k: v for k, v in doc.items() if k not in _DOC_FIELD_SET} if len(doc) > len(DOC_FIELDS) else None
    values = dict(doc)
    values["created_ts"] = int(datetime.fromisoformat(created[:-1] + "+00:00").timestamp()) if created else None
    values["topics"] = json.dumps(doc["topics"], ensure_ascii=False) if doc["topics"] else "[]"
    values["risk"] = json.dumps(doc["risk"], ensure_ascii=False) if doc["risk"] else "[]"
    values["extra"] = json.dumps(extra, ensure_ascii=False, default=str) if extra else None
    return tuple(values[c] for c in COLUMNS)


def row_doc(row: sqlite3.Row, fields: Sequence[str] | None = None) -> Doc:
    """A ``feedback`` row (or the ``fields`` of it) → the document."""
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
