"""The same text gets the same tags whatever batch it lands in (issue 17, Build 6).

Two identical crawls once tagged 2 of 434 demo posts differently: int8 dynamic quantization scaled a Linear
layer's input by one factor per batch, and the padded width of a batch changed attention and pooling sums.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from classifier.inference import padded_width
from classifier.loading import load_model_classifier
from classifier.normalize import classification_text

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"
DEMO = [json.loads(line)["text"] for line in (REPO / "app" / "demo" / "data" / "reviews.jsonl").open(encoding="utf-8")]
PROBES = ["更新后一打开就闪退，登录也登不上", "客服态度很好，问题很快解决了", "到底能不能登录？", "同步后数据丢了",
          "还行吧", "希望增加夜间模式"] + DEMO[:18]
LONG = sorted(DEMO, key=len)[-40:]
SHORT = sorted(DEMO, key=len)[:40]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_text_gets_identical_tags_alone_among_long_texts_and_among_short(settings, threads: int) -> None:
    """Default settings (int8): tags and probabilities bit for bit, alone / in a long batch / in a short one."""
    clf = load_model_classifier(SHIPPED, topics=settings.topics.topics, threads=threads, quantize=True)
    alone = [clf.predict([t])[0] for t in PROBES]
    among_long = clf.predict(LONG + PROBES)[len(LONG):]
    among_short = clf.predict(SHORT + PROBES + SHORT)[len(SHORT): len(SHORT) + len(PROBES)]
    assert among_long == alone
    assert among_short == alone
    prepared = [classification_text(t) for t in PROBES]
    p_alone = [clf.predict_proba([t]) for t in prepared]
    p_long = clf.predict_proba([classification_text(t) for t in LONG] + prepared)
    for i, one in enumerate(p_alone):
        for head in ("sentiment", "intent", "topics"):
            assert torch.equal(one[head][0], p_long[head][len(LONG) + i]), (PROBES[i], head)


def test_a_texts_padded_width_depends_on_the_text_alone() -> None:
    assert padded_width(1, 128) == 8 and padded_width(8, 128) == 8 and padded_width(9, 128) == 16
    assert padded_width(127, 128) == 128 and padded_width(128, 128) == 128
