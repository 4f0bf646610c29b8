"""Bodies of pages that parsed to nothing, kept for a look and for re-parsing after a parser fix.

A page that has content but yields nothing (``parse_empty``), a JSON answer of unknown shape
(``unknown_shape``), HTML without the structure its parser reads (``bad_html``): the spider saves its body here,
one entry per page, and the run fails for that source, naming the URL and the file (a truncated or non-JSON
answer — ``bad_json``, ``not_json`` — is a transport error of one page, counted as before)::

    data/quarantine/<source>/<run id>/<n>-<reason>.body     the body as received (bytes)
    data/quarantine/<source>/<run id>/<n>-<reason>.json     url, kind, reason, detail, product, target, saved_at, size

The folder of each source is capped (``crawl.quarantine_max_bytes``): the oldest runs' entries go first, and a
body larger than the cap is not saved (the run says so). ``voc crawl --from-quarantine`` re-parses the entries
not yet re-parsed (:func:`pending`) with the source's current parser; :func:`mark_reparsed` moves an entry that
now parses to ``<source>/reparsed/`` so it is not read twice.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crawlers.state import iso, utcnow

__all__ = ["QUARANTINE_REASONS", "Quarantine", "Entry", "pending", "mark_reparsed", "source_dir"]

#: Page-level drop reasons whose body is kept: the page had something, and nothing was read from it.
QUARANTINE_REASONS = ("parse_empty", "unknown_shape", "bad_html")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def source_dir(root: Path, source: str) -> Path:
    """``forum:bbs`` → ``<root>/forum_bbs``."""
    return root / (_SAFE.sub("_", source).strip("_") or "unknown")


@dataclass(frozen=True)
class Entry:
    """One saved page: its metadata (the sidecar) and where its body is."""

    meta: Mapping[str, Any]
    body_path: Path

    @property
    def source(self) -> str:
        return str(self.meta.get("source", ""))

    @property
    def sidecar(self) -> Path:
        return self.body_path.with_suffix(".json")

    def body(self) -> bytes:
        return self.body_path.read_bytes()


class Quarantine:
    """Saves page bodies under ``root``, at most ``max_bytes`` per source (oldest runs dropped first)."""

    def __init__(self, root: str | Path, *, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._seq = 0

    def save(self, *, source: str, run_id: str, kind: str, url: str, reason: str, detail: str, body: bytes,
             product: str | None, target: str, meta: Mapping[str, Any] | None = None) -> tuple[Path | None, str]:
        """Save one body; returns (its path, or None when it was not saved, and a sentence saying what happened)."""
        if len(body) > self.max_bytes:
            return None, f"body not saved: {len(body)} bytes is over crawl.quarantine_max_bytes ({self.max_bytes})"
        with self._lock:
            folder = source_dir(self.root, source)
            self._make_room(folder, len(body))
            run_dir = folder / _SAFE.sub("_", run_id)
            run_dir.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            stem = f"{self._seq:04d}-{_SAFE.sub('_', reason)}"
            while (run_dir / f"{stem}.body").exists():
                self._seq += 1
                stem = f"{self._seq:04d}-{_SAFE.sub('_', reason)}"
            path = run_dir / f"{stem}.body"
            path.write_bytes(body)
            sidecar = {"source": source, "run_id": run_id, "kind": kind, "url": url, "reason": reason,
                       "detail": detail[:300], "product": product, "target": target, "saved_at": iso(utcnow()),
                       "size": len(body), "meta": _jsonable(meta or {})}
            path.with_suffix(".json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1), encoding="utf-8")
        return path, f"body saved to {path}"

    def _make_room(self, folder: Path, incoming: int) -> None:
        """Delete the oldest runs' entries of ``folder`` until ``incoming`` more bytes fit under the cap."""
        files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: (p.stat().st_mtime, str(p))) \
            if folder.exists() else []
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total + incoming <= self.max_bytes:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)
        for d in sorted((d for d in folder.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)) if folder.exists() else []:
            if not any(d.iterdir()):
                d.rmdir()


def _jsonable(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The follow meta a re-parse needs (tid, mid, …), without objects JSON cannot hold (a held item)."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, datetime):
            out[key] = iso(value)
    return out


def pending(root: str | Path, sources: list[str] | None = None) -> Iterator[Entry]:
    """Saved entries not re-parsed yet, oldest first (of ``sources`` — ``forum`` takes in every ``forum:<name>``)."""
    root = Path(root)
    if not root.exists():
        return
    sidecars = sorted((p for p in root.glob("*/*/*.json") if p.parent.name != "reparsed"),
                      key=lambda p: (p.stat().st_mtime, str(p)))
    for sidecar in sidecars:
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        source = str(meta.get("source", ""))
        if sources and not any(source == s or source.startswith(s + ":") for s in sources):
            continue
        body = sidecar.with_suffix(".body")
        if body.exists():
            yield Entry(meta, body)


def mark_reparsed(entry: Entry) -> Path:
    """Move an entry that now parses into ``<source>/reparsed/<run id>/``; returns its new body path."""
    dest = entry.body_path.parent.parent / "reparsed" / entry.body_path.parent.name
    dest.mkdir(parents=True, exist_ok=True)
    moved = dest / entry.body_path.name
    entry.body_path.replace(moved)
    if entry.sidecar.exists():
        entry.sidecar.replace(moved.with_suffix(".json"))
    parent = entry.body_path.parent
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
    return moved
