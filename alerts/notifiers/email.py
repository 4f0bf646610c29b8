"""Email over SMTP: multipart/alternative with plain text and HTML (crawled text escaped).

Headers: ``Subject`` (the headline, folded to one line without control characters, RFC 2047 encoded),
``X-VOC-Delivery`` (the delivery id, ``<fingerprint>:<version>``) and a ``Message-ID`` derived from it, so
every attempt of one delivery carries the same id.

STARTTLS when ``starttls: true``; login when ``username`` is set, with the password from the channel's
``password_env`` variable. Success: the server accepted every recipient.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx

from alerts.message import Notification, header_text, headline, to_html, to_plain
from alerts.notifiers._base import PermanentNotifierError, Target, TransientNotifierError

__all__ = ["render", "send", "message_id"]


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    return {"subject": header_text(headline(alert), 200), "text": to_plain(alert),
            "html": f"<!doctype html><html><body>{to_html(alert)}</body></html>", "id": alert.id}


def message_id(delivery_id: str) -> str:
    """The same ``Message-ID`` for every attempt of one delivery, so a mail store can drop a repeat."""
    left = re.sub(r"[^A-Za-z0-9-]+", ".", delivery_id).strip(".") or "voc"
    return f"<{left[:120]}@voc.local>"


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client | None = None, now: datetime) -> None:
    if not (target.host and target.sender and target.recipients):
        raise PermanentNotifierError(target.channel, "email needs host, sender and recipients")
    msg = EmailMessage()  # the default policy writes non-ASCII header text as RFC 2047 encoded-words
    msg["Subject"] = header_text(payload["subject"], 200)  # crawled text: one line, no control characters
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.recipients)
    msg["Date"] = format_datetime(now)
    delivery = header_text(payload.get("id", ""), 200)
    msg["Message-ID"] = message_id(delivery)
    msg["X-VOC-Delivery"] = delivery
    msg.set_content(payload["text"])
    msg.add_alternative(payload["html"], subtype="html")
    try:
        with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
            if target.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if target.username:
                smtp.login(target.username, target.password or "")
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentNotifierError(target.channel, f"SMTP login refused ({exc.smtp_code})") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentNotifierError(target.channel, f"recipients refused: {', '.join(exc.recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        cls = TransientNotifierError if 400 <= exc.smtp_code < 500 else PermanentNotifierError
        raise cls(target.channel, f"SMTP {exc.smtp_code}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientNotifierError(target.channel, f"SMTP {type(exc).__name__}: cannot deliver") from exc
    if refused:
        raise PermanentNotifierError(target.channel, f"recipients refused: {', '.join(refused)}")
