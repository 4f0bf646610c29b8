"""Time buckets for :meth:`SqliteIndex.histogram`: the SQL that counts per bucket (from the hourly rollups,
by index range counts, or from the documents) and the time-zone arithmetic that names each bucket's start.

Pure: SQL text and parameters, or plain arithmetic; nothing here opens a connection. A bucket number is
``(created_ts + off) // width``; ``off`` is the zone's UTC offset where it is constant over the range
(otherwise 15-minute buckets are counted and regrouped into local hours/days by :func:`local_bucket`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from index.base import Filters
from index.sqlite_schema import BLOCK_HOURS, BLOCK_ROLLUPS, ROLLUPS
from index.sqlite_sql import SIDE_TABLES, build_where, time_bounds

__all__ = ["WIDTH", "rollup_count_sql", "raw_histogram_sql", "range_count_histogram_sql", "rollup_for", "rollup_sql",
           "rollup_pivot_sql", "rollup_spans", "rollup_keys_sql",
           "constant_offset", "whole_hour_offsets", "local_bucket", "bucket_starts"]

#: Seconds per bucket of each histogram interval.
WIDTH = {"minute": 60, "hour": 3600, "day": 86400}


def raw_histogram_sql(filters: Filters, group_by: str | None, off: int, width: int,
                      excluded: str = "", by_time: bool = False) -> tuple[str, list[Any]]:
    """Bucket counts straight from the documents (or the topics/risk side table); ``excluded``: an FTS5
    expression whose matches are not counted (a text of excluded words only). ``by_time``: the range is
    short (a rollup's partial edge hour), so the ``created_ts`` index drives; without statistics SQLite
    otherwise walks a value index (``product = ?``: half the documents) to find an hour's few rows."""
    xparams = [excluded] if excluded else []
    if group_by in SIDE_TABLES and by_time:
        where, params = build_where(filters)
        key = "s.value"
        cond = "d.created_ts IS NOT NULL" + (" AND " + where if where else "")
        if excluded:
            cond += " AND " + _EXCLUDED.format(doc="d.rowid")
        sql = (f"SELECT (d.created_ts + ?) / ? AS b, {key} AS k, count(*) FROM feedback_dims d INDEXED BY "
               f"feedback_dims_created JOIN {SIDE_TABLES[group_by]} s ON s.doc = d.rowid WHERE {cond} GROUP BY b, k")
        return sql, [off, width, *params, *xparams]
    if group_by in SIDE_TABLES:
        other = dataclasses.replace(filters, since=None, until=None)
        owhere, oparams = build_where(other)
        comparisons, tparams = time_bounds(filters)
        conds = ["s.ts IS NOT NULL", *(f"s.ts {c}" for c in comparisons)]
        if excluded:
            conds.append(_EXCLUDED.format(doc="s.doc"))
        join = f" JOIN feedback_dims d ON d.rowid = s.doc AND {owhere}" if owhere else ""
        sql = (f"SELECT (s.ts + ?) / ? AS b, s.value AS k, count(*) FROM {SIDE_TABLES[group_by]} s{join} "
               f"WHERE {' AND '.join(conds)} GROUP BY b, k")
        return sql, [off, width, *oparams, *tparams, *xparams]
    where, params = build_where(filters)
    key = f"d.{group_by}" if group_by else "NULL"
    cond = "d.created_ts IS NOT NULL" + (" AND " + where if where else "")
    if group_by:
        cond += f" AND {key} IS NOT NULL"
    if excluded:
        cond += " AND " + _EXCLUDED.format(doc="d.rowid")
    hint = " INDEXED BY feedback_dims_created" if by_time else ""
    sql = f"SELECT (d.created_ts + ?) / ? AS b, {key} AS k, count(*) FROM feedback_dims d{hint} WHERE {cond} GROUP BY b, k"
    return sql, [off, width, *params, *xparams]


_EXCLUDED = "{doc} NOT IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)"


def range_count_histogram_sql(filters: Filters, lo: int, hi: int, off: int, width: int) -> tuple[str, list[Any]]:
    """One index range count per bucket (no sort of the matching rows): what an index led by the filter
    column and ``created_ts`` answers best. Returns ``(bucket number, NULL, count)`` rows like the others."""
    # (topic/risk filters take the GROUP BY path: a side-table subquery here would run once per bucket)
    where, params = build_where(dataclasses.replace(filters, since=None, until=None))
    first = (lo + off) // width
    last = (hi - 1 + off) // width
    sql = (f"WITH RECURSIVE b(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM b WHERE n < ?) "
           f"SELECT n, NULL, (SELECT count(*) FROM feedback_dims d WHERE d.created_ts >= max(n * ? - ?, ?) "
           f"AND d.created_ts < min((n + 1) * ? - ?, ?){' AND ' + where if where else ''}) AS c FROM b")
    return sql, [first, last, width, off, lo, width, off, hi, *params]


def rollup_for(filters: Filters, group_by: str | None) -> str | None:
    """The rollup table that can answer this histogram exactly, if any. None for two topic filters or a
    topic filter with ``group_by="topics"``: a document with several topics sits in several rows of the topic
    rollup, which would count it twice, or leave out its other topics."""
    if len(filters.topic) > 1 or (filters.topic and group_by == "topics"):
        return None
    used = {name for name in ("product", "source", "sentiment", "topic", "intent", "risk", "platform",
                              "app_version", "rating") if getattr(filters, name)}
    group = {"topics": "topic"}.get(group_by or "", group_by)
    if group is not None:
        used.add(group)
    for table, dims in ROLLUPS.items():
        if used <= set(dims) and ("topic" in dims) == ("topic" in used):
            return table
    return None


def _grain(table: str) -> tuple[str, int]:
    """``(time column, seconds per row)`` of a rollup table: hours, or blocks of BLOCK_HOURS hours."""
    return ("block", BLOCK_HOURS * 3600) if table in BLOCK_ROLLUPS.values() else ("hour", 3600)


def rollup_spans(table: str, first_hour: int, last_hour: int, off: int, width: int) -> list[tuple[str, int, int]]:
    """``[(table, first, last), …]``: the rollup rows that count the whole hours ``[first_hour, last_hour)``
    into buckets of ``width`` seconds shifted by ``off`` — the whole blocks from ``table``'s block twin
    (:data:`BLOCK_ROLLUPS`) when every bucket is made of whole blocks (a day in UTC or UTC+8), the hours
    around them from ``table``; ``first``/``last`` are in the span table's own unit (hours or blocks)."""
    block = BLOCK_ROLLUPS.get(table)
    grain = BLOCK_HOURS * 3600
    first_block, last_block = -(-first_hour // BLOCK_HOURS), last_hour // BLOCK_HOURS
    if block is None or width % grain or off % grain or first_block >= last_block:
        return [(table, first_hour, last_hour)]
    spans = [(block, first_block, last_block)]
    if first_hour < first_block * BLOCK_HOURS:
        spans.append((table, first_hour, first_block * BLOCK_HOURS))
    if last_block * BLOCK_HOURS < last_hour:
        spans.append((table, last_block * BLOCK_HOURS, last_hour))
    return spans


def rollup_sql(table: str, filters: Filters, group_by: str | None, first: int, last: int,
               off: int, width: int) -> tuple[str, list[Any]]:
    """``(bucket, key, count)`` rows from ``table``'s whole hours (or blocks) ``[first, last)``: SQLite sorts
    every matching rollup row (45,000 for 30 days of ``feedback_hourly``) by bucket and key.
    :func:`rollup_pivot_sql` avoids that sort where the keys are few; this answers the rest."""
    conds, params = _rollup_where(table, filters, first, last)
    key = {"topics": "topic"}.get(group_by or "", group_by) or "NULL"
    column, seconds = _grain(table)
    sql = (f"SELECT ({column} * {seconds} + ?) / ? AS b, {key} AS k, sum(n) FROM {table} "
           f"WHERE {' AND '.join(conds)} GROUP BY b, k")
    return sql, [off, width, *params]


def rollup_pivot_sql(table: str, filters: Filters, group_by: str | None, keys: Sequence[Any], first: int,
                     last: int, off: int, width: int) -> tuple[str, list[Any]]:
    """``(bucket, count of keys[0], count of keys[1], …)`` rows (one ``count`` column when ``group_by`` is
    None) from ``table``'s whole hours (or blocks) ``[first, last)``: the rows arrive in primary-key order,
    so grouping by the hour streams and only the per-hour sums (one ``FILTER`` per key) are regrouped into
    buckets; no sort of the rollup rows. ``keys`` must hold every value of ``group_by`` the range holds
    (:func:`rollup_keys_sql`); a key the range lacks sums to NULL."""
    conds, params = _rollup_where(table, filters, first, last)
    if group_by is None:
        sums, kparams = ["sum(n)"], []
    else:
        column = {"topics": "topic"}.get(group_by, group_by)
        sums, kparams = [f"sum(n) FILTER (WHERE {column} = ?)" for _ in keys], list(keys)
    inner = ", ".join(f"{s} AS c{i}" for i, s in enumerate(sums))
    outer = ", ".join(f"sum(c{i})" for i in range(len(sums)))
    time_column, seconds = _grain(table)
    sql = (f"SELECT ({time_column} * {seconds} + ?) / ? AS b, {outer} FROM (SELECT {time_column}, {inner} "
           f"FROM {table} WHERE {' AND '.join(conds)} GROUP BY {time_column}) GROUP BY b")
    return sql, [off, width, *kparams, *params]


def rollup_keys_sql(group_by: str, limit: int) -> tuple[str, list[Any]]:
    """Every value of ``group_by`` among the documents (at most ``limit``), one index seek each: a superset of
    the values a rollup row holds with a count (the rollups are kept from the same documents by triggers)."""
    table, column = (SIDE_TABLES[group_by], "value") if group_by in SIDE_TABLES else ("feedback_dims", group_by)
    sql = (f"WITH RECURSIVE k(v) AS (SELECT min({column}) FROM {table} UNION ALL "
           f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > k.v) FROM k WHERE k.v IS NOT NULL LIMIT ?) "
           f"SELECT v FROM k WHERE v IS NOT NULL")
    return sql, [limit]


def _rollup_where(table: str, filters: Filters, first: int | None, last: int | None) -> tuple[list[str], list[Any]]:
    """The conditions on ``table``'s rows in ``[first, last)`` (its own unit; None: unbounded) with ``filters``'
    values, and their parameters."""
    column, _ = _grain(table)
    conds: list[str] = ["n > 0"]
    params: list[Any] = []
    for bound, op in ((first, ">="), (last, "<")):
        if bound is not None:
            conds.append(f"{column} {op} ?")
            params.append(bound)
    hourly = next((t for t, b in BLOCK_ROLLUPS.items() if b == table), table)
    for name in ROLLUPS[hourly]:
        values = getattr(filters, name)
        if values:
            conds.append(f"{name} IN ({','.join('?' * len(values))})")
            params.extend(values)
    return conds, params


def offset(zone: ZoneInfo, epoch: int) -> int:
    off = datetime.fromtimestamp(epoch, zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def constant_offset(zone: ZoneInfo, lo: int, hi: int) -> int | None:
    """The zone's UTC offset if it is the same at every hour boundary checked in [lo, hi] (daily probes)."""
    first = offset(zone, lo)
    step = 86400 if hi - lo < 86400 * 800 else (hi - lo) // 800
    t = lo
    while t <= hi:
        if offset(zone, t) != first:
            return None
        t += step
    return first if offset(zone, hi) == first else None


def whole_hour_offsets(zone: ZoneInfo, lo: int, hi: int) -> bool:
    step = 86400 if hi - lo < 86400 * 800 else (hi - lo) // 800
    t = lo
    while t <= hi:
        if offset(zone, t) % 3600:
            return False
        t += step
    return offset(zone, hi) % 3600 == 0


def local_bucket(epoch: int, zone: ZoneInfo, interval: str) -> int:
    local = datetime.fromtimestamp(epoch, zone)
    if interval == "day":
        local = datetime(local.year, local.month, local.day, tzinfo=zone)
    elif interval == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(second=0, microsecond=0)
    return int(local.timestamp())


def bucket_starts(start: datetime, end: datetime, zone: ZoneInfo, interval: str) -> Iterator[int]:
    lo, hi = int(start.timestamp()), int(end.timestamp())
    if interval == "day":
        d = datetime.fromtimestamp(lo, zone).date()
        while True:
            e = int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())
            if e >= hi:
                return
            yield e
            d = d + timedelta(days=1)
    e = local_bucket(lo, zone, interval)
    width = WIDTH[interval]
    while e < hi:
        yield e
        e += width


def rollup_count_sql(filters: Filters) -> list[tuple[str, list[Any]]] | None:
    """``count(filters)`` as statements whose single values add up to it: the whole hours from an hourly
    rollup (its whole 8-hour blocks from the block twin, where it has one), the partial edge hours and (without ``since``) the undated documents from ``feedback_dims``.
    None where no rollup answers these filters exactly, or the range is under a day (the filter indexes
    count that directly)."""
    table = rollup_for(filters, None)
    if table is None:
        return None
    lo = int(filters.since.timestamp()) if filters.since is not None else None
    hi = int(filters.until.timestamp()) if filters.until is not None else None
    first = -(-lo // 3600) if lo is not None else None
    last = hi // 3600 if hi is not None else None
    if first is not None and last is not None and last - first < 24:
        return None
    out: list[tuple[str, list[Any]]] = []
    # whole 8-hour blocks from the block twin where the range holds some (a month: 5,700 rows, not 45,000)
    spans = [(table, first, last)] if first is None or last is None else \
        rollup_spans(table, first, last, 0, BLOCK_HOURS * 3600)
    for span_table, span_first, span_last in spans:
        conds, params = _rollup_where(span_table, filters, span_first, span_last)
        out.append((f"SELECT coalesce(sum(n), 0) FROM {span_table} WHERE {' AND '.join(conds)}", params))
    edges = []
    if lo is not None and first is not None and lo < first * 3600:
        edges.append((lo, first * 3600))
    if hi is not None and last is not None and last * 3600 < hi:
        edges.append((last * 3600, hi))
    for e_lo, e_hi in edges:
        edge = dataclasses.replace(filters, since=datetime.fromtimestamp(e_lo, timezone.utc),
                                   until=datetime.fromtimestamp(e_hi, timezone.utc))
        where, eparams = build_where(edge)  # under an hour: the created_ts index finds its rows
        out.append((f"SELECT count(*) FROM feedback_dims d INDEXED BY feedback_dims_created WHERE {where}", eparams))
    if lo is None:  # the rollups hold dated documents only
        where, uparams = build_where(filters)
        out.append(("SELECT count(*) FROM feedback_dims d INDEXED BY feedback_dims_created WHERE d.created_ts IS NULL"
                    + (" AND " + where if where else ""), uparams))
    return out
