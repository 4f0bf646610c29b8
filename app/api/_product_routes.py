"""Routes of the product team's screen: the overview, saved searches (watchlists) and export of a result.

Registered by :func:`register` from ``create_app`` with the app's own access dependencies, so access rules
stay in one place (app/api/_app.py, app/api/_auth.py).
"""

from __future__ import annotations

import logging
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from app.api import _overview, _service as service
from app.api._ops import Operations, Unavailable
from app.api._watchlists import WatchlistStore, user_key
from configs import Settings
from index import QueryError
from index.base import format_time

__all__ = ["register"]

log = logging.getLogger(__name__)

#: Rows one export from the page writes at most; `voc export` has no limit.
EXPORT_MAX_ROWS = 100_000
_EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class WatchlistIn(BaseModel):
    """A saved search: its name and its query (the query language)."""

    name: str
    q: str = ""


def register(app: FastAPI, *, settings: Settings, ops: Operations, reader: Callable[..., Any], writer: Callable[..., Any],
             now: Callable[[], datetime], in_slot: Callable[..., Callable[[], Any]], cache: Any) -> WatchlistStore:
    """Add the overview, watchlist and export routes; returns the watchlist store (the caller closes it)."""
    store = WatchlistStore(settings.resolve(settings.web.watchlists_path))
    topic_names = {t.id: t.name for t in settings.topics.topics}
    products = [p.id for p in settings.sources.products]

    def alert_records() -> list[dict] | None:
        """The alert store's records, or None when it cannot be read (the overview still answers)."""
        from alerts import AlertsError

        try:
            return ops.list_alerts(state=None, limit=1000)
        except (Unavailable, AlertsError) as exc:
            log.warning("overview without alerts: %s", exc)
            return None

    @app.get("/api/overview", tags=["overview"])
    def overview(product: str | None = None, period: str = "7d", q: str = "", _p: Any = Depends(reader)) -> dict:
        """`product`: a configured product id (default: the first), or `*` for all. Headline figures (volume, negative share, mean rating, open alerts) of `product` over `period`
        (24h, 7d, 30d) against the period before; top issues (alerts; topics by growth, with sparklines); new
        terms; breakdowns by source, platform and version. Each figure has the `q`/`since`/`until` of the
        search that lists its posts. `q` (query language) narrows everything."""
        chosen = products[0] if product is None and products else "" if product == "*" else (product or "")
        if chosen and chosen not in products:
            raise QueryError("product", f"unknown product {chosen!r} (configured: {', '.join(products) or 'none'})")
        at = now()

        def compute() -> dict:
            return _overview.overview(ops.index, alert_records(), product=chosen, period=period, q=q, now=at,
                                      tz=settings.time_zone, topic_names=topic_names)
        return cache.get_or_compute(("overview", chosen, period, q, at), in_slot(compute, exact_facets=True))

    @app.get("/api/watchlists", tags=["watchlists"])
    def watchlists(request: Request, period: str = "7d", p: Any = Depends(reader)) -> dict:
        """Your saved searches, each with its matches in `period` (24h, 7d, 30d) and the period before."""
        prev_start, start, end = _overview.window(period, now())
        rows = store.list(user_key(p))
        out = []
        for row in rows:
            counts: dict[str, Any] = {}
            try:
                for key, lo, hi in (("count", start, end), ("previous", prev_start, start)):
                    query = service.build_query(row["q"], now=end, since=format_time(lo), until=format_time(hi), limit=0)
                    counts[key] = in_slot(lambda query=query: ops.index.search(query).total)()
            except QueryError as exc:  # a saved query the language no longer accepts: say so, keep the row
                counts = {"error": exc.message}
            out.append({**row, **counts, "since": format_time(start), "until": format_time(end)})
        return {"watchlists": out, "period": period}

    @app.post("/api/watchlists", tags=["watchlists"])
    def add_watchlist(request: Request, body: WatchlistIn, p: Any = Depends(writer)) -> dict:
        """Save a search under a name (any signed-in user, for themselves)."""
        service.build_query(body.q, now=now())  # only queries that run can be saved
        return {"watchlist": store.add(user_key(p), name=body.name, q=body.q,
                                       now=now())}

    @app.delete("/api/watchlists/{watch_id}", tags=["watchlists"])
    def delete_watchlist(request: Request, watch_id: str, p: Any = Depends(writer)) -> dict:
        """Delete one of your saved searches."""
        if not store.delete(user_key(p), watch_id):
            return JSONResponse({"error": "not_found", "message": f"no watchlist {watch_id!r} of yours"},
                                status_code=404)  # type: ignore[return-value]
        return {"deleted": watch_id}

    @app.get("/api/export", tags=["search"])
    def export(q: str = "", since: str | None = None, until: str | None = None, format: str = "csv",
               _p: Any = Depends(reader)) -> StreamingResponse:
        """Every document the search matches (100,000 at most; `voc export` has no limit), as CSV
        (UTF-8 with a byte-order mark, for Excel) or XLSX. `X-VOC-Rows` says how many were written."""
        from index.service import export as run_export

        if format not in _EXPORT_TYPES:
            raise QueryError("format", f"expected csv or xlsx, got {format!r}")
        query = service.build_query(q, now=now(), since=since, until=until, limit=0)
        spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
        try:
            written = in_slot(lambda: run_export(ops.index, query, spool, fmt=format, limit=EXPORT_MAX_ROWS))()
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        name = f"voc-{now():%Y%m%d-%H%M}.{format}"

        def chunks() -> Iterator[bytes]:
            try:
                while block := spool.read(1 << 16):
                    yield block
            finally:
                spool.close()
        disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{urllib.parse.quote(name)}"
        return StreamingResponse(chunks(), media_type=_EXPORT_TYPES[format],
                                 headers={"Content-Disposition": disposition, "Cache-Control": "no-store",
                                          "X-VOC-Rows": str(written),
                                          "X-VOC-Truncated": "1" if written >= EXPORT_MAX_ROWS else "0"})

    return store
