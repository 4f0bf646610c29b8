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
    #: What each saved page is parsed by (``voc crawl --from-quarantine``); pages are walked by parse_reviews.
    parsers = {"appstore_reviews": parser.parse_reviews}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: app id → metadata from the lookup API (name, version, rating, rating_count, bundle_id).
        self.app_meta: dict[str, dict[str, Any]] = {}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for app_id in target.app_ids:
                url = parser.reviews_url(self.base_url, app_id, page=1, country=target.country)
                yield self.request(url, self.parse_reviews, doc_source=self.source, target=app_id,
                                   product=product.id, max_pages=target.max_pages, voc_kind="appstore_reviews",
                                   stop_at=self.cursor(self.source, app_id))
                # App metadata (name, version, rating): optional, so a failure is not a crawl error.
                yield self.request(parser.lookup_url(self.base_url, app_id, country=target.country), self.parse_lookup,
                                   doc_source=self.source, target=app_id, product=product.id, voc_optional=True,
                                   dont_retry=True)

    def parse_lookup(self, response: Any) -> None:
        _, target = response.meta["voc_cursor"]
        page = self.safe_parse(parser.parse_lookup, response)
        if page is not None and page.meta.get("name"):
            self.app_meta[target] = dict(page.meta)
            self.crawler.stats.set_value(f"voc/app/{target}", dict(page.meta))
            self.logger.info("app %s: %s %s, rating %s (%s ratings)", target, page.meta.get("name"),
                             page.meta.get("version"), page.meta.get("rating"), page.meta.get("rating_count"))

    def parse_reviews(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        page = self.safe_parse(parser.parse_reviews, response)
        if page is None:
            return
        items, go_on = self.take(page, response, stop_at=meta["stop_at"])
        yield from items
        number = page.meta.get("page", 1)
        if go_on and page.next and number < meta["max_pages"]:
            yield response.follow(page.next, callback=self.parse_reviews, errback=self.on_error, meta={
                k: meta[k] for k in ("voc_cursor", "voc_kind", "product", "max_pages", "stop_at")})
