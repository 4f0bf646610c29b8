"""Tag rows of a CSV or JSON Lines file (exported tickets, survey answers), keeping every input field.

:func:`read_rows` yields ``(line_no, row | None, problem | None)``; :func:`classify_file` writes each good
row plus ``sentiment, sentiment_score, intent, topics, risk`` as JSON Lines and reports bad rows (missing
or empty text column, invalid JSON, not an object) without stopping.

Input files come from spreadsheets and ticket systems, so their encoding is detected
(:func:`detect_encoding`): a byte-order mark (UTF-8, UTF-16 LE/BE), else UTF-8 if every byte decodes,
else UTF-16 without a mark (NUL in every other byte), else GB18030 (a superset of GBK and GB2312, what
Excel saves on Chinese Windows).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier._base import ClassifierError

__all__ = ["BadRow", "ClassifyReport", "read_rows", "classify_file", "detect_encoding", "TAG_FIELDS"]

TAG_FIELDS = ("sentiment", "sentiment_score", "intent", "topics", "risk")


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class ClassifyReport:
    rows: int = 0
    written: int = 0
    #: rows an interrupted run had written already (``resume``); included in ``written``
    resumed: int = 0
    bad: list[BadRow] = field(default_factory=list)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ClassifierError(f"{path}: unsupported input type {suffix!r}; use .csv or .jsonl")


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _decodes(path: Path, encoding: str, chunk: int = 1 << 20) -> bool:
    """Whether the whole file decodes strictly as ``encoding`` (read in chunks: large files are fine)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as fh:
            while block := fh.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """The encoding to read ``path`` with: ``utf-8-sig``, ``utf-16``, ``utf-16-le``/``-be``, ``utf-8`` or
    ``gb18030``; raises ClassifierError when none of them decodes the file."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ClassifierError(f"{path}: cannot open input ({exc.strerror or exc})") from exc
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) > len(odd) * 0.3 > even.count(0):
        return "utf-16-le"
    if len(head) >= 4 and even.count(0) > len(even) * 0.3 > odd.count(0):
        return "utf-16-be"
    for encoding in ("utf-8", "gb18030"):
        if _decodes(path, encoding):
            return encoding
    raise ClassifierError(f"{path}: not UTF-8, UTF-16 or GB18030/GBK text — save it as UTF-8 (CSV UTF-8 in Excel)")


def read_rows(path: Path, text_col: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line number, row, None)`` for good rows and ``(line, None, reason)`` for bad ones."""
    kind = _kind(path)
    encoding = detect_encoding(path)
    try:
        fh = io.TextIOWrapper(path.open("rb"), encoding=encoding, newline="" if kind != "jsonl" else None)
    except OSError as exc:
        raise ClassifierError(f"{path}: cannot open input ({exc.strerror or exc})") from exc
    with fh:
        if kind in ("csv", "tsv"):
            reader = csv.DictReader(fh, delimiter="," if kind == "csv" else "\t")
            if reader.fieldnames is None or text_col not in reader.fieldnames:
                raise ClassifierError(f"{path}: no column {text_col!r}; columns: {', '.join(reader.fieldnames or [])}"
                                      " — pass the right one with --text-col")
            for row in reader:
                line = reader.line_num
                if None in row:
                    yield line, None, f"{len(row[None])} more field(s) than the header"
                elif row.get(text_col) is None:
                    yield line, None, f"missing column {text_col!r} (too few fields)"
                elif not row[text_col].strip():
                    yield line, None, f"empty {text_col!r}"
                else:
                    yield line, dict(row), None
            return
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield line, None, f"invalid JSON ({exc.msg})"
                continue
            if not isinstance(obj, dict):
                yield line, None, "not a JSON object"
            elif not isinstance(obj.get(text_col), str):
                yield line, None, f"no text field {text_col!r}"
            elif not obj[text_col].strip():
                yield line, None, f"empty {text_col!r}"
            else:
                yield line, obj, None


def classify_file(classifier: Any, input_path: Path, output_path: Path, *, text_col: str,
                  batch_size: int = 256, resume: bool = False,
                  progress: Callable[[int, int | None], None] | None = None) -> ClassifyReport:
    """Tag every good row of ``input_path`` into ``output_path`` (JSON Lines, one line per good row).

    Rows are written a whole batch at a time and flushed before ``progress(rows read, total rows)`` is
    called, so an interruption there leaves complete rows only. ``resume``: keep the complete rows an
    interrupted run left in ``output_path`` (a torn last line is cut off) and tag only the rows after them.
    """
    report = ClassifyReport()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    kept, last = _keep_complete_rows(output_path) if resume else (0, None)
    report.written = report.resumed = kept
    total = sum(1 for _ in read_rows(input_path, text_col)) if progress is not None else None
    with output_path.open("a" if resume else "w", encoding="utf-8") as out:
        pending: list[dict[str, Any]] = []
        good = 0

        def flush() -> None:
            tags = classifier.predict([r[text_col] for r in pending])
            lines = []
            for row, t in zip(pending, tags):
                d = t.as_dict()
                row.update({k: d[k] for k in TAG_FIELDS})
                lines.append(json.dumps(row, ensure_ascii=False) + "\n")
            out.write("".join(lines))
            out.flush()
            report.written += len(lines)
            pending.clear()

        for line, row, problem in read_rows(input_path, text_col):
            report.rows += 1
            if row is None:
                report.bad.append(BadRow(line, problem or "bad row"))
                continue
            good += 1
            if good <= kept:  # tagged by the interrupted run
                if good == kept and last is not None and _untagged(last) != _untagged(row):
                    raise ClassifierError(f"{output_path}: its rows do not continue {input_path} (row {kept} "
                                          "differs) — run without --resume to tag the whole file again")
                continue
            pending.append(row)
            if len(pending) >= batch_size:
                flush()
                if progress is not None:
                    progress(report.rows, total)
        if pending:
            flush()
        if progress is not None:
            progress(report.rows, total)
    return report


def _untagged(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in TAG_FIELDS}


def _keep_complete_rows(path: Path) -> tuple[int, dict[str, Any] | None]:
    """Count the complete JSON lines at the start of ``path`` and cut off anything after them; return the
    count and the last of them."""
    if not path.exists():
        return 0, None
    good, end, last = 0, 0, None
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                last = json.loads(raw)
            except ValueError:
                break
            good += 1
            end += len(raw)
    if end != path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(end)
    return good, last if isinstance(last, dict) else None
