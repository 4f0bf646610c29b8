"""Fixtures for crawl tests: config dirs pointing every source at the replay server, and index access."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from configs import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def write_config(root: Path, base_url: str, *, crawl: dict[str, Any] | None = None,
                 sources: dict[str, dict[str, Any]] | None = None, products: list[dict[str, Any]] | None = None) -> Path:
    """A copy of the repo's configs/ under ``root`` with every source on ``base_url`` and no delays."""
    cdir = root / "configs"
    if cdir.exists():
        shutil.rmtree(cdir)
    shutil.copytree(REPO / "configs", cdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    voc = yaml.safe_load((cdir / "voc.yaml").read_text(encoding="utf-8"))
    voc["crawl"] = {"state_path": "data/state.db", "concurrent_requests": 8, "concurrent_requests_per_domain": 8,
                    "download_delay": 0.0, "autothrottle": False, "retry_times": 2, "retry_backoff_base": 0.05,
                    "download_timeout": 10.0, "batch_size": 64, "batch_wait": 0.2, **(crawl or {})}
    (cdir / "voc.yaml").write_text(yaml.safe_dump(voc, allow_unicode=True), encoding="utf-8")
    src = yaml.safe_load((cdir / "sources.yaml").read_text(encoding="utf-8"))
    for name in ("appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex"):
        entry = src["sources"].setdefault(name, {})
        entry.update(base_url=base_url, download_delay=0.0, obey_robots_txt=False)
    src["sources"].setdefault("forum", {})["obey_robots_txt"] = False
    for name, values in (sources or {}).items():
        src["sources"].setdefault(name, {}).update(values)
    if products is not None:
        src["products"] = products
    for prod in src["products"]:
        for forum in prod.get("forum", []):
            forum["base_url"] = base_url
    (cdir / "sources.yaml").write_text(yaml.safe_dump(src, allow_unicode=True), encoding="utf-8")
    return cdir


def load(root: Path, cdir: Path, **env: str) -> Settings:
    return load_settings(cdir, env={"VOC_HOME": str(root / "home"), "VOC_CLASSIFIER_MODEL": "rules", **env})


@pytest.fixture
def crawl_settings(tmp_path: Path, replay: Any) -> Callable[..., Settings]:
    """``crawl_settings(root=None, **write_config kwargs)`` → Settings whose sources all point at ``replay``."""

    def make(root: Path | None = None, **kwargs: Any) -> Settings:
        root = root or tmp_path
        root.mkdir(parents=True, exist_ok=True)
        return load(root, write_config(root, replay.url, **kwargs))

    return make


@pytest.fixture
def stored_docs() -> Callable[[Settings], dict[str, dict[str, Any]]]:
    """``stored_docs(settings)`` → every document in the settings' index, by id."""
    from classifier import make_tokenizer
    from index import Filters, open_index

    def read(settings: Settings) -> dict[str, dict[str, Any]]:
        index = open_index(settings.index, home=settings.home, tokenizer=make_tokenizer(settings), secrets=settings.secrets)
        try:
            return {d["id"]: d for d in index.scan(Filters())}
        finally:
            index.close()

    return read
