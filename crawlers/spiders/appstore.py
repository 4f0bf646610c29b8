"""Apple App Store customer reviews: the RSS JSON feed, newest first, up to 10 pages of 50 per app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from crawlers.parsers import appstore as parser
from crawlers.spiders._base import VocSpider

__all__ = ["AppStoreSpider"]


class AppStoreSpider(VocSpider):
    name = "appstore"
    source = "appstore"

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for app_id in target.app_ids:
                url = parser.reviews_url(self.base_url, app_id, page=1, country=target.country)
                yield self.request(url, self.parse_reviews, doc_source=self.source, target=app_id,
                                   product=product.id, max_pages=target.max_pages,
                                   stop_at=self.cursor(self.source, app_id))

    def parse_reviews(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        _, target = meta["voc_cursor"]
        page = parser.parse_reviews(response.body, response.url, product=meta["product"], target=target, now=self.now)
        items, go_on = self.take(page, response, stop_at=meta["stop_at"])
        yield from items
        number = page.meta.get("page", 1)
        if go_on and page.next and number < meta["max_pages"]:
            yield response.follow(page.next, callback=self.parse_reviews, errback=self.on_error, meta={
                k: meta[k] for k in ("voc_cursor", "product", "max_pages", "stop_at")})
