"""Whole-index operations behind ``voc export``, ``voc prune`` and ``voc reindex`` (backend-agnostic)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO

from index._export import write_csv, write_xlsx
from index.base import Doc, FeedbackIndex, Filters, SearchQuery
from index.query import has_free_text

__all__ = ["iter_matches", "export", "prune", "reindex", "EXPORT_FORMATS", "ReindexReport"]

EXPORT_FORMATS = ("csv", "xlsx", "jsonl")


def iter_matches(index: FeedbackIndex, query: SearchQuery, *, page: int = 500) -> Iterator[Doc]:
    """Every document the query matches: a scan for filter-only queries, search pages (newest first) else
    (also for a text of excluded words only, which a scan of the filters would ignore)."""
    if not has_free_text(query.text) and not query.raw:
        yield from index.scan(query.filters, batch_size=page)
        return
    offset = 0
    while True:
        result = index.search(dataclasses.replace(query, limit=page, offset=offset, sort="time", facets=()))
        for hit in result.hits:
            yield hit.doc
        offset += len(result.hits)
        if not result.hits or offset >= result.total:
            return


def export(index: FeedbackIndex, query: SearchQuery, out: IO[bytes], *, fmt: str = "jsonl", bom: bool = True,
           limit: int | None = None) -> int:
    """Write every match (at most ``limit``, in :func:`iter_matches` order) into the binary stream ``out`` as CSV
    (UTF-8, with a BOM unless ``bom=False``), XLSX (both: index._export) or JSON lines; return the count."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    docs = iter_matches(index, query) if limit is None else itertools.islice(iter_matches(index, query), limit)
    if fmt == "csv":
        return write_csv(docs, out, bom=bom)
    if fmt == "xlsx":
        return write_xlsx(docs, out)
    n = 0
    for doc in docs:
        out.write((json.dumps(doc, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
        n += 1
    return n


def prune(index: FeedbackIndex, older_than: datetime, *, dry_run: bool = False, batch: int = 1000) -> int:
    """Delete documents created before ``older_than``; return how many (would be) deleted."""
    ids = [d["id"] for d in index.scan(Filters(until=older_than), fields=["id"], batch_size=batch)]
    if dry_run:
        return len(ids)
    deleted = 0
    for i in range(0, len(ids), batch):
        deleted += index.delete(ids[i:i + batch])
    return deleted


@dataclasses.dataclass
class ReindexReport:
    copied: int = 0
    new: int = 0
    updated: int = 0


def reindex(source: FeedbackIndex, target: FeedbackIndex, *, batch: int = 1000,
            progress: Callable[[int], None] | None = None) -> ReindexReport:
    """Copy every document from ``source`` to ``target`` in upsert batches (idempotent: safe to re-run)."""
    report = ReindexReport()
    buf: list[Doc] = []

    def flush() -> None:
        result = target.upsert(buf)
        report.copied += len(buf)
        report.new += result.new
        report.updated += result.updated
        buf.clear()
        if progress is not None:
            progress(report.copied)

    for doc in source.scan(Filters(), batch_size=batch):
        buf.append(doc)
        if len(buf) >= batch:
            flush()
    if buf:
        flush()
    return report

