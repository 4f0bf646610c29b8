"""Helpers shared by the source parsers (private)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from crawlers.parsers._page import Block, Page
from crawlers.parsers.blocks import detect_block, json_block
from crawlers.parsers.normalize import body_too_large, decode_body, json_loads, load_json

__all__ = ["json_page", "html_page", "script_json", "get", "s", "as_object", "as_array"]


def json_page(source: str, body: bytes | str, encoding: str | None = None) -> tuple[Any, Page]:
    """Load a JSON body; on failure (or a JSON block) the returned Page already says why."""
    page = Page()
    data, reason = load_json(body, encoding)
    if reason == "not_json":
        block = detect_block(source, 200, None, body)
        if block:  # a login / captcha / WAF page served where JSON was expected
            page.block = block
            page.drop("blocked", str(block))
            return None, page
    if reason:
        snippet = decode_body(body[:120] if isinstance(body, (bytes, str)) else b"", "utf-8")
        page.drop(reason, snippet.strip())
        return None, page
    block = json_block(source, data)
    if block:
        page.block = block
        page.drop("blocked", str(block))
        return None, page
    return data, page


def html_page(body: bytes | str, encoding: str | None = None) -> tuple[str | None, Page]:
    page = Page()
    if body_too_large(body):
        page.drop("too_large", f"{len(body)} bytes")
        return None, page
    return decode_body(body, encoding), page


def script_json(source: str, text: str, page: Page, pattern: re.Pattern[str], what: str,
                check_page: Callable[[str], Block | None] | None = None) -> Any:
    """The JSON a page embeds in a script (``pattern``'s first group, named ``what`` in the reasons), or None
    with ``page`` saying why: blocked (:func:`detect_block`, else ``check_page`` for a source's own check
    page), dropped ``bad_html`` (no such script) or ``bad_json`` (it does not parse)."""
    m = pattern.search(text)
    if not m:
        block = detect_block(source, 200, None, text) or (check_page(text) if check_page else None)
        if block:
            page.block = block
            page.drop("blocked", str(block))
        else:
            page.drop("bad_html", f"no {what} script")
        return None
    try:
        return json_loads(m.group(1))
    except (ValueError, RecursionError):
        page.drop("bad_json", f"{what} is not valid JSON")
        return None


def get(data: Any, *path: Any, default: Any = None) -> Any:
    """``get(d, "a", 0, "b")`` → d["a"][0]["b"], or ``default`` at the first missing step."""
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return default
        if data is None:
            return default
    return data


def s(value: Any) -> str:
    """A scalar as a stripped string ('' for None / containers)."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def as_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}`` (a missing or mistyped field reads as empty)."""
    return value if isinstance(value, dict) else {}


def as_array(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else ``[]``."""
    return value if isinstance(value, list) else []
