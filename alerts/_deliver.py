"""``deliver``: send due outbox rows, each channel isolated, with retries and exponential backoff.

Each row is claimed with a lease before sending, so two workers never send the same row; a row is marked
sent only after the receiver confirmed it (HTTP OK and error code 0). After a transient failure the rest
of that subscriber's rows on the same channel wait for the next run (keeping their order); other
channels go on. A crash between the receiver's confirmation and ``mark_sent`` would resend that one row
after the lease: every payload carries its delivery id (``<fingerprint>:<version>``) so receivers can
de-duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from alerts.message import Notification
from alerts.notifiers import NOTIFIERS, NotifierError, PermanentNotifierError, Target, render, send
from alerts.store import AlertStore, open_store
from configs.alerts import Channel, parse_duration

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


def target_for(settings: Any, channel: Channel) -> Target:
    """Resolve a channel's secrets from ``settings.secrets`` (never from os.environ directly)."""
    sec = settings.secrets
    return Target(channel=channel.name, kind=channel.kind, url=channel.url or sec.get(channel.url_env),
                  secret=sec.get(channel.secret_env), timeout=channel.timeout,
                  path=settings.resolve(channel.path) if channel.path else None, host=channel.host, port=channel.port,
                  starttls=channel.starttls, username=channel.username, password=sec.get(channel.password_env),
                  sender=channel.sender, recipients=tuple(channel.recipients), style=channel.style)


def _backoff(attempts: int, settings: Any) -> timedelta:
    ob = settings.alerts.outbox
    return min(parse_duration(ob.backoff) * int(2 ** max(attempts - 1, 0)), parse_duration(ob.backoff_max))


def deliver(settings: Any, *, now: datetime, client: httpx.Client | None = None, store: AlertStore | None = None,
            limit: int = 1000) -> DeliveryReport:
    """Send every due outbox row (at most ``limit``); see the module docstring."""
    own_store = store is None
    st = store if store is not None else open_store(settings)
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=10.0, follow_redirects=False)
    report = DeliveryReport()
    blocked: set[tuple[str, str]] = set()
    lease = parse_duration(settings.alerts.outbox.lease).total_seconds()
    try:
        for _ in range(limit):
            row = st.claim(now=now, lease_s=lease, skip=blocked)
            if row is None:
                break
            channel = settings.alerts.channel(row.channel)
            try:
                if channel is None:
                    raise PermanentNotifierError(row.channel, "channel no longer configured in alerts.yaml")
                if channel.kind not in NOTIFIERS:
                    raise PermanentNotifierError(row.channel, f"unknown channel kind {channel.kind!r}")
                target = target_for(settings, channel)
                payload = render(channel.kind, Notification.from_json(row.notification), target)
                send(channel.kind, payload, target=target, client=http, now=now)
            except NotifierError as exc:
                attempts = row.attempts + 1
                permanent = isinstance(exc, PermanentNotifierError)
                give_up = permanent or attempts >= settings.alerts.outbox.max_attempts
                retry_at = None if give_up else now + _backoff(attempts, settings)
                st.mark_failed(row, now=now, error=str(exc), retry_at=retry_at)
                if not permanent:  # keep this subscriber's later rows on the channel in order, for the next run
                    blocked.add((row.subscriber, row.channel))
                log.warning("delivery %s to %s/%s failed (attempt %d): %s", row.notification.get("id"), row.subscriber,
                            row.channel, attempts, exc)
                report.failed.append(Delivery(id=str(row.notification.get("id")), subscriber=row.subscriber,
                                              channel=row.channel, ok=False, error=str(exc), retry=not give_up))
                continue
            st.mark_sent(row, now=now)
            report.sent.append(Delivery(id=str(row.notification.get("id")), subscriber=row.subscriber,
                                        channel=row.channel, ok=True))
    finally:
        if own_client:
            http.close()
        if own_store:
            st.close()
    return report
