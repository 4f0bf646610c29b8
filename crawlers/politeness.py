"""Per-domain politeness held across every worker of a Redis frontier (:mod:`crawlers.frontier`)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals

from crawlers.frontier import OnFrontier

__all__ = ["GlobalPolitenessMiddleware"]


#: Reserve the next request slot of a domain: returns the seconds to wait (server time, so workers' clocks may
#: differ). KEYS[1] the domain's next-free time; ARGV[1] the delay in seconds.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local delay = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nxt)
redis.call('SET', KEYS[1], tostring(at + delay), 'PX', math.ceil((at + delay - now) * 1000) + 60000)
return tostring(at - now)
"""

#: Take one of a domain's concurrency slots (a lease that expires, so a dead worker's slots come back):
#: KEYS[1] the zset of leases; ARGV: limit, lease id, lease seconds. 1 when taken (or already ours: the client
#: retried a call whose reply was lost), 0 when all are in use.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
  return 1
end
return 0
"""


class GlobalPolitenessMiddleware(OnFrontier):
    """Downloader middleware: a domain's ``DOWNLOAD_DELAY`` and ``CONCURRENT_REQUESTS_PER_DOMAIN`` (the source's own
    values) hold across every worker — each request reserves its start time and a concurrency lease in Redis. The
    worker's own Scrapy delay is set to 0 (the global one replaces it)."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self.delay = s.getfloat("DOWNLOAD_DELAY")
        self.concurrency = s.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.lease = max(s.getfloat("DOWNLOAD_TIMEOUT") * 2, 10.0)
        self.reserve = self.redis.register_script(_RESERVE)
        self.acquire = self.redis.register_script(_ACQUIRE)
        crawler.signals.connect(self._opened, signal=signals.spider_opened)

    def _opened(self, spider: Any) -> None:
        spider.download_delay = 0  # Scrapy's per-worker slot delay: the global one is enforced here

    @staticmethod
    def domain(request: Any) -> str | None:
        parts = urlsplit(request.url)
        return parts.netloc.lower() if parts.scheme in ("http", "https") else None

    async def process_request(self, request: Any, spider: Any = None) -> None:
        domain = self.domain(request)
        if domain is None or request.meta.get("voc_lease"):
            return None
        lease = uuid.uuid4().hex
        slots = self.keys.slots(domain)
        while not self.acquire(keys=[slots], args=[self.concurrency, lease, self.lease]):
            await asyncio.sleep(0.02)
        request.meta["voc_lease"] = (slots, lease)
        wait = float(self.reserve(keys=[self.keys.polite(domain)], args=[self.delay]))
        if wait > 0:
            await asyncio.sleep(wait)
        return None

    def _release(self, request: Any) -> None:
        lease = request.meta.pop("voc_lease", None)
        if lease:
            self.redis.zrem(*lease)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        self._release(request)
        return response

    def process_exception(self, request: Any, exception: Any, spider: Any = None) -> None:
        self._release(request)
        return None
