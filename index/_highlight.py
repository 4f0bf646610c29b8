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
    marks = [False] * len(text)
    for term in sorted({t.lower() for t in terms if t and t.strip()}, key=len, reverse=True):
        start = folded.find(term)
        while start >= 0:
            for i in range(start, start + len(term)):
                marks[i] = True
            start = folded.find(term, start + len(term))
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and marks[j] == marks[i]:
            j += 1
        out.append((text[i:j], marks[i]))
        i = j
    return out
