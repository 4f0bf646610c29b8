"""Generic Discuz! forum spider: thread lists newest first, then each thread's floors (GBK/GB18030 aware).

Each forum is ``products[].forum[]`` in sources.yaml (name, base_url, forum_ids, encoding, selectors);
items are ``forum:<name>`` documents, the cursor target is the forum id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from configs.times import as_utc as _aware  # naive taken as UTC
from crawlers.parsers import discuz as parser
from crawlers.spiders._base import VocSpider

__all__ = ["ForumSpider"]


class ForumSpider(VocSpider):
    name = "forum"
    source = "forum"

    def doc_sources(self) -> list[str]:
        """``forum:<name>`` of every configured forum: each gets a run record of its own."""
        return list(dict.fromkeys(f"forum:{forum.name}" for product in self.products() for forum in product.forum))

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product in self.products():
            for forum in product.forum:
                doc_source = f"forum:{forum.name}"
                for fid in forum.forum_ids:
                    url = parser.forum_url(forum.base_url, fid, page=1, rewrite=forum.rewrite)
                    yield self.request(url, self.parse_forum, doc_source=doc_source, target=fid, product=product.id,
                                       forum=forum, page=1, stop_at=self.cursor(doc_source, fid))

    def _kw(self, meta: dict[str, Any]) -> dict[str, Any]:
        forum = meta["forum"]
        return {"encoding": forum.encoding, "site": forum.name, "selectors": forum.selectors.overrides() or None}

    def _page(self, parse: Any, response: Any) -> Any:
        """The page ``parse`` reads from ``response`` with its forum's encoding and selectors; None if it raised."""
        return self.safe_parse(parse, response, **self._kw(response.meta))

    @staticmethod
    def _same_forum(meta: dict[str, Any]) -> dict[str, Any]:
        """What a follow-up request carries over from the one it came from: document source, target, product, forum."""
        doc_source, target = meta["voc_cursor"]
        return {"doc_source": doc_source, "target": target, "product": meta["product"], "forum": meta["forum"]}

    def parse_forum(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        if (page := self._page(parser.parse_forum, response)) is None:
            return
        _, go_on = self.take(page, response)
        if page.block is not None:
            return
        stop_at = meta["stop_at"]
        forum = meta["forum"]
        for follow in page.follow:
            created = follow.meta.get("created_at")
            if stop_at is not None and created is not None and not follow.meta.get("sticky") and _aware(created) <= stop_at:
                go_on = False
            yield self.request(follow.url, self.parse_thread, **self._same_forum(meta), thread_page=1)
        if go_on and page.next and meta["page"] < forum.max_pages:
            yield self.request(page.next, self.parse_forum, **self._same_forum(meta), page=meta["page"] + 1,
                               stop_at=stop_at)

    def parse_thread(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        if (page := self._page(parser.parse_thread, response)) is None:
            return
        items, _ = self.take(page, response)
        yield from items
        if page.next and meta["thread_page"] < meta["forum"].max_thread_pages:
            yield self.request(page.next, self.parse_thread, **self._same_forum(meta), thread_page=meta["thread_page"] + 1)
