"""What every VOC spider shares: arguments, per-source settings, cursors and page bookkeeping.

Arguments (``scrapy crawl SOURCE -a product=qingji -a since=7d``):

* ``product`` — crawl only this product's targets (default: every product with targets for the source);
* ``since`` — ``7d``, ``24h`` or a date: overrides the cursor; paging stops at older items, which are dropped.

Without ``since``, paging of a newest-first listing stops at the first page holding an item at or before
the target's cursor (items of that page are still yielded, so their counters update).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from datetime import UTC, datetime
from typing import Any, ClassVar

import scrapy

from configs import Settings
from configs.sources import Product
from configs.times import as_utc as _aware  # naive taken as UTC
from crawlers.config import DEFAULT_BASE_URLS, parse_since, source_overrides, voc_settings
from crawlers.items import FeedbackItem
from crawlers.quarantine import QUARANTINE_REASONS, Entry, Quarantine, mark_reparsed, pending
from crawlers.state import CrawlState, new_run_id
from crawlers.tracking import RunTracker, tracker

__all__ = ["VocSpider", "reparse_class"]

logger = logging.getLogger(__name__)


class VocSpider(scrapy.Spider):
    #: The ``sources.<name>`` key and the run-summary name (defaults to ``name``).
    source: ClassVar[str] = ""

    voc: Settings
    #: (``sources.<key>``, its ``cookies_env``): what a block's fix names (:meth:`RunTracker.true_fix`).
    cookie_config: tuple[str, str | None]
    _state_path: str | None
    quarantine: Quarantine | None
    run_id: str

    def __init__(self, *args: Any, product: str | None = None, since: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.product = product or None
        self.since: datetime | None = parse_since(since) if since else None
        self.now = datetime.now(UTC)

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        voc = voc_settings(settings)
        settings.setdict(source_overrides(voc, cls.source or cls.name), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> VocSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.voc = voc_settings(crawler.settings)
        key = cls.source or cls.name
        spider.cookie_config = (key, spider.voc.sources.source(key).cookies_env)  # read by crawlers.tracking
        spider._state_path = crawler.settings.get("VOC_STATE_PATH")
        folder = crawler.settings.get("VOC_QUARANTINE_DIR")
        spider.quarantine = Quarantine(folder, max_bytes=crawler.settings.getint("VOC_QUARANTINE_MAX_BYTES")) \
            if folder else None
        spider.run_id = crawler.settings.get("VOC_RUN_ID") or new_run_id()
        if spider.product:
            spider.voc.sources.product(spider.product)  # KeyError naming the configured products
        return spider

    @functools.cached_property
    def tracker(self) -> RunTracker:
        """This crawl's run tracker (the crawler's :class:`crawlers.tracking.RunTracking` extension)."""
        return tracker(self.crawler)

    # -- configuration -----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        src = self.voc.sources.source(self.source or self.name)
        return (src.base_url or DEFAULT_BASE_URLS.get(self.source or self.name, "")).rstrip("/")

    def products(self) -> list[Product]:
        return [p for p in self.voc.sources.products if self.product in (None, p.id)]

    def cursor(self, doc_source: str, target: str) -> datetime | None:
        """Where paging stops: ``since`` if given, else the committed cursor of (source, target)."""
        if self.since is not None:
            return self.since
        if not self._state_path:
            return None
        with CrawlState(self._state_path) as state:
            return state.cursor(doc_source, target)

    # -- page bookkeeping ---------------------------------------------------------------------------------
    def request(self, url: str, callback: Any, *, doc_source: str, target: str, **meta: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error,
                              meta={"voc_cursor": (doc_source, target), **meta})

    def take(self, page: Any, response: Any, *, stop_at: datetime | None = None) -> tuple[list[FeedbackItem], bool]:
        """Count a parsed page; returns its items and whether paging may go on (False when an item is at
        or before ``stop_at``, when the page was blocked or dropped, or on the last page)."""
        cursor = response.meta.get("voc_cursor")
        doc_source = cursor[0] if cursor else None
        target = (cursor[0], cursor[1]) if cursor else None
        self.tracker.count(doc_source, pages=1)
        for reason, _detail in page.dropped:
            self.tracker.count_drop(reason, doc_source=doc_source)
        if page.block is not None:
            self.tracker.block(page.block.reason, page.block.fix, target=tuple(cursor) if cursor else None,
                               kind=page.block.kind)
            return [], False
        failure = next(((r, d) for r, d in page.dropped if r in _PAGE_FAILURES), None)
        if failure is None and not page.items and not page.follow and page.dropped \
                and all(r in _ROW_FAILURES for r, _ in page.dropped):
            # Every row of the page was there and none could be read (renamed keys, a changed layout): for any
            # source, that is a page that parsed to nothing — not an empty page.
            failure = ("parse_empty", f"{len(page.dropped)} rows, none read ({page.dropped[0][0]}: {page.dropped[0][1]})")
        if not page.items and failure is not None:
            # A broken page in the middle of a walk: what follows is unknown, so the cursor must not move.
            reason, detail = failure
            if reason in QUARANTINE_REASONS and target is not None:  # silence is an error: keep the body
                self.tracker.parse_failure(reason, response.url, detail, self.keep(response, reason, detail),
                                           target=target)
            else:
                self.tracker.error(f"{response.url}: page dropped ({reason}{': ' + detail if detail else ''})",
                                   target=target)
            return [], False
        if target is not None:
            self.tracker.yielded(target, len(page.items) + len(page.follow))
        self.date_unseen(page.items)
        go_on = True
        if stop_at is not None:
            for item in page.items:
                if item.created_at is not None and _aware(item.created_at) <= stop_at:
                    go_on = False
                    break
        return page.items, go_on

    def keep(self, response: Any, reason: str, detail: str) -> str:
        """Save the body of a page that yielded nothing to the quarantine folder; returns what happened."""
        if response.meta.get("voc_entry"):  # re-parsing a saved body: it stays where it is
            return f"body still in quarantine ({response.meta['voc_entry']})"
        if self.quarantine is None:
            return "body not saved (VOC_QUARANTINE_DIR is not set)"
        meta = response.meta
        doc_source, target = meta["voc_cursor"]
        try:
            _, message = self.quarantine.save(
                source=doc_source, run_id=self.run_id, kind=meta.get("voc_kind") or "", url=response.url, reason=reason,
                detail=detail, body=self.response_body(response), product=meta.get("product"), target=target,
                meta=meta.get("follow") or {})
        except OSError as exc:  # a full disk must not hide the failure itself
            message = f"body not saved: {exc}"
        return message

    def date_unseen(self, items: list[FeedbackItem]) -> None:
        """Items whose source gives no time (``extra["time_source"] == "first_seen"``: App Store entries without
        ``updated``) are dated when this crawl state first saw them — stable across runs, so paging stops at
        reviews seen before and the cursor advances."""
        undated = [i for i in items if i.created_at is None and i.extra.get("time_source") == "first_seen"]
        if not undated or not self._state_path:
            return
        with CrawlState(self._state_path) as state:
            seen = state.first_seen(undated[0].source, [i.source_id for i in undated], self.now)
        for item in undated:
            item.created_at = seen.get(item.source_id)

    # -- the generic walk: parser by kind, follows, next pages -------------------------------------------
    #: kind → parser function ``(body, url, *, product, target, now, encoding, **kw) -> Page``.
    parsers: ClassVar[dict[str, Any]] = {}
    #: Headers sent with every request of this spider.
    headers: ClassVar[dict[str, str]] = {}

    def page_request(self, url: str, kind: str, *, doc_source: str, target: str, product: str, page_no: int = 1,
                     max_pages: int = 1, stop_at: datetime | None = None, follow: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None, limits: dict[str, int] | None = None,
                     **meta: Any) -> scrapy.Request:
        """A request whose response is parsed by ``parsers[kind]`` and walked by :meth:`parse_page`."""
        return scrapy.Request(url, callback=self.parse_page, errback=self.on_error,
                              headers={**self.headers, **(headers or {})}, meta={
            "voc_cursor": (doc_source, target), "voc_kind": kind, "product": product, "page_no": page_no,
            "max_pages": max_pages, "stop_at": stop_at, "follow": follow or {}, "voc_limits": limits or {},
            **self.request_meta(kind), **meta})

    def request_meta(self, kind: str) -> dict[str, Any]:
        """Extra meta for requests of ``kind`` (the zhihu spider routes through the browser here)."""
        return {}

    def parse_kwargs(self, kind: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Extra keyword arguments for ``parsers[kind]``."""
        return {}

    def follow_limits(self, kind: str, meta: dict[str, Any]) -> int:
        """Pages to walk for a follow of ``kind``: ``limits[kind]`` of the parent request, default 1; 0 skips it."""
        return int(meta.get("voc_limits", {}).get(kind, 1))

    def response_body(self, response: Any) -> bytes:
        return response.body

    def safe_parse(self, parse: Any, response: Any, *, body: bytes | None = None, **kwargs: Any) -> Any:
        """``parse(body, url, product=, target=, now=, **kwargs)``; a parser exception (a bug: parsers are
        meant never to raise) is counted as ``parser_error`` and returns None instead of ending the crawl.
        A re-parsed saved body is parsed as coming from its original URL (``voc_origin_url``)."""
        meta = response.meta
        doc_source, target = meta["voc_cursor"]
        url = meta.get("voc_origin_url") or response.url
        try:
            return parse(response.body if body is None else body, url, product=meta["product"], target=target,
                         now=self.now, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.tracker.count_drop("parser_error", doc_source=doc_source)
            self.tracker.error(f"{response.url}: parser {getattr(parse, '__name__', parse)} failed: {exc!r}",
                               target=(doc_source, target))
            return None

    def parse_page(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        kind = meta["voc_kind"]
        doc_source, target = meta["voc_cursor"]
        page = self.safe_parse(self.parsers[kind], response, body=self.response_body(response),
                               **self.parse_kwargs(kind, meta))
        if page is None:
            return
        stop_at = meta.get("stop_at")
        items, go_on = self.take(page, response, stop_at=stop_at)
        yield from items
        if page.block is not None:
            return
        for follow in page.follow:
            limit = self.follow_limits(follow.kind, meta) if follow.kind in self.parsers else 0
            if limit < 1:
                continue
            held = follow.meta.get("item")
            created = getattr(held, "created_at", None) or follow.meta.get("created_at")
            pinned = follow.meta.get("is_top") or follow.meta.get("sticky")
            if stop_at is not None and isinstance(created, datetime) and not pinned and _aware(created) <= stop_at:
                go_on = False
            headers = {"Referer": follow.meta["referer"]} if follow.meta.get("referer") else None
            yield self.page_request(follow.url, follow.kind, doc_source=doc_source, target=target,
                                    product=meta["product"], max_pages=limit, follow=follow.meta, headers=headers,
                                    limits=meta.get("voc_limits"))
        if go_on and page.next and meta["page_no"] < meta["max_pages"]:
            yield self.page_request(page.next, kind, doc_source=doc_source, target=target, product=meta["product"],
                                    page_no=meta["page_no"] + 1, max_pages=meta["max_pages"], stop_at=stop_at,
                                    follow=meta.get("follow"), limits=meta.get("voc_limits"))

    def on_error(self, failure: Any) -> None:
        request = getattr(failure, "request", None)
        if request is not None and request.meta.get("voc_optional"):
            self.logger.info("optional request failed: %s (%s)", request.url, failure.getErrorMessage())
            return
        cursor = request.meta.get("voc_cursor") if request is not None else None
        msg = failure.getErrorMessage()
        if self.tracker.blocked is not None and "blocked" in msg:
            return
        if cursor and tuple(cursor) in self.tracker.incomplete_targets and ("too_large" in msg or "gave up" in msg):
            return
        self.tracker.error(f"{getattr(request, 'url', '?')}: {msg}", target=tuple(cursor) if cursor else None)

    def skipped(self) -> bool:
        return self.tracker.skipped is not None

    def doc_sources(self) -> list[str]:
        """The document sources this spider's items and run records are named by (``forum:<name>`` for each
        configured forum; the spider's source for the others)."""
        return [self.source or self.name]

    def targets(self) -> Iterator[tuple[Product, Any]]:
        """(product, its targets for this source) for every selected product that has some."""
        for p in self.products():
            t = p.targets(self.source or self.name)
            if t:
                yield p, t


#: Page-level drop reasons that mean "this page could not be read" (not "this page is the end"); ``error``:
#: the API answered with an error (Weibo ``errno``, V2EX/应用宝 ``success: false``), its message as detail.
_PAGE_FAILURES = ("too_large", "bad_json", "not_json", "bad_html", "unknown_shape", "parse_empty", "error")


#: Item-level drop reasons that mean "this row could not be read" (not "this row is not wanted": ad, app_info,
#: locked, before_since …); a page whose every row went for one of them parsed to nothing.
_ROW_FAILURES = ("missing_field", "bad_entry")


class _Reparse(VocSpider):
    """Mixed in before a source's spider by :func:`reparse_class`: instead of crawling, read the saved bodies of
    pages that yielded nothing (``crawlers.quarantine``) with today's parser, as if from their original URLs. Items
    go through the pipelines into the index; follows and next pages are not fetched (nothing is crawled), and no
    cursor moves (a re-parsed page says nothing about the pages after it). An entry that now parses is moved to
    ``<source>/reparsed/``; one that still yields nothing stays, and the run fails for it again."""

    async def start(self) -> Any:
        if self.skipped():
            return
        if self.quarantine is None:
            self.tracker.error("crawl.quarantine_dir is not set: nothing to re-parse")
            return
        for entry in pending(self.quarantine.root, [self.source or self.name]):  # forum: every forum:<name>
            meta = entry.meta
            kind = str(meta.get("kind") or "")
            target = (entry.source, str(meta.get("target") or ""))
            if kind not in self.parsers:
                self.tracker.error(f"{entry.body_path}: saved page of kind {kind!r} has no parser in the {self.name} "
                                   f"spider", target=target)
                continue
            self.tracker.incomplete_targets.add(target)  # no cursor moves on a re-parse
            yield scrapy.Request(entry.body_path.resolve().as_uri(), callback=self.reparse, errback=self.on_error,
                                 dont_filter=True, meta={
                "voc_cursor": target, "voc_kind": kind, "product": meta.get("product") or "", "page_no": 1,
                "max_pages": 1, "stop_at": None, "follow": dict(meta.get("meta") or {}),
                "voc_limits": {k: 0 for k in self.parsers}, "voc_origin_url": str(meta.get("url") or ""),
                "voc_entry": str(entry.body_path), "dont_obey_robotstxt": True, "voc_ignore_block": True})

    def reparse(self, response: Any) -> Any:
        before = (self.tracker.errors, len(self.tracker.failures), self.tracker.block_count)
        outputs = [o for o in self.parse_page(response) if not isinstance(o, scrapy.Request)]
        if (self.tracker.errors, len(self.tracker.failures), self.tracker.block_count) == before:
            path = Path(response.meta["voc_entry"])
            mark_reparsed(Entry({}, path))
            self.logger.info("re-parsed %s (%s): %d items", path, response.meta["voc_origin_url"], len(outputs))
        yield from outputs

    def request_meta(self, kind: str) -> dict[str, Any]:
        return {}  # a saved body is read from disk, never through the browser


def reparse_class(spidercls: type[scrapy.Spider]) -> type[VocSpider]:
    """``spidercls`` re-parsing quarantined bodies instead of crawling (``voc crawl --from-quarantine``)."""
    if not issubclass(spidercls, VocSpider):
        raise TypeError(f"{spidercls.__name__} is not a VocSpider: it has no parsers to re-parse saved pages with")
    return type(spidercls.__name__ + "Reparse", (_Reparse, spidercls), {"__module__": spidercls.__module__})
