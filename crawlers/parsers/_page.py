"""The types every parser returns: :class:`Page`, :class:`Follow` and :class:`Block`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from crawlers.items import FeedbackItem

__all__ = ["MAX_BODY_BYTES", "Block", "Follow", "Page"]

#: Bodies larger than this are dropped unparsed (reason ``too_large``).
MAX_BODY_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Block:
    """A response that is a wall rather than content: what it is, why we think so, how to fix it."""

    kind: str  # login | captcha | rate_limit | forbidden | error
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"{self.reason} — {self.fix}" if self.fix else self.reason


@dataclass(kw_only=True)
class Follow:
    """A child request a list or thread page asks the spider to make."""

    kind: str
    url: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Page:
    """What one response yields."""

    items: list[FeedbackItem] = field(default_factory=list)
    next: str | None = None
    dropped: list[tuple[str, str]] = field(default_factory=list)
    follow: list[Follow] = field(default_factory=list)
    block: Block | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> bool:
        return self.next is None

    def drop(self, reason: str, detail: str = "") -> Page:
        self.dropped.append((reason, detail[:200]))
        return self

    def objects(self, rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """The rows that are JSON objects, in order; every other row is dropped as ``bad_entry``."""
        for row in rows:
            if isinstance(row, dict):
                yield row
            else:
                self.drop("bad_entry", repr(row)[:80])
