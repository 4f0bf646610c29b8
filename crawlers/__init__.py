"""The VOC Scrapy project: spiders, pure parsers, middlewares and item pipelines.

Public surface::

    FeedbackItem, doc_id                 what spiders yield; the stable document id
    run_crawl, start_crawl, CrawlReport  run spiders through the Scrapy engine in a child process
    CrawlState, SourceRun, SourceHealth  cursors, run history, source health and per-source locks
    CrawlError, LockHeld                 the exception tree (see crawlers.errors)

See crawlers/README.md for each source's defaults and the user's responsibility for lawful, polite use.
"""

from crawlers.errors import CrawlError, CrawlProcessError, SourceBlocked
from crawlers.items import FeedbackItem, doc_id
from crawlers.runner import CrawlReport, run_crawl, start_crawl
from crawlers.state import CrawlState, LockHeld, SourceHealth, SourceRun

__all__ = [
    "FeedbackItem", "doc_id", "run_crawl", "start_crawl", "CrawlReport", "CrawlState", "SourceRun", "SourceHealth",
    "CrawlError", "CrawlProcessError", "LockHeld", "SourceBlocked",
]
