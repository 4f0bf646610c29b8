"""V2EX official API v1: a node's topics (``topics/show.json?node_name=``) or single topics, and replies.

The API allows 120 requests an hour per IP: keep ``download_delay`` high (sources.yaml ships 30 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawlers.parsers import v2ex as parser
from crawlers.spiders._base import VocSpider

__all__ = ["V2exSpider"]


class V2exSpider(VocSpider):
    name = "v2ex"
    source = "v2ex"
    parsers = {"v2ex_topics": parser.parse_topics, "v2ex_replies": parser.parse_replies}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for node in target.nodes:
                yield self.page_request(parser.topics_url(self.base_url, kind=f"node:{node}"), "v2ex_topics",
                                        doc_source=self.source, target=node, product=product.id,
                                        max_pages=target.max_pages, stop_at=self.cursor(self.source, node),
                                        limits={"v2ex_replies": 5 if target.replies else 0})
            for tid in target.topic_ids:
                yield self.page_request(parser.topic_url(self.base_url, tid), "v2ex_topics", doc_source=self.source,
                                        target=f"t{tid}", product=product.id, stop_at=self.cursor(self.source, f"t{tid}"),
                                        limits={"v2ex_replies": 5 if target.replies else 0})
