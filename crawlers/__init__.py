"""The VOC Scrapy project: spiders, pure parsers, middlewares and item pipelines.

Public surface::

    FeedbackItem, doc_id                 what spiders yield; the stable document id
    run_crawl, start_crawl, CrawlReport  run spiders through the Scrapy engine in a child process
    CrawlState, SourceRun, SourceHealth  cursors, run history, source health and per-source locks
    CrawlError, LockHeld                 the exception tree (see crawlers.errors)

See crawlers/README.md for each source's defaults and the user's responsibility for lawful, polite use.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each public name lives. Imported on first use, so the processes that need one submodule — the
#: crawler child (``python -m crawlers``) and its classifier worker — do not import the runner, the settings
#: and the state store first (about 0.05 s each, before the worker can start loading the model).
_PUBLIC = {
    "CrawlError": "crawlers.errors", "CrawlProcessError": "crawlers.errors", "SourceBlocked": "crawlers.errors",
    "FeedbackItem": "crawlers.items", "doc_id": "crawlers.items",
    "CrawlReport": "crawlers.runner", "run_crawl": "crawlers.runner", "start_crawl": "crawlers.runner",
    "CrawlState": "crawlers.state", "LockHeld": "crawlers.state", "SourceHealth": "crawlers.state",
    "SourceRun": "crawlers.state",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'crawlers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
