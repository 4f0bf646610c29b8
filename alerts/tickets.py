"""Tickets: file an incident to an issue tracker (``voc alerts ticket ID --to NAME``); the ticket's URL is
stored on the incident (``detail.tickets``) and shown by ``voc alerts show`` and the API.

* **jira** — ``POST {site}/rest/api/2/issue`` with ``{"fields": {"project": {"key"}, "summary",
  "description", "issuetype": {"name"}, "labels"}}``; ``Authorization: Basic base64(email:API token)``
  when ``email_env`` is set, else ``Bearer <token>`` (a Data Center personal access token). Answer 201
  ``{"id", "key", "self"}``; the ticket URL is ``{site}/browse/{key}``.
* **github** — ``POST {api}/repos/{owner}/{repo}/issues`` with ``{"title", "body", "labels"}``,
  ``Authorization: Bearer <token>``, ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version:
  2022-11-28``. Answer 201 ``{"number", "html_url"}``.
* **webhook** — ``POST {url}`` with ``{"id", "incident": {…}, "text"}`` signed as the webhook channel
  signs (``X-VOC-Timestamp``, ``X-VOC-Signature: sha256=hex(HMAC(secret, ts + "." + body))``,
  ``X-VOC-Delivery``); a JSON answer's ``url`` (or ``html_url``) is the ticket URL.

One ticket per incident and tracker: filing again returns the stored one. Crawled text in the ticket is
inert: Jira gets samples inside ``{noformat}`` (the marker itself removed from the text), GitHub Markdown
escaped with mentions broken (``@\u200b``). Tokens never reach a message or log: errors name the tracker
and the HTTP status only.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from alerts._errors import AlertNotFoundError, AlertsError
from alerts.lifecycle import AlertRecord, Transition
from alerts.message import md_escape, one_line
from configs.times import format_utc

if TYPE_CHECKING:
    from configs import Settings
    from configs.alerts import Tracker

    from alerts.store import AlertStore

__all__ = ["TicketError", "file_ticket", "jira_request", "github_request", "webhook_request"]

_GITHUB_API = "https://api.github.com"


class TicketError(AlertsError):
    """The tracker refused or could not be reached (names the tracker, never a token)."""


def _samples(rec: AlertRecord) -> list[str]:
    return [one_line(str(s.get("text", "")), 200) for s in rec.detail.get("samples") or () if isinstance(s, Mapping)][:5]


def _summary(rec: AlertRecord) -> str:
    return one_line(f"[VOC] {rec.title}", 250)


def _facts(rec: AlertRecord, base_url: str) -> list[str]:
    lines = [f"产品：{rec.product}；严重程度：{rec.severity}；状态：{rec.state}；首次发现：{format_utc(rec.opened_at)}",
             rec.summary]
    lines += [one_line(str(e.get("text", "")), 300) for e in rec.detail.get("evidence") or () if isinstance(e, Mapping)]
    if base_url:
        lines.append(f"{base_url.rstrip('/')}/#alerts/{rec.fingerprint}")
    return lines


def jira_request(tracker: Tracker, rec: AlertRecord, *, site: str, email: str | None, token: str,
                 base_url: str = "") -> tuple[str, dict[str, str], dict[str, Any]]:
    """(url, headers, body) of Jira's create-issue call (REST v2; description in wiki markup)."""
    samples = "\n".join(f"{{noformat}}{t.replace('{noformat}', '')}{{noformat}}" for t in _samples(rec))
    facts = "\n".join(t.replace("{", "(").replace("}", ")") for t in _facts(rec, base_url))
    body = {"fields": {"project": {"key": tracker.project}, "summary": _summary(rec),
                       "description": f"{facts}\n\nh3. 用户原话\n{samples}", "issuetype": {"name": tracker.issue_type},
                       "labels": list(tracker.labels)}}
    if email:
        auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
    else:
        auth = f"Bearer {token}"
    headers = {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"}
    return f"{site.rstrip('/')}/rest/api/2/issue", headers, body


def _gh_text(text: str, limit: int = 300) -> str:
    return md_escape(text, limit).replace("@", "@\u200b")


def github_request(tracker: Tracker, rec: AlertRecord, *, api: str, token: str,
                   base_url: str = "") -> tuple[str, dict[str, str], dict[str, Any]]:
    """(url, headers, body) of GitHub's create-issue call."""
    lines = [_gh_text(t) for t in _facts(rec, "")]
    if base_url:
        lines[-1:] = [lines[-1], f"{base_url.rstrip('/')}/#alerts/{rec.fingerprint}"]
    lines += ["", "**用户原话**", *(f"> {_gh_text(t, 200)}" for t in _samples(rec))]
    body = {"title": _summary(rec), "body": "\n\n".join(x for x in lines if x) if lines else "",
            "labels": list(tracker.labels)}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"}
    return f"{api.rstrip('/')}/repos/{tracker.repo}/issues", headers, body


def webhook_request(rec: AlertRecord, *, url: str, secret: str | None, now: datetime,
                    base_url: str = "") -> tuple[str, dict[str, str], bytes]:
    from alerts.notifiers.webhook import signature
    from alerts.view import incident_view

    delivery = f"{rec.fingerprint}:ticket"
    payload = {"id": delivery, "incident": incident_view(rec),
               "text": "\n".join(one_line(x, 300) for x in [rec.title, *_facts(rec, base_url)])}
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    ts = int(now.timestamp())
    headers = {"Content-Type": "application/json", "X-VOC-Timestamp": str(ts), "X-VOC-Delivery": delivery}
    if secret:
        headers["X-VOC-Signature"] = signature(secret, ts, body)
    return url, headers, body


def _post(client: httpx.Client, tracker: Tracker, url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    try:
        resp = client.post(url, content=body, headers=headers, timeout=tracker.timeout)
    except httpx.HTTPError as exc:
        raise TicketError(f"tracker {tracker.name}: cannot reach it ({type(exc).__name__})") from None
    if resp.status_code not in (200, 201):
        detail = ""
        try:
            err = resp.json()
            msgs = err.get("errorMessages") or err.get("message") or err.get("errors") or ""
            detail = f": {one_line(json.dumps(msgs, ensure_ascii=False), 200)}" if msgs else ""
        except ValueError:
            pass
        hint = " — check its token variable" if resp.status_code in (401, 403) else ""
        raise TicketError(f"tracker {tracker.name}: HTTP {resp.status_code}{detail}{hint}")
    try:
        data = resp.json()
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _create(settings: Settings, tracker: Tracker, rec: AlertRecord, *, now: datetime,
            client: httpx.Client) -> dict[str, Any]:
    sec = settings.secrets
    site = tracker.url or sec.get(tracker.url_env)
    base = settings.web.base_url
    if tracker.kind == "jira":
        token = sec.get(tracker.token_env)
        if not site or not token:
            missing = [n for n, v in ((tracker.url_env or "url", site), (tracker.token_env, token)) if not v]
            raise TicketError(f"tracker {tracker.name}: set {' and '.join(str(m) for m in missing)}")
        url, headers, payload = jira_request(tracker, rec, site=site, email=sec.get(tracker.email_env), token=token,
                                             base_url=base)
        data = _post(client, tracker, url, headers, json.dumps(payload, ensure_ascii=False).encode())
        key = str(data.get("key") or "")
        if not key:
            raise TicketError(f"tracker {tracker.name}: the answer carries no issue key")
        return {"key": key, "url": f"{site.rstrip('/')}/browse/{key}"}
    if tracker.kind == "github":
        token = sec.get(tracker.token_env)
        if not token:
            raise TicketError(f"tracker {tracker.name}: set {tracker.token_env}")
        url, headers, payload = github_request(tracker, rec, api=site or _GITHUB_API, token=token, base_url=base)
        data = _post(client, tracker, url, headers, json.dumps(payload, ensure_ascii=False).encode())
        if not data.get("html_url"):
            raise TicketError(f"tracker {tracker.name}: the answer carries no html_url")
        return {"key": f"#{data.get('number')}", "url": str(data["html_url"])}
    if not site:
        raise TicketError(f"tracker {tracker.name}: set {tracker.url_env or 'url'}")
    url, headers, raw = webhook_request(rec, url=site, secret=sec.get(tracker.secret_env), now=now, base_url=base)
    data = _post(client, tracker, url, headers, raw)
    link = data.get("url") or data.get("html_url") or ""
    return {"key": str(data.get("key") or ""), "url": str(link) if str(link).startswith(("http://", "https://")) else ""}


def file_ticket(settings: Settings, fingerprint: str, *, to: str, now: datetime, store: AlertStore | None = None,
                client: httpx.Client | None = None) -> dict[str, Any]:
    """File the incident to tracker ``to`` (once per tracker) and store the ticket; returns it."""
    from alerts.store import open_store

    tracker = settings.alerts.tracker(to)
    if tracker is None:
        names = ", ".join(t.name for t in settings.alerts.trackers) or "none configured"
        raise TicketError(f"unknown tracker {to!r} (trackers in alerts.yaml: {names})")
    st = store if store is not None else open_store(settings)
    own_client = client is None
    http = client if client is not None else httpx.Client()
    try:
        rec = st.get(fingerprint)
        if rec is None:
            raise AlertNotFoundError(fingerprint)
        done = next((t for t in rec.detail.get("tickets") or () if t.get("tracker") == tracker.name), None)
        if done is not None:
            return dict(done)
        ticket = {"tracker": tracker.name, "kind": tracker.kind, **_create(settings, tracker, rec, now=now, client=http),
                  "at": format_utc(now)}

        def compute(r: AlertRecord | None) -> Transition | None:
            if r is None:
                return None
            tickets = [*(r.detail.get("tickets") or ()), ticket]
            return Transition(dataclasses.replace(r, detail={**dict(r.detail), "tickets": tickets}), None, False)

        st.apply(rec.fingerprint, compute, lambda t: [], now=now)
        return ticket
    finally:
        if own_client:
            http.close()
        if store is None:
            st.close()
