"""ClassifyPipeline: configuration reaches the tags (viral threshold), documents are tagged in batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import yaml
from scrapy.utils.test import get_crawler

from configs import load_settings
from crawlers.config import scrapy_settings
from crawlers.items import FeedbackItem
from crawlers.pipelines import ClassifyPipeline, NormalizePipeline


def _settings_with_viral(tmp_path, threshold: int):
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    cdir = tmp_path / "configs"
    shutil.copytree(repo / "configs", cdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    voc = yaml.safe_load((cdir / "voc.yaml").read_text(encoding="utf-8"))
    voc["classifier"] = {**(voc.get("classifier") or {}), "viral_engagement": threshold}
    (cdir / "voc.yaml").write_text(yaml.safe_dump(voc, allow_unicode=True), encoding="utf-8")
    return load_settings(cdir, env={"VOC_HOME": str(tmp_path / "home"), "VOC_CLASSIFIER_MODEL": "rules"})


def _item(n: int, *, likes: int, replies: int = 0, reposts: int = 0) -> FeedbackItem:
    return FeedbackItem(source="weibo", source_id=str(n), product="qingji", target="kw", kind="post",
                        text=f"轻记同步总是失败，第{n}次了", created_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                        likes=likes, replies=replies, reposts=reposts)


def test_viral_threshold_comes_from_classifier_settings(tmp_path):
    settings = _settings_with_viral(tmp_path, 50)
    assert settings.classifier.viral_engagement == 50
    crawler = get_crawler(settings_dict=scrapy_settings(settings, run_id="r1"))
    normalize = NormalizePipeline.from_crawler(crawler)
    pipe = ClassifyPipeline.from_crawler(crawler)
    try:
        # likes + 3·replies + 5·reposts: 30 + 0 + 20 = 50 reaches the configured threshold (default 2000 would not)
        assert pipe.engagement(30, 0, 4) == ("viral",)
        assert pipe.engagement(49, 0, 0) == ()

        async def run():
            items = [normalize.process_item(_item(1, likes=30, reposts=4)), normalize.process_item(_item(2, likes=49))]
            return await asyncio.gather(*(pipe.process_item(i) for i in items))

        hot, calm = asyncio.run(run())
    finally:
        pipe.close_spider()
    assert "viral" in hot.doc["risk"] and hot.doc["model_version"].startswith("rules")
    assert "viral" not in calm.doc["risk"] and calm.doc["sentiment"] in ("negative", "neutral", "positive")


def test_default_viral_threshold_is_the_configured_default(settings):
    crawler = get_crawler(settings_dict=scrapy_settings(settings, run_id="r1"))
    pipe = ClassifyPipeline.from_crawler(crawler)
    try:
        threshold = settings.classifier.viral_engagement
        assert pipe.engagement(threshold - 1, 0, 0) == ()
        assert pipe.engagement(threshold, 0, 0) == ("viral",)
    finally:
        pipe.close_spider()


def test_prestarted_worker_is_taken_by_the_classify_pipeline_and_exits_cleanly(settings):
    from crawlers import _classify_worker

    spec = _classify_worker.worker_spec(settings, "process")
    assert spec is not None and _classify_worker.worker_spec(settings, "auto") is None  # rules: a thread
    pool = _classify_worker.prestart(*spec)
    assert _classify_worker.prestart(*spec) is pool  # one per (config, env)
    values = scrapy_settings(settings, run_id="r1")
    values["VOC_CLASSIFY_IN"] = "process"
    pipe = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))
    try:
        assert pipe.executor is pool and _classify_worker.take_prestarted(*spec) is None
        tags = pool.submit(_classify_worker.predict, ["轻记同步总是失败，数据全丢了", "很好用，推荐"]).result(timeout=60)
        assert len(tags) == 2 and all(t.model_version.startswith("rules") for t in tags)
        workers = list(pool._processes.values())
    finally:
        pipe.close_spider()
    assert workers and all(p.exitcode == 0 for p in workers)
    # a pipeline opened after the last one closed starts a worker of its own
    other = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))
    try:
        assert other.executor is not pool
    finally:
        other.close_spider()


def test_the_runner_names_the_worker_the_child_starts_first_and_a_wrong_guess_is_shut_down(settings):
    import dataclasses
    import json

    from crawlers import _classify_worker
    from crawlers.runner import _child_env

    process = settings.replace(voc=dataclasses.replace(settings.voc, crawl=dataclasses.replace(settings.crawl,
                                                                                                 classify_in="process")))
    spec = _classify_worker.worker_spec(process, "process")
    named = json.loads(_child_env(process, None, None)[_classify_worker.WORKER_ENV])
    assert (named["config_dir"], named["env"]) == spec  # what the child's classify pipeline will ask for
    assert _classify_worker.WORKER_ENV not in _child_env(settings, None, None)  # rules in a thread: no worker

    wrong = _classify_worker.prestart_from_env({_classify_worker.WORKER_ENV: json.dumps(
        {"config_dir": spec[0], "env": {**spec[1], "VOC_HOME": "/elsewhere"}})})
    assert _classify_worker.prestart_from_env({_classify_worker.WORKER_ENV: "{not json"}) is None
    loading = list(wrong._processes.values())
    pool = _classify_worker.prestart(*spec)  # the settings the child loaded say otherwise
    try:
        assert pool is not wrong
        with pytest.raises(RuntimeError, match="shutdown|not usable"):
            wrong.submit(_classify_worker.ready)  # shut down, never to load a model nobody uses
        for proc in loading:  # stopped at once, not left to finish loading
            proc.join(timeout=10)
            assert proc.exitcode is not None
    finally:
        assert _classify_worker.take_prestarted(*spec) is pool
        pool.shutdown(wait=True)


def test_sources_crawled_in_one_process_share_one_classifier_worker(settings):
    from crawlers import _classify_worker

    values = scrapy_settings(settings, run_id="r1")
    values["VOC_CLASSIFY_IN"] = "process"
    first = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))
    second = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))  # another source, same run
    try:
        assert second.executor is first.executor  # one model load, one worker process
        pool = first.executor
        first.close_spider()  # one source done: the worker stays for the other
        tags = pool.submit(_classify_worker.predict, ["轻记同步总是失败"]).result(timeout=60)
        assert len(tags) == 1 and tags[0].model_version.startswith("rules")
        workers = list(pool._processes.values())
    finally:
        second.close_spider()
    assert workers and all(p.exitcode == 0 for p in workers)  # the last one shut it down
