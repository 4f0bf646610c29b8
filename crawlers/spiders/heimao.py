"""黑猫投诉 (tousu.sina.com.cn): complaint search by keyword (signed API) and a company's received complaints."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from typing import Any

from crawlers.parsers import heimao as parser
from crawlers.spiders._base import VocSpider

__all__ = ["HeimaoSpider"]


class HeimaoSpider(VocSpider):
    name = "heimao"
    source = "heimao"
    parsers = {"heimao_complaints": parser.parse_complaints}
    headers = {"X-Requested-With": "XMLHttpRequest"}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        rng = random.Random()
        for product, target in self.targets():
            for keyword in target.keywords:
                url = parser.search_url(self.base_url, keyword, page=1, ts=int(time.time() * 1000), rs=parser.random_rs(rng))
                referer = f"{self.base_url}/index/search/?keywords={keyword}&t=1"
                yield self.page_request(url, "heimao_complaints", doc_source=self.source, target=keyword,
                                        product=product.id, max_pages=target.max_pages,
                                        stop_at=self.cursor(self.source, keyword), headers={"Referer": referer})
            for couid in target.company_ids:
                yield self.page_request(parser.company_url(self.base_url, couid, page=1), "heimao_complaints",
                                        doc_source=self.source, target=f"company:{couid}", product=product.id,
                                        max_pages=target.max_pages, stop_at=self.cursor(self.source, f"company:{couid}"))
