"""The durable item queue between crawl workers and tag workers: a Redis Stream with a consumer group.

Crawl workers (on the frontier, :mod:`crawlers.frontier`) run validate → normalize → dedupe, then
:class:`QueuePipeline` appends each document to ``<prefix>:items`` (XADD). Tag workers (:func:`run_tag_worker`,
``voc worker tag``) read it as members of the group ``taggers`` (XREADGROUP), link reposts (``dup_of``, through ``<prefix>:texts``), classify a batch, upsert it into
the index, record each target's newest indexed time for the round's cursors, and only then acknowledge and delete
the entries (XACK + XDEL in one transaction). An entry a worker took and never acknowledged — the worker died, or
Redis restarted between its upsert and its ack — is claimed by another after ``crawl.redis.claim_after`` seconds
(XAUTOCLAIM) and processed again: upserts are idempotent by document id, so nothing is lost and nothing doubles.
An entry that cannot be read (not JSON, no id) goes to ``<prefix>:items:dead`` with the reason, never blocking
the others; one that failed ``max_deliveries`` times too (its round's target keeps its cursor).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy.exceptions import NotConfigured

from crawlers.items import FeedbackItem

__all__ = ["GROUP", "stream_key", "QueuePipeline", "TagStats", "run_tag_worker", "ensure_group", "queue_drained"]

logger = logging.getLogger(__name__)

GROUP = "taggers"


def stream_key(prefix: str) -> str:
    return f"{prefix}:items"


def ensure_group(client: Any, prefix: str) -> None:
    """Create the stream and its consumer group (from the first entry) unless they exist."""
    import redis

    try:
        client.xgroup_create(stream_key(prefix), GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def queue_drained(client: Any, prefix: str) -> bool:
    """Every entry of the stream was delivered to a tag worker and acknowledged."""
    ensure_group(client, prefix)
    for group in client.xinfo_groups(stream_key(prefix)):
        if group["name"] in (GROUP, GROUP.encode()):
            lag = group.get("lag")
            if lag is None:  # Redis < 7 does not say; entries left in the stream are unprocessed (we XDEL on ack)
                lag = client.xlen(stream_key(prefix))
            return group["pending"] == 0 and not lag
    return False


class QueuePipeline:
    """The crawl worker's last pipeline on the frontier: the document goes to the item stream (XADD) with its round,
    target and time, instead of to the classifier and the index."""

    def __init__(self, *, client: Any, prefix: str, round_id: str, crawler: Any = None, batch_size: int = 256,
                 wait: float = 0.005) -> None:
        from crawlers.batcher import Batcher

        self.client, self.prefix, self.round, self.crawler = client, prefix, round_id, crawler
        self.key = stream_key(prefix)
        ensure_group(client, prefix)
        # The items of a page (and whatever else arrives within ``wait``) go in one pipelined call: one round trip
        # and, with appendfsync always, one fsync, instead of one per item. Each item moves on once it is in.
        self.batcher = Batcher(self._append, size=batch_size, wait=wait)

    def _append(self, entries: list[dict[str, str]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(self.key, fields)
        return pipe.execute()

    @classmethod
    def from_crawler(cls, crawler: Any) -> QueuePipeline:
        s = crawler.settings
        if not s.getbool("VOC_QUEUE_ENABLED") or not s.get("VOC_FRONTIER_URL"):
            raise NotConfigured("no item queue (VOC_QUEUE_ENABLED off or no frontier)")
        from crawlers.frontier import _client

        pipe = cls(client=_client(), prefix=s.get("VOC_FRONTIER_PREFIX"), round_id=s.get("VOC_FRONTIER_ROUND"),
                   crawler=crawler, batch_size=s.getint("VOC_CLASSIFY_BATCH_SIZE", 256))
        return pipe

    def close_spider(self) -> None:
        self.batcher.flush()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, FeedbackItem) or item.doc is None:
            return item
        created = item.created_at.timestamp() if isinstance(item.created_at, datetime) else ""
        await self.batcher.add({"doc": json.dumps(item.doc, ensure_ascii=False), "round": self.round,
                                "source": item.source, "target": item.target or "", "created": str(created)})
        if self.crawler is not None:
            self.crawler.stats.inc_value("voc/queued")
        return item


@dataclass
class TagStats:
    batches: int = 0
    indexed: int = 0
    claimed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def _decode(fields: dict[Any, Any]) -> dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
            for k, v in fields.items()}


def _bury(client: Any, prefix: str, entry_id: Any, fields: dict[str, str], reason: str) -> None:
    """Move an entry nobody can process to the dead-letter stream, with why; ack it so it never blocks the group."""
    pipe = client.pipeline(transaction=True)
    pipe.xadd(stream_key(prefix) + ":dead", {**fields, "reason": reason[:500]}, maxlen=10000, approximate=True)
    pipe.xack(stream_key(prefix), GROUP, entry_id)
    pipe.xdel(stream_key(prefix), entry_id)
    pipe.execute()
    logger.warning("item %s dead-lettered: %s", entry_id, reason[:200])


def run_tag_worker(settings: Any, url: str, *, consumer: str | None = None, stop: threading.Event | None = None,
                   batch_size: int | None = None, claim_after: float | None = None, block_ms: int = 500,
                   max_deliveries: int = 5, idle_exit: float | None = None,
                   on_batch: Callable[[int], None] | None = None) -> TagStats:
    """Tag and index items from the stream until ``stop`` is set, SIGTERM arrives, or (``idle_exit``) nothing came
    for that many seconds. Returns what it did."""
    from classifier import engagement_flags, load_classifier, make_tokenizer
    from classifier.corrections import CorrectionStore, apply_labels
    from crawlers.frontier import Keys, SharedTexts, connect, worker_id
    from crawlers.pipelines import ClassifyPipeline, apply_tags, text_digest
    from index import open_index

    r = settings.crawl.redis
    prefix = r.prefix
    consumer = consumer or worker_id()
    batch_size = batch_size or settings.crawl.batch_size
    claim_ms = int((claim_after if claim_after is not None else r.claim_after) * 1000)
    if stop is None:  # a worker process of its own: SIGTERM stops it after the batch in hand
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = connect(url)
    ensure_group(client, prefix)
    key = stream_key(prefix)
    texts = SharedTexts(client, prefix)
    classifier = load_classifier(settings)
    index = open_index(settings.index, home=settings.home, tokenizer=make_tokenizer(settings), secrets=settings.secrets)
    labels = settings.resolve(settings.classifier.labels_path)
    corrections = CorrectionStore(labels) if labels.is_file() else None
    viral = settings.classifier.viral_engagement
    stats = TagStats()
    last_work = time.monotonic()
    logger.info("tag worker %s on %s (group %s of %s)", consumer, _safe(url), GROUP, key)
    try:
        while not stop.is_set():
            try:
                _, entries, _ = client.xautoclaim(key, GROUP, consumer, min_idle_time=claim_ms, start_id="0-0",
                                                  count=batch_size)
                entries = [e for e in entries if e and e[1] is not None]
                if entries:
                    stats.claimed += len(entries)
                    client.hincrby(f"{prefix}:stats", "claimed", len(entries))
                if not entries:
                    got = client.xreadgroup(GROUP, consumer, {key: ">"}, count=batch_size, block=block_ms)
                    entries = got[0][1] if got else []
            except Exception as exc:  # noqa: BLE001 - Redis away past the client's retries: wait and go on
                logger.warning("item queue not reachable: %s", exc)
                stop.wait(1.0)
                continue
            if not entries:
                if idle_exit is not None and time.monotonic() - last_work > idle_exit:
                    break
                continue
            last_work = time.monotonic()
            docs: list[tuple[Any, dict[str, str], dict[str, Any]]] = []
            for entry_id, raw in entries:
                fields = _decode(raw)
                try:
                    doc = json.loads(fields.get("doc", ""))
                    if not isinstance(doc, dict) or not doc.get("id") or not isinstance(doc.get("text"), str):
                        raise ValueError("not a feedback document (no id or text)")
                except ValueError as exc:
                    _bury(client, prefix, entry_id, fields, f"unreadable: {exc}")
                    stats.dead += 1
                    continue
                docs.append((entry_id, fields, doc))
            if not docs:
                continue
            try:
                link_reposts(texts, [d for _, _, d in docs], text_digest)
                tags = classifier.predict([ClassifyPipeline.text_of(d) for _, _, d in docs], normalized=True)
                for (_, _, doc), t in zip(docs, tags, strict=True):
                    apply_tags(doc, t, engagement_flags(doc.get("likes"), doc.get("replies"), doc.get("reposts"),
                                                        threshold=viral))
                unique = list({d["id"]: d for _, _, d in docs}.values())
                if corrections is not None:
                    fixed = corrections.latest_labels(d["id"] for d in unique)
                    unique = [apply_labels(d, fixed[d["id"]]) if d["id"] in fixed else d for d in unique]
                index.upsert(unique)
            except Exception as exc:  # noqa: BLE001 - left pending: claimed again later (by any worker)
                stats.errors.append(repr(exc))
                logger.error("tag batch of %d failed (left pending, retried after %.0f s): %r", len(docs),
                             claim_ms / 1000, exc)
                _bury_poison(client, prefix, docs, max_deliveries, stats)
                stop.wait(1.0)
                continue
            pipe = client.pipeline(transaction=True)
            for _, fields, _ in docs:  # the round's cursor marks: newest indexed time per target
                if fields.get("created") and fields.get("target"):
                    pipe.zadd(Keys(prefix, fields["round"]).marks, {f"{fields['source']}\t{fields['target']}":
                                                                   float(fields["created"])}, gt=True)
            ids = [e for e, _, _ in docs]
            pipe.xack(key, GROUP, *ids)
            pipe.xdel(key, *ids)
            pipe.execute()
            stats.batches += 1
            stats.indexed += len(docs)
            client.hincrby(f"{prefix}:stats", "indexed", len(docs))
            if on_batch is not None:
                on_batch(len(docs))
    finally:
        index.close()
        if corrections is not None:
            corrections.close()
    return stats


def link_reposts(texts: Any, docs: list[dict[str, Any]], digest_of: Callable[[dict[str, Any]], str | None]) -> None:
    """Set ``dup_of`` of each document whose text (same product) an earlier-indexed document already had."""
    pairs, owners = [], []
    for doc in docs:
        digest = digest_of(doc)
        if digest is not None:
            pairs.append((digest, doc["id"]))
            owners.append(doc)
    if not pairs:
        return
    for doc, first in zip(owners, texts.claim_many(pairs), strict=True):
        doc["dup_of"] = first if first != doc["id"] else None


def _bury_poison(client: Any, prefix: str, docs: list[tuple[Any, dict[str, str], dict[str, Any]]],
                 max_deliveries: int, stats: TagStats) -> None:
    """Entries delivered ``max_deliveries`` times without success go to the dead letters; their targets fail."""
    from crawlers.frontier import Keys

    try:
        info = client.xpending_range(stream_key(prefix), GROUP, min=docs[0][0], max=docs[-1][0], count=len(docs) * 2)
    except Exception:  # noqa: BLE001
        return
    times = {p["message_id"]: p["times_delivered"] for p in info}
    for entry_id, fields, _ in docs:
        if times.get(entry_id, 0) >= max_deliveries:
            if fields.get("round"):
                client.sadd(Keys(prefix, fields["round"]).failed, f"{fields.get('source')}\t{fields.get('target')}")
            _bury(client, prefix, entry_id, fields, f"failed {times[entry_id]} times: {stats.errors[-1]}")
            stats.dead += 1


def _safe(url: str) -> str:
    from crawlers.frontier import redact

    return redact(url)
