"""ClassifyPipeline: configuration reaches the tags (viral threshold), documents are tagged in batches."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from scrapy.utils.test import get_crawler

from configs import load_settings
from crawlers.config import scrapy_settings
from crawlers.items import FeedbackItem
from crawlers.pipelines import ClassifyPipeline, NormalizePipeline
from crawlers.state import pid_alive

REPO = Path(__file__).resolve().parents[2]


def _settings_with_viral(tmp_path, threshold: int):
    import shutil

    cdir = tmp_path / "configs"
    shutil.copytree(REPO / "configs", cdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
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
    worker = _classify_worker.prestart(*spec)
    assert _classify_worker.prestart(*spec) is worker  # one per (config, env)
    values = scrapy_settings(settings, run_id="r1")
    values["VOC_CLASSIFY_IN"] = "process"
    pipe = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))
    try:
        assert pipe.executor is worker and _classify_worker.take_prestarted(*spec) is None
        tags = worker.submit(_classify_worker.predict, ["轻记同步总是失败，数据全丢了", "很好用，推荐"]).result(timeout=60)
        assert len(tags) == 2 and all(t.model_version.startswith("rules") for t in tags)
    finally:
        pipe.close_spider()
    assert worker.proc.wait(timeout=30) == 0  # told to stop, it exits on its own
    with pytest.raises(RuntimeError, match="shutdown"):
        worker.submit(_classify_worker.ready)
    # a pipeline opened after the last one closed starts a worker of its own
    other = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))
    try:
        assert other.executor is not worker
    finally:
        other.close_spider()
    assert other.executor.proc.wait(timeout=30) == 0


def test_a_worker_error_reaches_the_caller_and_a_dead_worker_fails_waiting_calls(settings):
    from crawlers import _classify_worker

    spec = _classify_worker.worker_spec(settings, "process")
    proc, sock = _classify_worker.spawn(spec[0], spec[1])
    worker = _classify_worker.Worker(sock, pid=proc.pid, proc=proc)
    try:
        assert worker.submit(_classify_worker.ready).result(timeout=60) is True
        with pytest.raises(TypeError):
            worker.submit(_classify_worker.predict, None).result(timeout=30)  # raised there, raised here
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C: the crawl process stops gracefully, its batches still wanted
        assert worker.submit(_classify_worker.predict, ["好用"]).result(timeout=30)[0].sentiment  # still serving
        worker.submit(os._exit, 3)  # the worker dies mid-call
        waiting = worker.submit(_classify_worker.predict, ["好用"])
        with pytest.raises(RuntimeError, match=rf"classifier worker \(pid {proc.pid}\) exited with code 3|connection lost"):
            waiting.result(timeout=30)
    finally:
        worker.kill()
        proc.wait(timeout=30)


def test_the_worker_exits_when_the_crawl_process_dies(settings):
    """Even killed with SIGKILL, the crawl process leaves no classifier worker behind: the worker's end of
    their socket closes, and the worker exits."""
    import subprocess
    import sys
    import time

    from crawlers import _classify_worker

    spec = _classify_worker.worker_spec(settings, "process")
    code = ("import sys, time\nfrom crawlers import _classify_worker\n"
            f"w = _classify_worker.prestart({spec[0]!r}, {spec[1]!r})\n"
            "print(w.pid, w.submit(_classify_worker.ready).result(timeout=60), flush=True)\ntime.sleep(60)")
    crawl = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        pid, loaded = crawl.stdout.readline().split()
        assert loaded == "True"
        crawl.send_signal(signal.SIGKILL)
        crawl.wait(timeout=30)
        deadline = time.monotonic() + 30
        while pid_alive(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(int(pid))
    finally:
        crawl.kill()


def test_the_runner_starts_the_worker_the_child_adopts_and_a_wrong_guess_is_stopped(settings):
    import dataclasses
    import json

    from crawlers import _classify_worker
    from crawlers.runner import _child_env

    process = settings.replace(voc=dataclasses.replace(settings.voc, crawl=dataclasses.replace(settings.crawl,
                                                                                                 classify_in="process")))
    spec = _classify_worker.worker_spec(process, "process")
    assert _child_env(process, None, {_classify_worker.WORKER_ENV: "stale"}).get(_classify_worker.WORKER_ENV) is None
    assert _classify_worker.adopt_from_env({_classify_worker.WORKER_ENV: "{not json"}) is None

    proc, sock = _classify_worker.spawn(spec[0], {**spec[1], "VOC_HOME": "/elsewhere"})  # the runner's guess
    wrong = _classify_worker.adopt_from_env({_classify_worker.WORKER_ENV: json.dumps(
        {"config_dir": spec[0], "env": {**spec[1], "VOC_HOME": "/elsewhere"}, "fd": sock.detach(), "pid": proc.pid})})
    worker = _classify_worker.prestart(*spec)  # the settings the child loaded say otherwise
    try:
        assert worker is not wrong
        assert proc.wait(timeout=10) == -9  # stopped at once, not left to finish loading a model nobody uses
        with pytest.raises(RuntimeError, match="shutdown"):
            wrong.submit(_classify_worker.ready)
    finally:
        assert _classify_worker.take_prestarted(*spec) is worker
        worker.shutdown(wait=True)
        worker.proc.wait(timeout=30)


def test_sources_crawled_in_one_process_share_one_classifier_worker(settings):
    from crawlers import _classify_worker

    values = scrapy_settings(settings, run_id="r1")
    values["VOC_CLASSIFY_IN"] = "process"
    first = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))
    second = ClassifyPipeline.from_crawler(get_crawler(settings_dict=values))  # another source, same run
    try:
        assert second.executor is first.executor  # one model load, one worker process
        worker = first.executor
        first.close_spider()  # one source done: the worker stays for the other
        tags = worker.submit(_classify_worker.predict, ["轻记同步总是失败"]).result(timeout=60)
        assert len(tags) == 1 and tags[0].model_version.startswith("rules")
    finally:
        second.close_spider()
    assert worker.proc.wait(timeout=30) == 0  # the last one told it to stop
