"""Tencent MyApp (应用宝): each package's review page (its embedded first page of comments), or the
paged legacy JSON API when ``yyb.legacy_api`` is set.

Unofficial and low-confidence (one 2025 collector for the page; the legacy API is probably retired),
hence disabled by default in sources.yaml. A legacy ``success: false`` answer is recorded as an error of
the run with the API's message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawlers.parsers import yyb as parser
from crawlers.spiders._base import VocSpider

__all__ = ["YybSpider"]


class YybSpider(VocSpider):
    name = "yyb"
    source = "yyb"
    parsers = {"yyb_reviews": parser.parse_review_page, "yyb_legacy": parser.parse_legacy_comments}
    headers = {"Referer": "https://sj.qq.com/"}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for package in target.packages:
                stop_at = self.cursor(self.source, package)
                if target.legacy_api:
                    yield self.page_request(parser.legacy_comments_url(self.base_url, package, page=1), "yyb_legacy",
                                            doc_source=self.source, target=package, product=product.id,
                                            max_pages=target.max_pages, stop_at=stop_at)
                else:
                    yield self.page_request(parser.review_page_url(self.base_url, package), "yyb_reviews",
                                            doc_source=self.source, target=package, product=product.id,
                                            max_pages=1, stop_at=stop_at)
