"""Huawei AppGallery comments API (``internal.user.commenList3``), newest first, 25 per page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from crawlers.parsers import huawei as parser
from crawlers.spiders._base import VocSpider

__all__ = ["HuaweiSpider"]


class HuaweiSpider(VocSpider):
    name = "huawei"
    source = "huawei"
    parsers = {"huawei_comments": parser.parse_comments}
    headers = {"Referer": "https://appgallery.huawei.com/", "Origin": "https://appgallery.huawei.com"}

    @property
    def api_path(self) -> str:
        # The 2025+ host (…dbankcloud.com) serves /edge/uowap/index; the older …dbankcloud.cn /uowap/index.
        return "/uowap/index" if (urlsplit(self.base_url).hostname or "").endswith(".cn") else "/edge/uowap/index"

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for app_id in target.app_ids:
                yield self.page_request(parser.comments_url(self.base_url, app_id, page=1, path=self.api_path),
                                        "huawei_comments", doc_source=self.source, target=app_id, product=product.id,
                                        max_pages=target.max_pages, stop_at=self.cursor(self.source, app_id))
