"""`crawl:` section of voc.yaml — politeness, concurrency and crawl state."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrawlSettings"]


@dataclass(frozen=True, kw_only=True)
class CrawlSettings:
    #: SQLite file holding crawl cursors and run summaries (relative to the project home).
    state_path: str = "data/state.db"
    concurrent_requests: int = 8
    concurrent_requests_per_domain: int = 2
    download_delay: float = 1.0
    autothrottle: bool = True
    retry_times: int = 3
    download_timeout: float = 30.0
    user_agents: tuple[str, ...] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    )
    proxies: tuple[str, ...] = ()
    #: Largest response body accepted, in bytes; larger pages are dropped with a counted reason.
    max_page_bytes: int = 20_000_000
    chromium_path: str = "/usr/bin/chromium"
