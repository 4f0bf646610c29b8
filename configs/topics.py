"""`topics.yaml` — the one topic taxonomy used for tagging, search and alerts."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topic", "TopicsFile", "load_topics_file"]


@dataclass(frozen=True, kw_only=True)
class Topic:
    id: str
    name: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    #: Cue phrases that veto this topic's example evidence (keywords still tag); see classifier.topics.
    exclude: tuple[str, ...] = ()

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


def load_topics_file(path: str) -> TopicsFile:
    """Read and validate another taxonomy file (``voc classify --topics FILE``); raises ConfigError."""
    from pathlib import Path

    from configs._validate import ConfigError, build
    from configs.settings import _read_yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(p), "", "topics file not found")
    return build(TopicsFile, _read_yaml(p), file=str(p))
