"""Exceptions of the crawl package.

    CrawlError                      root: anything the crawl layer raises on purpose
    ├── LockHeld                    (crawlers.state) another live process is crawling this source
    ├── CrawlProcessError           (crawlers.runner) the crawler child process could not run / died
    └── SourceBlocked               (crawlers.middlewares) a source answered with a block page; carries
                                    source, reason and fix; raised by the block middleware only, to stop
                                    that request; the source is marked blocked, other sources go on
"""

from __future__ import annotations

__all__ = ["CrawlError", "CrawlProcessError", "SourceBlocked"]


class CrawlError(Exception):
    """Root of the crawl package's exceptions."""


class CrawlProcessError(CrawlError):
    """The crawler child process failed to start or died; carries the command and exit code."""

    def __init__(self, message: str, *, returncode: int | None = None) -> None:
        self.returncode = returncode
        super().__init__(message)


class SourceBlocked(CrawlError):
    """A response was a block (login wall, captcha, 418/429/432, JSON error code)."""

    def __init__(self, source: str, reason: str, fix: str, *, url: str = "") -> None:
        self.source, self.reason, self.fix, self.url = source, reason, fix, url
        super().__init__(f"{source} blocked: {reason} — {fix}")
