"""The one adapter from VOC's typed :class:`~configs.Settings` to Scrapy settings.

Every process loads VOC settings once (``configs.load_settings()``, honouring ``VOC_CONFIG_DIR`` and
``VOC_HOME``) and turns them into Scrapy settings here; crawler components read their values from the
Scrapy settings (prefixed keys with a ``<PREFIX>_ENABLED`` flag) and reach the VOC object itself through
:func:`voc_settings`. Per-source values (robots.txt, delay, user agents) are applied by each spider's
``update_settings`` through :func:`source_overrides`.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from configs import Settings, load_settings
from configs.times import parse_duration
from crawlers.items import FeedbackItem

__all__ = ["SettingsRef", "scrapy_settings", "source_overrides", "voc_settings", "parse_since", "DEFAULT_BASE_URLS",
           "PIPELINES", "EXPORT_FIELDS"]

#: Where each source lives when ``sources.<name>.base_url`` is not set.
DEFAULT_BASE_URLS = {
    "appstore": "https://itunes.apple.com",
    "huawei": "https://web-drcn.hispace.dbankcloud.com",
    "xiaomi": "https://app.market.xiaomi.com",
    "yyb": "https://sj.qq.com",
    "weibo": "https://m.weibo.cn",
    "zhihu": "https://www.zhihu.com",
    "tieba": "https://tieba.baidu.com",
    "heimao": "https://tousu.sina.com.cn",
    "v2ex": "https://www.v2ex.com",
}

#: The item pipelines in design.md order.
PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.NormalizePipeline": 200,
    "crawlers.pipelines.DedupePipeline": 300,
    "crawlers.pipelines.ClassifyPipeline": 400,
    "crawlers.pipelines.IndexPipeline": 500,
    "crawlers.pipelines.CursorPipeline": 600,
}

#: What ``scrapy crawl … -O items.jsonl`` writes: the raw item fields (not the pipelines' document).
EXPORT_FIELDS = [f.name for f in fields(FeedbackItem) if f.metadata.get("export", True)]


class SettingsRef:
    """Carries the VOC Settings object inside Scrapy settings (which deep-copy their values)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __deepcopy__(self, memo: dict[int, Any]) -> SettingsRef:
        return self

    def __repr__(self) -> str:
        return f"<SettingsRef {self.settings.config_dir}>"


_loaded: Settings | None = None


def voc_settings(scrapy_settings: Any) -> Settings:
    """The VOC settings behind a crawler's Scrapy settings (loaded once per process when absent)."""
    global _loaded
    ref = scrapy_settings.get("VOC_SETTINGS") if scrapy_settings is not None else None
    if isinstance(ref, SettingsRef):
        return ref.settings
    if _loaded is None:
        _loaded = load_settings()
    return _loaded


def switched_on(crawler: Any, switch: str) -> Any:
    """The crawler's Scrapy settings, or :class:`NotConfigured` when ``switch`` (a ``VOC_*_ENABLED`` setting,
    on unless set false) is off: how each VOC pipeline and middleware opts out."""
    from scrapy.exceptions import NotConfigured  # here: starting a crawl must not import Scrapy in the caller

    s = crawler.settings
    if not s.getbool(switch, True):
        raise NotConfigured(f"{switch} is off")
    return s


#: Scrapy base extensions VOC replaces with its own subclass.
_OWN_EXTENSIONS = {"scrapy.extensions.corestats.CoreStats": "crawlers.extensions.CoreStats"}


def scrapy_settings(settings: Settings, *, run_id: str | None = None) -> dict[str, Any]:
    """Scrapy settings for every VOC spider, from the ``crawl`` section (see crawlers/README.md)."""
    c = settings.crawl
    from scrapy.settings.default_settings import EXTENSIONS_BASE

    return {
        "BOT_NAME": "voc",
        "SPIDER_MODULES": ["crawlers.spiders"],
        "NEWSPIDER_MODULE": "crawlers.spiders",
        "VOC_SETTINGS": SettingsRef(settings),
        "VOC_RUN_ID": run_id,
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": c.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": c.download_delay,
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(c.download_delay, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": c.autothrottle_max_delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": c.autothrottle_target_concurrency,
        "DOWNLOAD_TIMEOUT": c.download_timeout,
        "DOWNLOAD_MAXSIZE": c.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "USER_AGENT": c.user_agents[0],
        "COOKIES_ENABLED": False,  # accounts' cookies are set per request by VocRotationMiddleware
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "RETRY_ENABLED": False,  # replaced by BackoffRetryMiddleware
        "VOC_RETRY_ENABLED": c.retry_times > 0,
        "VOC_RETRY_TIMES": c.retry_times,
        "VOC_RETRY_BACKOFF_BASE": c.retry_backoff_base,
        "VOC_RETRY_BACKOFF_MAX": c.retry_backoff_max,
        "VOC_RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "VOC_ROTATE_ENABLED": True,
        "VOC_ROTATE_USER_AGENTS": list(c.user_agents),
        "VOC_ROTATE_PROXIES": list(c.proxies),
        "VOC_BLOCKS_ENABLED": True,
        "VOC_STATE_ENABLED": True,
        "VOC_STATE_PATH": str(settings.resolve(c.state_path)),
        "VOC_QUARANTINE_DIR": str(settings.resolve(c.quarantine_dir)),
        "VOC_QUARANTINE_MAX_BYTES": c.quarantine_max_bytes,
        "VOC_VALIDATE_ENABLED": True,
        "VOC_NORMALIZE_ENABLED": True,
        "VOC_NORMALIZE_PSEUDONYMIZE": settings.voc.privacy.pseudonymize_authors,
        "VOC_DEDUPE_ENABLED": True,
        "VOC_CLASSIFY_ENABLED": True,
        "VOC_CLASSIFY_BATCH_SIZE": c.batch_size,
        "VOC_CLASSIFY_BATCH_WAIT": c.batch_wait,
        "VOC_CLASSIFY_IN": c.classify_in,
        "VOC_INDEX_ENABLED": True,
        "VOC_INDEX_BATCH_SIZE": c.batch_size,
        "VOC_CURSOR_ENABLED": True,
        "ITEM_PIPELINES": dict(PIPELINES),
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawlers.middlewares.VocRotationMiddleware": 450,
            "crawlers.middlewares.BackoffRetryMiddleware": 550,
            "crawlers.middlewares.BlockDetectionMiddleware": 650,
        },
        "EXTENSIONS": {"crawlers.tracking.RunTracking": 0, "crawlers.extensions.RunStateExtension": 100,
                       "crawlers._progress.ProgressExtension": 110},
        # Scrapy imports every listed extension's module, even one turned off with None; RemoteControl's
        # imports aiohttp (~80 ms of every crawl's start), so it is left out of the base list itself.
        # CoreStats is ours: the item count comes from ITEM_PROCESSOR, not a per-item signal receiver.
        "EXTENSIONS_BASE": {_OWN_EXTENSIONS.get(k, k): v for k, v in EXTENSIONS_BASE.items()
                            if not k.endswith(".RemoteControl")},
        "ITEM_PROCESSOR": "crawlers.pipelines.ItemPipelines",
        "FEED_EXPORT_FIELDS": list(EXPORT_FIELDS),
        "FEED_EXPORT_ENCODING": "utf-8",
    }


def source_overrides(settings: Settings, source: str) -> dict[str, Any]:
    """The per-source part: robots.txt, delay, per-domain concurrency, user agents."""
    src = settings.sources.source(source)
    out: dict[str, Any] = {"ROBOTSTXT_OBEY": src.obey_robots_txt}
    if src.download_delay is not None:
        out["DOWNLOAD_DELAY"] = src.download_delay
        out["AUTOTHROTTLE_START_DELAY"] = max(src.download_delay, 0.1)
    if src.concurrent_requests_per_domain is not None:
        out["CONCURRENT_REQUESTS_PER_DOMAIN"] = src.concurrent_requests_per_domain
    if src.user_agents:
        out["VOC_ROTATE_USER_AGENTS"] = list(src.user_agents)
        out["USER_AGENT"] = src.user_agents[0]
    return out


_REL = re.compile(r"^\s*[0-9]+\s*[smhdw]\s*$")  # a duration in configs.times grammar


def parse_since(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """``7d``, ``24h``, ``30m``, ``2w``, ``2026-11-01`` or an ISO time → aware UTC datetime (None stays None).

    Raises ValueError naming the value when it is none of these.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if _REL.match(value):
        return now - parse_duration(value)
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since must look like 7d, 24h, 30m or a date (2026-11-01), got {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
