"""Exceptions of the index package.

Tree::

    IndexBackendError              anything an index backend could not do (carries ``backend``)
    ├── SchemaMismatchError        the stored schema/tokenizer is not the one this code writes
    ├── BulkIndexError             some documents of a batch were rejected (carries ``errors``)
    └── BackendUnavailableError    the backend cannot be reached (network, locked file, auth)
    QueryError (ValueError)        a user query names an unknown field or a bad value (``field``), or is
    │                              too long / has too many words (``field`` "")
    └── QueryTimeoutError          the backend stopped a query that ran past its time limit

``QueryError`` is what a caller answers as the user's mistake (the API: 400). It is raised by
:func:`index.parse_query` and the query-term helpers, and ``QueryTimeoutError`` by a backend; otherwise
backends raise ``IndexBackendError`` and wrap third-party errors with ``raise … from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["IndexBackendError", "SchemaMismatchError", "BulkIndexError", "BackendUnavailableError", "QueryError",
           "QueryTimeoutError"]


class IndexBackendError(Exception):
    """An index backend failed. ``backend`` names it (``sqlite:///…`` or the cluster URL)."""

    def __init__(self, message: str, *, backend: str = "") -> None:
        self.backend = backend
        super().__init__(f"{message} [{backend}]" if backend else message)


class SchemaMismatchError(IndexBackendError):
    """The index was created with a schema or tokenizer this code does not write."""


class BackendUnavailableError(IndexBackendError):
    """The backend cannot be reached or opened."""


class BulkIndexError(IndexBackendError):
    """Some documents of a batch were rejected; ``errors`` holds ``(doc id, reason)`` per rejected doc."""

    def __init__(self, message: str, *, backend: str = "", errors: Sequence[tuple[str, str]] = ()) -> None:
        self.errors = list(errors)
        super().__init__(message, backend=backend)


class QueryError(ValueError):
    """A query names an unknown field or a bad value; ``field`` names it ("" for syntax errors)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class QueryTimeoutError(QueryError):
    """A backend stopped a query that ran longer than its time limit (``limit_s``), so that one costly
    query cannot hold a query slot for long; the message says how to narrow it."""

    def __init__(self, limit_s: float, *, backend: str = "") -> None:
        self.limit_s = limit_s
        self.backend = backend
        super().__init__("", f"the query ran longer than {limit_s:g} s and was stopped; narrow it with more "
                             "specific words, filters or a shorter time range")
