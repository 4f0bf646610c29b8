"""`alerts.yaml` — detection rules, subscribers and their channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Rule", "Channel", "Subscriber", "AlertsFile"]


@dataclass(frozen=True, kw_only=True)
class Rule:
    name: str
    kind: Literal["volume_spike", "emerging_terms", "rating_drop", "high_risk"]
    enabled: bool = True
    #: Current window, e.g. ``6h``.
    window: str = "6h"
    sentiment: str | None = "negative"
    min_count: int = 10
    ratio: float = 3.0


@dataclass(frozen=True, kw_only=True)
class Channel:
    name: str
    kind: Literal["webhook", "dingtalk", "wecom", "feishu", "slack", "email", "log"]
    #: Environment variable holding the URL (webhook URLs are secrets on most platforms).
    url_env: str | None = None
    url: str | None = None
    secret_env: str | None = None
    path: str | None = None


@dataclass(frozen=True, kw_only=True)
class Subscriber:
    name: str
    channels: tuple[str, ...]
    products: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    min_severity: Literal["info", "warning", "critical"] = "info"


@dataclass(frozen=True, kw_only=True)
class AlertsFile:
    rules: tuple[Rule, ...] = ()
    channels: tuple[Channel, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()

    def __post_init__(self) -> None:
        names = {c.name for c in self.channels}
        for s in self.subscribers:
            missing = [c for c in s.channels if c not in names]
            if missing:
                raise ValueError(f"subscriber {s.name!r} names unknown channel(s): {', '.join(missing)}")
