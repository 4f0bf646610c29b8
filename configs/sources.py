"""`sources.yaml` — the products to listen for and, per product, each source's targets.

``sources.<name>`` holds per-source settings (base URL, robots.txt, delays, cookies env var);
``products[].<source>`` holds that product's targets for the source (app ids, keywords, bars, forums…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "SourceSettings", "PagedTarget", "AppStoreTarget", "HuaweiTarget", "XiaomiTarget", "YybTarget", "WeiboTarget", "ZhihuTarget",
    "TiebaTarget", "HeimaoTarget", "V2exTarget", "ForumSelectors", "ForumTarget", "Product", "SourcesFile",
    "SOURCE_NAMES",
]

#: Every spider's name; ``sources.<name>`` keys must be one of these.
SOURCE_NAMES = ("appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex", "forum")


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
    #: Overrides ``crawl.concurrent_requests_per_domain`` for this source.
    concurrent_requests_per_domain: int | None = None
    #: Overrides ``crawl.user_agents`` for this source (e.g. a mobile UA for m.weibo.cn).
    user_agents: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PagedTarget:
    """A product's targets on a source whose lists are walked page by page, at most ``max_pages`` each."""

    max_pages: int = 5

    def __post_init__(self) -> None:
        if self.max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {self.max_pages}")


@dataclass(frozen=True, kw_only=True)
class AppStoreTarget(PagedTarget):
    app_ids: tuple[str, ...] = ()
    country: str = "cn"
    max_pages: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.max_pages <= 10:
            raise ValueError(f"max_pages must be between 1 and 10 (the feed's limit), got {self.max_pages}")


@dataclass(frozen=True, kw_only=True)
class HuaweiTarget(PagedTarget):
    #: AppGallery ids, the ``C…`` in ``https://appgallery.huawei.com/app/C…``.
    app_ids: tuple[str, ...] = ()
    max_pages: int = 5


@dataclass(frozen=True, kw_only=True)
class XiaomiTarget(PagedTarget):
    """Xiaomi GetApps (小米应用商店) app-market comment API (``/apm/comment/list/{id}``)."""

    #: Numeric app-market ids (the ``{id}`` in ``/apm/comment/list/{id}``).
    app_ids: tuple[str, ...] = ()
    #: App id → package name; reviews then link to ``https://app.mi.com/details?id={package}``.
    packages: dict[str, str] = field(default_factory=dict)
    #: The ``clientId`` query value (a 32-hex device id); empty → a stable id derived from the app id.
    client_id: str = ""
    #: The ``os`` query value (a ROM build string in the market app's own requests).
    os: str = "1"
    max_pages: int = 5

    def __post_init__(self) -> None:
        bad = [a for a in self.app_ids if not str(a).isdigit()]
        if bad:
            raise ValueError(f"xiaomi app_ids must be numeric app-market ids, got {bad[0]!r}")
        unknown = sorted(set(self.packages) - set(self.app_ids))
        if unknown:
            raise ValueError(f"xiaomi packages name app ids not in app_ids: {', '.join(unknown)}")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class YybTarget(PagedTarget):
    """Tencent MyApp (应用宝): the review page's embedded data (only its first page of comments)."""

    #: Android package names (``https://sj.qq.com/appdetail/{package}``).
    packages: tuple[str, ...] = ()
    #: Use the legacy JSON API ``/myapp/app/comment.htm`` (paged; probably retired) instead of the page.
    legacy_api: bool = False
    #: Pages of the legacy API (the review page has one page only).
    max_pages: int = 5

    def __post_init__(self) -> None:
        bad = [p for p in self.packages if not re.fullmatch(r"[A-Za-z]\w*(\.[A-Za-z_]\w*)+", p, re.ASCII)]
        if bad:
            raise ValueError(f"yyb packages must be Android package names like com.example.app, got {bad[0]!r}")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class WeiboTarget(PagedTarget):
    keywords: tuple[str, ...] = ()
    max_pages: int = 5
    #: Also fetch the comments of each matching post.
    comments: bool = True
    max_comment_pages: int = 3


@dataclass(frozen=True, kw_only=True)
class ZhihuTarget(PagedTarget):
    keywords: tuple[str, ...] = ()
    question_ids: tuple[str, ...] = ()
    max_pages: int = 3
    comments: bool = True


@dataclass(frozen=True, kw_only=True)
class TiebaTarget(PagedTarget):
    bars: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    max_pages: int = 3
    #: Open each listed thread and collect its replies.
    threads: bool = True


@dataclass(frozen=True, kw_only=True)
class HeimaoTarget(PagedTarget):
    keywords: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    max_pages: int = 5


@dataclass(frozen=True, kw_only=True)
class V2exTarget(PagedTarget):
    nodes: tuple[str, ...] = ()
    topic_ids: tuple[str, ...] = ()
    #: Also fetch the replies of each topic.
    replies: bool = True
    max_pages: int = 3


@dataclass(frozen=True, kw_only=True)
class ForumSelectors:
    """CSS selectors overriding the Discuz! X2.5–X3.5 defaults (``crawlers.parsers.discuz.DEFAULT_SELECTORS``)
    for forked templates; leave a key out to keep the default."""

    thread_row: str | None = None
    thread_title: str | None = None
    thread_author: str | None = None
    thread_date: str | None = None
    thread_replies: str | None = None
    thread_views: str | None = None
    post: str | None = None
    post_body: str | None = None
    post_author: str | None = None
    post_time: str | None = None
    post_floor: str | None = None
    post_locked: str | None = None
    subject: str | None = None
    next: str | None = None

    def overrides(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True, kw_only=True)
class ForumTarget(PagedTarget):
    name: str
    base_url: str
    forum_ids: tuple[str, ...] = ()
    #: Page encoding when the site does not declare it (GBK sites are decoded as gb18030).
    encoding: str | None = None
    max_pages: int = 5
    #: Thread pages per thread.
    max_thread_pages: int = 3
    #: URL style: ``forum.php?mod=forumdisplay&fid=…`` (false) or rewritten ``forum-{fid}-{page}.html`` (true).
    rewrite: bool = False
    selectors: ForumSelectors = field(default_factory=ForumSelectors)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"forum name must be letters, digits, - or _, got {self.name!r}")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class Product:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    #: Feature names added to the segmentation dictionary.
    features: tuple[str, ...] = ()
    appstore: AppStoreTarget | None = None
    huawei: HuaweiTarget | None = None
    xiaomi: XiaomiTarget | None = None
    yyb: YybTarget | None = None
    weibo: WeiboTarget | None = None
    zhihu: ZhihuTarget | None = None
    tieba: TiebaTarget | None = None
    heimao: HeimaoTarget | None = None
    v2ex: V2exTarget | None = None
    forum: tuple[ForumTarget, ...] = ()

    def __post_init__(self) -> None:
        if not self.id or not self.id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"product id must be letters, digits, - or _, got {self.id!r}")
        names = [f.name for f in self.forum]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"forum names must be unique within a product, repeated: {', '.join(dupes)}")

    def targets(self, source: str) -> object | None:
        """This product's targets for ``source`` (None or an empty tuple when it has none)."""
        return getattr(self, source, None)


@dataclass(frozen=True, kw_only=True)
class SourcesFile:
    sources: dict[str, SourceSettings] = field(default_factory=dict)
    products: tuple[Product, ...] = ()

    def __post_init__(self) -> None:
        ids = [p.id for p in self.products]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"product ids must be unique, repeated: {', '.join(dupes)}")
        unknown = sorted(set(self.sources) - set(SOURCE_NAMES))
        if unknown:
            raise ValueError(f"unknown source {unknown[0]!r} under sources (known: {', '.join(SOURCE_NAMES)})")

    def product(self, product_id: str) -> Product:
        for p in self.products:
            if p.id == product_id:
                return p
        raise KeyError(f"unknown product {product_id!r}; configured: {', '.join(p.id for p in self.products)}")

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name) or SourceSettings()
