"""Baidu Tieba (legacy HTML): a bar's thread list (read from inside its HTML comment), each thread's
floors and 楼中楼 replies, and keyword search. Login cookies (BDUSS, STOKEN) from ``VOC_TIEBA_COOKIE``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawlers.parsers import tieba as parser
from crawlers.spiders._base import VocSpider

__all__ = ["TiebaSpider"]


class TiebaSpider(VocSpider):
    name = "tieba"
    source = "tieba"
    parsers = {"tieba_forum": parser.parse_forum, "tieba_thread": parser.parse_thread, "tieba_lzl": parser.parse_lzl,
               "tieba_search": parser.parse_search}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            limits = {"tieba_thread": 2 if target.threads else 0, "tieba_lzl": 1 if target.threads else 0}
            for bar in target.bars:
                key = f"bar:{bar}"
                yield self.page_request(parser.forum_url(self.base_url, bar), "tieba_forum", doc_source=self.source,
                                        target=key, product=product.id, max_pages=target.max_pages,
                                        stop_at=self.cursor(self.source, key), limits=limits)
            for keyword in target.keywords:
                key = f"search:{keyword}"
                yield self.page_request(parser.search_url(self.base_url, keyword), "tieba_search", doc_source=self.source,
                                        target=key, product=product.id, max_pages=target.max_pages,
                                        stop_at=self.cursor(self.source, key), limits=limits)
