"""The FastAPI application: routes are thin adapters over app.api._service and the packages' public APIs."""

from __future__ import annotations

import gc
import json
import threading
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import _service as service
from app.api._auth import CSRF_HEADER, SESSION_COOKIE, AuthError, Authenticator, Principal
from app.api._cache import TTLCache
from app.api._guard import FORWARDING_HEADERS, HostPolicy, RequestGuard
from app.api._jobs import register_job_routes
from app.api._ops import FieldError, LabelError, NotFound, Operations, Unavailable
from app.api._watchlists import WatchlistError
from app.api._params import MAX_RESULT_WINDOW, Digits, check_id, validation_error
from app.jobs import Jobs
from configs import Settings
from index import FeedbackIndex, IndexBackendError, QueryError

__all__ = ["create_app", "WEB_DIR"]

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
STATIC_DIR = WEB_DIR / "static"

#: No inline scripts anywhere: every script is a file under /static. Styles may be set by the chart library.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with the page's own form
    # posts (logout), which the Origin check (app.api._guard) must refuse; other sites still get no referrer.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Pure ASGI middleware adding the CSP and friends to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LabelCorrection(BaseModel):
    """Corrected labels for one document; omitted fields stay as they are."""

    sentiment: str | None = None
    intent: str | None = None
    topics: list[str] | None = None
    #: Risk flags (media_threat, regulator_threat, legal_threat, viral); [] clears them.
    risk: list[str] | None = None


def _json(data: Any) -> Response:
    """A read answer (already JSON-ready) serialized once, as Starlette's JSONResponse would, without
    FastAPI's recursive ``jsonable_encoder`` walk over every hit (a large share of a search's time)."""
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return Response(content=body, media_type="application/json")


def _error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


#: Our errors → (status, code) of the answer. One with a ``field`` (QueryError, a FieldError) names it beside its
#: ``message``; the others answer with their text.
_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (QueryError, 400, "bad_query"), (LabelError, 400, "bad_label"), (WatchlistError, 400, "bad_watchlist"),
    (NotFound, 404, "not_found"),
    (Unavailable, 503, "unavailable"), (IndexBackendError, 503, "index_unavailable"),
)


def _error_handler(status: int, code: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(_request: Request, exc: Exception) -> Response:
        if isinstance(exc, (QueryError, FieldError)):
            return _error(status, code, exc.message, field=exc.field)
        return _error(status, code, str(exc))

    return handle


#: The login form is one short field; a larger body is not a login.
LOGIN_BODY_LIMIT = 4096
_AUTH_CODES = {401: "unauthorized", 403: "forbidden", 429: "too_many_attempts"}


def create_app(settings: Settings, *, index: FeedbackIndex | None = None, clock: Callable[[], datetime] | None = None,
               operations: Operations | None = None) -> FastAPI:
    """Build the API and web page for ``settings``.

    ``index``: an open FeedbackIndex to serve (the caller keeps ownership); by default the configured index is
    opened on first use and closed at shutdown. ``clock`` returns the aware "now" used by relative times in
    queries (``since:7d``). ``operations`` replaces the alert store / crawl state / corrections adapters.
    """
    exact_now = clock or (lambda: datetime.now(timezone.utc))

    def now() -> datetime:
        """Relative query times resolve against the minute, so repeated questions share a cache key."""
        return exact_now().replace(second=0, microsecond=0)

    auth = Authenticator(settings)
    ops = operations or Operations(settings, index=index)
    cache = TTLCache(ttl=settings.web.cache_seconds)
    jobs = Jobs(settings, index=lambda: ops.index, on_change=cache.clear)
    query_slots = threading.BoundedSemaphore(settings.web.query_slots)
    facet_slots = threading.BoundedSemaphore(settings.web.facet_slots)

    def in_slot(compute: Callable[[], Any], *, exact_facets: bool = False) -> Callable[[], Any]:
        """Run an index read in a slot: exact facet counts in one of the few facet slots
        (web.facet_concurrency), everything else (hits, sampled facets, histograms) in a query slot
        (web.query_concurrency), so a long exact count never holds up the hits and charts."""
        slots = facet_slots if exact_facets else query_slots

        def run() -> Any:
            with slots:
                return compute()
        return run

    def exact(query: Any) -> bool:
        """Whether the query asks for exact facet counts."""
        return bool(query.facets) and not query.facet_sample

    closers: list[Callable[[], None]] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What is alive once the server starts (modules, the app, an open index) is never garbage: frozen, the
        # collector leaves it out of every collection. Unfrozen, each full collection walked it all while
        # holding the GIL (~25 ms with the index open: every request in flight waited), the largest part of
        # the page search's p95 under 8 clients (bench/api.py: 145-161 ms → 126-149 ms, same runs).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # the app's own cycles can go once it is closed (tests start many apps in one process)
            for close in closers:
                close()
            jobs.close()
            ops.close()
            auth.close()

    app = FastAPI(title="VOC 客户之声 API", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Search, trends, alerts and crawl health over the VOC feedback index. "
                              "Authenticate with `Authorization: Bearer <token>`.")
    # Starlette runs the last added middleware first: the security headers wrap even the guard's refusals.
    app.add_middleware(RequestGuard, policy=HostPolicy(settings.web))
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.auth = auth
    app.state.ops = ops
    app.state.cache = cache

    # -- errors, in one place -------------------------------------------------------------------------
    @app.exception_handler(AuthError)
    async def _auth_error(_request: Request, exc: AuthError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return _error(exc.status, _AUTH_CODES.get(exc.status, "forbidden"), exc.message, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's own 404/405 (no such route or method) in the API's error shape."""
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return _error(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}) or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc)

    for exc_type, status, code in _ERRORS:
        app.add_exception_handler(exc_type, _error_handler(status, code))

    # -- access ---------------------------------------------------------------------------------------
    def principal_of(request: Request) -> Principal:
        return auth.authenticate(authorization=request.headers.get("authorization"),
                                 cookie=request.cookies.get(SESSION_COOKIE), client_host=_client(request),
                                 host_header=request.headers.get("host"),
                                 proxied=any(h in request.headers for h in FORWARDING_HEADERS))

    # Declared for the OpenAPI docs (their "Authorize" button); the token itself is read in principal_of.
    bearer = HTTPBearer(auto_error=False, description="A token from web.admin_tokens_env or web.read_tokens_env")

    def reader(request: Request, _token: Any = Security(bearer)) -> Principal:
        return principal_of(request)

    def admin(request: Request, _token: Any = Security(bearer)) -> Principal:
        principal = principal_of(request)
        if not principal.allows("admin"):
            raise AuthError(403, "this action needs the admin role; your token is read-only")
        auth.check_csrf(principal, request.headers.get(CSRF_HEADER))
        return principal

    def writer(request: Request, _token: Any = Security(bearer)) -> Principal:
        """Any signed-in user changing their own things (watchlists): a CSRF check, no admin role."""
        principal = principal_of(request)
        auth.check_csrf(principal, request.headers.get(CSRF_HEADER))
        return principal

    from app.api._product_routes import register as register_product_routes

    closers.append(register_product_routes(app, settings=settings, ops=ops, reader=reader, writer=writer, now=now,
                                           in_slot=in_slot, cache=cache).close)

    from app.api._closed_loop_routes import register as register_closed_loop_routes

    register_closed_loop_routes(app, settings=settings, ops=ops, reader=reader, admin=admin, now=exact_now)

    # -- pages ----------------------------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page(request: Request) -> Response:
        try:
            principal_of(request)
        except AuthError:
            return RedirectResponse("/login", status_code=303)
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        return FileResponse(WEB_DIR / "login.html", headers={"Cache-Control": "no-store"})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        """The login form (its Origin is checked by RequestGuard); failed tries are throttled per client."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > LOGIN_BODY_LIMIT:
                return _error(413, "too_large", f"a login form is at most {LOGIN_BODY_LIMIT} bytes", field="token")
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        except ValueError:  # more fields than a login form has
            return _error(400, "bad_query", "the login form has one field: token", field="token")
        token = (form.get("token") or [""])[0].strip()
        role = auth.check_token(token, client=_client(request))  # AuthError 429 while throttled
        if role is None:
            return RedirectResponse("/login?error=1", status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, auth.make_session(token), max_age=settings.web.session_max_age,
                            httponly=True, samesite="strict", secure=auth.cookie_secure, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        """End the session for good (its id is revoked server-side), not just forget the cookie here."""
        auth.end_session(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return FileResponse(WEB_DIR / "docs.html")

    # -- API ------------------------------------------------------------------------------------------
    @app.get("/api/session", tags=["access"])
    def session(principal: Principal = Depends(reader)) -> dict:
        """Your role, how you authenticated, and the CSRF token cookie-authenticated POSTs must send."""
        return {"role": principal.role, "via": principal.via, "csrf_token": auth.csrf_token(principal),
                "csrf_header": "X-CSRF-Token"}

    # the query language accepts topic ids and their names (topic:登录)
    topic_names = {t.id: t.name for t in settings.topics.topics}

    @app.get("/api/meta", tags=["access"])
    def meta(_p: Principal = Depends(reader)) -> dict:
        """Names the page shows: topic ids → names (topics.yaml), products, configured sources."""
        return {"topics": {t.id: t.name for t in settings.topics.topics},
                "products": {p.id: p.name for p in settings.sources.products}, "time_zone": settings.time_zone,
                "sources": sorted(settings.sources.sources)}

    @app.get("/api/search", tags=["search"])
    def search(q: str = "", limit: Annotated[Digits, Query(ge=0, le=MAX_RESULT_WINDOW)] = 20,
               offset: Annotated[Digits, Query(ge=0, le=MAX_RESULT_WINDOW)] = 0, sort: str | None = Query(None, max_length=16),
               facets: str = Query("", max_length=200), since: str | None = Query(None, max_length=40),
               until: str | None = Query(None, max_length=40), _p: Principal = Depends(reader)) -> dict:
        """Search in the query language (`闪退 登录 source:weibo sentiment:negative since:7d`).

        `since`/`until` (ISO times) narrow the query further (chart drill-down). `facets` (comma-separated
        fields) adds value counts to the answer (the page asks for hits and facets in one request); with more
        matches than `web.facet_sample`, they count the newest ones and `facets_sampled` says so. A bad query
        gives 400 with the offending `field`; so do `limit` above `web.max_page_size` and `offset + limit`
        beyond 10,000."""
        if limit > settings.web.max_page_size:
            raise QueryError("limit", f"at most {settings.web.max_page_size} (web.max_page_size), got {limit}")
        if offset + limit > MAX_RESULT_WINDOW:
            raise QueryError("offset", f"offset + limit must stay within {MAX_RESULT_WINDOW}; narrow the query instead")
        query = service.build_query(q, now=now(), since=since, until=until, limit=limit, offset=offset, sort=sort,
                                    facets=_csv(facets), facet_sample=settings.web.facet_sample, topics=topic_names)
        compute = in_slot(lambda: service.search(ops.index, query), exact_facets=exact(query))
        return _json(cache.get_or_compute(("search", query), compute))  # type: ignore[return-value]

    @app.get("/api/facets", tags=["search"])
    def facets_(q: str = "", fields: str = Query(",".join(service.DEFAULT_FACETS), max_length=200),
                since: str | None = Query(None, max_length=40), until: str | None = Query(None, max_length=40),
                _p: Principal = Depends(reader)) -> dict:
        """Value counts per field (`fields`, comma-separated) for the documents the query matches."""
        query = service.build_query(q, now=now(), since=since, until=until, limit=0, facets=_csv(fields),
                                    facet_sample=settings.web.facet_sample, topics=topic_names)
        compute = in_slot(lambda: service.facets(ops.index, query), exact_facets=exact(query))
        return _json(cache.get_or_compute(("facets", query), compute))  # type: ignore[return-value]

    @app.get("/api/trends", tags=["trends"])
    def trends(q: str = "", interval: str = Query("day", max_length=16), tz: str | None = Query(None, max_length=64),
               group_by: str | None = Query(None, max_length=32), since: str | None = Query(None, max_length=40),
               until: str | None = Query(None, max_length=40), _p: Principal = Depends(reader)) -> dict:
        """Volume over time (`interval` minute/hour/day in time zone `tz`), one series per `group_by` value
        (sentiment, topics, source, app_version, …). Without `since:` in q: the last 30 days / 3 days / 2 hours."""
        at = now()
        tz = tz or settings.time_zone
        return _json(cache.get_or_compute(  # type: ignore[return-value]
            ("trends", q, interval, tz, group_by or None, since, until, at),
            in_slot(lambda: service.trends(ops.index, q, now=at, interval=interval, tz=tz,
                                           group_by=group_by or None, since=since, until=until,
                                           topics=topic_names))))

    @app.get("/api/trends/ratings", tags=["trends"])
    def ratings(q: str = "", since: str | None = Query(None, max_length=40),
                until: str | None = Query(None, max_length=40), _p: Principal = Depends(reader)) -> dict:
        """Rating distribution (1–5 stars) and mean rating per app version."""
        at = now()
        return cache.get_or_compute(("ratings", q, since, until, at), in_slot(
            lambda: service.ratings_by_version(ops.index, q, now=at, since=since, until=until, topics=topic_names),
            exact_facets=True))

    @app.get("/api/alerts", tags=["alerts"])
    def alerts(state: str | None = None, limit: Annotated[Digits, Query(ge=1, le=1000)] = 100,
               _p: Principal = Depends(reader)) -> dict:
        """Incidents, most recently changed first; `state` filters (open, resolved). Each: id, state, title,
        severity, product, opened_at, topics, terms, versions, sources, count, baseline, range, trend,
        samples, query (exactly its posts), evidence (figures in words, each with its query)."""
        if state and state not in ALERT_STATES:
            raise QueryError("state", f"expected one of {', '.join(ALERT_STATES)}")
        return {"alerts": ops.list_alerts(state=state, limit=limit)}

    @app.get("/api/alerts/{alert_id}", tags=["alerts"])
    def alert(alert_id: str, posts: int = Query(200, ge=0, le=2000), _p: Principal = Depends(reader)) -> dict:
        """One incident (a unique id prefix is enough) with its posts, newest first, and its history."""
        return {"alert": ops.show_alert(alert_id, posts=posts)}

    @app.post("/api/alerts/{alert_id}/ack", tags=["alerts"])
    def ack(alert_id: str, _p: Principal = Depends(admin)) -> dict:
        """Acknowledge an alert (admin): no more notifications for its updates until it resolves."""
        return {"alert": ops.ack_alert(check_id("alert_id", alert_id), now=exact_now(), by=f"web:{_p.via}")}

    @app.post("/api/alerts/{alert_id}/resolve", tags=["alerts"])
    def resolve(alert_id: str, _p: Principal = Depends(admin)) -> dict:
        """Resolve an alert (admin)."""
        return {"alert": ops.resolve_alert(check_id("alert_id", alert_id), now=exact_now(), by=f"web:{_p.via}")}

    @app.get("/api/feedback/{doc_id}", tags=["feedback"])
    def feedback(doc_id: str, _p: Principal = Depends(reader)) -> dict:
        """One stored document."""
        doc = ops.index.get(check_id("doc_id", doc_id))
        if doc is None:
            raise NotFound(f"no feedback with id {doc_id!r}")
        return {"doc": service.public_doc(doc), "corrections": ops.list_corrections(doc_id)}

    @app.post("/api/feedback/{doc_id}", tags=["feedback"])
    def correct(doc_id: str, body: LabelCorrection, _p: Principal = Depends(admin)) -> dict:
        """Correct a document's labels (admin): stored as a label correction for training, and re-indexed."""
        changes = body.model_dump(exclude_none=True)
        doc = ops.correct_labels(check_id("doc_id", doc_id), changes, note=None, now=exact_now(), by=f"web:{_p.via}")
        cache.clear()
        return {"doc": service.public_doc(doc)}

    @app.get("/api/sources", tags=["sources"])
    def sources(_p: Principal = Depends(reader)) -> dict:
        """Per configured source: schedule, next run, last success, items per day, blocked state with its fix."""
        return ops.sources(now=exact_now())

    register_job_routes(app, jobs, reader=reader, admin=admin)
    return app


#: Values of an alert's ``state`` (whether it was acknowledged is its ``acked_at``).
ALERT_STATES = ("open", "resolved", "fixed", "fix_verified", "fix_ineffective")


def _client(request: Request) -> str | None:
    """The client's address (what a trusted proxy said it is, see app.api._guard)."""
    return request.client.host if request.client else None


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())
