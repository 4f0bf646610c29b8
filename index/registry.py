"""``open_index``: the registry from an ``index.url`` scheme to its backend class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from configs.index import IndexSettings
from index.base import FeedbackIndex

__all__ = ["open_index", "BACKENDS"]


def _open_sqlite(settings: IndexSettings, url: str, home: Path, tokenizer: Any, secrets: Any) -> FeedbackIndex:
    from index.sqlite_fts import SqliteIndex

    raw = url[len("sqlite:///"):]
    if raw == ":memory:":
        path: str | Path = raw
    else:
        p = Path(raw).expanduser()
        path = p if p.is_absolute() else home / p
    return SqliteIndex(path, tokenizer=tokenizer, busy_timeout_ms=settings.sqlite.busy_timeout_ms,
                       cache_size_mb=settings.sqlite.cache_size_mb, synchronous=settings.sqlite.synchronous)


def _open_elastic(settings: IndexSettings, url: str, home: Path, tokenizer: Any, secrets: Any) -> FeedbackIndex:
    from index.elastic import ElasticsearchIndex

    return ElasticsearchIndex.from_settings(settings, url=url, home=home, tokenizer=tokenizer, secrets=secrets)


#: URL scheme prefix → opener
BACKENDS: dict[str, Callable[..., FeedbackIndex]] = {
    "sqlite:///": _open_sqlite,
    "http://": _open_elastic,
    "https://": _open_elastic,
}


def open_index(settings: IndexSettings, *, home: Path, tokenizer: Callable[[str], Sequence[str]],
               secrets: Any = None, url: str | None = None) -> FeedbackIndex:
    """Open the backend named by ``settings.url`` (or ``url``, e.g. a ``voc reindex --to`` target)."""
    url = url or settings.url
    for prefix, opener in BACKENDS.items():
        if url.startswith(prefix):
            return opener(settings, url, Path(home), tokenizer, secrets)
    raise ValueError(f"unsupported index URL {url!r} (sqlite:///path, http://host:9200 or https://…)")
