"""Normalising feedback documents before a backend stores them (shared by every backend)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from index._errors import BulkIndexError
from index.base import Doc, DOC_FIELDS, INT_FIELDS, MULTI_FIELDS, format_time, parse_time

__all__ = ["normalize_doc", "normalize_batch"]

_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def normalize_doc(doc: Doc, tokenizer: Callable[[str], Sequence[str]] | None = None) -> Doc:
    """Every design field present (None/[] when missing), times as ``…Z`` UTC strings, ints as ints.

    When ``tokens`` is missing or empty and there is text, it is computed with ``tokenizer`` so the
    document is searchable. Keys outside the design schema are kept as they are.
    """
    if not isinstance(doc, dict):
        raise TypeError(f"a feedback document is a dict, got {type(doc).__name__}")
    out: dict[str, Any] = {f: doc.get(f) for f in DOC_FIELDS}
    for k, v in doc.items():
        if k not in out:
            out[k] = v
    if not out["id"] or not isinstance(out["id"], str):
        raise ValueError(f"document without a string id: {out['id']!r}")
    for f in ("created_at", "crawled_at"):
        value = out[f]
        if value in (None, ""):
            out[f] = None
        elif not (isinstance(value, str) and _CANONICAL_TIME.fullmatch(value)):
            out[f] = format_time(parse_time(value))
    for f in INT_FIELDS:
        if out[f] is not None and type(out[f]) is not int:
            out[f] = int(out[f])
    if out["sentiment_score"] is not None:
        out["sentiment_score"] = float(out["sentiment_score"])
    for f in MULTI_FIELDS:
        value = out[f] or []
        if isinstance(value, str):
            value = [value]
        if value:
            out[f] = list(dict.fromkeys(str(v) for v in value))
        else:
            out[f] = []
    if not out["tokens"] and tokenizer is not None and (out["text"] or out["title"]):
        words = tokenizer(" ".join(x for x in (out["title"], out["text"]) if x))
        out["tokens"] = " ".join(w.strip() for w in words if w.strip())
    return out


def normalize_batch(docs: Sequence[Doc], tokenizer: Callable[[str], Sequence[str]] | None,
                    backend: str) -> list[Doc]:
    """Normalise a batch, rejecting it whole (nothing written) if any document is malformed."""
    out, errors = [], []
    for i, doc in enumerate(docs):
        try:
            out.append(normalize_doc(doc, tokenizer))
        except (TypeError, ValueError) as exc:
            ident = doc.get("id") if isinstance(doc, dict) else None
            errors.append((str(ident or f"#{i}"), str(exc)))
    if errors:
        raise BulkIndexError(f"{len(errors)} of {len(docs)} documents are malformed; nothing was written "
                             f"(first: {errors[0][0]}: {errors[0][1]})", backend=backend, errors=errors)
    return out
