"""`web:` section of voc.yaml — the HTTP API, the web page and the `voc schedule` timers.

Access control (see app/api/_auth.py):

* ``admin_tokens_env`` / ``read_tokens_env`` name environment variables holding comma-separated API tokens for
  the ``admin`` role (may acknowledge/resolve alerts and correct labels) and the ``read`` role (search, trends,
  alerts list, sources). A token is sent as ``Authorization: Bearer <token>`` or typed into the login form,
  which sets a signed session cookie (HttpOnly, SameSite=Strict).
* ``session_secret_env`` names the variable holding the key that signs session cookies and CSRF tokens; when
  unset, a random key is made at start (sessions then end when the server restarts).
* ``allow_anonymous_loopback``: with NO tokens configured at all, requests from 127.0.0.1/::1 addressed to a
  loopback host name are let in as ``admin`` (a single-user laptop setup); anything else gets 401. As soon as
  one token is configured, everybody must authenticate. Never for a request that came through a proxy (it
  carries ``Forwarded``/``X-Forwarded-*``/``X-Real-IP``, or ``trusted_proxies`` is set).
* ``allowed_hosts``: the public host names the server answers to, besides the loopback names (``localhost``,
  ``127.x.x.x``, ``[::1]``) and the host of ``base_url``. Any other ``Host`` gets 400 (DNS rebinding). An entry
  starting with a dot (``.example.com``) allows that domain and its subdomains.
* ``trusted_proxies``: addresses or networks (``10.0.0.0/8``) of reverse proxies whose ``X-Forwarded-For``
  (the client address, used by login throttling), ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` (checked
  instead of ``Host``) are believed. From anyone else those headers are ignored. Empty: none.
* ``login_max_failures`` per ``login_window_seconds``: failed token checks (login form or bearer header) one
  client address may make; after that every token check from it answers 429 with ``Retry-After``.
* ``sessions_path``: the SQLite file of logged-out sessions (a revoked cookie stays refused after a restart).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

from configs._validate import check_minimums

__all__ = ["WebSettings", "ScheduleSettings"]


#: A DNS name or IPv4 address (optionally with a leading dot for "and subdomains"), or a bracketed IPv6 address.
_HOST_NAME = re.compile(r"\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                        r"|\[[0-9a-f:.]+\]")


@dataclass(frozen=True, kw_only=True)
class ScheduleSettings:
    """Timers of ``voc schedule`` besides the per-source crawl schedules in sources.yaml."""

    #: cron expression for evaluating alert rules (and delivering the outbox) between crawls; null: only after crawls.
    alerts: str | None = "*/15 * * * *"
    #: cron expressions for the daily and weekly digests; null turns a digest off. All cron expressions
    #: are read in voc.yaml's ``time_zone``.
    digest_day: str | None = "0 9 * * *"
    digest_week: str | None = "0 9 * * 1"
    #: How many finished runs the run history keeps.
    history_keep: int = 1000
    #: Moved to voc.yaml's top-level ``time_zone`` (one time zone everywhere); kept only to say so.
    tz: str | None = None

    def __post_init__(self) -> None:
        if self.history_keep < 1:
            raise ValueError(f"history_keep must be at least 1, got {self.history_keep}")
        if self.tz is not None:
            raise ValueError(f"tz has moved: set `time_zone: {self.tz}` at the top of voc.yaml (one time zone for "
                             "cron, the CLI, the web page and digests) and delete web.schedule.tz")


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Public address used in alert links to the search page.
    base_url: str = "http://127.0.0.1:8080"
    #: Environment variables holding API tokens (comma-separated) per role.
    admin_tokens_env: str = "VOC_ADMIN_TOKENS"
    read_tokens_env: str = "VOC_READ_TOKENS"
    #: Environment variable holding the key that signs session cookies and CSRF tokens.
    session_secret_env: str = "VOC_SESSION_SECRET"
    #: Lifetime of a login session, in seconds.
    session_max_age: int = 12 * 3600
    #: Mark the session cookie Secure (turn on when served over HTTPS).
    cookie_secure: bool = False
    #: With no tokens configured, allow unauthenticated access from loopback only.
    allow_anonymous_loopback: bool = True
    #: Public host names the server answers to besides the loopback names and base_url's host (DNS rebinding
    #: guard); ".example.com" allows the domain and its subdomains.
    allowed_hosts: tuple[str, ...] = ()
    #: Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto/-Host headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    #: Failed token checks one client address may make per login_window_seconds; then 429 with Retry-After.
    login_max_failures: int = 10
    login_window_seconds: int = 300
    #: SQLite file listing logged-out sessions until they expire (relative paths are under VOC_HOME).
    sessions_path: str = "data/sessions.db"
    #: Largest page size /api/search accepts.
    max_page_size: int = 200
    #: Seconds a search/facets/trends answer is reused for the same question (0: no cache). See app/api/_cache.py.
    cache_seconds: float = 30.0
    #: How many searches, sampled facet counts and trend histograms run at once; more wait their turn, in
    #: order. 0: one per CPU core (``query_slots``). They are CPU-bound: running more at once than there are
    #: cores finishes no more of them, makes every one slower and the slowest much slower (bench/api.py: with
    #: 8 clients on 2 cores, search p95 about 260 ms unbounded against about 175 ms with 2 slots).
    query_concurrency: int = 0
    #: How many exact facet-count computations (/api/trends/ratings; /api/search and /api/facets when
    #: ``facet_sample`` is 0) run at once; more wait their turn, so hits and charts stay fast while counts over
    #: large result sets run. Sampled facets take query slots instead. 0: one per CPU core
    #: (``facet_slots``): fewer slots than cores left a core idle while facets queued.
    facet_concurrency: int = 0
    #: Facets of a page/API search matching more documents than this count the newest ``facet_sample`` matches
    #: (the answer says so in ``facets_sampled``; the page shows estimates scaled to the total); 0: exact.
    #: Reports (digests) and alerts always count exactly.
    facet_sample: int = 2_000
    #: SQLite file keeping each user's saved searches (watchlists), relative to the project home.
    watchlists_path: str = "data/watchlists.db"
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)

    @property
    def query_slots(self) -> int:
        """Searches and trends computed at once: ``query_concurrency``, or one per CPU core when it is 0."""
        return self.query_concurrency or max(1, os.cpu_count() or 1)

    @property
    def facet_slots(self) -> int:
        """Facet computations allowed at once: ``facet_concurrency``, or one per CPU core when it is 0."""
        return self.facet_concurrency or max(1, os.cpu_count() or 1)

    def __post_init__(self) -> None:
        for name in self.allowed_hosts:
            if not _HOST_NAME.fullmatch(name):
                raise ValueError(f"allowed_hosts: {name!r} is not a host name (lower case, no scheme or port; "
                                 "'.example.com' for a domain and its subdomains)")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {proxy!r} is not an IP address or network: {exc}") from exc
        check_minimums(self, {"login_max_failures": (1, "at least 1"), "login_window_seconds": (1, "at least 1")})
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 (any free port) and 65535, got {self.port}")
        check_minimums(self, {
            "session_max_age": (60, "at least 60 seconds"),
            "facet_sample": (0, "0 (exact) or more"),
            "query_concurrency": (0, "0 (auto) or more"),
            "facet_concurrency": (0, "0 (auto) or more"),
            "cache_seconds": (0, "0 (off) or more"),
            "max_page_size": (1, "at least 1"),
        })
