"""Who is asking, and may they do this: bearer tokens, login sessions, roles and CSRF.

* ``Authorization: Bearer <token>`` — a token listed in the env var ``web.admin_tokens_env`` (role ``admin``)
  or ``web.read_tokens_env`` (role ``read``). No cookie is involved, so no CSRF token is needed.
* Login form (``POST /login`` with the token as password) → a signed session cookie ``voc_session``
  (HttpOnly, SameSite=Strict, Secure when ``web.cookie_secure``). Every state-changing request authenticated
  by that cookie must also carry the header ``X-CSRF-Token`` with the value from ``GET /api/session``
  (an HMAC of the session id, so a cross-site page can neither read nor forge it).
* Anonymous loopback: with no tokens configured at all and ``web.allow_anonymous_loopback``, a request from a
  loopback address to a loopback host name (which defeats DNS rebinding) is ``admin``; state-changing
  requests still need the CSRF header, since a browser on the same machine could be driven by any web page.

Roles are ordered: ``read`` < ``admin``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets as _secrets
import time
from dataclasses import dataclass
from typing import Literal

from configs import Settings

__all__ = ["Principal", "Authenticator", "AuthError", "SESSION_COOKIE", "CSRF_HEADER"]

SESSION_COOKIE = "voc_session"
CSRF_HEADER = "x-csrf-token"
Role = Literal["read", "admin"]
_RANK = {"read": 1, "admin": 2}
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


class AuthError(Exception):
    """Authentication failed (``status`` 401) or the role or CSRF token does not allow the action (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    role: Role
    #: How the request authenticated: "token", "session" or "anonymous".
    via: str
    #: Session id (cookie sessions) or "anonymous"; what the CSRF token is bound to. None for bearer tokens.
    session_id: str | None = None

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

    def __init__(self, settings: Settings, *, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        web = settings.web
        self._admin = _split_tokens(settings.secrets.get(web.admin_tokens_env))
        self._read = _split_tokens(settings.secrets.get(web.read_tokens_env))
        secret = settings.secrets.get(web.session_secret_env)
        self._key = secret.encode() if secret else _secrets.token_bytes(32)
        self._max_age = web.session_max_age
        self._anonymous = web.allow_anonymous_loopback and not (self._admin or self._read)
        self.cookie_secure = web.cookie_secure
        self._clock = clock
        self._env_names = (web.admin_tokens_env, web.read_tokens_env)

    @property
    def tokens_configured(self) -> bool:
        return bool(self._admin or self._read)

    # -- tokens ---------------------------------------------------------------------------------------
    def role_for_token(self, token: str) -> Role | None:
        token_b = token.encode()
        role: Role | None = None
        # Compare against every token (constant time each) so timing does not tell which list matched.
        for candidate in self._admin:
            if hmac.compare_digest(candidate.encode(), token_b):
                role = "admin"
        for candidate in self._read:
            if hmac.compare_digest(candidate.encode(), token_b) and role is None:
                role = "read"
        return role

    # -- sessions -------------------------------------------------------------------------------------
    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def make_session(self, role: Role) -> str:
        body = json.dumps({"sid": _secrets.token_urlsafe(16), "role": role, "exp": int(self._clock()) + self._max_age},
                          separators=(",", ":")).encode()
        return f"{_b64(body)}.{self._sign(body)}"

    def read_session(self, cookie: str) -> Principal | None:
        try:
            body_b64, sig = cookie.split(".", 1)
            body = _unb64(body_b64)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._sign(body), sig):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if data.get("exp", 0) < self._clock() or data.get("role") not in _RANK:
            return None
        return Principal(role=data["role"], via="session", session_id=str(data["sid"]))

    def csrf_token(self, principal: Principal) -> str | None:
        if principal.session_id is None:
            return None
        return self._sign(b"csrf:" + principal.session_id.encode())

    def check_csrf(self, principal: Principal, header: str | None) -> None:
        expected = self.csrf_token(principal)
        if expected is None:  # bearer token: not an ambient credential
            return
        if not header or not hmac.compare_digest(expected, header):
            raise AuthError(403, "missing or wrong X-CSRF-Token header (get it from GET /api/session)")

    # -- requests -------------------------------------------------------------------------------------
    def authenticate(self, *, authorization: str | None, cookie: str | None, client_host: str | None,
                     host_header: str | None) -> Principal:
        """Resolve the credentials of one request; raise :class:`AuthError` (401) when there are none."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError(401, "Authorization header must be 'Bearer <token>'")
            role = self.role_for_token(token.strip())
            if role is None:
                raise AuthError(401, "unknown token")
            return Principal(role=role, via="token")
        if cookie:
            principal = self.read_session(cookie)
            if principal is not None:
                return principal
        if self._anonymous and _is_loopback(client_host) and _is_loopback_host(host_header):
            return Principal(role="admin", via="anonymous", session_id="anonymous")
        if self.tokens_configured:
            raise AuthError(401, "authentication required: send 'Authorization: Bearer <token>' or log in at /login")
        raise AuthError(401, f"no tokens are configured (set {'/'.join(self._env_names)}) and anonymous access "
                             "is only allowed from loopback")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_loopback_host(host_header: str | None) -> bool:
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host.split("]", 1)[0] + "]"
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host in _LOOPBACK_HOSTS or host.startswith("127.")
