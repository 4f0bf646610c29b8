"""Per-crawler run bookkeeping shared by the spider, middlewares, pipelines and the state extension.

:func:`tracker` returns the one :class:`RunTracker` of a crawler: pages, errors, the block (reason and
fix), targets whose items did not all reach the index (their cursor must not advance), and the pool of
account cookies being rotated.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["RunTracker", "PartTally", "AccountPool", "tracker", "count_drop", "DROPPED_PREFIX"]

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

_trackers: weakref.WeakKeyDictionary[Any, RunTracker] = weakref.WeakKeyDictionary()


def tracker(crawler: Any) -> RunTracker:
    """The crawler's tracker (created on first use; the source is the spider class's ``source``/name)."""
    t = _trackers.get(crawler)
    if t is None:
        spidercls = getattr(crawler, "spidercls", None)
        source = getattr(spidercls, "source", None) or getattr(spidercls, "name", "unknown")
        t = _trackers[crawler] = RunTracker(source=str(source))
    return t


def count_drop(crawler: Any, reason: str, *, doc_source: str | None = None) -> None:
    """Count a dropped page or item under ``voc/dropped/<reason>`` (and its document source's share)."""
    if crawler is None:
        return
    if crawler.stats is not None:
        crawler.stats.inc_value(DROPPED_PREFIX + reason)
    t = tracker(crawler)
    t.drop(reason)
    if doc_source:
        t.part(doc_source).drop(reason)
