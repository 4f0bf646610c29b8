"""Item pipelines, in design.md order: validate → normalize → dedupe → classify → index → cursor.

Each item is a :class:`~crawlers.items.FeedbackItem`; the pipelines build its feedback document in
``item.doc`` and pass the item itself on, so Scrapy's feed export (``-O items.jsonl``) still writes the raw
item. A dropped item raises :class:`~crawlers.tracking.Dropped` with its reason; the run's
:class:`~crawlers.tracking.RunTracking` counts it (``voc/dropped/<reason>`` in the crawl stats) on Scrapy's
``item_dropped`` signal. Classification and indexing are batched (at most ``VOC_CLASSIFY_BATCH_SIZE`` items; a
partial batch goes when the classifier worker is free, after ``VOC_CLASSIFY_BATCH_WAIT`` seconds at the latest:
see :class:`crawlers.batcher.Batcher`), and both run off the event loop (a classifier worker process or thread; one index thread); the cursor
advances per (source, target) only after the spider finished and every item of that target was upserted.

Settings (each component: ``<PREFIX>_ENABLED``): ``VOC_VALIDATE_*``, ``VOC_NORMALIZE_*``
(``PSEUDONYMIZE``), ``VOC_DEDUPE_*``, ``VOC_CLASSIFY_*`` (``BATCH_SIZE``, ``BATCH_WAIT``),
``VOC_INDEX_*`` (``BATCH_SIZE``), ``VOC_CURSOR_*``.
"""

from __future__ import annotations

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
from scrapy.pipelines import ItemPipelineManager

from configs.times import as_utc as _aware  # naive taken as UTC
from crawlers._classify_worker import worker_spec
from crawlers.batcher import Batcher
from crawlers.config import switched_on, voc_settings
from crawlers.items import FeedbackItem
from crawlers.state import CrawlState, iso
from crawlers.tracking import Dropped, RunTracker, tracker

__all__ = ["ItemPipelines", "ValidatePipeline", "NormalizePipeline", "DedupePipeline", "ClassifyPipeline",
           "IndexPipeline", "CursorPipeline", "worker_spec", "apply_tags"]

logger = logging.getLogger(__name__)

KINDS = ("review", "post", "comment", "answer", "complaint", "reply")


def _feedback(item: Any) -> FeedbackItem:
    if not isinstance(item, FeedbackItem):
        raise Dropped("not_feedback_item", type(item).__name__)
    return item


def _report_batch(run: RunTracker | None, what: str) -> Callable[[BaseException], None] | None:
    """What a :class:`Batcher` calls once per failed batch: the run records one error for the batch (each of
    its items is then dropped as lost, keeping its target's cursor). The same exception again — a model that
    failed to load fails every batch with it — is not recorded again."""
    if run is None:
        return None
    last: list[BaseException] = []

    def report(exc: BaseException) -> None:
        if not last or last[0] is not exc:
            last[:] = [exc]
            run.error(f"{what} failed: {exc!r}")

    return report


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
        item = _feedback(item)
        if not item.source or not str(item.source_id or "").strip():
            raise Dropped("missing_id", item.url)
        if not item.product:
            raise Dropped("missing_product", item.url)
        if not (item.text or "").strip() and not (item.title or "").strip():
            raise Dropped("empty_text", item.source_id)
        if item.kind not in KINDS:
            raise Dropped("bad_kind", repr(item.kind))
        if item.created_at is not None and not isinstance(item.created_at, datetime):
            raise Dropped("bad_time", repr(item.created_at))
        if item.rating is not None and not (isinstance(item.rating, int) and 1 <= item.rating <= 5):
            item.rating = None
        since = getattr(getattr(self.crawler, "spider", None), "since", None)
        if since is not None and item.created_at is not None and _aware(item.created_at) < since:
            raise Dropped("before_since", item.source_id)
        return item


class NormalizePipeline:
    """Builds the document: normalized text and title, jieba ``tokens``, UTC times, optional pseudonyms."""

    def __init__(self, *, normalize: Callable[[str], str], tokenize: Callable[[str], list[str]],
                 pseudonymize: bool = False, clock: Callable[[], datetime] | None = None) -> None:
        self.normalize, self.tokenize, self.pseudonymize = normalize, tokenize, pseudonymize
        self.clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        switched_on(crawler, "VOC_NORMALIZE_ENABLED")
        from classifier import make_tokenizer
        from classifier.normalize import normalize_text

        settings = voc_settings(crawler.settings)
        # The text is normalized here already: the segmenter takes it as it is.
        return cls(normalize=normalize_text, tokenize=make_tokenizer(settings).segment_normalized,
                   pseudonymize=crawler.settings.getbool("VOC_NORMALIZE_PSEUDONYMIZE"))

    def _pseudo(self, source: str, value: str | None) -> str | None:
        if not value or not self.pseudonymize:
            return value
        return "u_" + hashlib.sha256(f"{source}\x1f{value}".encode()).hexdigest()[:16]

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item)
        text = self.normalize(item.text or "")
        title = self.normalize(item.title or "")
        if not text and not title:
            raise Dropped("empty_text", item.source_id)
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

    def __init__(self, *, state: CrawlState | None = None, min_text: int = 8, link_texts: bool = True) -> None:
        self.link_texts = link_texts
        self.state = state
        self.min_text = min_text
        self.seen: dict[str, tuple[Any, ...]] = {}
        self.by_text: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupePipeline:
        s = switched_on(crawler, "VOC_DEDUPE_ENABLED")
        if s.get("VOC_FRONTIER_URL"):  # several workers: the tag workers link reposts, through Redis (itemqueue)
            return cls(link_texts=False)
        pipe = cls(state=CrawlState(s.get("VOC_STATE_PATH")) if s.get("VOC_STATE_PATH") else None)
        if pipe.state is not None:
            crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def spider_closed(self, spider: Any) -> None:
        if self.state is not None:
            self.state.close()

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item)
        doc = item.doc
        if doc is None:
            return item
        counters = (doc["likes"], doc["replies"], doc["reposts"], hash(doc["text"]))  # kept per id: not the text
        previous = self.seen.get(doc["id"])
        if previous is not None and previous == counters:
            raise Dropped("duplicate", doc["id"])
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
                 process: tuple[str, dict[str, str]] | None = None, run: RunTracker | None = None) -> None:
        if classifier is None and loader is None and process is None:
            raise ValueError("ClassifyPipeline needs a classifier, a loader or a worker process (config dir, env)")
        self.engagement = engagement
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
        self.batcher = Batcher(flush, size=batch_size, wait=batch_wait, executor=self.executor,
                               on_error=_report_batch(run, "classifier"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClassifyPipeline:
        s = switched_on(crawler, "VOC_CLASSIFY_ENABLED")
        from classifier import engagement_flags, load_classifier

        settings = voc_settings(s)
        where = s.get("VOC_CLASSIFY_IN", "auto")
        viral = settings.classifier.viral_engagement
        kwargs: dict[str, Any] = {"engagement": functools.partial(engagement_flags, threshold=viral),
                                  "batch_size": s.getint("VOC_CLASSIFY_BATCH_SIZE", 256),
                                  "batch_wait": s.getfloat("VOC_CLASSIFY_BATCH_WAIT", 1.0), "run": tracker(crawler)}
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
        item = _feedback(item)
        doc = item.doc
        if doc is None:
            return item
        try:
            tags = await self.batcher.add(self.text_of(doc))
        except Exception as exc:  # noqa: BLE001 - the batch failed: these items are not indexed
            raise Dropped("classify_failed", repr(exc), lost=True) from exc
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

    def __init__(self, *, index: Any, batch_size: int = 64, run: RunTracker | None = None, owns_index: bool = True,
                 corrections: Any = None) -> None:
        self.index, self.run, self.owns_index = index, run, owns_index
        self.corrections = corrections  # classifier.corrections.CorrectionStore, or None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-index")
        self.batcher = Batcher(self._upsert, size=batch_size, wait=0.05, executor=self.executor, gather=0.0,
                               on_error=_report_batch(run, "index upsert"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexPipeline:
        s = switched_on(crawler, "VOC_INDEX_ENABLED")
        from classifier import make_tokenizer
        from classifier.corrections import CorrectionStore
        from index import open_index

        settings = voc_settings(s)
        index = open_index(settings.index, home=settings.home, tokenizer=make_tokenizer(settings), secrets=settings.secrets)
        labels = settings.resolve(settings.classifier.labels_path)
        return cls(index=index, batch_size=s.getint("VOC_INDEX_BATCH_SIZE", 256), run=tracker(crawler),
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
            if self.run is not None:  # written by the index thread alone, read after it stopped
                self.run.count(source, new=result.new, updated=result.updated)
        return [True] * len(docs)

    async def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item)
        if item.doc is None:
            return item
        try:
            await self.batcher.add(item.doc)
        except Exception as exc:  # noqa: BLE001 - the batch failed: its items keep their targets' cursors
            raise Dropped("index_failed", repr(exc), lost=True) from exc
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

    def __init__(self, *, state: CrawlState, run: RunTracker) -> None:
        self.state, self.run = state, run
        self.marks: dict[tuple[str, str], datetime] = {}
        #: (text digest, id) of indexed documents that are not duplicates, recorded at the end for later runs
        self.texts: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> CursorPipeline:
        s = switched_on(crawler, "VOC_CURSOR_ENABLED")
        pipe = cls(state=CrawlState(s.get("VOC_STATE_PATH")), run=tracker(crawler))
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def process_item(self, item: Any) -> FeedbackItem:
        item = _feedback(item)
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
        t = self.run
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
