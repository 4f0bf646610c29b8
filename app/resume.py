"""Whole-index work that Ctrl-C (or a cancelled job) may stop and a later run continues: ``voc reindex`` and
``voc retag``.

Both walk the source index in its scan order (SQLite: insertion order) in batches and record, after each
batch is committed, the last document id and the count in a small JSON file (:class:`ResumePoint`, under
``<home>/data/resume/``). A run with ``resume`` skips the scan up to and including that id. Upserts are
idempotent, so where skipping could lose documents — the id is gone from the source or the target, or the
source is Elasticsearch, whose scroll order is not stable — the run starts over, and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classifier import Classifier
    from configs import Settings
    from index import FeedbackIndex

__all__ = ["ResumePoint", "resume_point", "reindex", "retag", "RetagReport"]

Progress = Callable[[int, "int | None"], None]


class ResumePoint:
    """``{"after": last id committed, "done": documents committed}`` in one JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("after"), str) else None

    def save(self, *, after: str, done: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"after": after, "done": done}), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def resume_point(settings: Settings, kind: str, *key: str) -> ResumePoint:
    """The resume point of ``kind`` (reindex, retag) for ``key`` (e.g. the source and target URLs)."""
    digest = hashlib.sha256("\x00".join(key).encode()).hexdigest()[:16]
    return ResumePoint(settings.resolve("data/resume") / f"{kind}-{digest}.json")


def _scan_from(index: FeedbackIndex, point: ResumePoint, resume: bool | None, batch: int,
               say: Callable[[str], None], *, target: Any = None) -> tuple[Iterator[dict], int]:
    """The documents still to do, and how many were done before. ``resume``: True (asked for), False (start
    over) or None (continue an interrupted run if there is one, silently start over if not: web jobs).
    ``target``: where the documents went (a reindex), which must still hold the last one done."""
    from index.base import Filters

    state = point.load() if resume is not False else None
    if resume is False:
        point.clear()
    docs = index.scan(Filters(), batch_size=batch)
    if state is None:
        if resume:
            say("nothing to resume: starting from the first document")
        return docs, 0
    after = state["after"]
    if not str(getattr(index, "backend", "")).startswith("sqlite:"):
        # Elasticsearch scrolls in no guaranteed order: skipping "up to" a document could skip others
        say("this index has no stable scan order (Elasticsearch): starting over (upserts are idempotent)")
        return docs, 0
    if index.get(after) is None:
        say(f"the last document done ({after}) is no longer in the index: starting over (upserts are idempotent)")
        return docs, 0
    if target is not None and target.get(after) is None:
        say(f"the target does not hold the last document copied ({after}): starting over")
        return docs, 0
    say(f"continuing after the {state.get('done', 0)} documents done by the interrupted run")

    def rest() -> Iterator[dict]:
        skipping = True
        for doc in docs:
            if skipping:
                skipping = doc["id"] != after
                continue
            yield doc
    return rest(), int(state.get("done", 0))


class _Committed:
    """A target index whose every committed upsert moves the resume point and reports progress."""

    def __init__(self, target: Any, point: ResumePoint, done: int, total: int | None,
                 progress: Progress | None) -> None:
        self.target, self.point, self.done, self.total, self.progress = target, point, done, total, progress

    def __getattr__(self, name: str) -> Any:  # everything but upsert is the target's own
        return getattr(self.target, name)

    def upsert(self, docs: list[dict]) -> Any:
        result = self.target.upsert(docs)
        self.done += len(docs)
        self.point.save(after=docs[-1]["id"], done=self.done)
        if self.progress is not None:
            self.progress(self.done, self.total)  # a safe point: may stop the run here
        return result


class _Source:
    """The source index as ``index.service.reindex`` scans it: from the resume point on."""

    def __init__(self, index: Any, docs: Iterator[dict]) -> None:
        self.index, self.docs = index, docs

    def __getattr__(self, name: str) -> Any:  # everything but scan is the source's own
        return getattr(self.index, name)

    def scan(self, *_a: Any, **_k: Any) -> Iterator[dict]:
        return self.docs


def reindex(source: Any, target: Any, point: ResumePoint, *, resume: bool | None = False, batch: int = 1000,
            progress: Progress | None = None, say: Callable[[str], None] = lambda _m: None) -> tuple[Any, int]:
    """``index.service.reindex`` from the resume point on; returns its report and the documents an earlier
    run had copied. The point is cleared once every document is copied."""
    from index.base import Filters
    from index.service import reindex as copy_all

    docs, before = _scan_from(source, point, resume, batch, say, target=target)
    total = source.count(Filters())
    sink = _Committed(target, point, before, total, progress)
    if progress is not None:
        progress(before, total)
    report = copy_all(_Source(source, docs), sink, batch=batch)  # type: ignore[arg-type]
    point.clear()
    return report, before


@dataclass
class RetagReport:
    tagged: int = 0
    #: documents tagged by an interrupted run this one continued
    resumed: int = 0
    #: documents whose stored label corrections were kept over the new tags
    corrected: int = 0
    model_version: str = ""


def text_of(doc: dict) -> str:
    """What the classifier reads (as the crawl does): the title joined to the text unless the text holds it."""
    title, text = doc.get("title") or "", doc.get("text") or ""
    return f"{title}。{text}" if title and title not in text else text


def retag(index: FeedbackIndex, classifier: Classifier, point: ResumePoint, *, corrections: Any = None, viral: int | None = None,
          resume: bool | None = False, batch: int = 500, progress: Progress | None = None,
          say: Callable[[str], None] = lambda _m: None) -> RetagReport:
    """Tag every indexed document again with ``classifier`` (after a new model or taxonomy), keeping the
    labels people corrected (``corrections``: a ``classifier.corrections.CorrectionStore``)."""
    from classifier import engagement_flags
    from classifier.corrections import apply_labels
    from index.base import Filters

    docs, before = _scan_from(index, point, resume, batch, say)
    total = index.count(Filters())
    report = RetagReport(tagged=before, resumed=before, model_version=str(getattr(classifier, "model_version", "")))
    if progress is not None:
        progress(before, total)
    flags = (lambda d: engagement_flags(d.get("likes"), d.get("replies"), d.get("reposts"), threshold=viral)) \
        if viral is not None else (lambda d: engagement_flags(d.get("likes"), d.get("replies"), d.get("reposts")))
    pending: list[dict] = []

    def flush() -> None:
        tags = classifier.predict([text_of(d) for d in pending])
        fixed = corrections.latest_labels(d["id"] for d in pending) if corrections is not None else {}
        out = []
        for doc, t in zip(pending, tags):
            doc = {**doc, "sentiment": t.sentiment, "sentiment_score": float(t.sentiment_score), "intent": t.intent,
                   "topics": list(t.topics), "model_version": t.model_version,
                   "risk": list(dict.fromkeys([*t.risk, *flags(doc)]))}
            if doc["id"] in fixed:
                doc = apply_labels(doc, fixed[doc["id"]])
                report.corrected += 1
            out.append(doc)
        index.upsert(out)
        report.tagged += len(out)
        point.save(after=out[-1]["id"], done=report.tagged)
        pending.clear()
        if progress is not None:
            progress(report.tagged, total)  # a safe point: may stop the run here

    for doc in docs:
        pending.append(doc)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    point.clear()
    return report
