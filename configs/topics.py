"""`topics.yaml` — the one topic taxonomy used for tagging, search and alerts."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topic", "TopicsFile"]


@dataclass(frozen=True, kw_only=True)
class Topic:
    id: str
    name: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.keywords and not self.examples:
            raise ValueError(f"topic {self.id!r} needs keywords or examples to be recognised")


@dataclass(frozen=True, kw_only=True)
class TopicsFile:
    topics: tuple[Topic, ...] = ()

    def __post_init__(self) -> None:
        ids = [t.id for t in self.topics]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"topic ids must be unique, repeated: {', '.join(dupes)}")
