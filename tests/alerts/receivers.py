"""A loopback HTTP receiver that verifies each chat platform's documented signature scheme.

Loaded by conftest.py (pytest's importlib mode keeps test folders off sys.path). Routes:

* ``/hook``          generic webhook: ``X-VOC-Signature = sha256=hex(HMAC(secret, f"{ts}." + body))``
* ``/robot/send``    DingTalk: ``access_token`` query param, ``timestamp`` (ms) and ``sign`` =
                     base64(HMAC-SHA256(secret, f"{ts}\\n{secret}")); answers ``errcode``
* ``/cgi-bin/webhook/send``  WeCom: ``key`` query param; markdown ≤ 4096 bytes; answers ``errcode``
* ``/open-apis/bot/v2/hook/<token>``  Feishu: body ``timestamp`` (s) and ``sign`` =
                     base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b"")); answers ``code``
* ``/services/T/B/X`` Slack: answers ``ok`` or 400 ``invalid_payload``
* ``/rest/api/2/issue`` Jira create issue: ``Authorization: Basic base64(JIRA_EMAIL:JIRA_TOKEN)`` or
                     ``Bearer JIRA_TOKEN``, JSON ``fields`` with ``project.key``, a one-line ``summary``
                     (≤ 255), ``issuetype.name``, string ``description``; 201 ``{id, key, self}``, 401 or
                     400 ``{errorMessages, errors}`` as Jira answers
* ``/repos/{owner}/{repo}/issues`` GitHub create issue: ``Authorization: Bearer GITHUB_TOKEN`` (or
                     ``token …``), ``Accept: application/vnd.github+json``, a ``title``; 201 ``{number,
                     html_url}``, 401 ``Bad credentials``, 422 ``Validation Failed``
* ``/v1/customerReviewResponses`` App Store Connect: ``Authorization: Bearer <JWT>`` verified with
                     ``Receiver.asc`` (``{"public_key", "kid", "iss"}``): header alg ES256 + kid + typ JWT,
                     claims iss, aud ``appstoreconnect-v1``, exp − iat ≤ 20 min, iat within an hour of the
                     test clock, the ES256 signature (raw r‖s); the JSON:API body; 201 with ``data.id``,
                     401 ``NOT_AUTHORIZED``, 409 when the review already has a response
* ``/ticket``        a ticket webhook: signed as ``/hook``; answers ``{"url": …}``

``Receiver(delay_s=…)`` records a request and only then sleeps before answering (a receiver slower than
the sender's timeout: it did process the delivery); ``processed`` keeps each ``X-VOC-Delivery`` once, the
de-duplication a receiver is told to do.

:class:`SmtpReceiver` is a real SMTP server (aiosmtpd) on 127.0.0.1 that parses each message with the
standard library's strict policy and refuses (550) one with header defects or a header outside the set
VOC writes, so a header injected through crawled text fails the delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import email
import email.policy
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET = "SEC-test-secret-0123456789"
TOKEN = "tok-abc"
JIRA_EMAIL = "bot@example.com"
JIRA_TOKEN = "ATATT-jira-token-0123"
GITHUB_TOKEN = "github_pat_0123456789"


class Receiver:
    def __init__(self, *, now_s: float, port: int = 0, delay_s: float = 0.0) -> None:
        self.now_s = now_s  # the test clock, for timestamp freshness checks
        self.delay_s = delay_s
        self.received: list[dict[str, Any]] = []
        #: Delivery ids handled once each (a receiver de-duplicating on ``X-VOC-Delivery``).
        self.processed: dict[str, dict[str, Any]] = {}
        self.rejected: list[str] = []
        self.fail_next: dict[str, Any] = {}  # route prefix -> (status, body) to answer once
        self.headers: list[dict[str, str]] = []
        #: App Store Connect: {"public_key": EllipticCurvePublicKey, "kid": str, "iss": str}
        self.asc: dict[str, Any] = {}
        self.responses: dict[str, str] = {}  # review id -> the reply posted to it
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = receiver.handle(self.path, dict(self.headers), body)
                if receiver.delay_s:  # processed, but answers later than the sender waits
                    time.sleep(receiver.delay_s)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _fresh(self, ts: float) -> bool:
        return abs(ts - self.now_s) < 3600

    def _signed(self, headers: dict[str, str], body: bytes) -> bool:
        """Our webhook signature: ``X-VOC-Signature: sha256=HMAC(secret, "<X-VOC-Timestamp>." + body)``, fresh."""
        ts = headers.get("X-VOC-Timestamp", "")
        want = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("X-VOC-Signature", ""), want) and self._fresh(float(ts))

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        url = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        for prefix, answer in list(self.fail_next.items()):
            if url.path.startswith(prefix):
                del self.fail_next[prefix]
                return answer
        payload = json.loads(body)
        self.headers.append(headers)
        if url.path == "/v1/customerReviewResponses":
            return self._asc(headers, payload)
        if url.path == "/rest/api/2/issue":
            return self._jira(headers, payload)
        if url.path.startswith("/repos/") and url.path.endswith("/issues"):
            return self._github(url.path, headers, payload)
        if url.path == "/ticket":
            if not self._signed(headers, body):
                self.rejected.append("ticket")
                return 401, {"code": 401, "msg": "bad signature"}
            self.received.append({"platform": "ticket", "body": payload})
            return 201, {"url": f"https://tickets.example.com/T-{len(self.received)}", "key": f"T-{len(self.received)}"}
        if url.path == "/hook":
            if not self._signed(headers, body):
                self.rejected.append("webhook")
                return 401, {"code": 401, "msg": "bad signature"}
            delivery = headers.get("X-VOC-Delivery", "")
            self.received.append({"platform": "webhook", "delivery": delivery, "body": payload})
            self.processed.setdefault(delivery, payload)
            return 200, {"code": 0}
        if url.path == "/robot/send":
            if q.get("access_token") != TOKEN:
                return 200, {"errcode": 300001, "errmsg": "token is not exist"}
            ts = q.get("timestamp", "0")
            digest = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
            if q.get("sign") != base64.b64encode(digest).decode() or not self._fresh(int(ts) / 1000):
                self.rejected.append("dingtalk")
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
            if payload.get("msgtype") not in ("markdown", "actionCard"):
                return 200, {"errcode": 40035, "errmsg": "bad msgtype"}
            self.received.append({"platform": "dingtalk", "body": payload})
            return 200, {"errcode": 0, "errmsg": "ok"}
        if url.path == "/cgi-bin/webhook/send":
            if q.get("key") != TOKEN:
                return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
            content = payload.get("markdown", {}).get("content", "")
            if payload.get("msgtype") != "markdown" or len(content.encode()) > 4096:
                return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length"}
            self.received.append({"platform": "wecom", "body": payload})
            return 200, {"errcode": 0, "errmsg": "ok"}
        if url.path.startswith("/open-apis/bot/v2/hook/"):
            ts = payload.get("timestamp", "0")
            want = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
            if payload.get("sign") != want or not self._fresh(int(ts)):
                self.rejected.append("feishu")
                return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
            if payload.get("msg_type") != "interactive" or "card" not in payload:
                return 200, {"code": 9499, "msg": "Bad Request"}
            self.received.append({"platform": "feishu", "body": payload})
            return 200, {"code": 0, "msg": "success", "data": {}}
        if url.path.startswith("/services/"):
            if not payload.get("text"):
                return 400, "invalid_payload"
            self.received.append({"platform": "slack", "body": payload})
            return 200, "ok"
        return 404, {"code": 404, "msg": "no route"}


    def _asc_token_ok(self, auth: str) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        def unb64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        if not auth.startswith("Bearer ") or auth.count(".") != 2 or not self.asc:
            return False
        head, claims, sig = auth[len("Bearer "):].split(".")
        try:
            h, c, raw = json.loads(unb64(head)), json.loads(unb64(claims)), unb64(sig)
        except ValueError:
            return False
        if h != {"alg": "ES256", "kid": self.asc["kid"], "typ": "JWT"} or len(raw) != 64:
            return False
        if c.get("iss") != self.asc["iss"] or c.get("aud") != "appstoreconnect-v1":
            return False
        if not isinstance(c.get("iat"), int) or not isinstance(c.get("exp"), int) or not 0 < c["exp"] - c["iat"] <= 1200:
            return False
        if not self._fresh(c["iat"]):
            return False
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            self.asc["public_key"].verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def _asc(self, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
        if not self._asc_token_ok(headers.get("Authorization", "")):
            self.rejected.append("appstoreconnect")
            return 401, {"errors": [{"status": "401", "code": "NOT_AUTHORIZED", "title": "Authentication credentials "
                                     "are missing or invalid."}]}
        data = payload.get("data") if isinstance(payload, dict) else None
        try:
            assert data["type"] == "customerReviewResponses"
            text = data["attributes"]["responseBody"]
            assert isinstance(text, str) and 0 < len(text) <= 5970
            review = data["relationships"]["review"]["data"]
            assert review["type"] == "customerReviews" and isinstance(review["id"], str) and review["id"]
        except (AssertionError, KeyError, TypeError):
            return 422, {"errors": [{"status": "422", "code": "ENTITY_ERROR", "title": "invalid body"}]}
        self.received.append({"platform": "appstoreconnect", "body": payload})
        if review["id"] in self.responses:
            return 409, {"errors": [{"status": "409", "code": "ENTITY_ERROR", "detail": "a response exists already"}]}
        self.responses[review["id"]] = text
        return 201, {"data": {"type": "customerReviewResponses", "id": f"resp-{len(self.responses)}",
                              "attributes": {"responseBody": text, "state": "PENDING_PUBLISH"}}}

    def _jira(self, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
        basic = "Basic " + base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
        if headers.get("Authorization") not in (basic, f"Bearer {JIRA_TOKEN}"):
            self.rejected.append("jira")
            return 401, {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                         "errors": {}}
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 415, {"errorMessages": ["Unsupported Media Type"], "errors": {}}
        f = payload.get("fields") if isinstance(payload, dict) else None
        errors = {}
        if not isinstance(f, dict):
            return 400, {"errorMessages": ["fields is required"], "errors": {}}
        if not isinstance(f.get("project"), dict) or not f["project"].get("key"):
            errors["project"] = "project is required"
        summary = f.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255 or "\n" in summary:
            errors["summary"] = "Summary must be less than 255 characters and one line."
        if not isinstance(f.get("issuetype"), dict) or not (f["issuetype"].get("name") or f["issuetype"].get("id")):
            errors["issuetype"] = "issue type is required"
        if "description" in f and not isinstance(f["description"], str):
            errors["description"] = "Operation value must be a string"
        if errors:
            return 400, {"errorMessages": [], "errors": errors}
        n = 1 + sum(1 for r in self.received if r["platform"] == "jira")
        key = f"{f['project']['key']}-{n}"
        self.received.append({"platform": "jira", "body": payload})
        return 201, {"id": str(10000 + n), "key": key, "self": f"{self.url}/rest/api/2/issue/{10000 + n}"}

    def _github(self, path: str, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
        if headers.get("Authorization") not in (f"Bearer {GITHUB_TOKEN}", f"token {GITHUB_TOKEN}"):
            self.rejected.append("github")
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        if headers.get("Accept") != "application/vnd.github+json":
            return 415, {"message": "Unsupported 'Accept' header"}
        parts = path.strip("/").split("/")
        if len(parts) != 4 or not isinstance(payload, dict) or not isinstance(payload.get("title"), str) \
                or not payload["title"].strip():
            return 422, {"message": "Validation Failed", "errors": [{"resource": "Issue", "field": "title",
                                                                      "code": "missing_field"}]}
        if "labels" in payload and not all(isinstance(x, str) for x in payload["labels"]):
            return 422, {"message": "Validation Failed"}
        n = 1 + sum(1 for r in self.received if r["platform"] == "github")
        self.received.append({"platform": "github", "body": payload, "repo": f"{parts[1]}/{parts[2]}"})
        return 201, {"number": n, "html_url": f"https://github.com/{parts[1]}/{parts[2]}/issues/{n}",
                     "title": payload["title"]}


#: Every header VOC's email notifier writes (plus what the MIME machinery adds); anything else was injected.
MAIL_HEADERS = {"subject", "from", "to", "date", "message-id", "x-voc-delivery", "mime-version", "content-type",
                "content-transfer-encoding"}


class SmtpReceiver:
    """A loopback SMTP server; ``messages`` holds the parsed messages it accepted, ``rejected`` why not."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.rejected: list[str] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                problem = receiver.check(envelope.content)
                if problem:
                    receiver.rejected.append(problem)
                    return f"550 {problem}"
                receiver.raw.append(envelope.content)
                receiver.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.strict))
                return "250 OK"

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._ctl.start()

    @staticmethod
    def check(content: bytes) -> str:
        msg = email.message_from_bytes(content, policy=email.policy.strict)
        extra = sorted({k.lower() for k in msg.keys()} - MAIL_HEADERS)
        if extra:
            return f"unexpected header(s): {', '.join(extra)}"
        if msg.defects or any(getattr(v, "defects", ()) for v in msg.values()):
            return "malformed headers"
        head = content.split(b"\r\n\r\n", 1)[0]
        if any(b > 0x7F for b in head):
            return "raw 8-bit header (not RFC 2047 encoded)"
        return ""

    def stop(self) -> None:
        self._ctl.stop()
