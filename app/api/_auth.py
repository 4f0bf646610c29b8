"""Who is asking, and may they do this: bearer tokens, login sessions, roles and CSRF.

* ``Authorization: Bearer <token>`` — a token listed in the env var ``web.admin_tokens_env`` (role ``admin``)
  or ``web.read_tokens_env`` (role ``read``). No cookie is involved, so no CSRF token is needed.
* Login form (``POST /login`` with the token as password) → a signed session cookie ``voc_session``
  (HttpOnly, SameSite=Strict, Secure when ``web.cookie_secure``). Every state-changing request authenticated
  by that cookie must also carry the header ``X-CSRF-Token`` with the value from ``GET /api/session``
  (an HMAC of the session id, so a cross-site page can neither read nor forge it).
* A session is bound to the token that opened it: the cookie carries a keyed fingerprint of the token, and
  its role is the role that token has *now*. Removing or rotating the token (and restarting with the same
  ``VOC_SESSION_SECRET``) ends its sessions; logging out records the session id as revoked
  (:mod:`app.api._revoked`), so the same cookie is refused afterwards.
* Failed token checks are throttled per client address (:mod:`app.api._throttle`): 429 with Retry-After.
* Anonymous loopback: with no tokens configured at all, no ``web.trusted_proxies`` and
  ``web.allow_anonymous_loopback``, a request from a loopback address, addressed to a loopback host name
  (``localhost``, ``127.x.x.x``, ``[::1]``; not ``127.attacker.example``) and carrying no proxy headers is
  ``admin``; state-changing requests still need the CSRF header, since a browser on the same machine could
  be driven by any web page.

A malformed cookie or CSRF header (non-ASCII, wrong shape, wrong types inside) is treated as absent or
wrong, never as an error of the server.

Roles are ordered: ``read`` < ``admin``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets as _secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.api._guard import host_name, is_loopback_name
from app.api._revoked import RevokedSessions
from app.api._throttle import FailureThrottle, client_key
from configs import Settings

__all__ = ["Principal", "Authenticator", "AuthError", "SESSION_COOKIE", "CSRF_HEADER"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "voc_session"
CSRF_HEADER = "x-csrf-token"
Role = Literal["read", "admin"]
_RANK = {"read": 1, "admin": 2}
#: base64url body "." base64url signature; anything else is not one of our cookies.
_COOKIE = re.compile(r"[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{43}")


class AuthError(Exception):
    """Authentication failed (``status`` 401), the role or CSRF token does not allow the action (403), or the
    client failed too many token checks (429, retry after ``retry_after`` seconds)."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    role: Role
    #: How the request authenticated: "token", "session" or "anonymous".
    via: str
    #: Session id (cookie sessions) or "anonymous"; what the CSRF token is bound to. None for bearer tokens.
    session_id: str | None = None
    #: Who is behind the request, for per-user data (watchlists): a hash of the token (bearer, or the one the
    #: session was opened with), the same across logins and restarts; None when anonymous.
    user: str | None = None

    def allows(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


def _split_tokens(value: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (value or "").split(",") if t.strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    """Built once per app from the settings; resolves a request's credentials to a :class:`Principal`."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        web = settings.web
        secret = settings.secrets.get(web.session_secret_env)
        self._key = secret.encode() if secret else _secrets.token_bytes(32)
        admin = _split_tokens(settings.secrets.get(web.admin_tokens_env))
        read = _split_tokens(settings.secrets.get(web.read_tokens_env))
        #: token fingerprint → role; an admin token listed as read too stays admin
        self._roles: dict[str, Role] = {self._fingerprint(t): "read" for t in read}
        self._roles.update({self._fingerprint(t): "admin" for t in admin})
        #: token fingerprint → stable user key (unkeyed, so it survives a restart without a session secret)
        self._users = {self._fingerprint(t): hashlib.sha256(b"voc-user\x00" + t.encode("utf-8", "replace")).hexdigest()[:32]
                       for t in (*read, *admin)}
        self._max_age = web.session_max_age
        self._anonymous = web.allow_anonymous_loopback and not self._roles and not web.trusted_proxies
        self.cookie_secure = web.cookie_secure
        self._clock = clock
        self._env_names = (web.admin_tokens_env, web.read_tokens_env)
        self.throttle = FailureThrottle(max_failures=web.login_max_failures, window=web.login_window_seconds,
                                        clock=clock)
        self.revoked = RevokedSessions(settings.resolve(web.sessions_path), clock=clock)

    @property
    def tokens_configured(self) -> bool:
        return bool(self._roles)

    def close(self) -> None:
        self.revoked.close()

    # -- tokens ---------------------------------------------------------------------------------------
    def _fingerprint(self, token: str) -> str:
        """A keyed hash of a token: what a session cookie carries to say which token opened it."""
        return self._sign(b"token:" + token.encode("utf-8", "replace"))[:22]

    def check_token(self, token: str, *, client: str | None) -> Role | None:
        """The role of ``token``, or None (counted as a failure of ``client``). Raises 429 without looking at
        the token while ``client`` has failed too often."""
        wait = self.throttle.retry_after(client)
        if wait:
            raise AuthError(429, f"too many failed token checks from your address; try again in {wait} s",
                            retry_after=wait)
        role = self._roles.get(self._fingerprint(token)) if token else None
        if role is None and self.throttle.fail(client):
            log.warning("%s failed %d token checks within %d s: refusing its token checks (429) for a while",
                        client_key(client), self.throttle.max_failures, int(self.throttle.window))
        return role

    # -- sessions -------------------------------------------------------------------------------------
    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def make_session(self, token: str) -> str:
        """A session cookie for a token that :meth:`check_token` accepted."""
        body = json.dumps({"sid": _secrets.token_urlsafe(16), "tfp": self._fingerprint(token),
                           "exp": int(self._clock()) + self._max_age}, separators=(",", ":")).encode()
        return f"{_b64(body)}.{self._sign(body)}"

    def _session_data(self, cookie: str) -> dict | None:
        """The signed, unexpired payload of a cookie, or None for anything else."""
        if not _COOKIE.fullmatch(cookie):
            return None
        body_b64, sig = cookie.split(".")
        try:
            body = _unb64(body_b64)
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(body).encode(), sig.encode()):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if (not isinstance(data, dict) or not isinstance(data.get("sid"), str) or not isinstance(data.get("tfp"), str)
                or type(data.get("exp")) is not int or data["exp"] < self._clock()):
            return None
        return data

    def read_session(self, cookie: str) -> Principal | None:
        """The principal of a valid session cookie: signed, unexpired, not logged out, and its token still
        configured (its role is the token's role now)."""
        data = self._session_data(cookie)
        if data is None:
            return None
        role = self._roles.get(data["tfp"])
        if role is None or self.revoked.is_revoked(data["sid"]):
            return None
        return Principal(role=role, via="session", session_id=data["sid"], user=self._users.get(data["tfp"]))

    def end_session(self, cookie: str | None) -> None:
        """Log out: the session's id is revoked until the cookie would have expired anyway."""
        data = self._session_data(cookie) if cookie else None
        if data is not None:
            self.revoked.revoke(data["sid"], expires_at=data["exp"])

    def csrf_token(self, principal: Principal) -> str | None:
        if principal.session_id is None:
            return None
        return self._sign(b"csrf:" + principal.session_id.encode())

    def check_csrf(self, principal: Principal, header: str | None) -> None:
        expected = self.csrf_token(principal)
        if expected is None:  # bearer token: not an ambient credential
            return
        # header values arrive as latin-1 text; a non-ASCII one cannot be ours and must not reach compare_digest
        if not header or not header.isascii() or not hmac.compare_digest(expected.encode(), header.encode()):
            raise AuthError(403, "missing or wrong X-CSRF-Token header (get it from GET /api/session)")

    # -- requests -------------------------------------------------------------------------------------
    def authenticate(self, *, authorization: str | None, cookie: str | None, client_host: str | None,
                     host_header: str | None, proxied: bool = False) -> Principal:
        """Resolve the credentials of one request; raise :class:`AuthError` (401, or 429 when throttled).
        ``proxied``: the request carries proxy headers, so it is not a local user whatever its address."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError(401, "Authorization header must be 'Bearer <token>'")
            role = self.check_token(token.strip(), client=client_host)
            if role is None:
                raise AuthError(401, "unknown token")
            return Principal(role=role, via="token", user=self._users.get(self._fingerprint(token.strip())))
        if cookie:
            principal = self.read_session(cookie)
            if principal is not None:
                return principal
        if (self._anonymous and not proxied and is_loopback_name(client_host)
                and is_loopback_name(host_name(host_header))):
            return Principal(role="admin", via="anonymous", session_id="anonymous")
        if self.tokens_configured:
            raise AuthError(401, "authentication required: send 'Authorization: Bearer <token>' or log in at /login"
                                 + (" (your session has ended: logged out, expired, or its token was removed)"
                                    if cookie else ""))
        raise AuthError(401, f"no tokens are configured (set {'/'.join(self._env_names)}) and anonymous access "
                             "is only allowed from loopback, to a loopback host name, not through a proxy")
