"""A real HTTP server on loopback that replays saved responses of the real sources.

Tests and ``voc demo`` point each spider's base URL at it. Routes match the method, the path and a
subset of the query string; a route answers with a saved body (bytes, a file, or a callable that
builds a response from the request). Every request is recorded, so tests can assert on what a spider
sent (headers, paging, politeness).

    with ReplayServer() as server:
        server.add("/cn/rss/customerreviews/page=1/id=1/sortby=mostrecent/json", body=path.read_bytes(),
                   content_type="application/json")
        server.url  # http://127.0.0.1:<port>
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

__all__ = ["ReplayServer", "Route", "Reply", "Request"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    #: ``time.monotonic()`` when the request arrived (politeness checks).
    at: float = field(default_factory=time.monotonic)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (slow servers, timeouts).
    delay: float = 0.0
    #: Close the connection after sending this many body bytes (truncated responses).
    truncate_at: int | None = None


Handler = Callable[[Request], Reply]


@dataclass
class Route:
    method: str
    path: str
    query: Mapping[str, str]
    handler: Handler
    #: Answer only this many times, then fall through to the next matching route (None = forever).
    times: int | None = None
    hits: int = 0

    def matches(self, req: Request) -> bool:
        if self.method != req.method or self.path != req.path:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return all(req.query.get(k) == v for k, v in self.query.items())


class ReplayServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: list[Route] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                reply = server._dispatch(req)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                self.send_response(reply.status)
                headers = {"Content-Type": "text/plain; charset=utf-8", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                if reply.truncate_at is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload if reply.truncate_at is None else payload[: reply.truncate_at])
                if reply.truncate_at is not None:
                    self.close_connection = True

            do_GET = do_POST = do_HEAD = _serve

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                import sys

                if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    return  # the client went away (a killed crawl, a cancelled oversized download)
                super().handle_error(request, client_address)  # type: ignore[arg-type]

        self._httpd = _Server((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def add(self, path: str, *, body: bytes | str | Path = b"", status: int = 200, query: Mapping[str, str] | None = None,
            method: str = "GET", content_type: str = "text/html; charset=utf-8", headers: Mapping[str, str] | None = None,
            times: int | None = None, delay: float = 0.0, truncate_at: int | None = None) -> Route:
        """Serve a fixed reply. ``body`` may be bytes, text (sent as UTF-8) or a file path."""
        if isinstance(body, Path):
            data = body.read_bytes()
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
        hdrs = {"Content-Type": content_type, **(headers or {})}
        return self.add_handler(path, lambda _req: Reply(status, data, dict(hdrs), delay, truncate_at),
                                query=query, method=method, times=times)

    def add_handler(self, path: str, handler: Handler, *, query: Mapping[str, str] | None = None,
                    method: str = "GET", times: int | None = None) -> Route:
        route = Route(method, path, dict(query or {}), handler, times)
        with self._lock:
            self.routes.append(route)
        return route

    def _dispatch(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            # Most specific first: routes with more query constraints win; among equals, the earliest.
            candidates = sorted((r for r in self.routes if r.matches(req)), key=lambda r: -len(r.query))
            route = candidates[0] if candidates else None
            if route is not None:
                route.hits += 1
        if route is None:
            return Reply(404, f"no replay route for {req.method} {req.path}".encode(), {"Content-Type": "text/plain"})
        return route.handler(req)

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
