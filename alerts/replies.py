"""Replies to the reviewers: when an incident's fix is verified, the App Store reviews that complained about
it (its posts from ``appstore`` on versions below the fix version) get a drafted reply from the product's
template (``replies.templates``) with the fix version. Nothing is sent without approval: ``voc replies
list`` → ``approve`` → ``send``, through the App Store Connect API (:mod:`alerts._asc`).

Rows live in the alert store's ``review_replies`` table (migration 3), one per review (primary key), so a
review is drafted and answered at most once. ``send`` claims each approved row (``approved`` →
``sending``) in a transaction before the request and marks it ``sent`` with Apple's response id after a
201: two concurrent ``send`` runs cannot both post one reply, and a run that dies mid-request leaves the
row ``sending`` — never sent again automatically (``voc replies list --status sending`` shows it; check
App Store Connect). Rate limits: Apple answers 429 past its hourly quota and reports it in
``X-Rate-Limit: user-hour-lim:3600;user-hour-rem:N;``; ``send`` stops at a 429 or when the remaining
quota reaches 0, leaving the rest approved for the next run. A 409 (the review already has a response) is
recorded as ``failed`` with that reason; other 4xx as ``failed``; network errors and 5xx go back to
``approved`` for the next run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from alerts._errors import AlertsError
from alerts.lifecycle import AlertRecord
from configs.times import format_utc
from configs.versions import version_key

if TYPE_CHECKING:
    from configs import Settings
    from index import FeedbackIndex

    from alerts.store import SqliteAlertStore

__all__ = ["ReplyError", "SendReport", "draft_replies", "list_replies", "approve", "send_approved", "REPLY_FIELDS"]

REPLY_FIELDS = ("review", "incident", "product", "source", "source_id", "app_version", "review_text", "body",
                "status", "created_at", "approved_by", "approved_at", "sent_at", "response_id", "attempts",
                "last_error")
_RATE = re.compile(r"user-hour-rem:(\d+)")


class ReplyError(AlertsError):
    """Replies cannot be drafted, approved or sent (names what to fix; never a key)."""


def draft_replies(settings: Settings, index: FeedbackIndex, st: SqliteAlertStore, rec: AlertRecord, *,
                  now: datetime) -> int:
    """Draft a reply for each App Store review of ``rec`` (fix-verified) on a version below the fix; returns
    how many were added (a review already drafted keeps its row)."""
    from alerts.view import incident_posts

    fix = rec.detail.get("fix") or {}
    version = str(fix.get("version") or "")
    if rec.state != "fix_verified" or not version:
        return 0
    fixed_in = version_key(version)
    names = {p.id: p.name for p in settings.sources.products}
    problem = "、".join(str(n) for n in (rec.detail.get("topic_names") or rec.detail.get("terms") or ())[:2]) or "反馈的"
    body = settings.alerts.replies.template(rec.product).format(version=version, product=names.get(rec.product,
                                                                                                    rec.product),
                                                                 problem=problem)
    added = 0
    with st._tx() as db:
        for post in incident_posts(index, rec, limit=500):
            ver = post.get("app_version")
            if post.get("source") != "appstore" or not ver or version_key(ver) >= fixed_in:
                continue
            sid = str(post.get("id") or "")
            source_id = sid.split(":", 1)[-1] if ":" in sid else sid
            doc = index.get(sid)
            if doc is not None and doc.get("source_id"):
                source_id = str(doc["source_id"])
            cur = db.execute(
                "INSERT OR IGNORE INTO review_replies (review, incident, product, source, source_id, app_version,"
                " review_text, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, rec.fingerprint, rec.product, "appstore", source_id, str(ver)[:64],
                 str(post.get("text") or "")[:2000], body, format_utc(now)))
            added += cur.rowcount
    return added


def list_replies(st: SqliteAlertStore, *, status: str | None = None, incident: str | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(REPLY_FIELDS)} FROM review_replies WHERE 1=1"
    args: list[Any] = []
    if status:
        sql += " AND status = ?"
        args.append(status)
    if incident:
        sql += " AND incident LIKE ?"
        args.append(incident.replace("%", "").replace("_", "") + "%")
    return [dict(zip(REPLY_FIELDS, r)) for r in st._select(sql + " ORDER BY created_at, review", args)]


def approve(st: SqliteAlertStore, *, reviews: tuple[str, ...] = (), incident: str | None = None, by: str,
            now: datetime) -> int:
    """Approve drafts (by review id, or every draft of an incident); returns how many."""
    if not reviews and not incident:
        raise ReplyError("name the reviews to approve, or --incident ID for all drafts of an incident")
    n = 0
    with st._tx() as db:
        if incident:
            n += db.execute("UPDATE review_replies SET status = 'approved', approved_by = ?, approved_at = ?"
                            " WHERE status = 'draft' AND incident LIKE ?",
                            (by, format_utc(now), incident.replace("%", "").replace("_", "") + "%")).rowcount
        for r in reviews:
            n += db.execute("UPDATE review_replies SET status = 'approved', approved_by = ?, approved_at = ?"
                            " WHERE status = 'draft' AND review = ?", (by, format_utc(now), r)).rowcount
    return n


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retry: dict[str, str] = field(default_factory=dict)
    #: Why sending stopped early (rate limit), or "".
    stopped: str = ""

    def summary(self) -> str:
        text = f"{len(self.sent)} sent, {len(self.failed)} failed, {len(self.retry)} to retry"
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


def _credentials(settings: Settings) -> tuple[str, str, str]:
    cfg = settings.alerts.replies
    sec = settings.secrets
    key_id, issuer, pem = sec.get(cfg.key_id_env), sec.get(cfg.issuer_id_env), sec.get(cfg.private_key_env)
    missing = [n for n, v in ((cfg.key_id_env, key_id), (cfg.issuer_id_env, issuer), (cfg.private_key_env, pem)) if not v]
    if missing:
        raise ReplyError(f"App Store Connect credentials missing: set {', '.join(missing)}")
    assert key_id and issuer and pem
    if "-----BEGIN" not in pem and len(pem) < 4096 and os.path.isfile(pem):
        pem = Path(pem).read_text("utf-8")
    return key_id, issuer, pem


def send_approved(settings: Settings, st: SqliteAlertStore, *, now: datetime,
                  client: httpx.Client | None = None) -> SendReport:
    """Send every approved reply once (see the module docstring)."""
    from alerts._asc import asc_token, response_request

    rows = list_replies(st, status="approved")
    report = SendReport()
    if not rows:
        return report
    key_id, issuer, pem = _credentials(settings)
    try:
        token = asc_token(key_id=key_id, issuer_id=issuer, private_key_pem=pem, now=now)
    except ValueError as exc:
        raise ReplyError(str(exc)) from None
    cfg = settings.alerts.replies
    http = client if client is not None else httpx.Client()
    try:
        for row in rows:
            review = row["review"]
            with st._tx() as db:  # claim: only one sender posts this reply
                if db.execute("UPDATE review_replies SET status = 'sending', attempts = attempts + 1 WHERE review = ?"
                              " AND status = 'approved'", (review,)).rowcount != 1:
                    continue
            url, body = response_request(cfg.api_url, row["source_id"], row["body"])
            try:
                resp = http.post(url, content=json.dumps(body, ensure_ascii=False).encode(), timeout=cfg.timeout,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                _set(st, review, "approved", error=f"network: {type(exc).__name__}")
                report.retry[review] = type(exc).__name__
                continue
            if resp.status_code == 201:
                try:
                    rid = str(resp.json()["data"]["id"])
                except (ValueError, KeyError, TypeError):
                    rid = ""
                _set(st, review, "sent", sent_at=format_utc(now), response_id=rid)
                report.sent.append(review)
            elif resp.status_code == 429:
                _set(st, review, "approved", error="HTTP 429: rate limited")
                report.retry[review] = "HTTP 429"
                report.stopped = "App Store Connect rate limit (HTTP 429); the rest wait for the next run"
                break
            elif resp.status_code >= 500:
                _set(st, review, "approved", error=f"HTTP {resp.status_code}")
                report.retry[review] = f"HTTP {resp.status_code}"
            else:
                why = "the review already has a response" if resp.status_code == 409 else _apple_error(resp)
                _set(st, review, "failed", error=f"HTTP {resp.status_code}: {why}")
                report.failed[review] = f"HTTP {resp.status_code}: {why}"
            m = _RATE.search(resp.headers.get("X-Rate-Limit", ""))
            if m and int(m.group(1)) <= 0:
                report.stopped = "App Store Connect hourly quota used up (X-Rate-Limit); the rest wait for the next run"
                break
    finally:
        if client is None:
            http.close()
    return report


def _apple_error(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        return "; ".join(str(e.get("detail") or e.get("title") or e.get("code")) for e in errors)[:300] or "refused"
    except (ValueError, AttributeError):
        return "refused"


def _set(st: SqliteAlertStore, review: str, status: str, *, error: str | None = None, sent_at: str | None = None,
         response_id: str | None = None) -> None:
    with st._tx() as db:
        db.execute("UPDATE review_replies SET status = ?, last_error = ?, sent_at = coalesce(?, sent_at),"
                   " response_id = coalesce(?, response_id) WHERE review = ?",
                   (status, error, sent_at, response_id, review))
