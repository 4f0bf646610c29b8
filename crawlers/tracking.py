"""Per-crawler run bookkeeping shared by the spider, middlewares, pipelines and the state extension.

:class:`RunTracking` is a Scrapy extension (``EXTENSIONS``; :func:`crawlers.config.scrapy_settings` lists it) that
holds the crawler's one :class:`RunTracker`: pages, errors, drops by reason, the block (reason and fix), targets
whose items did not all reach the index (their cursor must not advance), and the pool of account cookies being
rotated. Components reach it through the crawler with :func:`tracker` (``crawler.get_extension``), and it learns
from Scrapy's signals what happened to items: ``item_dropped`` (a pipeline raised :class:`Dropped`: counted under
its reason; a lost item also keeps its target's cursor), ``item_error`` and ``spider_error`` (errors of the run).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem

__all__ = ["RunTracker", "RunTracking", "PartTally", "AccountPool", "Dropped", "tracker", "DROPPED_PREFIX"]

logger = logging.getLogger(__name__)

#: Stats key prefix of dropped pages/items: ``voc/dropped/<reason>``.
DROPPED_PREFIX = "voc/dropped/"
#: Block kinds that end a source's crawl at once; others (a login wall on one page) only after DRAIN_AFTER.
DRAIN_KINDS = frozenset({"rate_limit", "captcha", "forbidden"})
DRAIN_AFTER = 3


class AccountPool:
    """Several accounts' cookies for one source, used in turn; a cookie that hits a login wall is retired.

    Cookies are named by position and fingerprint (``#2 (3fa91c0e)``), never by value.
    """

    def __init__(self, source: str, cookies: list[str], *, env_name: str | None = None) -> None:
        self.source = source
        self.env_name = env_name
        self.cookies = [c.strip() for c in cookies if c.strip()]
        self.retired: dict[int, str] = {}
        self._cycle = itertools.cycle(range(len(self.cookies))) if self.cookies else None

    @classmethod
    def from_secret(cls, source: str, value: str | None, *, env_name: str | None = None) -> AccountPool:
        """Accounts in one env var: separated by a line holding ``---`` (or just one cookie)."""
        if not value:
            return cls(source, [], env_name=env_name)
        parts: list[str] = []
        current: list[str] = []
        for line in value.splitlines():
            if line.strip() == "---":
                parts.append("\n".join(current))
                current = []
            else:
                current.append(line)
        parts.append("\n".join(current))
        return cls(source, ["; ".join(x.strip() for x in p.splitlines() if x.strip()) for p in parts], env_name=env_name)

    def name(self, index: int) -> str:
        digest = hashlib.sha256(self.cookies[index].encode()).hexdigest()[:8]
        return f"#{index + 1} ({digest})"

    @property
    def active(self) -> list[int]:
        return [i for i in range(len(self.cookies)) if i not in self.retired]

    def next(self) -> tuple[int, str] | None:
        if not self._cycle or not self.active:
            return None
        for _ in range(len(self.cookies)):
            i = next(self._cycle)
            if i not in self.retired:
                return i, self.cookies[i]
        return None

    def retire(self, index: int, reason: str) -> str:
        """Retire cookie ``index``; returns the message logged (naming it, not its value)."""
        where = f" from {self.env_name}" if self.env_name else ""
        msg = f"{self.source} cookie {self.name(index)}{where} retired: {reason}"
        if index not in self.retired:
            self.retired[index] = reason
            logger.warning(msg)
        return msg


@dataclass
class PartTally:
    """One document source's share of a spider's run (the forum spider: one per ``forum:<name>``)."""

    pages: int = 0
    new: int = 0
    updated: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    blocked: tuple[str, str] | None = None  # (reason, fix)
    dropped: dict[str, int] = field(default_factory=dict)
    #: pages that had content and yielded nothing: {"reason", "url", "detail", "saved"} (see crawlers.quarantine).
    failures: list[dict[str, str]] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def add_error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_messages) < 20:
            self.error_messages.append(message[:300])


@dataclass(kw_only=True)
class RunTracker(PartTally):
    """A spider's whole run: its own tally (what the single run record of most sources shows) plus the share
    of each document source in :attr:`parts` (a record each for the forum spider's forums)."""

    source: str
    started_at: datetime | None = None
    skipped: str | None = None
    #: (doc source, target) pairs whose items did not all reach the index.
    failed_targets: set[tuple[str, str]] = field(default_factory=set)
    #: targets where the crawl stopped early (block, page error): their cursor must not advance.
    incomplete_targets: set[tuple[str, str]] = field(default_factory=set)
    accounts: AccountPool | None = None
    notes: list[str] = field(default_factory=list)
    block_count: int = 0
    #: set once the source is blocked for good: its remaining requests are skipped.
    draining: bool = False
    #: the same counts per document source (``voc_cursor[0]`` of the requests, ``source`` of the items).
    parts: dict[str, PartTally] = field(default_factory=dict)
    #: (``sources.<key>``, its ``cookies_env`` or None): the cookie variable this run really reads, if any.
    cookie_config: tuple[str, str | None] | None = None
    #: The crawler's stats (``crawler.stats``), where drops are counted too; None outside a crawl.
    stats: Any = field(default=None, repr=False, compare=False)

    def true_fix(self, fix: str) -> str:
        """A block's fix as the parsers word it names the conventional variable (``VOC_FORUM_BBS_COOKIE``); what is
        read is the variable ``sources.<key>.cookies_env`` names. Say that one — or, with none named, how to name it."""
        if self.cookie_config is None or not fix:
            return fix
        key, env = self.cookie_config
        if env:
            return _COOKIE_VAR.sub(env, fix)
        return _COOKIE_VAR.sub(lambda m: f"{m.group(0)} and name it in sources.{key}.cookies_env (configs/sources.yaml;"
                                         f" a cookie variable no cookies_env names is not read)", fix, count=1)

    def count_drop(self, reason: str, *, doc_source: str | None = None) -> None:
        """Count a dropped page or item: ``voc/dropped/<reason>`` in the stats, the run's tally, and the share of
        ``doc_source`` (when known)."""
        if self.stats is not None:
            self.stats.inc_value(DROPPED_PREFIX + reason)
        self.drop(reason)
        if doc_source:
            self.part(doc_source).drop(reason)

    def part(self, doc_source: str) -> PartTally:
        return self.parts.setdefault(doc_source, PartTally())

    def count(self, doc_source: str | None, *, pages: int = 0, new: int = 0, updated: int = 0) -> None:
        """Add to the run's counts and to ``doc_source``'s share (when known)."""
        for tally in (self, self.part(doc_source)) if doc_source else (self,):
            tally.pages += pages
            tally.new += new
            tally.updated += updated

    #: (doc source, target) → items its pages yielded in this run, for every target a page was read for.
    target_items: dict[tuple[str, str], int] = field(default_factory=dict)

    def yielded(self, target: tuple[str, str], n: int) -> None:
        self.target_items[target] = self.target_items.get(target, 0) + n

    def parse_failure(self, reason: str, url: str, detail: str, saved: str, *, target: tuple[str, str]) -> None:
        """A page that had content and yielded nothing (``parse_empty``, ``unknown_shape``, …): the run fails for
        its source, the target's cursor stays, and the failure names the URL and where its body was saved."""
        failure = {"reason": reason, "url": url[:500], "detail": detail[:200], "saved": saved[:500]}
        for tally in (self, self.part(target[0])):
            if len(tally.failures) < 20:
                tally.failures.append(failure)
        self.error(f"{url}: {reason}{': ' + detail if detail else ''} — {saved}", target=target)

    def error(self, message: str, *, target: tuple[str, str] | None = None) -> None:
        self.add_error(message)
        if target is not None:
            self.incomplete_targets.add(target)
            self.part(target[0]).add_error(message)

    def block(self, reason: str, fix: str, *, target: tuple[str, str] | None = None, kind: str = "error") -> None:
        """Record a block. Rate limits, captchas and forbidden answers stop the source's remaining requests
        (``draining``); a login wall in front of one page does not, until it happened ``DRAIN_AFTER`` times."""
        self.block_count += 1
        fix = self.true_fix(fix)
        if self.blocked is None:
            self.blocked = (reason, fix)
            logger.error("%s blocked: %s — %s", self.source, reason, fix)
        if kind in DRAIN_KINDS or self.block_count >= DRAIN_AFTER:
            self.draining = True
        if target is not None:
            self.incomplete_targets.add(target)
            part = self.part(target[0])
            part.blocked = part.blocked or (reason, fix)


_COOKIE_VAR = re.compile(r"\bVOC_[A-Z0-9_]+_COOKIE\b")


class Dropped(DropItem):
    """An item a pipeline refuses, for a ``reason`` the run counts (logged at DEBUG: drops are counted, not
    shouted). ``lost``: the item was fine but could not be stored (its batch failed), so its target keeps its
    cursor and the next run fetches it again."""

    def __init__(self, reason: str, detail: str = "", *, lost: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason, log_level="DEBUG")
        self.reason = reason
        self.lost = lost


def _target(item: Any) -> tuple[str, str] | None:
    source, target = getattr(item, "source", None), getattr(item, "target", None)
    return (source, target) if source and target else None


class RunTracking:
    """The crawler's :class:`RunTracker`, kept up to date from Scrapy's item and spider signals."""

    def __init__(self, run: RunTracker) -> None:
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunTracking:
        spidercls = getattr(crawler, "spidercls", None)
        source = getattr(spidercls, "source", None) or getattr(spidercls, "name", "unknown")
        ext = cls(RunTracker(source=str(source), stats=crawler.stats,
                             cookie_config=getattr(crawler.spider, "cookie_config", None)))
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        """A pipeline dropped ``item``: count its reason (``dropped`` for a DropItem that is not ours)."""
        reason = exception.reason if isinstance(exception, Dropped) else "dropped"
        source = getattr(item, "source", None)
        self.run.count_drop(reason, doc_source=source)
        if isinstance(exception, Dropped) and exception.lost and source:
            self.run.failed_targets.add((source, getattr(item, "target", "")))

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        """An item stage raised something other than DropItem: the item is lost to this run, so the run says
        so (an error with the item and the exception) and its target's cursor stays, to fetch it again."""
        source = getattr(item, "source", None)
        what = f"{source}/{getattr(item, 'source_id', '?')}" if source else type(item).__name__
        self.run.error(f"{getattr(response, 'url', '?')}: item {what} failed: {failure.getErrorMessage()}",
                       target=_target(item))

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        meta = getattr(getattr(response, "request", None), "meta", {}) or {}
        cursor = meta.get("voc_cursor")
        self.run.error(f"{getattr(response, 'url', '?')}: {failure.getErrorMessage()}",
                       target=tuple(cursor) if cursor else None)


def tracker(crawler: Any) -> RunTracker:
    """The crawler's run tracker (its :class:`RunTracking` extension's)."""
    ext = crawler.get_extension(RunTracking)
    if ext is None:
        raise RuntimeError("crawlers.tracking.RunTracking is not among the crawler's EXTENSIONS "
                           "(crawlers.config.scrapy_settings lists it)")
    run: RunTracker = ext.run
    return run
