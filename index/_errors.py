"""Exceptions of the index package.

Tree::

    IndexBackendError              anything an index backend could not do (carries ``backend``)
    ├── SchemaMismatchError        the stored schema/tokenizer is not the one this code writes
    ├── BulkIndexError             some documents of a batch were rejected (carries ``errors``)
    └── BackendUnavailableError    the backend cannot be reached (network, locked file, auth)
    QueryError (ValueError)        a user query names an unknown field or a bad value (``field``)

``QueryError`` is raised only by :func:`index.parse_query` and the query-term helpers; backends raise
``IndexBackendError`` and wrap third-party errors with ``raise … from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["IndexBackendError", "SchemaMismatchError", "BulkIndexError", "BackendUnavailableError", "QueryError"]


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
