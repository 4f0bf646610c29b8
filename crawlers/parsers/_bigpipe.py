"""Content a page sends outside its document tree (private).

Baidu's BigPipe pages (Tieba bars) close ``</body></html>`` early and stream the real content afterwards,
each part in ``<code class="pagelet_html" id="pagelet_html_…"><!-- … --></code>``: an HTML parser either
drops what follows ``</html>`` or keeps the parts as comments, so selectors on the document never see
them. :func:`pagelets` reads them from the raw text instead, wherever they are."""

from __future__ import annotations

import re

__all__ = ["pagelets"]

_CODE_RE = re.compile(r"<code\b[^>]*\bpagelet_html\b[^>]*>(.*?)</code\s*>", re.I | re.S)
_COMMENT_RE = re.compile(r"<!--(.*?)-->", re.S)


def pagelets(text: str, *, marker: str | None = None) -> list[str]:
    """The HTML of every BigPipe ``code.pagelet_html`` block (its comment markers removed), then of every
    other HTML comment holding ``marker`` — in page order, before or after ``</html>``."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _CODE_RE.finditer(text):
        inner = m.group(1).strip()
        if inner.startswith("<!--"):
            inner = inner[4:]
        if inner.endswith("-->"):
            inner = inner[:-3]
        parts.append(inner)
        spans.append(m.span())
    if marker:
        for m in _COMMENT_RE.finditer(text):
            if marker in m.group(1) and not any(a <= m.start() < b for a, b in spans):
                parts.append(m.group(1))
    return parts
