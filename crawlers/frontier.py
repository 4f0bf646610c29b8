"""A crawl spread over workers: one Redis frontier (scrapy-redis), politeness held globally, nothing lost when a
worker dies.

Every worker of a *round* (one crawl of some sources, named by its round id) runs the same spiders with
scrapy-redis's scheduler and dupefilter, keyed by the round:

* ``<prefix>:<round>:requests:<spider>`` — the shared request queue (:class:`ReliableQueue`, a scrapy-redis FIFO
  queue whose pop moves the request to the worker's in-flight list ``…:inflight:<worker>`` instead of dropping it);
  a request leaves that list only once its response was handled and every item it yielded reached the item queue
  (:class:`crawlers.acks.AckMiddleware`). A worker whose heartbeat (``<prefix>:<round>:alive:<worker>``) stopped for
  ``crawl.redis.dead_after`` seconds has its in-flight requests pushed back to the queue by any live worker.
* ``<prefix>:<round>:seen:<spider>`` — scrapy-redis's request fingerprints (the dupefilter), per round: a list page
  is fetched once per round however many pages link to it, and again in the next round (periodic re-polling). The
  keys expire ``round_ttl_hours`` after the round.
* Start requests: our spiders keep Scrapy's ``start()`` (scrapy-redis's own ``RedisSpider`` feeds start URLs from a
  Redis list through ``start_requests``, the API Scrapy 2.13 replaced; we use its scheduler, queue and dupefilter,
  not its spiders). The first worker of a round to claim ``<prefix>:<round>:seed:<spider>`` runs ``start()``; the
  others only take requests from the queue. A worker closes its spider when the round's queue and every in-flight
  list are empty and seeding is done.
* Politeness (:class:`crawlers.politeness.GlobalPolitenessMiddleware`): a domain's delay and concurrency are reserved in Redis
  (``<prefix>:polite:<domain>``), so N workers together never exceed one worker's rate.
* Cursors live in Redis (``<prefix>:cursors``: any worker resumes any target); items go to tag workers through the
  stream of :mod:`crawlers.itemqueue`, and the round's coordinator (:mod:`crawlers.rounds`) advances cursors when the
  round is complete.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import FifoQueue
from scrapy_redis.scheduler import Scheduler

__all__ = ["connect", "redact", "Keys", "frontier_settings", "frontier_class", "ReliableQueue", "FrontierScheduler",
           "DupeFilter", "claim_seed", "FrontierExtension", "SharedTexts", "requeue_dead", "round_busy", "worker_id", "wait_ready"]

logger = logging.getLogger(__name__)


def redact(url: str) -> str:
    """A Redis URL fit for a log line: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def connect(url: str, **kwargs: Any) -> Any:
    """A Redis client that rides out a restart of the server (retries with backoff for about a minute on connection
    errors, including the loading phase after an AOF replay)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    params: dict[str, Any] = {"socket_timeout": 30, "socket_connect_timeout": 5, "health_check_interval": 0}
    params.update(kwargs)
    params.setdefault("retry", Retry(ExponentialBackoff(cap=1.0, base=0.05), 60))
    params.setdefault("retry_on_error", [redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError])
    return redis.Redis.from_url(url, **params)


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Keys:
    """The Redis keys of one round (see the module docstring)."""

    def __init__(self, prefix: str, round_id: str) -> None:
        self.prefix, self.round = prefix, round_id
        base = f"{prefix}:{round_id}"
        self.base = base
        self.requests = base + ":requests:%(spider)s"
        self.seen = base + ":seen:%(spider)s"
        self.workers = base + ":workers"  # set of worker ids that ever joined the round
        self.finished = base + ":finished"  # set of worker ids whose spiders closed
        self.failed = base + ":failed"  # set of "source\ttarget" whose walk did not complete
        self.marks = base + ":marks"  # zset "source\ttarget" → newest created_at (epoch s) indexed
        self.cursors = f"{prefix}:cursors"  # hash "source\ttarget" → ISO time, across rounds

    def inflight(self, worker: str) -> str:
        return f"{self.base}:inflight:{worker}"

    def last_pop(self, worker: str) -> str:  # the worker's last pop, for a retry of it (see _POP)
        return f"{self.base}:lastpop:{worker}"

    def alive(self, worker: str) -> str:
        return f"{self.base}:alive:{worker}"

    def seed(self, spider: str) -> str:
        return f"{self.base}:seed:{spider}"

    def polite(self, domain: str) -> str:
        return f"{self.prefix}:polite:{domain}"

    def slots(self, domain: str) -> str:
        return f"{self.prefix}:slots:{domain}"


def frontier_settings(base: dict[str, Any], url: str, *, prefix: str, round_id: str, worker: str, heartbeat: float,
                      dead_after: float, ttl_hours: float) -> dict[str, Any]:
    """``base`` (:func:`crawlers.config.scrapy_settings`) put on the Redis frontier. Items leave through the item
    queue: classify, index and cursor run in the tag workers. (Only here, never in the default settings, are
    scrapy-redis and redis imported: the embedded default needs neither.)"""
    keys = Keys(prefix, round_id)
    return {
        **base,
        "ITEM_PIPELINES": {**base.get("ITEM_PIPELINES", {}), "crawlers.itemqueue.QueuePipeline": 450},
        "DOWNLOADER_MIDDLEWARES": {**base.get("DOWNLOADER_MIDDLEWARES", {}),
                                   "crawlers.politeness.GlobalPolitenessMiddleware": 700},
        "SPIDER_MIDDLEWARES": {**base.get("SPIDER_MIDDLEWARES", {}), "crawlers.acks.AckMiddleware": 50},
        "EXTENSIONS": {**base.get("EXTENSIONS", {}), "crawlers.frontier.FrontierExtension": 110},
        "SCHEDULER": "crawlers.frontier.FrontierScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawlers.frontier.ReliableQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.seen,
        "DUPEFILTER_CLASS": "crawlers.frontier.DupeFilter",
        "SCHEDULER_PERSIST": True,  # the queue belongs to the round, not to one worker
        "SCHEDULER_SERIALIZER": "scrapy_redis.picklecompat",
        # The URL (it may hold a password) stays out of the settings, which Scrapy logs: components read
        # $VOC_FRONTIER_URL, which the runner sets for the child.
        "VOC_FRONTIER_URL": True,
        "VOC_FRONTIER_PREFIX": prefix,
        "VOC_FRONTIER_ROUND": round_id,
        "VOC_FRONTIER_WORKER": worker,
        "VOC_FRONTIER_HEARTBEAT": heartbeat,
        "VOC_FRONTIER_DEAD_AFTER": dead_after,
        "VOC_FRONTIER_TTL": int(ttl_hours * 3600),
        "VOC_STATE_LOCK": False,  # several workers crawl one source at once, by design
        "VOC_CLASSIFY_ENABLED": False,
        "VOC_INDEX_ENABLED": False,
        "VOC_CURSOR_ENABLED": False,
        "VOC_QUEUE_ENABLED": True,
        "AUTOTHROTTLE_ENABLED": False,  # per worker; the global delay below replaces it
    }


def _client(settings: Any = None) -> Any:
    url = os.environ.get("VOC_FRONTIER_URL")
    if not url:
        raise NotConfigured("VOC_FRONTIER_URL is not set: the frontier's Redis is unknown")
    return connect(url)


def _keys(settings: Any) -> Keys:
    return Keys(settings.get("VOC_FRONTIER_PREFIX"), settings.get("VOC_FRONTIER_ROUND"))


# The Redis client retries a command whose connection broke (:func:`connect`): when Redis went away after running it
# but before its reply arrived (a restart, a dropped connection), the command runs twice. Each write below that must
# not run twice carries a token that a retry of the same call repeats (redis-py resends the same arguments), so the
# second run answers what the first did instead of acting again.
_POP = """
local last = redis.call('GET', KEYS[3])
if last and string.sub(last, 1, #ARGV[1]) == ARGV[1] then return string.sub(last, #ARGV[1] + 1) end
local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if v then redis.call('SET', KEYS[3], ARGV[1] .. v, 'EX', ARGV[2]) end
return v
"""
_SEEN = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  return 0
end
if redis.call('GET', KEYS[2]) == ARGV[2] then return 0 end
return 1
"""


def _token() -> str:
    return uuid.uuid4().hex


class ReliableQueue(FifoQueue):
    """scrapy-redis's FIFO queue, but a popped request moves to this worker's in-flight list (LMOVE, once even when
    the client has to retry it) and its encoded form rides along in ``meta['voc_frontier_raw']`` until :meth:`ack`."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        s = spider.crawler.settings
        keys, worker = _keys(s), s.get("VOC_FRONTIER_WORKER")
        self.inflight, self.last_pop = keys.inflight(worker), keys.last_pop(worker)
        self.ttl = s.getint("VOC_FRONTIER_TTL") or 86400
        self._pop = server.register_script(_POP)

    def push(self, request: Any) -> None:
        raw = request.meta.pop("voc_frontier_raw", None)  # a retry of a request this worker holds replaces it
        data = self._encode_request(request)
        pipe = self.server.pipeline(transaction=True)
        pipe.lpush(self.key, data)
        if raw is not None:
            pipe.lrem(self.inflight, 1, raw)
        pipe.execute()

    def pop(self, timeout: int = 0) -> Any:
        # A plain LMOVE retried after a lost reply would move a second request and leave the first in the in-flight
        # list of a live worker that never saw it: the round would never look finished.
        data = self._pop(keys=[self.key, self.inflight, self.last_pop], args=[_token(), self.ttl])
        if not data:
            return None
        request = self._decode_request(data)
        request.meta["voc_frontier_raw"] = data
        return request

    def ack(self, raw: bytes) -> None:
        self.server.lrem(self.inflight, 1, raw)


class DupeFilter(RFPDupeFilter):
    """scrapy-redis's dupefilter (request fingerprints in a Redis set, per round), on our client, and safe to retry:
    a fingerprint this very call added is new even if the client had to send it twice (a plain SADD would answer 0
    the second time and the request would be dropped as seen)."""

    def __init__(self, server: Any, key: str, debug: bool = False, *, worker: str = "", ttl: int = 86400) -> None:
        super().__init__(server, key, debug)
        self.last_key, self.ttl = f"{key}:last:{worker}", ttl
        self._seen = server.register_script(_SEEN)

    @classmethod
    def from_spider(cls, spider: Any) -> DupeFilter:
        s = spider.settings
        return cls(_client(s), key=s.get("SCHEDULER_DUPEFILTER_KEY") % {"spider": spider.name},
                   debug=s.getbool("DUPEFILTER_DEBUG"), worker=s.get("VOC_FRONTIER_WORKER"),
                   ttl=s.getint("VOC_FRONTIER_TTL") or 86400)

    def request_seen(self, request: Any) -> bool:
        fp = self.request_fingerprint(request)
        return bool(self._seen(keys=[self.key, self.last_key], args=[fp, _token() + fp, self.ttl]))


def claim_seed(client: Any, key: str, worker: str, ttl: int) -> bool:
    """Whether ``worker`` is the one to run the round's ``start()``: the first to set ``key`` (a retried SET NX whose
    first reply was lost finds its own value there)."""
    mine = f"by {worker}"
    if client.set(key, mine, nx=True, ex=ttl):
        return True
    return client.get(key) == mine.encode()


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler, on our client (which rides out a Redis restart); the engine asks it for a request
    without blocking (no BRPOP)."""

    @classmethod
    def from_settings(cls, settings: Any) -> FrontierScheduler:
        import importlib

        server = _client(settings)
        server.ping()
        return cls(server=server, persist=True, flush_on_start=False, idle_before_close=0,
                   queue_key=settings.get("SCHEDULER_QUEUE_KEY"), queue_cls=settings.get("SCHEDULER_QUEUE_CLASS"),
                   dupefilter_key=settings.get("SCHEDULER_DUPEFILTER_KEY"),
                   dupefilter_cls=settings.get("DUPEFILTER_CLASS"),
                   serializer=importlib.import_module(settings.get("SCHEDULER_SERIALIZER")))

    def enqueue_request(self, request: Any) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Any:
        request = self.queue.pop(0)
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class SharedTexts:
    """The texts of documents (their :func:`~crawlers.pipelines.text_digest`) → the first document id indexed with it,
    in ``<prefix>:texts``, shared by every tag worker and round: a repost is linked to it (``dup_of``) whichever
    worker crawls or tags which copy. Claimed a batch at a time (one round trip), by the tag workers — per item in the
    crawl worker, the claim was its bottleneck (287 against 4,757 items/s on the 2-core VM). (The single-process crawl
    links across sources only once the other source's spider has closed and recorded its texts, so there the links
    of one run depend on timing.)"""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.key = client, f"{prefix}:texts"

    def claim_many(self, pairs: list[tuple[str, str]]) -> list[str]:
        """For each (digest, document id), in order: the first id with that digest (the document itself if first)."""
        pipe = self.client.pipeline(transaction=True)
        for digest, doc_id in pairs:
            pipe.hsetnx(self.key, digest, doc_id)
            pipe.hget(self.key, digest)
        out = pipe.execute()
        return [(first.decode() if isinstance(first, bytes) else first) or doc_id
                for (_, doc_id), first in zip(pairs, out[1::2], strict=True)]


def requeue_dead(client: Any, keys: Keys, spider: str) -> int:
    """Push the in-flight requests of the round's dead workers (no heartbeat) back to ``spider``'s queue; returns how
    many. Safe to run from several workers at once (each entry moves once: LMOVE)."""
    moved = 0
    queue = keys.requests % {"spider": spider}
    for raw in client.smembers(keys.workers):
        worker = raw.decode() if isinstance(raw, bytes) else raw
        if client.exists(keys.alive(worker)):
            continue
        while client.lmove(keys.inflight(worker), queue, "RIGHT", "RIGHT"):
            moved += 1
            client.hincrby(f"{keys.prefix}:stats", "requeued", 1)
        if moved:
            logger.warning("worker %s of round %s is gone: %d in-flight requests back to the queue", worker,
                           keys.round, moved)
    return moved


def round_busy(client: Any, keys: Keys, spider: str) -> bool:
    """Whether ``spider``'s part of the round has work left: seeding not done, requests queued or in flight."""
    seed = client.get(keys.seed(spider))
    if seed is None or not seed.startswith(b"done"):
        return True
    if client.llen(keys.requests % {"spider": spider}):
        return True
    return any(client.llen(keys.inflight(w.decode())) for w in client.smembers(keys.workers))


class OnFrontier:
    """Base of the components that exist only in a crawl on the frontier (``VOC_FRONTIER_URL`` set): Scrapy builds
    them from the crawler, and leaves them out (:class:`NotConfigured`) otherwise."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.redis = _client(crawler.settings)  # (connects at its first command)
        self.keys = _keys(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        if not crawler.settings.get("VOC_FRONTIER_URL"):
            raise NotConfigured("no frontier")
        return cls(crawler)


class FrontierExtension(OnFrontier):
    """Heartbeat, rescue of dead workers' requests, and the spider kept open while the round has work (any worker's).
    At close it records the targets whose walk did not complete (their cursors stay)."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self.worker = s.get("VOC_FRONTIER_WORKER")
        self.heartbeat = s.getfloat("VOC_FRONTIER_HEARTBEAT")
        self.dead_after = s.getfloat("VOC_FRONTIER_DEAD_AFTER")
        self.ttl = s.getint("VOC_FRONTIER_TTL")
        self._task: Any = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def beat(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.alive(self.worker), b"1", px=int(self.dead_after * 1000))
        pipe.sadd(self.keys.workers, self.worker)
        pipe.expire(self.keys.workers, self.ttl)
        pipe.execute()

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.spider = spider
        self.beat()
        self._task = task.LoopingCall(self._tick)
        self._task.start(self.heartbeat, now=False)

    def _tick(self) -> None:
        try:
            self.beat()
            requeue_dead(self.redis, self.keys, self.spider.name)
        except Exception as exc:  # noqa: BLE001 - Redis away for longer than the client retries: try next tick
            logger.warning("frontier heartbeat failed: %s", exc)

    def spider_idle(self, spider: Any) -> None:
        try:
            requeue_dead(self.redis, self.keys, spider.name)
            busy = round_busy(self.redis, self.keys, spider.name)
        except Exception as exc:  # noqa: BLE001 - cannot tell: stay open and ask again
            logger.warning("frontier not reachable (%s); the spider stays open", exc)
            busy = True
        if busy:
            raise DontCloseSpider("the round still has requests queued or in flight")

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
        from crawlers.tracking import tracker

        t = tracker(self.crawler)
        failed = {f"{s}\t{tg}" for s, tg in (*t.failed_targets, *t.incomplete_targets)}
        pipe = self.redis.pipeline(transaction=False)
        if failed or reason != "finished":
            if reason != "finished":  # shut down early: what this worker held is not known to be complete
                failed.add(f"*\t{self.worker}")
            pipe.sadd(self.keys.failed, *failed)
        pipe.sadd(self.keys.finished, self.worker)
        pipe.delete(self.keys.alive(self.worker))
        for key in (self.keys.failed, self.keys.finished, self.keys.seen % {"spider": spider.name},
                    self.keys.seed(spider.name)):
            pipe.expire(key, self.ttl)
        pipe.execute()


def frontier_class(spidercls: type) -> type:
    """``spidercls`` on the frontier: only the worker that claims the round's seed runs ``start()``; cursors are read
    from Redis (``<prefix>:cursors``) so any worker resumes any target."""

    class Frontier(spidercls):
        async def start(self) -> AsyncIterator[Any]:
            s = self.crawler.settings
            client, keys = _client(s), _keys(s)
            seed = keys.seed(self.name)
            if not claim_seed(client, seed, s.get("VOC_FRONTIER_WORKER"), s.getint("VOC_FRONTIER_TTL")):
                return
            async for request in super().start():
                yield request
            client.set(seed, "done", ex=s.getint("VOC_FRONTIER_TTL"))

        def on_error(self, failure: Any) -> Any:
            # A download that failed (refused, blocked, given up) reaches its errback without the spider middleware:
            # the request is done here.
            try:
                return super().on_error(failure)
            finally:
                request = getattr(failure, "request", None)
                raw = request.meta.get("voc_frontier_raw") if request is not None else None
                from crawlers.acks import ack_middleware

                mw = ack_middleware(self.crawler)
                if raw is not None and mw is not None:
                    mw.finished(raw)

        def cursor(self, doc_source: str, target: str) -> Any:
            if self.since is not None:
                return self.since
            from crawlers.config import parse_since

            value = _client(self.crawler.settings).hget(_keys(self.crawler.settings).cursors, f"{doc_source}\t{target}")
            return parse_since(value.decode()) if value else None

    Frontier.__name__ = Frontier.__qualname__ = spidercls.__name__ + "Frontier"
    Frontier.__module__ = spidercls.__module__
    return Frontier


def wait_ready(client: Any, *, timeout: float = 30.0) -> None:
    """Block until Redis answers PING (raises the last error after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
