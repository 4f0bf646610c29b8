"""The HTTP API and the web page: ``create_app(settings, *, index=None) -> FastAPI``.

Routes (all JSON under ``/api``; the query language is the one of :func:`index.parse_query`):

====================================  ======  =========================================================
``GET  /api/session``                 read    role, how you authenticated, the CSRF token for POSTs
``GET  /api/search?q=&limit=&offset=&sort=&facets=&since=&until=``  hits with highlight segments, facets
``GET  /api/facets?q=&fields=``       read    value counts per field for the query
``GET  /api/trends?q=&interval=&tz=&group_by=``  read    histogram series (sentiment/topics/source/...)
``GET  /api/trends/ratings?q=``       read    rating distribution and mean per app version
``GET  /api/alerts?state=``           read    incidents from the alert store
``GET  /api/alerts/{id}``             read    one incident with its posts and history
``POST /api/alerts/{id}/ack``         admin   acknowledge
``POST /api/alerts/{id}/resolve``     admin   resolve
``GET  /api/feedback/{id}``           read    one stored document
``POST /api/feedback/{id}``           admin   correct its labels (stored as a correction + re-indexed)
``GET  /api/sources``                 read    crawl health per source, schedule, recent runs
``GET  /docs``, ``/openapi.json``     —       OpenAPI docs (Swagger UI bundled, no CDN)
``GET  /``, ``/login``                —       the single-page UI (Chinese) and its login form
====================================  ======  =========================================================

Errors are JSON ``{"error": code, "message": ..., "field": ...}``: 400 for a bad query (``field`` names the
offending query field), 401 without valid credentials, 403 for a role or CSRF failure, 404, 503 when a
backend is unavailable. Access rules: see :mod:`app.api._auth`.
"""

from app.api._app import create_app

__all__ = ["create_app"]
