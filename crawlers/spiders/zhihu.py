"""Zhihu through real headless Chromium (scrapy-playwright): keyword search, question feeds and pages,
answer comments and their child comments.

Zhihu signs its API requests (``x-zse-96``) in page JavaScript and checks the browser, so every request
goes through Chromium (``crawl.chromium_path``, Debian's ``chromium`` by default), carrying the login
cookies from ``VOC_ZHIHU_COOKIE`` (several accounts separated by a ``---`` line). JSON answers come back as
the browser shows them (inside ``<pre>``) and are unwrapped before parsing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from parsel import Selector

from crawlers.config import voc_settings
from crawlers.parsers import zhihu as parser
from crawlers.spiders._base import VocSpider

__all__ = ["ZhihuSpider"]

_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"


class ZhihuSpider(VocSpider):
    name = "zhihu"
    source = "zhihu"
    parsers = {"zhihu_search": parser.parse_search, "zhihu_question": parser.parse_feeds,
               "zhihu_comments": parser.parse_comments, "zhihu_child_comments": parser.parse_comments,
               "zhihu_page": parser.parse_initial_data}
    headers = {"x-requested-with": "fetch", "x-app-za": "OS=Web", "x-api-version": "3.0.91"}

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        voc = voc_settings(settings)
        settings.setdict({
            "DOWNLOAD_HANDLERS": {"http": _HANDLER, "https": _HANDLER},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": voc.crawl.chromium_path, "headless": True,
                                          "args": ["--no-sandbox", "--disable-dev-shm-usage"]},
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": voc.crawl.download_timeout * 1000,
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
            "CONCURRENT_REQUESTS": min(voc.crawl.concurrent_requests, 4),
        }, priority="spider")

    def request_meta(self, kind: str) -> dict[str, Any]:
        return {"playwright": True}

    def response_body(self, response: Any) -> bytes:
        if response.meta.get("voc_kind") == "zhihu_page" or "playwright" not in response.flags:
            return response.body
        text = response.text
        if text.lstrip()[:1] in ("{", "["):
            return response.body
        pre = Selector(text=text).css("pre::text").get()
        return (pre if pre is not None else text).encode("utf-8")

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            limits = {"zhihu_comments": 2 if target.comments else 0, "zhihu_child_comments": 1 if target.comments else 0,
                      "zhihu_question": 2}
            for keyword in target.keywords:
                yield self.page_request(parser.search_url(self.base_url, keyword), "zhihu_search", doc_source=self.source,
                                        target=keyword, product=product.id, max_pages=target.max_pages,
                                        stop_at=self.cursor(self.source, keyword), limits=limits,
                                        headers={"Referer": f"{self.base_url}/search?type=content&q={keyword}"})
            for qid in target.question_ids:
                key = f"question:{qid}"
                yield self.page_request(f"{self.base_url}/question/{qid}", "zhihu_page", doc_source=self.source,
                                        target=key, product=product.id, limits=limits)
                yield self.page_request(parser.feeds_url(self.base_url, qid), "zhihu_question", doc_source=self.source,
                                        target=key, product=product.id, max_pages=target.max_pages,
                                        stop_at=self.cursor(self.source, key), limits=limits)
