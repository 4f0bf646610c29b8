"""``deliver``: send due outbox rows, each channel isolated, with retries and exponential backoff.

Each row is claimed with a lease before sending, so two workers never send the same row at once; a row
is marked sent only after the receiver confirmed it (HTTP OK and error code 0). After a transient
failure the rest of that subscriber's rows on the same channel wait for the next run (keeping their
order); other channels go on.

One bad row never stops delivery: any exception while rendering or sending a row — a notifier's verdict
or not (a bug, a library refusing a hostile value) — is recorded on that row with its reason; the row
is retried with backoff and given up (status ``failed``, ``voc alerts retry`` re-queues it) after
``outbox.max_attempts``; the rows after it are still delivered. An error that is not a notifier's does
not hold the channel: it belongs to that row, not to the receiver.

Delivery is **at least once**. A receiver that processed a request but answered after the channel's
``timeout`` (or a crash between its answer and ``mark_sent``) gets the same row again on the next
attempt, up to ``max_attempts`` times in all. Every attempt of one alert state carries the same delivery
id, ``<fingerprint>:<version>`` (webhook: ``X-VOC-Delivery`` header and ``id`` field; email:
``X-VOC-Delivery`` and a ``Message-ID`` derived from it), so a receiver de-duplicates on it.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from alerts.message import Notification, held_batch
from alerts.notifiers import NOTIFIERS, NotifierError, PermanentNotifierError, Target, render, send
from alerts.store import AlertStore, PendingDelivery, open_store
from configs.alerts import Channel

if TYPE_CHECKING:
    from configs import Settings

__all__ = ["DeliveryReport", "Delivery", "deliver", "target_for"]

log = logging.getLogger("voc.alerts")


@dataclass(frozen=True)
class Delivery:
    id: str
    subscriber: str
    channel: str
    ok: bool
    error: str | None = None
    #: True when the row will be retried; False when sent or given up.
    retry: bool = False


@dataclass
class DeliveryReport:
    sent: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every attempt of this run: sent first, then failed."""
        return [*self.sent, *self.failed]

    def summary(self) -> str:
        retrying = sum(1 for d in self.failed if d.retry)
        return f"{len(self.sent)} sent, {len(self.failed)} failed ({retrying} will be retried)"


def target_for(settings: Settings, channel: Channel) -> Target:
    """Resolve a channel's secrets from ``settings.secrets`` (never from os.environ directly)."""
    sec = settings.secrets
    return Target(channel=channel.name, kind=channel.kind, url=channel.url or sec.get(channel.url_env),
                  secret=sec.get(channel.secret_env), timeout=channel.timeout,
                  path=settings.resolve(channel.path) if channel.path else None, host=channel.host, port=channel.port,
                  starttls=channel.starttls, username=channel.username, password=sec.get(channel.password_env),
                  sender=channel.sender, recipients=tuple(channel.recipients), style=channel.style)


def _backoff(attempts: int, settings: Settings) -> timedelta:
    ob = settings.alerts.outbox
    return min(ob.backoff * 2 ** min(max(attempts - 1, 0), 30), ob.backoff_max)


def _redact(text: str, target: Target | None) -> str:
    """An error text with the target's secrets (URL, its query values and long path parts, secret,
    password) replaced by ``…``: what is recorded on a row and logged never carries a credential."""
    if target is None:
        return text
    secrets = [target.url, target.secret, target.password]
    try:
        url = httpx.URL(target.url) if target.url else None
    except (httpx.InvalidURL, TypeError, ValueError):  # a malformed URL: still redacted as a whole above
        url = None
    if url is not None:
        secrets += [v for _k, v in url.params.multi_items()]
        secrets += [part for part in url.path.split("/") if len(part) >= 8]
    for value in sorted({v for v in secrets if v and len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, "…")
    return text


def _send_row(settings: Settings, row: PendingDelivery, http: httpx.Client, now: datetime,
              targets: dict[str, Target], held: Sequence[PendingDelivery] = ()) -> None:
    channel = settings.alerts.channel(row.channel)
    if channel is None:
        raise PermanentNotifierError(row.channel, "channel no longer configured in alerts.yaml")
    if channel.kind not in NOTIFIERS:
        raise PermanentNotifierError(row.channel, f"unknown channel kind {channel.kind!r}")
    target = targets[row.channel] = target_for(settings, channel)
    note = Notification.from_json(row.notification)
    if held:  # quiet hours are over: everything held for this subscriber × channel goes as one message
        note = held_batch([note, *(Notification.from_json(r.notification) for r in held)],
                          key=f"held-{row.subscriber}-{row.channel}-{row.id}:1")
    send(channel.kind, render(channel.kind, note, target), target=target, client=http, now=now)


def _is_held(row: PendingDelivery) -> bool:
    extra = row.notification.get("extra")
    return isinstance(extra, dict) and bool(extra.get("held_until"))


def deliver(settings: Settings, *, now: datetime, client: httpx.Client | None = None, store: AlertStore | None = None,
            limit: int = 1000) -> DeliveryReport:
    """Send every due outbox row (at most ``limit``); see the module docstring."""
    own_store = store is None
    st = store if store is not None else open_store(settings)
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=10.0, follow_redirects=False)
    report = DeliveryReport()
    blocked: set[tuple[str, str]] = set()
    targets: dict[str, Target] = {}
    lease = settings.alerts.outbox.lease.total_seconds()
    max_attempts = settings.alerts.outbox.max_attempts
    try:
        for _ in range(limit):
            row = st.claim(now=now, lease_s=lease, skip=blocked)
            if row is None:
                break
            delivery_id = str(row.notification.get("id"))
            held: list[PendingDelivery] = []
            try:
                if _is_held(row) and hasattr(st, "claim_held"):
                    held = st.claim_held(row, now=now, lease_s=lease)
                _send_row(settings, row, http, now, targets, held)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on its row; the next rows go on
                notifier = isinstance(exc, NotifierError)
                permanent = isinstance(exc, PermanentNotifierError)
                error = str(exc) if notifier else f"{type(exc).__name__} while delivering: {exc}"
                error = _redact(error, targets.get(row.channel))[:500]
                attempts = row.attempts + 1
                give_up = permanent or attempts >= max_attempts
                retry_at = None if give_up else now + _backoff(attempts, settings)
                # a receiver that is down holds this subscriber's later rows on the channel (order kept);
                # an error of this row's own (not the notifier's verdict) holds nothing
                hold = notifier and not permanent
                st.mark_failed(row, now=now, error=error, retry_at=retry_at, hold_channel=hold)
                for other in held:  # the batch failed as one; each row keeps its own attempts
                    st.mark_failed(other, now=now, error=error, retry_at=retry_at, hold_channel=False)
                if hold:
                    blocked.add((row.subscriber, row.channel))
                if notifier:
                    log.warning("delivery %s to %s/%s failed (attempt %d of %d): %s", delivery_id, row.subscriber,
                                row.channel, attempts, max_attempts, error)
                else:  # a bug or a library refusing a value; frames only (no message: it may quote a secret)
                    log.error("delivery %s to %s/%s raised (attempt %d of %d; %s): %s", delivery_id, row.subscriber,
                              row.channel, attempts, max_attempts, "given up" if give_up else "will retry", error)
                    frames = "".join(traceback.format_tb(exc.__traceback__))
                    log.debug("where delivery %s failed:\n%s", delivery_id, frames)
                report.failed.append(Delivery(id=delivery_id, subscriber=row.subscriber, channel=row.channel, ok=False,
                                              error=error, retry=not give_up))
                continue
            st.mark_sent(row, now=now)
            for other in held:
                st.mark_sent(other, now=now)
            report.sent.append(Delivery(id=delivery_id, subscriber=row.subscriber, channel=row.channel, ok=True))
    finally:
        if own_client:
            http.close()
        if own_store:
            st.close()
    return report
