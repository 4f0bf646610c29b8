"""Fixtures for the API tests: a real SQLite index seeded with hand-built documents, and app factories."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from configs import load_settings
from tests.helpers import HOSTILE, NOW, REPO, calm_days_and_a_login_spike, indexed_doc



def seed_docs(tokenizer) -> list[dict]:
    """A small, fully known corpus: 3 days of mixed feedback plus a negative login spike on 11-24 (Shanghai)."""
    docs = calm_days_and_a_login_spike(tokenizer, ui_text="界面很好看，同步也快", spike_text="更新3.2.0后验证码登录失败，登录不上 第{i}次",
                                       hostile=HOSTILE, hostile_url="javascript:alert(1)")
    # 2026-11-23T17:30Z is 11-24 01:30 in Shanghai: a day bucket in local time, not UTC.
    docs.append(indexed_doc(tokenizer, len(docs) + 1, "半夜闪退，崩溃", created=datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc),
                            topics=("crash",), rating=2, app_version="3.2.0"))
    return docs


@pytest.fixture
def tmp_settings(tmp_path: Path):
    def make(env: dict[str, str] | None = None):
        return load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules",
                                                    **(env or {})})

    return make


@pytest.fixture
def seeded(tmp_settings):
    """(settings, index, docs): a real SQLite index in the temp home with :func:`seed_docs` upserted."""
    from classifier import make_tokenizer
    from index import open_index

    settings = tmp_settings()
    tokenizer = make_tokenizer(settings)
    index = open_index(settings.index, home=settings.home, tokenizer=tokenizer, secrets=settings.secrets)
    docs = seed_docs(tokenizer)
    index.upsert(docs)
    yield settings, index, docs
    index.close()


@pytest.fixture
def client_for(seeded):
    """client_for(env=None, base_url=..., client=(address, port), web={overrides}, same_app_as=client) → an
    httpx.AsyncClient on a new app (or on the app of ``same_app_as``), in process (ASGITransport)."""
    from app.api import create_app

    settings, index, _docs = seeded
    clients = []

    def make(env: dict[str, str] | None = None, *, base_url: str = "http://127.0.0.1", client=("127.0.0.1", 50000),
             web: dict | None = None, same_app_as: httpx.AsyncClient | None = None):
        if same_app_as is not None:  # another client (address) of an app made before
            app = next(a for c, a in clients if c is same_app_as)
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url=base_url)
            clients.append((c, None))
            return c
        s = settings if env is None else load_settings(REPO / "configs", env={"VOC_HOME": str(settings.home),
                                                                             "VOC_CLASSIFIER_MODEL": "rules", **env})
        if web:  # web: settings overrides, e.g. {"facet_sample": 5}
            s = s.replace(voc=dataclasses.replace(s.voc, web=dataclasses.replace(s.web, **web)))
        app = create_app(s, index=index, clock=lambda: NOW)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url=base_url)
        clients.append((c, app))
        return c

    yield make
    for _c, app in clients:
        if app is not None:
            app.state.ops.close()
            app.state.auth.close()


@pytest.fixture
def anyio_backend():
    return "asyncio"
