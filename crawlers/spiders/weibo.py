"""Weibo (m.weibo.cn mobile API): real-time keyword search, full text of long posts, comments (hotflow).

Needs login cookies since 2025 (HTTP 432 otherwise): ``VOC_WEIBO_COOKIE``, several accounts separated by a
``---`` line; a cookie that meets a login wall is retired and the next one used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawlers.parsers import weibo as parser
from crawlers.spiders._base import VocSpider

__all__ = ["WeiboSpider"]


class WeiboSpider(VocSpider):
    name = "weibo"
    source = "weibo"
    parsers = {"weibo_search": parser.parse_search, "weibo_long_text": parser.parse_extend,
               "weibo_comments": parser.parse_comments}
    headers = {"Referer": "https://m.weibo.cn/", "X-Requested-With": "XMLHttpRequest", "MWeibo-Pwa": "1"}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for keyword in target.keywords:
                yield self.page_request(parser.search_url(self.base_url, keyword, page=1), "weibo_search",
                                        doc_source=self.source, target=keyword, product=product.id,
                                        max_pages=target.max_pages, stop_at=self.cursor(self.source, keyword),
                                        limits={"weibo_comments": target.max_comment_pages if target.comments else 0})

    def parse_kwargs(self, kind: str, meta: dict[str, Any]) -> dict[str, Any]:
        if kind == "weibo_long_text":
            return {"item": meta["follow"].get("item")}
        return {}
