"""Pure builders of every Elasticsearch request body the backend sends (unit-tested; no I/O).

They follow the documented REST API of Elasticsearch 8/9: composable index templates
(``PUT _index_template/<name>``), the Query DSL (``bool`` with ``filter``), ``terms`` and
``date_histogram`` aggregations (``calendar_interval``, ``time_zone``, ``extended_bounds``), highlighting
and bulk actions as accepted by ``elasticsearch.helpers.streaming_bulk``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from index._grams import CJK_RANGES, is_cjk, query_runs
from index.base import (
    Doc, DOC_FIELDS, FACET_FIELDS, INT_FIELDS, KEYWORD_FIELDS, MULTI_FIELDS, Filters, SearchQuery, format_time,
)

__all__ = [
    "SCHEMA_VERSION", "TOKENS_ANALYZER", "GRAMS_FIELD", "GRAMS_BOOST", "term_clause", "as_client_kwargs", "terms_agg", "HL_PRE", "HL_POST", "index_template", "mappings", "mapping_meta", "filter_clauses",
    "query_body", "search_body", "count_body", "histogram_body", "bulk_actions", "delete_actions", "versioned_index",
]

#: Bump when the mapping changes: a new ``<name>-v<N>`` index is created and ``voc reindex`` fills it.
SCHEMA_VERSION = 2  # 2: grams (sub-word bigrams of title and text) beside the jieba tokens
#: Markers around highlighted tokens (control characters never present in normalised tokens).
HL_PRE, HL_POST = "\x02", "\x03"

#: ``tokens`` holds jieba tokens joined by spaces. Split on anything that is not a letter, digit or mark
#: (whitespace first of all) and lowercase: exactly what SQLite's FTS5 ``unicode61`` tokenizer does
#: with the same column, so both backends match the same documents.
#:
#: ``grams`` (filled from ``title`` and ``text`` by ``copy_to``) holds the character bigrams of each run of
#: Chinese characters, one position apart: a char filter turns everything else into a space, then an
#: ``ngram`` tokenizer of exactly two letters. A ``match_phrase`` of a run on ``grams`` therefore matches
#: exactly the texts holding that run, even inside a longer word (续费 finds 自动续费), and never across
#: punctuation, a latin word or the title/text boundary (no bigram spans them) — the analysis SQLite does
#: in :mod:`index._grams` (sub-word recall).
TOKENS_ANALYZER: dict[str, Any] = {
    "analyzer": {"voc_tokens": {"type": "custom", "tokenizer": "voc_split", "filter": ["lowercase"]},
                 "voc_grams": {"type": "custom", "char_filter": ["voc_cjk_only"], "tokenizer": "voc_bigram"}},
    "char_filter": {"voc_cjk_only": {"type": "pattern_replace", "pattern": f"[^{CJK_RANGES}]+", "replacement": " "}},
    "tokenizer": {"voc_split": {"type": "pattern", "pattern": r"[^\p{L}\p{N}\p{M}]+"},
                  "voc_bigram": {"type": "ngram", "min_gram": 2, "max_gram": 2, "token_chars": ["letter"]}},
}
#: The field of the bigrams (not a document field: nothing in ``_source``).
GRAMS_FIELD = "grams"
#: A sub-word (bigram) match weighs a quarter of a whole-word one, as in SQLite's bm25 weights, so a text
#: holding the whole word ranks above one holding it only inside a longer word.
GRAMS_BOOST = 0.25


#: REST body keys that the Python client takes under another keyword argument name.
_CLIENT_NAMES = {"from": "from_", "_meta": "meta", "_source": "source"}


def as_client_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """A REST request body → keyword arguments of the matching ``Elasticsearch`` client method."""
    return {_CLIENT_NAMES.get(k, k): v for k, v in body.items()}


def versioned_index(name: str, version: int = SCHEMA_VERSION) -> str:
    return f"{name}-v{version}"


def mappings() -> dict[str, Any]:
    props: dict[str, Any] = {f: {"type": "keyword"} for f in KEYWORD_FIELDS}
    props.update({f: {"type": "integer"} for f in INT_FIELDS})
    props.update({f: {"type": "keyword"} for f in MULTI_FIELDS})
    props.update({
        "title": {"type": "text", "copy_to": GRAMS_FIELD},
        "text": {"type": "text", "copy_to": GRAMS_FIELD},
        "raw_text": {"type": "text", "index": False},
        "tokens": {"type": "text", "analyzer": "voc_tokens", "index_options": "offsets"},
        "created_at": {"type": "date", "format": "strict_date_optional_time||epoch_second"},
        "crawled_at": {"type": "date", "format": "strict_date_optional_time||epoch_second"},
        "sentiment_score": {"type": "float"},
    })
    assert set(props) == set(DOC_FIELDS), set(DOC_FIELDS) ^ set(props)
    props[GRAMS_FIELD] = {"type": "text", "analyzer": "voc_grams"}
    # dynamic false: extra keys are kept in _source (returned by get) but not indexed
    return {"dynamic": False, "_meta": mapping_meta(), "properties": props}


def mapping_meta(normalization: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mapping's ``_meta``: the schema version and, when known, the text normalization of ``tokens``."""
    meta: dict[str, Any] = {"voc_schema": SCHEMA_VERSION}
    if normalization is not None:
        meta["voc_normalization"] = dict(normalization)
    return meta


def index_template(name: str, *, shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    """Body of ``PUT _index_template/<name>``: applies to every ``<name>-v*`` index."""
    return {
        "index_patterns": [f"{name}-v*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas, "analysis": TOKENS_ANALYZER},
            "mappings": mappings(),
        },
        "_meta": {"description": "VOC feedback documents", "voc_schema": SCHEMA_VERSION},
    }


def filter_clauses(filters: Filters) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = [{"terms": {field: list(values)}} for field, values in filters.items()]
    rng: dict[str, Any] = {}
    if filters.since is not None:
        rng["gte"] = format_time(filters.since)
    if filters.until is not None:
        rng["lt"] = format_time(filters.until)
    if rng:
        clauses.append({"range": {"created_at": rng}})
    return clauses


Terms = Sequence[tuple[Sequence[str], bool]]


def query_body(text: str, terms: Terms, filters: Filters, raw: bool = False, exclude: Terms = ()) -> dict[str, Any]:
    """``bool`` query: every free word (or phrase) must match (:func:`term_clause`), none of the excluded
    ones may; filters don't score. Without any of them: ``match_all``."""
    must: list[dict[str, Any]] = []
    if raw and text.strip():
        must.append({"query_string": {"query": text, "default_field": "tokens"}})
    else:
        must.extend(term_clause(toks, phrase) for toks, phrase in terms)
    must_not = [term_clause(toks, phrase) for toks, phrase in exclude]
    flt = filter_clauses(filters)
    if not must and not flt and not must_not:
        return {"match_all": {}}
    body: dict[str, Any] = {}
    if must:
        body["must"] = must
    if flt:
        body["filter"] = flt
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


def _all(clauses: list[dict[str, Any]], boost: float | None = None) -> dict[str, Any]:
    """Every clause must match (one clause as it is); ``boost`` weighs the whole."""
    if len(clauses) == 1 and boost is None:
        return clauses[0]
    body: dict[str, Any] = {"must": clauses}
    if boost is not None:
        body["boost"] = boost
    return {"bool": body}


def _on_tokens(token: str) -> dict[str, Any]:
    return {"match_phrase": {"tokens": token}}


def term_clause(tokens: Sequence[str], phrase: bool) -> dict[str, Any]:
    """One free word (or phrase) as a query clause, matching what SQLite's ``term_expression`` matches.

    Its tokens on ``tokens`` (all of them; a phrase in order) OR its text on ``grams``: each run of Chinese
    characters as a phrase (the analyzer makes its bigrams), so the word is found inside longer words,
    and the word's other tokens (latin words, numbers, lone characters) on ``tokens``. A phrase matches on
    ``grams`` only when it is one run. A word whose run jieba cut into single characters (没法用 → 没法 + 用)
    matches on ``grams`` only: those characters must stand together. Sub-word matches weigh
    :data:`GRAMS_BOOST`."""
    runs, others = query_runs(tokens)
    words: dict[str, Any] | None
    if phrase:
        words = _on_tokens(" ".join(tokens))
    else:
        words = _all([_on_tokens(t) for t in dict.fromkeys(tokens)])
        if runs and any(len(t) == 1 and is_cjk(t) for t in tokens if t not in others):
            words = None
    grams: list[dict[str, Any]] = []
    if phrase:
        if len(runs) == 1 and not others:
            grams = [{"match_phrase": {GRAMS_FIELD: runs[0]}}]
    elif runs:
        grams = [*({"match_phrase": {GRAMS_FIELD: r}} for r in dict.fromkeys(runs)),
                 *(_on_tokens(t) for t in dict.fromkeys(others))]
    sub = _all(grams, boost=GRAMS_BOOST) if grams else None
    if words is None:
        assert sub is not None  # a word loses its token alternative only when it has runs
        return sub
    if sub is None:
        return words
    return {"bool": {"should": [words, sub], "minimum_should_match": 1}}


def search_body(query: SearchQuery, terms: Terms = (), exclude: Terms = ()) -> dict[str, Any]:
    has_text = bool(terms) or (query.raw and bool(query.text.strip()))
    newest = {"created_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}
    if has_text and query.sort == "relevance":
        sort: list[Any] = ["_score", newest, {"id": {"order": "desc"}}]
    else:
        sort = [newest, {"id": {"order": "desc"}}]
    body: dict[str, Any] = {
        "query": query_body(query.text, terms, query.filters, query.raw, exclude),
        "from": query.offset,
        "size": query.limit,
        "sort": sort,
        "track_total_hits": True,
        "track_scores": True,
    }
    if has_text:
        body["highlight"] = {"fields": {"tokens": {"number_of_fragments": 0}},
                             "pre_tags": [HL_PRE], "post_tags": [HL_POST]}
    if query.facets:
        body["aggs"] = {f"facet_{f}": terms_agg(f) for f in query.facets}
    return body


def terms_agg(field: str, size: int = 50) -> dict[str, Any]:
    if field not in FACET_FIELDS:
        raise ValueError(f"unknown facet {field!r}")
    return {"terms": {"field": field, "size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}


def count_body(filters: Filters) -> dict[str, Any]:
    return {"query": query_body("", [], filters)}


_INTERVALS = {"minute": "minute", "hour": "hour", "day": "day"}


def histogram_body(filters: Filters, *, interval: str, tz: str, group_by: str | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   terms: Terms = (), exclude: Terms = ()) -> dict[str, Any]:
    """``size: 0`` search with a ``date_histogram`` (optionally under a ``terms`` per group_by value).

    With both bounds, ``extended_bounds`` + ``min_doc_count: 0`` return the empty buckets too. ``terms``
    (the segmented free words) must all match and ``exclude`` (``-word``) none, as in :func:`query_body`."""
    if interval not in _INTERVALS:
        raise ValueError(f"interval must be minute, hour or day, got {interval!r}")
    bounded = Filters(**{**{k: getattr(filters, k) for k in ("product", "source", "sentiment", "topic", "intent",
                                                             "risk", "platform", "app_version", "rating")},
                         "since": max([t for t in (start, filters.since) if t is not None], default=None),
                         "until": min([t for t in (end, filters.until) if t is not None], default=None)})
    lo = start if start is not None else filters.since
    hi = end if end is not None else filters.until
    hist: dict[str, Any] = {"field": "created_at", "calendar_interval": _INTERVALS[interval], "time_zone": tz}
    if lo is not None and hi is not None:
        hist["min_doc_count"] = 0
        hist["extended_bounds"] = {"min": int(lo.timestamp() * 1000),
                                   "max": int((hi - timedelta(milliseconds=1)).timestamp() * 1000)}
    else:
        hist["min_doc_count"] = 1
    aggs: dict[str, Any] = {"h": {"date_histogram": hist}}
    if group_by is not None:
        if group_by not in FACET_FIELDS:
            raise ValueError(f"cannot group by {group_by!r}")
        aggs = {"g": {"terms": {"field": group_by, "size": 1000}, "aggs": aggs}}
    query = query_body("", terms, bounded, exclude=exclude)
    query.pop("match_all", None)
    query.setdefault("bool", {}).setdefault("filter", []).append({"exists": {"field": "created_at"}})
    return {"size": 0, "query": query, "aggs": aggs}


def bulk_actions(docs: Sequence[Doc], index: str) -> Iterator[dict[str, Any]]:
    """``index`` actions (create or replace by ``_id``), the last occurrence of a repeated id winning."""
    last = {d["id"]: d for d in docs}
    for doc_id, doc in last.items():
        yield {"_op_type": "index", "_index": index, "_id": doc_id, "_source": doc}


def delete_actions(ids: Sequence[str], index: str) -> Iterator[dict[str, Any]]:
    for doc_id in dict.fromkeys(ids):
        yield {"_op_type": "delete", "_index": index, "_id": doc_id}
