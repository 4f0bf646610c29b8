"""Item pipelines, in design.md order: validate → normalize → dedupe → classify → index → cursor.

Each item is a :class:`~crawlers.items.FeedbackItem`; the pipelines build its feedback document in
``item.doc`` and pass the item itself on, so Scrapy's feed export (``-O items.jsonl``) still writes the raw
item. Dropped items raise ``DropItem`` and are counted under ``voc/dropped/<reason>`` in the crawl stats.
Classification and indexing are batched (at most ``VOC_CLASSIFY_BATCH_SIZE`` items; a partial batch goes when
the classifier worker is free, after ``VOC_CLASSIFY_BATCH_WAIT`` seconds at the latest: see :class:`Batcher`),
and both run off the event loop (a classifier worker process or thread; one index thread); the cursor
advances per (source, target) only after the spider finished and every item of that target was upserted.

Settings (each component: ``<PREFIX>_ENABLED``): ``VOC_VALIDATE_*``, ``VOC_NORMALIZE_*``
(``PSEUDONYMIZE``), ``VOC_DEDUPE_*``, ``VOC_CLASSIFY_*`` (``BATCH_SIZE``, ``BATCH_WAIT``),
``VOC_INDEX_*`` (``BATCH_SIZE``), ``VOC_CURSOR_*``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.pipelines import ItemPipelineManager

from configs.times import as_utc as _aware  # naive taken as UTC
from crawlers._classify_worker import worker_spec
from crawlers.config import switched_on, voc_settings
from crawlers.items import FeedbackItem
from crawlers.state import CrawlState, iso
from crawlers.tracking import count_drop, tracker

__all__ = ["ItemPipelines", "ValidatePipeline", "NormalizePipeline", "DedupePipeline", "ClassifyPipeline",
           "IndexPipeline", "CursorPipeline", "Batcher", "drop", "worker_spec", "apply_tags"]

logger = logging.getLogger(__name__)

KINDS = ("review", "post", "comment", "answer", "complaint", "reply")


def drop(crawler: Any, reason: str, detail: str = "", *, source: str | None = None) -> DropItem:
    """Count ``reason`` (for the item's ``source`` too) and return the DropItem to raise (logged at DEBUG:
    drops are counted, not shouted)."""
    count_drop(crawler, reason, doc_source=source)
    return DropItem(f"{reason}: {detail}" if detail else reason, log_level="DEBUG")


def _batch_failed(crawler: Any, item: FeedbackItem, reason: str, what: str, exc: BaseException) -> DropItem:
    """An item whose batch failed: the run records the error once per batch (all its items share the
    exception), the item's target keeps its cursor, and the drop to raise is counted under ``reason``."""
    t = tracker(crawler)
    if not getattr(exc, "_voc_reported", False):
        exc._voc_reported = True  # type: ignore[attr-defined]
        t.error(f"{what} failed: {exc!r}")
    t.failed_targets.add((item.source, item.target))
    return drop(crawler, reason, repr(exc), source=item.source)


def _feedback(item: Any, crawler: Any) -> FeedbackItem:
    if not isinstance(item, FeedbackItem):
        raise drop(crawler, "not_feedback_item", type(item).__name__)
    return item


class ItemPipelines(ItemPipelineManager):
    """Scrapy's pipeline chain (``ITEM_PROCESSOR``), counting ``item_scraped_count`` itself as an item comes
    out of the last pipeline — what :class:`crawlers.extensions.CoreStats` no longer counts per signal."""

    async def process_item_async(self, item: Any) -> Any:
        output = await super().process_item_async(item)
        assert self.crawler is not None and self.crawler.stats is not None  # set by from_crawler
        self.crawler.stats.inc_value("item_scraped_count")
        return output


class ValidatePipeline:
    """Drops items that cannot become a document (no id, no product, no text), or older than ``since``."""

    def __init__(self, *, crawler: Any = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ValidatePipeline:
        switched_on(crawler, "VOC_VALIDATE_ENABLED")
        return cls(crawler=crawler)

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item, self.crawler)
        if not item.source or not str(item.source_id or "").strip():
            raise drop(self.crawler, "missing_id", item.url, source=item.source)
        if not item.product:
            raise drop(self.crawler, "missing_product", item.url, source=item.source)
        if not (item.text or "").strip() and not (item.title or "").strip():
            raise drop(self.crawler, "empty_text", item.source_id, source=item.source)
        if item.kind not in KINDS:
            raise drop(self.crawler, "bad_kind", repr(item.kind), source=item.source)
        if item.created_at is not None and not isinstance(item.created_at, datetime):
            raise drop(self.crawler, "bad_time", repr(item.created_at), source=item.source)
        if item.rating is not None and not (isinstance(item.rating, int) and 1 <= item.rating <= 5):
            item.rating = None
        since = getattr(getattr(self.crawler, "spider", None), "since", None)
        if since is not None and item.created_at is not None and _aware(item.created_at) < since:
            raise drop(self.crawler, "before_since", item.source_id, source=item.source)
        return item


class NormalizePipeline:
    """Builds the document: normalized text and title, jieba ``tokens``, UTC times, optional pseudonyms."""

    def __init__(self, *, normalize: Callable[[str], str], tokenize: Callable[[str], list[str]],
                 pseudonymize: bool = False, crawler: Any = None, clock: Callable[[], datetime] | None = None) -> None:
        self.normalize, self.tokenize, self.pseudonymize = normalize, tokenize, pseudonymize
        self.crawler = crawler
        self.clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        switched_on(crawler, "VOC_NORMALIZE_ENABLED")
        from classifier import make_tokenizer
        from classifier.normalize import normalize_text

        settings = voc_settings(crawler.settings)
        # The text is normalized here already: the segmenter takes it as it is.
        return cls(normalize=normalize_text, tokenize=make_tokenizer(settings).segment_normalized,
                   pseudonymize=crawler.settings.getbool("VOC_NORMALIZE_PSEUDONYMIZE"), crawler=crawler)

    def _pseudo(self, source: str, value: str | None) -> str | None:
        if not value or not self.pseudonymize:
            return value
        return "u_" + hashlib.sha256(f"{source}\x1f{value}".encode()).hexdigest()[:16]

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item, self.crawler)
        text = self.normalize(item.text or "")
        title = self.normalize(item.title or "")
        if not text and not title:
            raise drop(self.crawler, "empty_text", item.source_id, source=item.source)
        tokens = self.tokenize(f"{title} {text}".strip())
        item.doc = {
            "id": item.id, "source": item.source, "source_id": str(item.source_id), "url": item.url or "",
            "parent_id": item.parent_id, "product": item.product, "kind": item.kind, "title": title, "text": text,
            "raw_text": item.raw_text or item.text or "", "tokens": " ".join(tokens),
            "author_id": self._pseudo(item.source, item.author_id),
            "author_name": self._pseudo(item.source, item.author_name),
            "created_at": iso(item.created_at), "crawled_at": iso(self.clock()),
            "rating": item.rating, "app_version": item.app_version, "platform": item.platform,
            "likes": item.likes, "replies": item.replies, "reposts": item.reposts,
            "sentiment": None, "sentiment_score": None, "intent": None, "topics": [], "risk": [],
            "dup_of": None, "model_version": None,
        }
        return item


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def text_digest(doc: dict[str, Any], min_text: int = 8) -> str | None:
    """What makes two documents "the same text": the product and the text without punctuation, spaces or
    symbols (None for texts shorter than ``min_text`` such characters, where sameness means little)."""
    key = _NON_WORD.sub("", doc["text"])
    if len(key) < min_text:
        return None
    return hashlib.sha1(f"{doc['product']}\x1f{key}".encode()).hexdigest()


class DedupePipeline:
    """Within a run: the same id again is dropped unless its counters changed (then it re-upserts, so the
    latest counters win). Identical text (:func:`text_digest`) under another id is linked with ``dup_of`` to
    the first document with it — of this run, or of an earlier one (``state``: the crawl state, where
    :class:`CursorPipeline` records the texts of indexed documents)."""

    def __init__(self, *, crawler: Any = None, state: CrawlState | None = None, min_text: int = 8,
                 link_texts: bool = True) -> None:
        self.crawler = crawler
        self.link_texts = link_texts
        self.state = state
        self.min_text = min_text
        self.seen: dict[str, tuple[Any, ...]] = {}
        self.by_text: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupePipeline:
        s = switched_on(crawler, "VOC_DEDUPE_ENABLED")
        if s.get("VOC_FRONTIER_URL"):  # several workers: the tag workers link reposts, through Redis (itemqueue)
            return cls(crawler=crawler, link_texts=False)
        pipe = cls(crawler=crawler, state=CrawlState(s.get("VOC_STATE_PATH")) if s.get("VOC_STATE_PATH") else None)
        if pipe.state is not None:
            crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def spider_closed(self, spider: Any) -> None:
        if self.state is not None:
            self.state.close()

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item, self.crawler)
        doc = item.doc
        if doc is None:
            return item
        counters = (doc["likes"], doc["replies"], doc["reposts"], hash(doc["text"]))  # kept per id: not the text
        previous = self.seen.get(doc["id"])
        if previous is not None and previous == counters:
            raise drop(self.crawler, "duplicate", doc["id"], source=item.source)
        self.seen[doc["id"]] = counters
        digest = item.digest = text_digest(doc, self.min_text)
        if digest is not None:
            first = self.by_text.get(digest)
            if first is None and self.link_texts:
                first = (self.state.first_with_text(digest) if self.state is not None else None) or doc["id"]
                self.by_text[digest] = first
            if first is not None and first != doc["id"]:
                doc["dup_of"] = first
        return item


class Batcher:
    """Collects values and runs ``flush(values) -> results`` in batches of at most ``size``.

    ``await batcher.add(value)`` returns that value's result (or raises the batch's exception). Without an
    ``executor`` a batch goes when it is full or ``wait`` seconds after its first value. With one, the flush
    runs there (one batch at a time, in order), so the event loop — downloads, parsing, normalization,
    indexing — goes on meanwhile; a full batch goes at once (queued behind the running one), and a partial
    batch goes as soon as the executor has nothing in hand (after ``gather`` seconds, so the items of one
    page travel together), else ``wait`` seconds after its first value at the latest. Under load batches
    grow to ``size`` while the previous one runs; when the executor idles, nothing waits for the timer.
    """

    def __init__(self, flush: Callable[[list[Any]], Sequence[Any]], *, size: int, wait: float,
                 executor: Executor | None = None, gather: float = 0.01) -> None:
        self._flush, self.size, self.wait, self.executor = flush, size, wait, executor
        self.gather = min(gather, wait)
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # loop time the timer fires at
        #: Batches handed to the executor and not finished yet.
        self.in_flight = 0

    def add(self, value: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((value, fut))
        if len(self._pending) >= self.size:
            self.flush()
        else:
            self._schedule(loop)
        return fut

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """(Re)arm the timer: ``gather`` while the executor idles, else ``wait`` after the batch's first value."""
        if not self._pending:
            return
        delay = self.gather if self.executor is not None and self.in_flight == 0 else self.wait
        due = loop.time() + delay
        if self._timer is not None:
            if self._due <= due:
                return
            self._timer.cancel()
        self._timer, self._due = loop.call_at(due, self.flush), due

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[:self.size], self._pending[self.size:]
        if not batch:
            return
        values = [v for v, _ in batch]
        if self.executor is None:
            try:
                results = self._flush(values)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting item
                self._settle(batch, None, exc)
            else:
                self._settle(batch, results, None)
        else:
            loop = asyncio.get_running_loop()
            try:
                job = loop.run_in_executor(self.executor, self._flush, values)
            except RuntimeError as exc:  # the executor takes no more work (a worker gone for good)
                self._settle(batch, None, exc)
            else:
                self.in_flight += 1
                job.add_done_callback(functools.partial(self._done, batch))
        if self._pending:
            self._schedule(asyncio.get_running_loop())

    def _done(self, batch: list[tuple[Any, asyncio.Future[Any]]], job: asyncio.Future[Any]) -> None:
        self.in_flight -= 1
        exc: BaseException | None = asyncio.CancelledError() if job.cancelled() else job.exception()
        self._settle(batch, None if exc is not None else job.result(), exc)
        if self.in_flight == 0 and self._pending:
            self.flush()  # the executor is free: what piled up meanwhile goes now

    @staticmethod
    def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], results: Sequence[Any] | None,
                exc: BaseException | None) -> None:
        if exc is None and results is not None and len(results) != len(batch):
            exc = RuntimeError(f"batch of {len(batch)} gave {len(results)} results")
        for i, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(results[i])  # type: ignore[index]

    def __len__(self) -> int:
        return len(self._pending)


def apply_tags(doc: dict[str, Any], tags: Any, engagement: Sequence[str]) -> None:
    """Write the classifier's ``tags`` and the ``engagement`` flags into ``doc`` (the crawl's classify pipeline and
    the tag workers of crawlers.itemqueue)."""
    doc.update(sentiment=tags.sentiment, sentiment_score=float(tags.sentiment_score), intent=tags.intent,
               topics=list(tags.topics), model_version=tags.model_version,
               risk=list(dict.fromkeys([*tags.risk, *engagement])))


class ClassifyPipeline:
    """Tags documents in batches with ``classifier.predict``, plus ``engagement_flags`` into ``risk``.

    Batches run in order in one worker — a thread (``VOC_CLASSIFY_IN=thread``) or a process (``process``;
    ``auto`` picks a process for a model and a thread for ``rules``) — so the reactor keeps downloading,
    parsing and indexing while a batch is classified. The model is loaded in that worker too, behind the
    first downloads, instead of delaying the crawl's start.
    """

    def __init__(self, *, classifier: Any = None, loader: Callable[[], Any] | None = None,
                 engagement: Callable[..., tuple[str, ...]], batch_size: int = 64, batch_wait: float = 1.0,
                 process: tuple[str, dict[str, str]] | None = None, crawler: Any = None) -> None:
        if classifier is None and loader is None and process is None:
            raise ValueError("ClassifyPipeline needs a classifier, a loader or a worker process (config dir, env)")
        self.engagement, self.crawler = engagement, crawler
        self._classifier = classifier
        self._loading = None
        flush: Callable[[list[Any]], Sequence[Any]]
        if process is not None:
            from crawlers import _classify_worker

            # The worker the crawl process started as it began (model already loading), else a new one
            # that starts loading now rather than at the first full batch; shared by every source of the run.
            self.executor: Executor = _classify_worker.acquire(*process)
            self._release: Callable[[], None] = functools.partial(_classify_worker.release, self.executor)
            flush = functools.partial(_classify_worker.predict, normalized=True)
        else:
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-classify")
            self._release = functools.partial(self.executor.shutdown, wait=True)
            if classifier is None and loader is not None:
                self._loading = self.executor.submit(loader)
            flush = self._predict
        self.batcher = Batcher(flush, size=batch_size, wait=batch_wait, executor=self.executor)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClassifyPipeline:
        s = switched_on(crawler, "VOC_CLASSIFY_ENABLED")
        from classifier import engagement_flags, load_classifier

        settings = voc_settings(s)
        where = s.get("VOC_CLASSIFY_IN", "auto")
        viral = settings.classifier.viral_engagement
        kwargs: dict[str, Any] = {"engagement": functools.partial(engagement_flags, threshold=viral),
                                  "batch_size": s.getint("VOC_CLASSIFY_BATCH_SIZE", 256),
                                  "batch_wait": s.getfloat("VOC_CLASSIFY_BATCH_WAIT", 1.0), "crawler": crawler}
        worker = worker_spec(settings, where)
        if worker is not None:
            return cls(process=worker, **kwargs)
        return cls(loader=lambda: load_classifier(settings), **kwargs)

    @property
    def classifier(self) -> Any:
        """The in-process classifier (waits for the background load; raises its error, e.g. ModelLoadError)."""
        if self._classifier is None:
            if self._loading is None:
                raise RuntimeError("the classifier runs in a worker process")
            self._classifier = self._loading.result()
        return self._classifier

    def _predict(self, texts: list[str]) -> list[Any]:
        return list(self.classifier.predict(texts, normalized=True))

    @staticmethod
    def text_of(doc: dict[str, Any]) -> str:
        """What the classifier reads: the title joined to the text unless the text already holds it. Both are
        normalized already (:class:`NormalizePipeline`), so the classifier skips that step."""
        return f"{doc['title']}。{doc['text']}" if doc["title"] and doc["title"] not in doc["text"] else doc["text"]

    async def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item, self.crawler)
        doc = item.doc
        if doc is None:
            return item
        try:
            tags = await self.batcher.add(self.text_of(doc))
        except Exception as exc:  # noqa: BLE001 - the batch failed: these items are not indexed
            raise _batch_failed(self.crawler, item, "classify_failed", "classifier", exc) from exc
        apply_tags(doc, tags, self.engagement(doc["likes"], doc["replies"], doc["reposts"]))
        return item

    def close_spider(self) -> None:
        self.batcher.flush()
        self._release()


class IndexPipeline:
    """Bulk-upserts documents (one atomic upsert per flush and document source — a flush mixes sources only
    when several forums are crawled together) and counts new/updated; a failed batch drops its items with
    ``index_failed`` and keeps their targets' cursors where they were (upserts are idempotent by id).

    Upserts run in order on one thread of their own, so the event loop goes on parsing while SQLite writes
    and syncs a batch (an item moves on to the cursor only after its batch committed). A document a person
    corrected (``voc label``, the web page) keeps the corrected labels when it is crawled again."""

    def __init__(self, *, index: Any, batch_size: int = 64, crawler: Any = None, owns_index: bool = True,
                 corrections: Any = None) -> None:
        self.index, self.crawler, self.owns_index = index, crawler, owns_index
        self.corrections = corrections  # classifier.corrections.CorrectionStore, or None
        self._tracker = tracker(crawler) if crawler is not None else None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-index")
        self.batcher = Batcher(self._upsert, size=batch_size, wait=0.05, executor=self.executor, gather=0.0)

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexPipeline:
        s = switched_on(crawler, "VOC_INDEX_ENABLED")
        from classifier import make_tokenizer
        from classifier.corrections import CorrectionStore
        from index import open_index

        settings = voc_settings(s)
        index = open_index(settings.index, home=settings.home, tokenizer=make_tokenizer(settings), secrets=settings.secrets)
        labels = settings.resolve(settings.classifier.labels_path)
        return cls(index=index, batch_size=s.getint("VOC_INDEX_BATCH_SIZE", 256), crawler=crawler,
                   corrections=CorrectionStore(labels) if labels.is_file() else None)

    def _upsert(self, docs: list[dict[str, Any]]) -> list[bool]:
        # The same id twice in one batch: keep the last (latest counters).
        unique = list({d["id"]: d for d in docs}.values())
        if self.corrections is not None:
            from classifier.corrections import apply_labels

            fixed = self.corrections.latest_labels(d["id"] for d in unique)
            unique = [apply_labels(d, fixed[d["id"]]) if d["id"] in fixed else d for d in unique]
        by_source: dict[str, list[dict[str, Any]]] = {}
        for d in unique:  # one source per batch but for several forums crawled together
            by_source.setdefault(d["source"], []).append(d)
        for source, group in by_source.items():
            result = self.index.upsert(group)
            if self._tracker is not None:  # written by the index thread alone, read after it stopped
                self._tracker.count(source, new=result.new, updated=result.updated)
        return [True] * len(docs)

    async def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item, self.crawler)
        if item.doc is None:
            return item
        try:
            await self.batcher.add(item.doc)
        except Exception as exc:  # noqa: BLE001 - the batch failed: its items keep their targets' cursors
            raise _batch_failed(self.crawler, item, "index_failed", "index upsert", exc) from exc
        return item

    def close_spider(self) -> None:
        self.batcher.flush()
        self.executor.shutdown(wait=True)
        if self.corrections is not None:
            self.corrections.close()
        if self.owns_index:
            self.index.close()


class CursorPipeline:
    """Tracks the newest ``created_at`` indexed per (source, target) and commits it when the spider
    finished and every item of that target reached the index (never for a blocked or failed target)."""

    def __init__(self, *, state: CrawlState, crawler: Any = None) -> None:
        self.state, self.crawler = state, crawler
        self.marks: dict[tuple[str, str], datetime] = {}
        #: (text digest, id) of indexed documents that are not duplicates, recorded at the end for later runs
        self.texts: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> CursorPipeline:
        s = switched_on(crawler, "VOC_CURSOR_ENABLED")
        pipe = cls(state=CrawlState(s.get("VOC_STATE_PATH")), crawler=crawler)
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item, self.crawler)
        doc = item.doc
        if doc is not None and not doc.get("dup_of"):
            digest = item.digest or text_digest(doc)
            if digest is not None:
                self.texts.append((digest, doc["id"]))
        if item.created_at is not None and item.target:
            key = (item.source, item.target)
            ts = _aware(item.created_at)
            if key not in self.marks or ts > self.marks[key]:
                self.marks[key] = ts
        return item

    def commit(self, *, finished: bool) -> dict[tuple[str, str], datetime]:
        """Advance the cursors that may move; returns what was committed."""
        t = tracker(self.crawler)
        done: dict[tuple[str, str], datetime] = {}
        if not finished or t.skipped:
            return done
        for key, mark in self.marks.items():
            if key in t.failed_targets or key in t.incomplete_targets:
                logger.info("cursor of %s/%s not advanced: the target did not complete", *key)
                continue
            done[key] = self.state.advance_cursor(key[0], key[1], mark)
        return done

    def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            try:  # indexed, whether or not the run finished; losing them only loses later runs' dup_of links
                self.state.record_texts(self.texts)
            except sqlite3.Error as exc:
                logger.warning("could not remember %d texts for later runs' dup_of in %s: %s", len(self.texts),
                               self.state.path, exc)
            self.commit(finished=reason == "finished")
        finally:
            self.state.close()
