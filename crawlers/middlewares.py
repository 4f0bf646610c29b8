"""Downloader middlewares: rotation (user agent, proxy, account cookies), backoff retries, block detection.

* :class:`VocRotationMiddleware` (``VOC_ROTATE_*``) sets a user agent and proxy per request, in turn, and
  the next active account's cookies from the env var named by ``sources.<name>.cookies_env``.
* :class:`BackoffRetryMiddleware` (``VOC_RETRY_*``) retries transient failures (5xx, 408, timeouts,
  connection errors) ``VOC_RETRY_TIMES`` times, waiting ``BACKOFF_BASE · 2^n`` seconds (capped at
  ``BACKOFF_MAX``); an oversized page (``DOWNLOAD_MAXSIZE``) is dropped with the counted reason
  ``too_large``; a request that still fails is counted as an error of its source and target.
* :class:`BlockDetectionMiddleware` (``VOC_BLOCKS_*``) runs ``crawlers.parsers.blocks.detect_block`` on
  every response. A login wall met with an account's cookie retires that cookie and retries with the next
  one; otherwise the source is marked blocked with the reason and the fix, and its remaining requests
  are skipped, while other sources' crawlers go on.

Requests carry ``meta["voc_cursor"] = (doc source, target)`` so failures are charged to the right target.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.utils.misc import load_object

from crawlers.config import switched_on, voc_settings
from crawlers.tracking import AccountPool, RunTracker, tracker

__all__ = ["VocRotationMiddleware", "BackoffRetryMiddleware", "BlockDetectionMiddleware"]

logger = logging.getLogger(__name__)


def _cursor(request: Any) -> tuple[str, str] | None:
    value = request.meta.get("voc_cursor")
    return (str(value[0]), str(value[1])) if value else None


class VocRotationMiddleware:
    def __init__(self, *, user_agents: list[str], proxies: list[str] | None = None,
                 accounts: AccountPool | None = None, run: RunTracker | None = None) -> None:
        self._uas = itertools.cycle(user_agents) if user_agents else None
        self._proxies = itertools.cycle(proxies) if proxies else None
        self.accounts = accounts
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Any) -> VocRotationMiddleware:
        s = switched_on(crawler, "VOC_ROTATE_ENABLED")
        t = tracker(crawler)
        settings = voc_settings(s)
        env_name = settings.sources.source(t.source).cookies_env
        if env_name:
            t.accounts = AccountPool.from_secret(t.source, settings.secrets.get(env_name), env_name=env_name)
        return cls(user_agents=s.getlist("VOC_ROTATE_USER_AGENTS"), proxies=s.getlist("VOC_ROTATE_PROXIES"),
                   accounts=t.accounts, run=t)

    def process_request(self, request: Any) -> None:
        t = self.run
        if t is not None and t.draining and not request.meta.get("voc_ignore_block"):
            raise IgnoreRequest(f"{t.source} is blocked")
        if self._uas is not None and b"User-Agent" not in request.headers:
            request.headers[b"User-Agent"] = next(self._uas)
        if self._proxies is not None and "proxy" not in request.meta:
            request.meta["proxy"] = next(self._proxies)
        if self.accounts is not None and self.accounts.cookies and "voc_account" not in request.meta:
            picked = self.accounts.next()
            if picked is None:
                return None
            index, cookie = picked
            request.meta["voc_account"] = index
            if request.meta.get("playwright"):
                # Chromium ignores a Cookie header set on a request: give each account its own browser context.
                origin = "{0.scheme}://{0.netloc}".format(urlsplit(request.url))
                request.meta["playwright_context"] = f"voc-account-{index + 1}"
                request.meta["playwright_context_kwargs"] = {"storage_state": {"cookies": browser_cookies(cookie, origin),
                                                                               "origins": []}}
            else:
                request.headers[b"Cookie"] = cookie
        return None


def browser_cookies(cookie: str, url: str) -> list[dict[str, str]]:
    """``"a=1; b=2"`` → Playwright cookies for ``url``."""
    out = []
    for part in cookie.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            out.append({"name": name.strip(), "value": value.strip(), "url": url})
    return out


class BackoffRetryMiddleware:
    def __init__(self, *, retry_times: int, http_codes: list[int], exceptions: tuple[type[BaseException], ...],
                 backoff_base: float = 1.0, backoff_max: float = 60.0, crawler: Any = None) -> None:
        self.retry_times, self.http_codes, self.exceptions = retry_times, set(http_codes), exceptions
        self.backoff_base, self.backoff_max, self.crawler = backoff_base, backoff_max, crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> BackoffRetryMiddleware:
        s = switched_on(crawler, "VOC_RETRY_ENABLED")
        excs = tuple(load_object(x) if isinstance(x, str) else x for x in s.getlist("RETRY_EXCEPTIONS"))
        return cls(retry_times=s.getint("VOC_RETRY_TIMES", 3), http_codes=[int(c) for c in s.getlist("VOC_RETRY_HTTP_CODES")],
                   exceptions=excs, backoff_base=s.getfloat("VOC_RETRY_BACKOFF_BASE", 1.0),
                   backoff_max=s.getfloat("VOC_RETRY_BACKOFF_MAX", 60.0), crawler=crawler)

    def delay(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_base * (2 ** attempt)))

    async def _retry(self, request: Any, reason: str) -> Any:
        attempt = int(request.meta.get("retry_times", 0))
        new = get_retry_request(request, spider=self.crawler.spider, reason=reason, max_retry_times=self.retry_times,
                                stats_base_key="voc/retry")
        if new is None:
            tracker(self.crawler).error(f"{request.url}: {reason} (gave up after {self.retry_times} retries)",
                                        target=_cursor(request))
            return None
        wait = self.delay(attempt)
        if wait > 0:
            await asyncio.sleep(wait)
        return new

    async def process_response(self, request: Any, response: Any) -> Any:
        if response.status in self.http_codes and not request.meta.get("dont_retry"):
            new = await self._retry(request, f"HTTP {response.status}")
            return new if new is not None else response
        return response

    async def process_exception(self, request: Any, exception: BaseException) -> Any:
        if isinstance(exception, DownloadCancelledError):
            t = tracker(self.crawler)
            t.count_drop("too_large", doc_source=(_cursor(request) or (None,))[0])
            t.error(f"{request.url}: page larger than DOWNLOAD_MAXSIZE, dropped", target=_cursor(request))
            raise IgnoreRequest(f"too_large: {request.url}")
        if isinstance(exception, self.exceptions) and not request.meta.get("dont_retry"):
            new = await self._retry(request, type(exception).__name__)
            if new is not None:
                return new
            raise IgnoreRequest(f"gave up: {type(exception).__name__}: {request.url}")
        return None


class BlockDetectionMiddleware:
    def __init__(self, *, detect: Any, crawler: Any = None) -> None:
        self.detect, self.crawler = detect, crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> BlockDetectionMiddleware:
        switched_on(crawler, "VOC_BLOCKS_ENABLED")
        from crawlers.parsers.blocks import detect_block

        return cls(detect=detect_block, crawler=crawler)

    def process_response(self, request: Any, response: Any) -> Any:
        t = tracker(self.crawler)
        cursor = _cursor(request)
        source = cursor[0] if cursor else t.source
        try:
            block = self.detect(source, response.status, response.headers, response.body)
        except Exception as exc:  # noqa: BLE001 - never crash on a strange response
            logger.warning("block detection failed on %s: %r", response.url, exc)
            return response
        if block is None:
            return response
        self.crawler.stats.inc_value("voc/blocks/" + block.kind)
        account = request.meta.get("voc_account")
        if account is not None and t.accounts is not None and block.kind in ("login", "captcha"):
            msg = t.accounts.retire(int(account), f"{block.kind}: {block.reason}")
            t.notes.append(msg)
            if t.accounts.active:
                meta = {k: v for k, v in request.meta.items()
                        if k not in ("voc_account", "playwright_context", "playwright_context_kwargs")}
                headers = request.headers.copy()
                headers.pop(b"Cookie", None)
                return request.replace(meta=meta, headers=headers, dont_filter=True)
            fix = f"{block.fix} (every cookie in {t.accounts.env_name} was retired)"
            t.block(block.reason, fix, target=cursor, kind="forbidden")
        else:
            t.block(block.reason, block.fix, target=cursor, kind=block.kind)
        t.count_drop("blocked", doc_source=cursor[0] if cursor else None)
        raise IgnoreRequest(f"{source} blocked: {block}")
