"""The one interface every index backend implements, and the value types it speaks.

A feedback document is a plain ``dict`` with the fields of design.md (:data:`DOC_FIELDS`). Backends
store it whole (re-upserting an id replaces the document) and answer searches, counts and time-bucketed
histograms over it. Filter semantics, shared by every backend (and checked by the contract suite):

* each tuple field of :class:`Filters` matches when the document's value is one of the given values
  (for the multi-valued ``topics``/``risk``: when any of the document's values is one of them);
  different fields must all match;
* ``since`` is inclusive and ``until`` exclusive, both on ``created_at``; documents without
  ``created_at`` never match a time bound and never appear in a histogram.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from configs.times import format_utc, parse_utc

__all__ = [
    "DOC_FIELDS", "KEYWORD_FIELDS", "INT_FIELDS", "MULTI_FIELDS", "FACET_FIELDS", "FILTER_FIELDS",
    "Filters", "SearchQuery", "SearchResult", "Hit", "Bucket", "UpsertResult", "FeedbackIndex",
    "parse_time", "format_time", "Interval", "Sort", "Doc",
]

#: A feedback document (design.md's fields; see :data:`DOC_FIELDS`).
Doc = dict[str, Any]
Interval = Literal["minute", "hour", "day"]
Sort = Literal["relevance", "time"]

#: Every field of the feedback document (design.md), in display order.
DOC_FIELDS: tuple[str, ...] = (
    "id", "source", "source_id", "url", "parent_id", "product", "kind", "title", "text", "raw_text", "tokens",
    "author_id", "author_name", "created_at", "crawled_at", "rating", "app_version", "platform", "likes",
    "replies", "reposts", "sentiment", "sentiment_score", "intent", "topics", "risk", "dup_of", "model_version",
)
KEYWORD_FIELDS: tuple[str, ...] = (
    "id", "source", "source_id", "url", "parent_id", "product", "kind", "author_id", "author_name",
    "app_version", "platform", "sentiment", "intent", "dup_of", "model_version",
)
INT_FIELDS: tuple[str, ...] = ("rating", "likes", "replies", "reposts")
MULTI_FIELDS: tuple[str, ...] = ("topics", "risk")
#: Fields that facets and ``histogram(group_by=…)`` accept.
FACET_FIELDS: tuple[str, ...] = (
    "product", "source", "sentiment", "intent", "topics", "risk", "platform", "app_version", "rating", "kind",
)
#: Filters attribute → document field.
FILTER_FIELDS: dict[str, str] = {
    "product": "product", "source": "source", "sentiment": "sentiment", "topic": "topics", "intent": "intent",
    "risk": "risk", "platform": "platform", "app_version": "app_version", "rating": "rating",
}


@dataclass(frozen=True, kw_only=True)
class Filters:
    """What a search, count, histogram or scan is restricted to (see the module docstring)."""

    product: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    sentiment: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()
    intent: tuple[str, ...] = ()
    risk: tuple[str, ...] = ()
    platform: tuple[str, ...] = ()
    app_version: tuple[str, ...] = ()
    rating: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, ())
            elif isinstance(value, (str, int)):  # a single value is a common slip: accept it as a 1-tuple
                object.__setattr__(self, name, (value,))
            elif not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"Filters.{name} must be timezone-aware, got {value!r}")

    def items(self) -> Iterator[tuple[str, tuple[str | int, ...]]]:
        """``(document field, values)`` for every non-empty value filter."""
        for name, doc_field in FILTER_FIELDS.items():
            values = getattr(self, name)
            if values:
                yield doc_field, values


@dataclass(frozen=True, kw_only=True)
class SearchQuery:
    """A search: free words (all must match) and ``"quoted phrases"`` in ``text``, plus filters.

    ``raw=True`` passes ``text`` to the backend's own query syntax (FTS5 MATCH / query_string) unescaped;
    it is an explicit opt-in for operators, never what the query language produces.
    """

    text: str = ""
    filters: Filters = field(default_factory=Filters)
    limit: int = 20
    offset: int = 0
    sort: Sort = "relevance"
    facets: tuple[str, ...] = ()
    raw: bool = False
    #: 0: the facets count every match (exact). N: when more than N documents match, a backend may count
    #: the newest N matches instead (``SearchResult.facets_sampled`` says so) — for interactive pages on a
    #: large index; reports and alerts keep the exact default.
    facet_sample: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got limit={self.limit} offset={self.offset}")
        if self.facet_sample < 0:
            raise ValueError(f"facet_sample must be >= 0 (0: exact facets), got {self.facet_sample}")
        if self.sort not in ("relevance", "time"):
            raise ValueError(f"sort must be 'relevance' or 'time', got {self.sort!r}")
        if isinstance(self.facets, str):
            object.__setattr__(self, "facets", (self.facets,))
        for f in self.facets:
            if f not in FACET_FIELDS:
                raise ValueError(f"unknown facet {f!r} (known: {', '.join(FACET_FIELDS)})")


@dataclass(frozen=True)
class Hit:
    doc: Doc
    score: float
    #: The doc's ``text`` cut into ``(segment, matched)`` pairs; renderers escape each segment themselves.
    highlight: list[tuple[str, bool]]


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int
    #: facet field → ``[(value, count), …]``, most frequent first (ties by value).
    facets: dict[str, list[tuple[str, int]]]
    #: None: the facets count every match. N: the query allowed sampling (``SearchQuery.facet_sample``) and
    #: more documents matched, so the facets count the newest N matches; show them as estimates.
    facets_sampled: int | None = None


class Bucket(NamedTuple):
    #: Start of the bucket, timezone-aware in the histogram's time zone.
    start: datetime
    #: The group_by value (as a string), or None without group_by.
    key: str | None
    count: int  # type: ignore[assignment]  # the agreed field name shadows tuple.count


class UpsertResult(NamedTuple):
    new: int
    updated: int


@runtime_checkable
class FeedbackIndex(Protocol):
    """What every backend implements; ``tests/index/contract.py`` checks the shared behaviour."""

    def upsert(self, docs: Sequence[Doc]) -> UpsertResult:
        """Store a batch atomically and durably; idempotent by ``id``; a re-upsert replaces the doc.
        When it returns, the documents are visible to search/count/get."""
        ...

    def delete(self, ids: Sequence[str]) -> int: ...

    def get(self, id: str) -> Doc | None: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def count(self, filters: Filters = Filters()) -> int: ...

    def histogram(self, filters: Filters = Filters(), *, interval: Interval = "hour", tz: str = "Asia/Shanghai",
                  group_by: str | None = None, start: datetime | None = None,
                  end: datetime | None = None, text: str = "") -> list[Bucket]:
        """Counts per bucket of ``interval`` in ``tz`` (local days/hours), sorted by (start, key).

        ``start``/``end`` (default: ``filters.since``/``until``) bound the range; when both are known,
        empty buckets are included with count 0 (for every key seen, with group_by). ``text``: free words
        and "phrases" as in :attr:`SearchQuery.text`; only documents matching all of them are counted."""
        ...

    def scan(self, filters: Filters = Filters(), *, fields: Sequence[str] | None = None,
             batch_size: int = 1000) -> Iterator[Doc]: ...

    def explain(self, query: SearchQuery) -> str:
        """What :meth:`search` sends the backend for this query's hits, for people to read
        (``voc search --sql``): SQLite's SQL and parameters, Elasticsearch's request body as JSON."""
        ...

    def close(self) -> None: ...


def parse_time(value: str | datetime | None) -> datetime | None:
    """ISO-8601 (``2026-11-24T03:05:00Z``) → aware UTC datetime, None or "" → None; see
    :func:`configs.times.parse_utc` (ValueError for anything else, out-of-range offsets included)."""
    if value is None or value == "":
        return None
    return parse_utc(value)


# Aware datetime → ``2026-11-24T03:05:00Z`` (None stays None): the one formatter, under the name index callers use.
format_time = format_utc
