"""Normalization at the edge: counts, times, HTML to text, body decoding and JSON loading. All pure."""

from __future__ import annotations

import html as _html
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from crawlers.parsers._page import MAX_BODY_BYTES

__all__ = [
    "json_loads",
    "parse_count",
    "parse_rating",
    "parse_time",
    "parse_epoch",
    "html_to_text",
    "decode_body",
    "load_json",
    "origin",
    "rebase",
    "body_too_large",
]

_UNITS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "千": 1_000, "k": 1_000, "K": 1_000}
_COUNT_RE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([万亿千wWkK]?)\s*\+?\s*$")


def parse_count(value: object) -> int | None:
    """``74``, ``"74"``, ``"1.2万"`` → 12000, ``"100万+"`` → 1000000, ``"3亿"``; anything else → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if not isinstance(value, str):
        return None
    m = _COUNT_RE.match(value)
    if not m:
        return None
    number = float(m.group(1).replace(",", ""))
    return int(round(number * _UNITS.get(m.group(2), 1)))


def parse_rating(value: object) -> int | None:
    """A star rating: ``4``, ``"4"``, ``"4.0"`` → 4 (rounded to the nearest star); None when absent,
    unreadable or outside 1–5."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    try:
        n = round(float(str(value).strip()))
    except (ValueError, OverflowError):
        return None
    return n if 1 <= n <= 5 else None


SHANGHAI = "Asia/Shanghai"


def parse_epoch(value: object) -> datetime | None:
    """Epoch seconds or milliseconds (int, float or digit string) → aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"\d{9,13}(\.\d+)?", value):
            return None
        value = float(value)
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    if value > 1e11:  # milliseconds
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


_REL_UNITS = {"秒": "seconds", "分钟": "minutes", "分": "minutes", "小时": "hours", "天": "days", "周": "weeks"}
_REL_RE = re.compile(r"^(\d+)\s*(秒|分钟|分|小时|天|周)\s*前$")
_DAY_RE = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_ABS_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_MD_RE = re.compile(r"^(\d{1,2})[-/月](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?$")
_YM_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_HM_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def _utc(local: datetime) -> datetime:
    return local.astimezone(timezone.utc)


def parse_time(value: object, *, now: datetime, tz: str = SHANGHAI) -> datetime | None:
    """Any time a source shows → aware UTC; relative and zone-less times are read in ``tz`` at ``now``.

    Returns None for what it cannot read (never raises).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return parse_epoch(value)
    if not isinstance(value, str):
        return None
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    text = _html.unescape(value).replace("\xa0", " ").strip()
    text = re.sub(r"^(发表于|发布于|回复于|编辑于)\s*", "", text)
    text = re.sub(r"\s+", " ", text)
    if not text:
        return None
    # ISO 8601 with offset or Z (App Store, most APIs): first, it is the commonest and the cheapest to read
    if _ISO_RE.match(text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return _utc(parsed)
    if re.fullmatch(r"\d{9,13}", text):
        return parse_epoch(text)
    if text == "刚刚":
        return _utc(local_now)
    if text == "半小时前":
        return _utc(local_now - timedelta(minutes=30))
    compact = text.replace(" ", "")
    m = _REL_RE.match(compact)
    if m:
        return _utc(local_now - timedelta(**{_REL_UNITS[m.group(2)]: int(m.group(1))}))
    m = _DAY_RE.match(text) or _DAY_RE.match(compact)
    if m:
        back = {"今天": 0, "昨天": 1, "前天": 2}[m.group(1)]
        day = (local_now - timedelta(days=back)).date()
        try:
            local = datetime(day.year, day.month, day.day, int(m.group(2)), int(m.group(3)),
                             int(m.group(4) or 0), tzinfo=zone)
        except ValueError:
            return None
        return _utc(local)
    # Weibo: "Sat Nov 23 10:00:00 +0800 2026" (strptime only for what starts like it: it is slow to fail)
    if text[:1].isascii() and text[:1].isalpha():
        try:
            return _utc(datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y"))
        except ValueError:
            return None  # no format below starts with a letter
    try:
        m = _ABS_RE.match(text)
        if m:
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            return _utc(datetime(y, mo, d, h, mi, s, tzinfo=zone))
        m = _MD_RE.match(text)
        if m:
            mo, d = int(m.group(1)), int(m.group(2))
            h, mi = int(m.group(3) or 0), int(m.group(4) or 0)
            local = datetime(local_now.year, mo, d, h, mi, tzinfo=zone)
            if local > local_now + timedelta(days=1):  # "12-30" seen in January: last year
                local = local.replace(year=local.year - 1)
            return _utc(local)
        m = _YM_RE.match(text)
        if m:
            return _utc(datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=zone))
        m = _HM_RE.match(text)
        if m:
            local = local_now.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
            if local > local_now + timedelta(minutes=5):  # a time later than now today: yesterday
                local -= timedelta(days=1)
            return _utc(local)
    except ValueError:
        return None
    return None


_IMG_RE = re.compile(r"<img\b[^>]*?>", re.I | re.S)
_ALT_RE = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_BR_RE = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|<p\b[^>]*>(?=.)", re.I)
_DROP_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]*>", re.S)


_SRC_RE = re.compile(r"""\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_CLASS_RE = re.compile(r"""\bclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
#: An image is an emoticon when its class or its file's path says so (Tieba ``BDE_Smiley`` …/face/i_f16.png,
#: …/client/image_emoticon25.png; Weibo/Discuz ``face``/``smilie`` images).
_EMOTICON_RE = re.compile(r"smil|emoticon|emotion|(?:^|[/_\s])face(?:[/_\s]|$)|expression", re.I)


def _attr(regex: re.Pattern[str], tag: str) -> str | None:
    m = regex.search(tag)
    return next((g for g in m.groups() if g is not None), "") if m else None


def _img_alt(m: re.Match[str]) -> str:
    """An image's alt text; an emoticon without alt becomes ``[name]``, its file's name (``i_f16``,
    ``image_emoticon25``), so an emoticon-only post keeps what it said; other images vanish."""
    tag = m.group(0)
    alt = _attr(_ALT_RE, tag)
    if alt:
        return alt
    src = _html.unescape(_attr(_SRC_RE, tag) or "").replace("\\/", "/")
    path = src.split("?", 1)[0].split("#", 1)[0]
    if _EMOTICON_RE.search(_attr(_CLASS_RE, tag) or "") or _EMOTICON_RE.search(path.rsplit("/", 1)[0] + "/"):
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", stem):
            return f"[{stem}]"
    return alt or ""


def html_to_text(html: str | None) -> str:
    """Crawled HTML → plain text: emoticon images become their alt text, line breaks stay, tags go."""
    if not html:
        return ""
    text = _DROP_RE.sub("", html)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)  # raw newlines are HTML whitespace; <br>/<p> make lines
    text = _IMG_RE.sub(_img_alt, text)
    text = re.sub(r"<p\b[^>]*>", "", text, flags=re.I)
    text = _BR_RE.sub("\n", text)
    text = _TAG_RE.sub("", text)
    text = _html.unescape(text).replace("\xa0", " ").replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)
_JS_CHARSET_RE = re.compile(rb"""charset\s*=\s*['"]([A-Za-z0-9_\-]+)['"]""", re.I)
_GB_FAMILY = {"gbk", "gb2312", "gb18030", "gb_2312-80", "x-gbk", "cp936"}


def _codec(name: str) -> str:
    name = name.strip().lower()
    if name in _GB_FAMILY:
        return "gb18030"
    return name


def decode_body(body: bytes | str, encoding: str | None = None) -> str:
    """Bytes → text. Explicit ``encoding`` wins, then a BOM, then ``<meta charset>`` or an inline
    ``charset = 'gbk'`` in the first 4 KB, then UTF-8 if valid, else gb18030. GBK family → gb18030;
    undecodable bytes become U+FFFD."""
    if isinstance(body, str):
        return body
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    if not encoding:
        head = body[:4096]
        m = _META_CHARSET_RE.search(head) or _JS_CHARSET_RE.search(head)
        if m:
            encoding = m.group(1).decode("ascii", errors="replace")
    if encoding:
        codec = _codec(encoding)
        try:
            return body.decode(codec, errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("gb18030", errors="replace")


def body_too_large(body: bytes | str) -> bool:
    return len(body) > MAX_BODY_BYTES


#: A ``\uD800``–``\uDFFF`` escape in JSON text: a surrogate, which may be left unpaired after parsing.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_loads(text: str) -> Any:
    """``json.loads``, with every unpaired surrogate escape (``"\\ud800"``) in a string or key replaced by
    U+FFFD: such a string cannot be encoded as UTF-8, so SQLite, the segmenter and every export would refuse
    it (paired escapes, an escaped emoji, parse to one character as usual). Raises what ``json.loads`` raises."""
    value = json.loads(text)
    return _fix_surrogates(value) if _SURROGATE_ESCAPE.search(text) else value


def _fix_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_fix_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in value.items()}
    return value


def load_json(body: bytes | str, encoding: str | None = None) -> tuple[Any, str | None]:
    """Parse a JSON body: ``(value, None)``, or ``(None, reason)`` with reason ``too_large``,
    ``not_json`` (HTML or plain text where JSON was expected) or ``bad_json`` (truncated/invalid)."""
    if body_too_large(body):
        return None, "too_large"
    text = decode_body(body, encoding or "utf-8").strip()
    if not text or text[0] not in "[{":
        return None, "not_json"
    try:
        return json_loads(text), None
    except (ValueError, RecursionError):
        return None, "bad_json"


def origin(url: str) -> str:
    """``https://host:port/path?q`` → ``https://host:port``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def rebase(url: str, on: str) -> str:
    """Move an absolute (or root-relative, or protocol-relative) URL onto the origin of ``on``."""
    parts = urlsplit(url)
    base = urlsplit(on)
    return urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, parts.fragment))
