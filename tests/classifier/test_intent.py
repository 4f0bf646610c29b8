"""Intent: the learned layer over the rules (classifier/intent_model.py), its fitting and its loading."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import ModelLoadError
from classifier._base import INTENTS
from classifier.intent import CUES, intent_of, rule_decision
from classifier.intent_fit import fit
from classifier.intent_model import LAYER_FILE, WEIGHTS, IntentWeights, load_weights
from classifier.loading import load_model_classifier

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"

# written for this test (not in classifier/eval/intent.jsonl): the failures issue 17 named, rephrased
CASES = [
    ("到底还能不能正常登录了？输完密码就转圈", "bug"),
    ("换了新手机同步以后之前的笔记全没了", "bug"),
    ("人工客服回复很及时，耐心帮我找回了账号，谢谢", "praise"),
    ("希望能加一个按标签筛选笔记的功能", "feature_request"),
    ("请问怎么把会员转到另一个账号上？", "question"),
    ("自动续费扣了我两次钱，申请退款到现在没人理", "service_complaint"),
]


def test_the_shipped_model_tags_the_named_failures() -> None:
    clf = load_model_classifier(SHIPPED, threads=1, quantize=True)
    assert clf.intent_mode == "layer" and clf.intent_layer is not None
    got = [t.intent for t in clf.predict([t for t, _ in CASES])]
    assert got == [want for _, want in CASES]


def test_the_text_only_layer_ships_and_is_what_a_sentiment_only_model_gets() -> None:
    layer = load_weights()
    assert layer is not None and layer.labels == list(INTENTS) and WEIGHTS.stat().st_size < 2_000_000
    assert [intent_of(t, "neutral") for t, _ in CASES[:2]] == ["bug", "bug"]


def test_fit_learns_from_the_words_and_round_trips_through_json(tmp_path: Path) -> None:
    # "xq" means a bug and "zv" a question here: nothing in the rules knows either
    texts = ["xq了", "又xq", "xq xq", "这个xq", "zv的", "zv呢", "请zv", "zv zv", "很好", "好用", "一般", "还行",
             "希望增加", "建议增加", "客服不理", "乱扣费"]
    gold = (["bug"] * 4 + ["question"] * 4 + ["praise", "praise", "other", "other"] + ["feature_request"] * 2
            + ["service_complaint"] * 2)
    sentiments = ["neutral"] * len(texts)
    assert rule_decision("它xq", "neutral") == "other"
    with pytest.raises(ValueError, match="every intent"):
        fit(texts[:12], sentiments[:12], gold[:12])
    layer, head = fit(texts, sentiments, gold, min_df=1, c=10.0)
    assert head is None
    again = IntentWeights.from_json(json.loads(json.dumps(layer.to_json())))
    for w in (layer, again):
        assert intent_of("它xq", "neutral", layer=w) == "bug"
        assert intent_of("它zv", "neutral", layer=w) == "question"


def test_a_model_that_asks_for_a_missing_layer_is_refused_with_the_fix(tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(SHIPPED, copy)
    (copy / LAYER_FILE).unlink()
    with pytest.raises(ModelLoadError, match="intent_fit"):
        load_model_classifier(copy, threads=1)
    (copy / LAYER_FILE).write_text("{\"labels\": [\"bug\"]}", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not an intent layer"):
        load_model_classifier(copy, threads=1)


def test_intent_does_not_depend_on_the_process_string_hashing() -> None:
    code = ("import json,sys; from classifier.intent import intent_of; "
            "print(json.dumps([intent_of(l.strip(), s) for l in sys.stdin for s in ('negative','neutral','positive')]))")
    rows = [json.loads(line)["text"] for line in (REPO / "classifier/eval/intent.jsonl").open(encoding="utf-8")][:300]
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        res = subprocess.run([sys.executable, "-c", code], input="\n".join(r.replace("\n", " ") for r in rows),
                             capture_output=True, text=True, env=env, cwd=REPO, check=True)
        outs.append(res.stdout)
    assert outs[0] == outs[1] and len(json.loads(outs[0])) == 3 * len(rows)


def test_an_n_gram_whose_shorter_n_grams_are_not_kept_still_counts() -> None:
    import numpy as np

    k = len(INTENTS)
    row = np.zeros(k)
    row[INTENTS.index("question")] = 50.0
    dense = np.zeros((k + 3 + 9, k))
    layer = IntentWeights(list(INTENTS), ["abc"], row.reshape(1, k), dense, np.zeros(k), list(CUES))
    assert intent_of("xxabcxx", "neutral", layer=layer) == "question"
    assert intent_of("xxabxcx", "neutral", layer=layer) != "question"
