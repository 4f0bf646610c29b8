"""What every spider yields: one :class:`FeedbackItem` per post, review, answer, comment or complaint.

Parsers fill it from a source's real response; the item pipelines (validate → normalize → dedupe →
classify → index → cursor) turn it into the feedback document of design.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["FeedbackItem", "doc_id"]


def doc_id(source: str, source_id: str) -> str:
    """The stable document id: re-crawling the same item updates it, never duplicates it."""
    return hashlib.sha1(f"{source}\x1f{source_id}".encode()).hexdigest()[:20]


@dataclass(kw_only=True)
class FeedbackItem:
    source: str  # "appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex", "forum:<name>"
    source_id: str  # the source's own id for the item
    product: str  # configured product id this item was collected for
    target: str = ""  # cursor key within the source: app id, keyword, bar, forum id, …
    url: str = ""
    text: str = ""  # tag-stripped text; emoticons kept as words ("[怒]")
    title: str = ""
    raw_text: str = ""  # the text as received (HTML allowed)
    kind: str = "post"  # review | post | comment | answer | complaint | reply
    parent_id: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    created_at: datetime | None = None  # timezone-aware; stored as UTC
    rating: int | None = None
    app_version: str | None = None
    platform: str | None = None  # ios | android | web …
    likes: int | None = None
    replies: int | None = None
    reposts: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The feedback document the item pipelines build (normalize → classify → index); not exported.
    doc: dict[str, Any] | None = field(default=None, repr=False, compare=False, metadata={"export": False})
    #: The document's :func:`~crawlers.pipelines.text_digest`, once the dedupe pipeline computed it; not exported.
    digest: str | None = field(default=None, repr=False, compare=False, metadata={"export": False})

    @property
    def id(self) -> str:
        return doc_id(self.source, self.source_id)
