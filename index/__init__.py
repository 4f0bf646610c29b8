"""The feedback index: one :class:`FeedbackIndex` interface, SQLite FTS5 and Elasticsearch backends,
and the one query language shared by the CLI, API and web page.

``open_index(settings.index, home=…, tokenizer=…, secrets=…)`` picks the backend from the URL scheme
(``sqlite:///path`` → :class:`SqliteIndex`, ``http(s)://`` → ``ElasticsearchIndex``). Errors: see
:mod:`index._errors` for the tree rooted at :class:`IndexBackendError`.
"""

from __future__ import annotations

from index._errors import (
    BackendUnavailableError, BulkIndexError, IndexBackendError, QueryError, QueryTimeoutError, SchemaMismatchError,
)
from index.base import Bucket, FeedbackIndex, Filters, Hit, SearchQuery, SearchResult, UpsertResult
from index.query import parse_query
from index.registry import open_index
from index.sqlite_fts import SqliteIndex, build_search_sql

__all__ = [
    "open_index", "FeedbackIndex", "Filters", "SearchQuery", "SearchResult", "Hit", "Bucket", "UpsertResult",
    "parse_query", "QueryError", "IndexBackendError", "SchemaMismatchError", "BulkIndexError",
    "BackendUnavailableError", "QueryTimeoutError", "SqliteIndex", "build_search_sql",
]
