"""`index:` section of voc.yaml — where feedback is stored and searched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["IndexSettings", "SqliteSettings", "ElasticsearchSettings"]


@dataclass(frozen=True, kw_only=True)
class SqliteSettings:
    #: Milliseconds a connection waits for a lock held by another writer (the alert store shares the file).
    busy_timeout_ms: int = 10_000
    #: Page cache per connection, in MiB.
    cache_size_mb: int = 256
    #: FULL: every committed batch survives power loss; NORMAL: survives a killed process only (faster).
    synchronous: Literal["FULL", "NORMAL"] = "FULL"

    def __post_init__(self) -> None:
        if self.busy_timeout_ms < 0 or self.cache_size_mb < 1:
            raise ValueError(f"busy_timeout_ms must be >= 0 and cache_size_mb >= 1, got "
                             f"{self.busy_timeout_ms} and {self.cache_size_mb}")


@dataclass(frozen=True, kw_only=True)
class ElasticsearchSettings:
    #: Names of environment variables holding the credentials (never the secrets themselves).
    api_key_env: str = "VOC_ES_API_KEY"
    username_env: str = "VOC_ES_USERNAME"
    password_env: str = "VOC_ES_PASSWORD"
    #: Path (relative to the project home) of the CA certificate that signed the cluster's TLS certificate.
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout_s: float = 30.0
    #: Bulk retries on 429/unavailable, with exponential backoff starting at ``retry_backoff_s``.
    max_retries: int = 3
    retry_backoff_s: float = 2.0
    #: Bulk chunk size (documents per request).
    chunk_size: int = 500
    #: ``wait_for``: upsert returns once the documents are searchable; ``false``: faster, eventually visible.
    refresh: Literal["wait_for", "true", "false"] = "wait_for"
    number_of_shards: int = 1
    number_of_replicas: int = 1

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.chunk_size < 1 or self.request_timeout_s <= 0:
            raise ValueError("max_retries must be >= 0, chunk_size >= 1 and request_timeout_s > 0, got "
                             f"{self.max_retries}, {self.chunk_size}, {self.request_timeout_s}")


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    #: ``sqlite:///data/voc.db`` (relative to the project home) or ``http(s)://host:9200`` for Elasticsearch.
    url: str = "sqlite:///data/voc.db"
    #: Elasticsearch index/alias name prefix.
    name: str = "voc-feedback"
    sqlite: SqliteSettings = field(default_factory=SqliteSettings)
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)

    def __post_init__(self) -> None:
        if not self.url.startswith(("sqlite:///", "http://", "https://")):
            raise ValueError(f"index.url must start with sqlite:///, http:// or https://, got {self.url!r}")
        if not self.name or self.name != self.name.lower() or any(c in self.name for c in ' "*\\<|,>/?'):
            raise ValueError(f"index.name must be a lowercase Elasticsearch index name, got {self.name!r}")
