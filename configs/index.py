"""`index:` section of voc.yaml — where feedback is stored and searched."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IndexSettings"]


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    #: ``sqlite:///data/voc.db`` (relative to the project home) or ``http(s)://host:9200`` for Elasticsearch.
    url: str = "sqlite:///data/voc.db"
    #: Elasticsearch index/alias name prefix.
    name: str = "voc-feedback"

    def __post_init__(self) -> None:
        if not self.url.startswith(("sqlite:///", "http://", "https://")):
            raise ValueError(f"index.url must start with sqlite:///, http:// or https://, got {self.url!r}")
