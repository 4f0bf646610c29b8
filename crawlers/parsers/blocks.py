"""Recognise responses that are walls, not content: login, captcha, rate limit, forbidden, error.

``detect_block(source, status, headers, body)`` looks at the HTTP status, a redirect's ``Location``,
JSON error codes and tell-tale HTML. It is pure and cheap (only the first 64 KB of a body is examined).
The fix text names the env var that carries the source's cookies: ``VOC_<SOURCE>_COOKIE``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from crawlers.parsers._page import Block

__all__ = ["Block", "detect_block", "cookie_env", "json_block"]

_SNIFF = 65536


def cookie_env(source: str) -> str:
    """``weibo`` → ``VOC_WEIBO_COOKIE``; ``forum:bbs-x`` → ``VOC_FORUM_BBS_X_COOKIE``."""
    return "VOC_" + re.sub(r"[^A-Za-z0-9]+", "_", source).strip("_").upper() + "_COOKIE"


def _header(headers: Mapping[Any, Any] | None, name: str) -> str:
    if not headers:
        return ""
    for key, value in headers.items():
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if k.lower() == name.lower():
            if isinstance(value, (list, tuple)):
                value = value[0] if value else b""
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return ""


def _text(body: bytes | str) -> str:
    if isinstance(body, bytes):
        head = body[:_SNIFF]
        try:
            return head.decode("utf-8")
        except UnicodeDecodeError:
            return head.decode("gb18030", errors="replace")
    return body[:_SNIFF]


_CAPTCHA_HOSTS = ("wappass.baidu.com", "/static/captcha", "unhuman", "verify", "captcha", "security")
_LOGIN_HOSTS = ("passport.", "/signin", "/login", "login.", "visitor.", "member.php?mod=logging")


def _weibo(data: dict[str, Any], env: str) -> Block | None:
    if str(data.get("errno", "")) == "100005" or "频繁" in str(data.get("msg", "")):
        return Block(kind="rate_limit", reason=f"errno 100005 {data.get('msg', '')}".strip(),
                     fix=f"slow down (raise download_delay) or rotate accounts in {env}")
    if data.get("ok") in (0, "0") and "data" not in data and data.get("url"):
        return Block(kind="captcha", reason=f"captcha page {data['url']}",
                     fix=f"solve the captcha in a browser, then set {env}")
    if data.get("ok") in (-100, "-100"):
        return Block(kind="login", reason="login required (ok -100)", fix=f"set {env}")
    return None


def _zhihu(data: dict[str, Any], env: str) -> Block | None:
    err = data.get("error")
    if not isinstance(err, dict):
        return None
    code = str(err.get("code", ""))
    msg = str(err.get("message", ""))
    if code == "40362":
        return Block(kind="rate_limit", reason=f"error 40362 {msg}".strip(),
                     fix=f"slow down or use another account in {env}")
    if code == "40352" or err.get("need_login") or "unhuman" in str(err.get("redirect", "")):
        return Block(kind="captcha", reason=f"error {code or 'need_login'} {msg}".strip(),
                     fix=f"open zhihu.com in a browser, pass the check, then set {env}")
    if code == "10003":
        return Block(kind="forbidden", reason=f"error 10003 {msg} (request signature rejected)",
                     fix=f"crawl zhihu through the browser (playwright) with a fresh {env}")
    return Block(kind="error", reason=f"error {code} {msg}".strip(), fix=f"check {env}")


def _heimao(data: dict[str, Any], env: str) -> Block | None:
    result = data.get("result")
    if isinstance(result, dict):
        st = result.get("status")
        code = st.get("code") if isinstance(st, dict) else None
        if code not in (None, 0, "0"):
            msg = st.get("msg", "") if isinstance(st, dict) else ""
            return Block(kind="error", reason=f"status code {code} {msg}".strip(),
                         fix=f"check the request signature; set {env} (Sina SUB/SUBP cookies)")
    return None


def _tieba(data: dict[str, Any], env: str) -> Block | None:
    for key in ("error_code", "no"):
        if key in data and str(data[key]) not in ("0", ""):
            return Block(kind="error", reason=f"{key} {data[key]} {data.get('error', data.get('error_msg', ''))}"
                         .strip(), fix=f"set {env} (BDUSS/STOKEN cookies)")
    return None


def _forum(data: dict[str, Any], env: str) -> Block | None:
    msg = data.get("Message")
    if isinstance(msg, dict):
        val = str(msg.get("messageval", ""))
        text = str(msg.get("messagestr", ""))
        if "login" in val:
            return Block(kind="login", reason=f"{val} {text}".strip(), fix=f"set {env}")
        if "nopermission" in val or "no_permission" in val or "权限" in text:
            return Block(kind="forbidden", reason=f"{val} {text}".strip(), fix=f"set {env} (an account allowed to read it)")
    return None


def _v2ex(data: dict[str, Any], env: str) -> Block | None:
    if (data.get("success") is False or data.get("status") == "error") and "rate" in str(
            data.get("message", "")).lower():
        return Block(kind="rate_limit", reason=str(data.get("message")), fix="wait for the hourly quota to reset")
    return None


#: The sources whose JSON bodies can say "blocked", and how. Another source's JSON (the app stores') never
#: does, so :func:`detect_block` does not parse it: its parser does, once.
_JSON_RULES: dict[str, Callable[[dict[str, Any], str], Block | None]] = {
    "weibo": _weibo, "zhihu": _zhihu, "heimao": _heimao, "tieba": _tieba, "forum": _forum, "v2ex": _v2ex,
}


def _json_rule(source: str) -> Callable[[dict[str, Any], str], Block | None] | None:
    return _JSON_RULES.get(source.split(":", 1)[0])  # forum:<name> takes the forum rules


def json_block(source: str, data: Any) -> Block | None:
    """A block expressed inside a JSON body (the parsers call this on every JSON page)."""
    rule = _json_rule(source)
    if rule is None or not isinstance(data, dict):
        return None
    return rule(data, cookie_env(source))


def detect_block(source: str, status: int, headers: Mapping[Any, Any] | None, body: bytes | str) -> Block | None:
    """Classify one response; None when it looks like content (or an ordinary error left to retry)."""
    env = cookie_env(source)
    location = _header(headers, "location")
    if 300 <= status < 400 and location:
        low = location.lower()
        if any(h in low for h in _CAPTCHA_HOSTS):
            return Block(kind="captcha", reason=f"HTTP {status} redirect to captcha {location}",
                         fix=f"solve it in a browser, then set {env}")
        if any(h in low for h in _LOGIN_HOSTS):
            return Block(kind="login", reason=f"HTTP {status} redirect to login {location}", fix=f"set {env}")
        return None
    if status == 432:
        return Block(kind="forbidden", reason="HTTP 432", fix=f"set {env}")
    if status == 418:
        return Block(kind="forbidden", reason="HTTP 418 (bot detected)", fix=f"slow down and set {env}")
    if status == 429:
        retry = _header(headers, "retry-after")
        return Block(kind="rate_limit", reason="HTTP 429" + (f" (Retry-After {retry})" if retry else ""),
                     fix="slow down (raise download_delay) or wait" + (f"; or rotate accounts in {env}" if source != "v2ex" else ""))
    text = _text(body)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and _json_rule(source) is not None:
        try:
            data = json.loads(body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body)
        except ValueError:
            data = None
        block = json_block(source, data)
        if block:
            return block
    if source == "v2ex" and _header(headers, "x-rate-limit-remaining") == "0" and status >= 400:
        return Block(kind="rate_limit", reason=f"HTTP {status}, hourly quota used",
                     fix=f"wait until X-Rate-Limit-Reset ({_header(headers, 'x-rate-limit-reset')})")
    if "百度安全验证" in text:
        return Block(kind="captcha", reason="百度安全验证 page", fix=f"solve it in a browser, then set {env}")
    if source.startswith("forum:"):
        if "您尚未登录" in text or "请先登录" in text or "您需要先登录" in text:
            return Block(kind="login", reason="Discuz: 您尚未登录", fix=f"set {env}")
        if "您无权进行当前操作" in text or "没有权限访问该版块" in text:
            return Block(kind="forbidden", reason="Discuz: 没有权限", fix=f"set {env} (an account allowed to read it)")
        if "秒内只能进行一次搜索" in text:
            return Block(kind="rate_limit", reason="Discuz search flood control", fix="search less often")
    if _looks_like_waf(text, status):
        return Block(kind="captcha", reason=f"HTTP {status} WAF challenge page", fix=f"open the site in a browser and set {env}")
    if source == "heimao" and stripped[:1] == "<" and ("登录" in text or "passport" in text):
        return Block(kind="login", reason="login page instead of JSON", fix=f"set {env} (Sina SUB/SUBP cookies)")
    if source == "weibo" and status == 200 and stripped[:1] == "<" and ("passport.weibo" in text or "visitor" in text):
        return Block(kind="login", reason="visitor/login page instead of JSON", fix=f"set {env}")
    if source == "tieba" and status in (200, 403) and stripped in ("", "blocked"):
        return Block(kind="forbidden", reason=f"HTTP {status} {'empty body' if not stripped else 'blocked'}", fix=f"set {env}")
    if status in (403, 521):
        return Block(kind="forbidden", reason=f"HTTP {status}", fix=f"set {env} or slow down")
    return None


def _looks_like_waf(text: str, status: int) -> bool:
    if len(text) > 8192 or "<script" not in text.lower():
        return False
    low = text.lower()
    sets_cookie = "document.cookie" in low
    reloads = "location.reload" in low or "location.href" in low or "window.location" in low
    return sets_cookie and reloads or status in (521,) and sets_cookie
