"""`crawl:` section of voc.yaml — politeness, concurrency, retries, batching and crawl state.

Every value reaches Scrapy through one adapter, :func:`crawlers.config.scrapy_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CrawlSettings", "CrawlHealthSettings", "CrawlRedisSettings"]


@dataclass(frozen=True, kw_only=True)
class CrawlRedisSettings:
    """`crawl.redis:` — the shared frontier and item queue of a crawl spread over workers (crawlers/frontier.py,
    crawlers/itemqueue.py). Empty ``url``: the embedded single-process default, which needs no Redis at all.

    With a URL (``url``, or the variable ``url_env`` names) every crawl — ``voc crawl``, ``voc schedule``, the demo — runs
    on the frontier: the code paths differ only in configuration.
    ``url`` (``redis://host:6379/0``; ``voc crawl --frontier`` and ``voc worker --redis`` override it), ``prefix`` of
    every key, ``heartbeat`` seconds between a worker's signs of life and ``dead_after`` seconds without one before
    its in-flight requests go back to the queue, ``claim_after`` seconds an item may sit unacknowledged with a tag
    worker before another claims it (XAUTOCLAIM), ``round_ttl_hours`` that a finished round's keys (its request
    fingerprints: the dupefilter) are kept.
    """

    url: str = ""
    #: The variable holding the URL instead (wins over ``url``; a password belongs there, not in voc.yaml).
    url_env: str = "VOC_REDIS_URL"
    #: Tag workers a coordinating ``voc crawl`` (or ``voc schedule``) starts for its round, beside ``voc worker tag``.
    tag_workers: int = 1
    prefix: str = "voc"
    heartbeat: float = 1.0
    dead_after: float = 5.0
    claim_after: float = 30.0
    round_ttl_hours: float = 24.0

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"crawl.redis.url must start with redis://, rediss:// or unix://, got {self.url!r}")
        if not self.prefix or any(c in self.prefix for c in " {}*"):
            raise ValueError(f"crawl.redis.prefix must be a plain word (no spaces, braces or *), got {self.prefix!r}")
        if self.heartbeat <= 0 or self.dead_after <= self.heartbeat * 2:
            raise ValueError("crawl.redis.heartbeat must be > 0 and dead_after more than twice it, got "
                             f"{self.heartbeat} and {self.dead_after}")
        if self.tag_workers < 0:
            raise ValueError(f"crawl.redis.tag_workers must be >= 0, got {self.tag_workers}")
        if self.claim_after <= 0 or self.round_ttl_hours <= 0:
            raise ValueError(f"crawl.redis.claim_after and round_ttl_hours must be > 0, got {self.claim_after} and "
                             f"{self.round_ttl_hours}")


@dataclass(frozen=True, kw_only=True)
class CrawlHealthSettings:
    """`crawl.health:` — operations alerts about the crawl itself (separate from product alerts).

    A source blocked, failing or silent (no new item) for longer than the hours below raises one alert to each
    channel of ``notify`` (names of ``channels`` in alerts.yaml), and one "resolved" when it recovers.
    ``voc alerts crawl-health`` (and ``voc alerts evaluate``) checks; 0 hours turns a check off.
    """

    notify: tuple[str, ...] = ()
    blocked_hours: float = 6.0
    failing_hours: float = 12.0
    silent_hours: float = 72.0

    def __post_init__(self) -> None:
        for name in ("blocked_hours", "failing_hours", "silent_hours"):
            if getattr(self, name) < 0:
                raise ValueError(f"crawl.health.{name} must be >= 0 (0 turns the check off), got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True)
class CrawlSettings:
    #: SQLite file holding crawl cursors, run summaries and per-source locks (relative to the project home).
    state_path: str = "data/state.db"
    concurrent_requests: int = 8
    concurrent_requests_per_domain: int = 2
    #: Seconds between requests to the same domain (a source's ``download_delay`` overrides it).
    download_delay: float = 1.0
    #: AutoThrottle per domain: adapt the delay to the server's latency.
    autothrottle: bool = True
    autothrottle_target_concurrency: float = 1.0
    autothrottle_max_delay: float = 60.0
    #: Retries of transient errors (5xx, 408, 429, timeouts, connection resets), with exponential backoff.
    retry_times: int = 3
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 60.0
    download_timeout: float = 30.0
    #: User agents, rotated per request.
    user_agents: tuple[str, ...] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    )
    #: Proxy URLs (``http://user:pass@host:port``), rotated per request; empty: connect directly.
    proxies: tuple[str, ...] = ()
    #: Largest response body accepted, in bytes; larger pages are dropped with a counted reason.
    max_page_bytes: int = 20_000_000
    chromium_path: str = "/usr/bin/chromium"
    #: Items classified (one call to the classifier worker, which length-sorts them into model batches of
    #: ``classifier.batch_size``) and indexed (one transaction) together at most. A partial batch goes as
    #: soon as the worker is free, and ``batch_wait`` seconds after its first item at the latest.
    batch_size: int = 256
    batch_wait: float = 1.0
    #: Seconds a ``voc crawl`` child process may run before it is stopped (0: no limit).
    run_timeout: float = 0.0
    #: Where the crawler runs the classifier: ``process`` (a worker process, so the model and the crawl
    #: use separate cores), ``thread`` (a worker thread), or ``auto`` (process for a model, thread for rules).
    classify_in: Literal["auto", "thread", "process"] = "auto"
    #: Where bodies of pages that parsed to nothing are kept (relative to the project home), per source and run;
    #: ``voc crawl --from-quarantine`` re-parses them. Each source's folder holds at most ``quarantine_max_bytes``
    #: (the oldest entries go first).
    quarantine_dir: str = "data/quarantine"
    quarantine_max_bytes: int = 50_000_000
    health: CrawlHealthSettings = field(default_factory=CrawlHealthSettings)
    redis: CrawlRedisSettings = field(default_factory=CrawlRedisSettings)

    def __post_init__(self) -> None:
        if self.concurrent_requests < 1 or self.concurrent_requests_per_domain < 1:
            raise ValueError(
                "crawl.concurrent_requests and concurrent_requests_per_domain must be at least 1, got "
                f"{self.concurrent_requests} and {self.concurrent_requests_per_domain}")
        if self.download_delay < 0 or self.download_timeout <= 0:
            raise ValueError(f"crawl.download_delay must be >= 0 and download_timeout > 0, got "
                             f"{self.download_delay} and {self.download_timeout}")
        if self.retry_times < 0:
            raise ValueError(f"crawl.retry_times must be >= 0, got {self.retry_times}")
        if self.max_page_bytes < 1024:
            raise ValueError(f"crawl.max_page_bytes must be at least 1024, got {self.max_page_bytes}")
        if not self.user_agents:
            raise ValueError("crawl.user_agents must name at least one user agent")
        if self.quarantine_max_bytes < 0:
            raise ValueError(f"crawl.quarantine_max_bytes must be >= 0 (0 keeps no body), got {self.quarantine_max_bytes}")
        if self.batch_size < 1 or self.batch_wait <= 0:
            raise ValueError(f"crawl.batch_size must be >= 1 and batch_wait > 0, got {self.batch_size} and {self.batch_wait}")
