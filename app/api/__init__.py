"""The HTTP API and the web page: ``create_app(settings, *, index=None) -> FastAPI``.

Routes (all JSON under ``/api``; the query language is the one of :func:`index.parse_query`):

====================================  ======  =========================================================
``GET  /api/session``                 read    role, how you authenticated, the CSRF token for POSTs
``GET  /api/search?q=&limit=&offset=&sort=&facets=&since=&until=``  hits with highlight segments, facets
``GET  /api/facets?q=&fields=``       read    value counts per field for the query
``GET  /api/trends?q=&interval=&tz=&group_by=``  read    histogram series (sentiment/topics/source/...)
``GET  /api/trends/ratings?q=``       read    rating distribution and mean per app version
``GET  /api/alerts?state=&limit=``   read    incidents from the alert store (state: open or resolved)
``GET  /api/alerts/{id}``             read    one incident with its posts and history
``POST /api/alerts/{id}/ack``         admin   acknowledge
``POST /api/alerts/{id}/resolve``     admin   resolve
``POST /api/alerts/{id}/fix``         admin   mark fixed ``{version, date, note, ticket}`` (verified by evaluation)
``POST /api/alerts/{id}/ticket``      admin   file to a tracker ``{to}``; the ticket URL is stored
``GET  /api/replies``                 read    reply drafts for App Store reviewers (``?status=&incident=``)
``POST /api/replies/approve``         admin   approve drafts ``{reviews}`` or ``{incident}``
``POST /api/replies/send``            admin   send approved replies (App Store Connect; each review once)
``GET  /api/feedback/{id}``           read    one stored document
``POST /api/feedback/{id}``           admin   correct its labels (stored as a correction + re-indexed)
``GET  /api/sources``                 read    crawl health per source, schedule, recent runs
``GET  /api/overview?product=&period=&q=``  read    headline figures vs the previous period, top issues,
                                              new terms, breakdowns; each figure with its own search
``GET  /api/watchlists?period=``      read    your saved searches with their counts
``POST /api/watchlists``              read    save a search (name, q) for yourself (CSRF for sessions)
``DELETE /api/watchlists/{id}``       read    delete one of yours
``GET  /api/export?q=&since=&until=&format=csv|xlsx``  read    the result as CSV (UTF-8 BOM) or XLSX
``GET  /docs``, ``/openapi.json``     —       OpenAPI docs (Swagger UI bundled, no CDN)
``GET  /``, ``/login``                —       the single-page UI (Chinese) and its login form
====================================  ======  =========================================================

Errors are JSON ``{"error": code, "message": ..., "field": ...}``: 400 ``bad_query`` for a bad query or
parameter (``field`` names it; numbers are ASCII digits in a range, see :mod:`app.api._params`), 400
``bad_host`` for a Host name the server does not answer to, 401 without valid credentials, 403 for a role,
CSRF or Origin failure, 404, 413, 429 ``too_many_attempts`` (with Retry-After) after too many failed token
checks, 503 when a backend is unavailable. Which requests are answered at all: :mod:`app.api._guard`;
access rules: :mod:`app.api._auth`.
"""

from app.api._app import create_app

__all__ = ["create_app"]
