"""Cut a document's text into ``(segment, matched)`` pairs for the terms a query matched."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["highlight_segments"]


def highlight_segments(text: str | None, terms: Iterable[str]) -> list[tuple[str, bool]]:
    """Mark every case-insensitive occurrence of any term in ``text``; unmarked text in between.

    Pure: the segments join back to ``text`` exactly. Longer terms win where terms overlap.
    """
    text = text or ""
    if not text:
        return []
    folded = text.lower()
    if len(folded) != len(text):  # rare case-folding length change: fall back to exact matching
        folded = text
    spans: list[tuple[int, int]] = []
    for term in {t.lower() for t in terms if t and t.strip()}:
        start = folded.find(term)
        while start >= 0:
            spans.append((start, start + len(term)))
            start = folded.find(term, start + len(term))
    merged: list[list[int]] = []  # the marked stretches: overlapping or touching occurrences joined
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    i = 0
    for start, end in merged:
        if start > i:
            out.append((text[i:start], False))
        out.append((text[start:end], True))
        i = end
    if i < len(text):
        out.append((text[i:], False))
    return out
