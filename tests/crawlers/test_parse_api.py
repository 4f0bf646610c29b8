"""The parsers' public surface: documented, exported, and never raising on any input."""

from __future__ import annotations

import importlib
import inspect
from datetime import datetime, timezone
from pathlib import Path

import pytest

import crawlers.parsers as parsers
from crawlers.parsers import Page

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
MODULES = ["appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex", "discuz", "normalize", "blocks"]
NOW = datetime(2026, 11, 24, 3, 5, tzinfo=timezone.utc)


def _module(name: str):
    return importlib.import_module(f"crawlers.parsers.{name}")


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_is_exported_and_documented_in_the_package_docstring(name):
    module = _module(name)
    doc = parsers.__doc__ or ""
    assert f"crawlers.parsers.{name}" in doc
    for attr in module.__all__:
        obj = getattr(module, attr)  # every exported name exists
        if inspect.isfunction(obj):
            assert f"{attr}(" in doc, f"{name}.{attr} is not listed in crawlers/parsers/__init__.py"


def _parsers():
    for name in MODULES[:-2]:  # the parsers (normalize and blocks are helpers)
        module = _module(name)
        for attr in module.__all__:
            if attr.startswith("parse_"):
                yield f"{name}.{attr}", getattr(module, attr)


PARSERS = dict(_parsers())
FIXTURES = sorted(p for p in PAGES.rglob("*") if p.is_file() and p.name != "README.md")


def test_every_source_has_fixtures():
    for source in ["appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex", "discuz"]:
        assert len(list((PAGES / source).iterdir())) >= 4, source


@pytest.mark.parametrize("qualname", sorted(PARSERS))
def test_parsers_never_raise_on_foreign_truncated_or_garbage_bodies(qualname):
    fn = PARSERS[qualname]
    bodies: list[bytes | str] = [b"", b"null", b"[]", b"{}", b"\x00\xff\xfe" * 50, "<html><body>\u5f88</body>",
                                 b'{"data": {"data": [1, null, "x", {}]}, "ok": 1}', b'{"feed": {"entry": null}}',
                                 b'{"result": {"data": {"lists": [{}], "pager": "x"}}}', b"<div " * 100]
    for path in FIXTURES:
        raw = path.read_bytes()
        bodies += [raw, raw[: len(raw) // 2], raw[: len(raw) // 3 * 2 + 1]]
    url = "http://127.0.0.1:1/p/1?pn=1&page=1&tid=1&pid=2&fid=3&id=4&mid=4&topic_id=5&reqPageNum=1"
    for body in bodies:
        page = fn(body, url, product="demo", target="t", now=NOW)
        assert isinstance(page, Page)
        for item in page.items:
            assert item.source_id and item.product == "demo"
            assert item.created_at is None or item.created_at.utcoffset().total_seconds() == 0
        for reason, detail in page.dropped:
            assert isinstance(reason, str) and isinstance(detail, str)
