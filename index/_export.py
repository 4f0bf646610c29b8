"""Spreadsheet tables of feedback: the rows ``voc export`` and the page's export write as CSV or XLSX.

Crawled text stays text: a cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab,
CR) gets a leading apostrophe, control characters that XLSX cannot hold are dropped, and ``raw_text``'s
HTML line breaks (``<br>``) become real line breaks. CSV is UTF-8 with a byte-order mark by default, so
Excel opens Chinese text without mojibake.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from typing import IO

from index.base import DOC_FIELDS, Doc

__all__ = ["TABLE_FIELDS", "table_cell", "write_csv", "write_xlsx"]

#: Columns of a spreadsheet export: the document's fields without the search-only shadow column.
TABLE_FIELDS: tuple[str, ...] = tuple(f for f in DOC_FIELDS if f != "tokens")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
#: What XML 1.0 (and so XLSX) cannot hold: C0 controls other than tab, LF, CR.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def table_cell(field: str, value: object) -> str | int | float:
    """One document value as a spreadsheet cell: lists joined by ``;``, numbers kept, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = str(value)
    if field == "raw_text":
        text = _BR.sub("\n", text)
    # crawled text opened in a spreadsheet must not run as a formula
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(docs: Iterable[Doc], out: IO[bytes], *, bom: bool = True) -> int:
    """CSV of ``docs`` (header :data:`TABLE_FIELDS`) into the binary stream ``out``; return the count."""
    if bom:
        out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(TABLE_FIELDS)
        n = 0
        for doc in docs:
            writer.writerow([table_cell(f, doc.get(f)) for f in TABLE_FIELDS])
            n += 1
        text.flush()
    finally:
        text.detach()  # the caller owns ``out``
    return n


def write_xlsx(docs: Iterable[Doc], out: IO[bytes], *, sheet: str = "feedback") -> int:
    """An XLSX workbook of ``docs`` (one sheet, header row frozen) into ``out``; return the count."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.freeze_panes = "A2"
    ws.append(list(TABLE_FIELDS))
    n = 0
    for doc in docs:
        row = []
        for f in TABLE_FIELDS:
            cell = table_cell(f, doc.get(f))
            row.append(_XML_ILLEGAL.sub("", cell) if isinstance(cell, str) else cell)
        ws.append(row)
        n += 1
    wb.save(out)
    return n
