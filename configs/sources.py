"""`sources.yaml` — the products to listen for and, per product, each source's targets."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SourceSettings", "AppStoreTarget", "ForumTarget", "Product", "SourcesFile"]


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    """Per-source settings under ``sources.<name>``."""

    enabled: bool = True
    base_url: str | None = None
    obey_robots_txt: bool = False
    #: cron expression for ``voc schedule``.
    schedule: str | None = None
    #: Environment variable holding one or more cookies (accounts separated by a line with ``---``).
    cookies_env: str | None = None
    download_delay: float | None = None


@dataclass(frozen=True, kw_only=True)
class AppStoreTarget:
    app_ids: tuple[str, ...] = ()
    country: str = "cn"
    max_pages: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.max_pages <= 10:
            raise ValueError(f"max_pages must be between 1 and 10 (the feed's limit), got {self.max_pages}")


@dataclass(frozen=True, kw_only=True)
class ForumTarget:
    name: str
    base_url: str
    forum_ids: tuple[str, ...] = ()
    encoding: str | None = None
    max_pages: int = 5


@dataclass(frozen=True, kw_only=True)
class Product:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    #: Feature names added to the segmentation dictionary.
    features: tuple[str, ...] = ()
    appstore: AppStoreTarget | None = None
    forum: tuple[ForumTarget, ...] = ()

    def __post_init__(self) -> None:
        if not self.id or not self.id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"product id must be letters, digits, - or _, got {self.id!r}")


@dataclass(frozen=True, kw_only=True)
class SourcesFile:
    sources: dict[str, SourceSettings] = field(default_factory=dict)
    products: tuple[Product, ...] = ()

    def __post_init__(self) -> None:
        ids = [p.id for p in self.products]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"product ids must be unique, repeated: {', '.join(dupes)}")

    def product(self, product_id: str) -> Product:
        for p in self.products:
            if p.id == product_id:
                return p
        raise KeyError(f"unknown product {product_id!r}; configured: {', '.join(p.id for p in self.products)}")

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name) or SourceSettings()
