"""Fast batch inference: tokenization fast path, length/token-budget batches, worker threads, quiet loading."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from classifier.inference import MAX_BATCH_TOKENS, BatchRunner, padded_width
from classifier.loading import load_model_classifier
from classifier.normalize import classification_text
from classifier.rules import TopicMatcher
from configs.topics import Topic

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"
MIXED = ["更新后一打开就闪退", "", "  ", "iPhone 15 Pro升级iOS18后WiFi断流!!", "😡😡垃圾app", "希望增加夜间模式～",
         "軟體閃退了", "ＡＢＣ全角abc123", "é à ü café", "\t换行\n测试", "长" * 300 + "结尾很差",
         "客服电话12315，我要投诉", "ok", "👍", "#话题# [怒] @某人 哈哈"]


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_fast_tokenization_matches_the_tokenizer(which: str, tiny_model_dir: Path) -> None:
    """The model's tokenizer.json alone (what classifier.lean loads, no transformers) encodes like the
    transformers tokenizer of the same directory."""
    from transformers import AutoTokenizer

    path = tiny_model_dir if which == "tiny" else SHIPPED
    clf = load_model_classifier(path, threads=1)
    runner = clf._runner
    assert runner._backend is not None  # the Rust fast path is in use
    texts = [classification_text(t) for t in MIXED] + MIXED
    hf = AutoTokenizer.from_pretrained(path, local_files_only=True)
    assert runner._pad_id == hf.pad_token_id
    expected = hf([t or " " for t in texts], truncation=True, max_length=runner.max_length)["input_ids"]
    assert runner.encode(texts) == [list(e) for e in expected]
    assert max(map(len, runner.encode(texts))) == runner.max_length  # truncated like the tokenizer


def test_batch_plan_caps_texts_tokens_and_feeds_every_worker() -> None:
    runner = BatchRunner(None, batch_size=64, max_length=128)
    lengths = [5 + (i * 37) % 120 for i in range(1000)]
    for workers in (1, 2, 3):
        plan = runner.plan(lengths, workers)
        assert sorted(i for b in plan for i in b) == list(range(1000))
        for b in plan:
            assert len(b) <= 64
            assert len(b) * max(padded_width(lengths[i], 128) for i in b) <= MAX_BATCH_TOKENS
            assert len({padded_width(lengths[i], 128) for i in b}) == 1  # one padded width per batch
        widths = [max(lengths[i] for i in b) for b in plan]
        assert widths == sorted(widths)  # length-sorted
    small = runner.plan([10, 12, 11, 14, 9, 13], workers=2)
    assert len(small) == 2 and sorted(map(len, small)) == [3, 3]
    assert runner.plan([10, 12, 11], workers=1) == [[0, 2, 1]]


def test_worker_threads_give_the_same_predictions(tiny_model_dir: Path, settings) -> None:
    texts = MIXED * 12
    one = load_model_classifier(tiny_model_dir, topics=settings.topics.topics, threads=1)
    two = load_model_classifier(tiny_model_dir, topics=settings.topics.topics, threads=2)
    seen: set[str] = set()
    two.model.register_forward_pre_hook(lambda *_: seen.add(threading.current_thread().name))
    a, b = one.predict(texts), two.predict(texts)
    assert seen and all(name.startswith("voc-classify") for name in seen)  # batches ran on the worker threads
    assert [t.sentiment for t in a] == [t.sentiment for t in b]
    assert [(t.intent, t.topics, t.risk) for t in a] == [(t.intent, t.topics, t.risk) for t in b]
    pa, pb = one.predict_proba(texts), two.predict_proba(texts)
    for head in ("sentiment", "intent", "topics"):
        assert torch.allclose(pa[head], pb[head], atol=1e-5)
    assert two.predict([]) == [] and len(two.predict(["只有一条"])) == 1


def test_loading_shows_no_progress_bar_and_restores_the_setting(capfd: pytest.CaptureFixture[str]) -> None:
    from transformers.utils import logging as hf_logging

    before = hf_logging.is_progress_bar_enabled()
    load_model_classifier(SHIPPED, threads=1, quantize=True)
    err = capfd.readouterr().err
    assert "Loading weights" not in err
    assert hf_logging.is_progress_bar_enabled() == before


def test_topic_keywords_match_literally() -> None:
    topics = (Topic(id="cpp", name="C++", keywords=("c++", "(beta)", "a.b"), examples=()),
              Topic(id="crash", name="闪退", keywords=("闪退", "崩溃"), examples=()))
    match = TopicMatcher(topics)
    assert match("学c++好难 崩溃了") == ("cpp", "crash")
    assert match("加入(beta)测试") == ("cpp",)
    assert match("axb") == () and match("a.b") == ("cpp",)
    assert match("C++") == ("cpp",)  # texts are matched lower-cased


def test_tokenizer_whose_python_side_differs_uses_the_slow_path(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)

    class Prefixing:  # a tokenizer adding something outside its Rust backend
        pad_token_id, padding_side, backend_tokenizer = tok.pad_token_id, "right", tok.backend_tokenizer

        def __call__(self, texts: list[str], **kw: object) -> dict[str, list[list[int]]]:
            return {"input_ids": [[7, *r] for r in tok(texts, **kw)["input_ids"]]}

    runner = BatchRunner(Prefixing(), batch_size=8, max_length=32)
    assert runner._backend is None
    assert runner.encode(["闪退"]) == [[7, *tok(["闪退"], truncation=True, max_length=32)["input_ids"][0]]]
