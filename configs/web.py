"""`web:` section of voc.yaml — the HTTP API and web page."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WebSettings"]


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Public address used in alert links to the search page.
    base_url: str = "http://127.0.0.1:8080"
    #: Environment variables holding API tokens (comma-separated) per role.
    admin_tokens_env: str = "VOC_ADMIN_TOKENS"
    read_tokens_env: str = "VOC_READ_TOKENS"
    #: With no tokens configured, allow unauthenticated access from loopback only.
    allow_anonymous_loopback: bool = True
