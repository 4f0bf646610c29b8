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

from index.base import (
    Doc, DOC_FIELDS, FACET_FIELDS, INT_FIELDS, KEYWORD_FIELDS, MULTI_FIELDS, Filters, SearchQuery, format_time,
)

__all__ = [
    "SCHEMA_VERSION", "TOKENS_ANALYZER", "as_client_kwargs", "terms_agg", "HL_PRE", "HL_POST", "index_template", "mappings", "mapping_meta", "filter_clauses",
    "query_body", "search_body", "count_body", "histogram_body", "bulk_actions", "delete_actions", "versioned_index",
]

#: Bump when the mapping changes: a new ``<name>-v<N>`` index is created and ``voc reindex`` fills it.
SCHEMA_VERSION = 2  # 2: text.grams (sub-word bigrams) beside the jieba tokens
#: Markers around highlighted tokens (control characters never present in normalised tokens).
HL_PRE, HL_POST = "\x02", "\x03"

#: ``tokens`` holds jieba tokens joined by spaces. Split on anything that is not a letter, digit or mark
#: (whitespace first of all) and lowercase: exactly what SQLite's FTS5 ``unicode61`` tokenizer does
#: with the same column, so both backends match the same documents.
#:
#: ``text.grams`` holds every two-character window of the text (letters and digits only: an ``ngram``
#: tokenizer of exactly 2, lowercased), one position apart, so a ``match_phrase`` of a word's bigrams
#: matches exactly the texts that contain the word as a substring: 续费 finds 自动续费 although jieba made
#: it one word. A free word matches either way; whole-word matches score on both fields and rank first.
TOKENS_ANALYZER: dict[str, Any] = {
    "analyzer": {"voc_tokens": {"type": "custom", "tokenizer": "voc_split", "filter": ["lowercase"]},
                 "voc_grams": {"type": "custom", "tokenizer": "voc_bigram", "filter": ["lowercase"]}},
    "tokenizer": {"voc_split": {"type": "pattern", "pattern": r"[^\p{L}\p{N}\p{M}]+"},
                  "voc_bigram": {"type": "ngram", "min_gram": 2, "max_gram": 2, "token_chars": ["letter", "digit"]}},
}
#: Sub-word recall applies to free words of at least this many Chinese characters (a single character
#: is a word of its own in the tokens, and shorter windows would match almost everything).
MIN_GRAM_WORD = 2
#: How much more a whole-word (token) match weighs than a substring (bigram) match.
WORD_BOOST = 2.0


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
        "title": {"type": "text"},
        "text": {"type": "text", "fields": {"grams": {"type": "text", "analyzer": "voc_grams"}}},
        "raw_text": {"type": "text", "index": False},
        "tokens": {"type": "text", "analyzer": "voc_tokens", "index_options": "offsets"},
        "created_at": {"type": "date", "format": "strict_date_optional_time||epoch_second"},
        "crawled_at": {"type": "date", "format": "strict_date_optional_time||epoch_second"},
        "sentiment_score": {"type": "float"},
    })
    assert set(props) == set(DOC_FIELDS), set(DOC_FIELDS) ^ set(props)
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


def query_body(text: str, terms: Sequence[tuple[Sequence[str], bool]], filters: Filters,
               raw: bool = False) -> dict[str, Any]:
    """``bool`` query: every token (or phrase) of the free text must match ``tokens``; filters don't score."""
    must: list[dict[str, Any]] = []
    if raw and text.strip():
        must.append({"query_string": {"query": text, "default_field": "tokens"}})
    else:
        must.extend(_term_clause(toks, phrase) for toks, phrase in terms)
    flt = filter_clauses(filters)
    if not must and not flt:
        return {"match_all": {}}
    body: dict[str, Any] = {}
    if must:
        body["must"] = must
    if flt:
        body["filter"] = flt
    return {"bool": body}


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _term_clause(toks: Sequence[str], phrase: bool) -> dict[str, Any]:
    """One free word (all its tokens) or phrase (its tokens adjacent) as a query clause.

    A free word of ≥ 2 Chinese characters also matches as a substring of the text (``text.grams``); the
    token clause is boosted, so a text holding the whole word ranks above one holding only the characters."""
    if phrase:
        return {"match_phrase": {"tokens": " ".join(toks)}}
    words: list[dict[str, Any]] = [{"match_phrase": {"tokens": t}} for t in toks]
    joined = "".join(toks)
    if len(joined) < MIN_GRAM_WORD or not all(_is_han(ch) for ch in joined):
        return words[0] if len(words) == 1 else {"bool": {"must": words}}
    whole = ({"match_phrase": {"tokens": {"query": toks[0], "boost": WORD_BOOST}}} if len(words) == 1
             else {"bool": {"must": words, "boost": WORD_BOOST}})
    return {"bool": {"should": [whole, {"match_phrase": {"text.grams": joined}}], "minimum_should_match": 1}}


def search_body(query: SearchQuery, terms: Sequence[tuple[Sequence[str], bool]] = ()) -> dict[str, Any]:
    has_text = bool(terms) or (query.raw and bool(query.text.strip()))
    newest = {"created_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}
    if has_text and query.sort == "relevance":
        sort: list[Any] = ["_score", newest, {"id": {"order": "desc"}}]
    else:
        sort = [newest, {"id": {"order": "desc"}}]
    body: dict[str, Any] = {
        "query": query_body(query.text, terms, query.filters, query.raw),
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
                   terms: Sequence[tuple[Sequence[str], bool]] = ()) -> dict[str, Any]:
    """``size: 0`` search with a ``date_histogram`` (optionally under a ``terms`` per group_by value).

    With both bounds, ``extended_bounds`` + ``min_doc_count: 0`` return the empty buckets too. ``terms``
    (the segmented free words) must all match ``tokens``, as in :func:`query_body`."""
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
    query = query_body("", terms, bounded)
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
