from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import ModelLoadError, NormalizationMismatch, Tags, load_classifier
from classifier.loading import load_model_classifier

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "classifier" / "models" / "voc-small"
TEXTS = ["更新后一打开就闪退", "希望能增加夜间模式", "客服一直不回复，我要去12315投诉", "非常好用，推荐", "请问怎么修改密码",
         "軟體閃退了//@某人:同问"]


def test_round_trip_gives_identical_predictions(tiny_model_dir: Path, tmp_path: Path, settings) -> None:
    from classifier.loading import check_complete
    from classifier.model import load_hf_classifier, save_model

    # the training-side model (transformers), saved and loaded back
    first = load_hf_classifier(tiny_model_dir, check_complete(tiny_model_dir), topics=settings.topics.topics, threads=1)
    before = first.predict(TEXTS)
    probs_before = first.predict_proba(TEXTS)

    copy = save_model(first.model, first.tokenizer, tmp_path / "copy", card=(tiny_model_dir / "README.md").read_text())
    second = load_hf_classifier(copy, check_complete(copy), topics=settings.topics.topics, threads=1)
    assert second.predict(TEXTS) == before
    for head in ("sentiment", "intent", "topics"):
        assert (second.predict_proba(TEXTS)[head] == probs_before[head]).all()
    # … and through the loader everything uses (classifier.lean, no transformers): the same tags
    lean = load_model_classifier(copy, topics=settings.topics.topics, threads=1)
    assert type(lean.model).__name__ == "LeanVocModel"
    assert lean.predict(TEXTS) == before
    assert all(isinstance(t, Tags) and t.model_version.startswith("tiny-") for t in before)
    assert before[2].risk == ("regulator_threat",)
    assert "crash" in before[0].topics  # keyword topic


def test_saved_directory_is_self_describing(tiny_model_dir: Path) -> None:
    cfg = json.loads((tiny_model_dir / "config.json").read_text())
    assert cfg["voc_labels"]["sentiment"] == ["negative", "neutral", "positive"]
    assert cfg["voc_labels"]["intent"] == ["bug", "feature_request", "question", "service_complaint", "praise", "other"]
    assert "crash" in cfg["voc_labels"]["topics"]
    assert set(cfg["voc_normalization"]) == {"version", "opencc_profile", "dict_hash"}
    assert {"torch", "transformers"} <= set(cfg["voc_versions"])
    assert (tiny_model_dir / "model.safetensors").is_file()
    assert "## Reproduce" in (tiny_model_dir / "README.md").read_text()


@pytest.mark.parametrize("remove", ["model.safetensors", "config.json", "README.md", "tokenizer.json"])
def test_incomplete_directory_is_refused(tiny_model_dir: Path, tmp_path: Path, remove: str) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / remove).unlink()
    if remove == "tokenizer.json":
        (broken / "vocab.txt").unlink(missing_ok=True)
    with pytest.raises(ModelLoadError) as info:
        load_model_classifier(broken)
    assert info.value.path == str(broken)
    assert "voc train" in str(info.value)


def test_missing_model_dir_names_path_and_fix(settings) -> None:
    s = settings.replace(voc=settings.voc.__class__(classifier=settings.classifier.__class__(model="nope/model")))
    with pytest.raises(ModelLoadError, match=r"nope/model.*voc train.*rules"):
        load_classifier(s)


def test_normalization_mismatch_refuses_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["voc_normalization"]["version"] = "0"
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(NormalizationMismatch, match="version"):
        load_model_classifier(other)


def test_quantized_model_predicts(tiny_model_dir: Path, settings) -> None:
    plain = load_model_classifier(tiny_model_dir, topics=settings.topics.topics, threads=1)
    quant = load_model_classifier(tiny_model_dir, topics=settings.topics.topics, threads=1, quantize=True)
    a, b = plain.predict(TEXTS), quant.predict(TEXTS)
    assert [t.topics for t in a] == [t.topics for t in b]  # keyword topics; the tiny model adds none here
    assert sum(x.sentiment == y.sentiment for x, y in zip(a, b)) >= len(TEXTS) - 1


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME="/nonexistent-hf-home")
    return env


LOAD_SCRIPT = """
import sys, json
from classifier.loading import load_model_classifier
clf = load_model_classifier(sys.argv[1], threads=1)
print(json.dumps([t.as_dict() for t in clf.predict(["更新后一直闪退，垃圾", "很好用，赞"])], ensure_ascii=False))
"""


def test_shipped_model_loads_offline() -> None:
    out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(SHIPPED)], env=_offline_env(), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    tags = json.loads(out.stdout.strip().splitlines()[-1])
    assert tags[0]["sentiment"] == "negative" and tags[1]["sentiment"] == "positive"
    assert tags[0]["model_version"].startswith("voc-small")


def _hf_checkpoint(tmp_path: Path, tiny_model_dir: Path, *, heads: bool, labels: dict[int, str]) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    cfg = BertConfig(vocab_size=200, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     max_position_embeddings=64, id2label=labels, label2id={v: k for k, v in labels.items()})
    path = tmp_path / ("hf-cls" if heads else "hf-plain")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    cfg.vocab_size = len(tok)
    model = BertForSequenceClassification(cfg) if heads else BertModel(cfg)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


HF_SCRIPT = """
import sys, json
from classifier.loading import load_model_classifier
from configs import load_settings
topics = load_settings(env={"VOC_CLASSIFIER_MODEL": "rules"}).topics.topics
clf = load_model_classifier(sys.argv[1], threads=1, topics=topics)
tags = clf.predict(["更新后一直闪退", "请问怎么修改密码?"])
print(json.dumps({"version": clf.model_version, "tags": [t.as_dict() for t in tags]}, ensure_ascii=False))
"""


def test_local_hf_sequence_classification_checkpoint_loads_offline(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = _hf_checkpoint(tmp_path, tiny_model_dir, heads=True, labels={0: "negative", 1: "positive"})
    out = subprocess.run([sys.executable, "-c", HF_SCRIPT, str(path)], env=_offline_env(), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["version"] == "hf-hf-cls"
    assert {t["sentiment"] for t in res["tags"]} <= {"negative", "positive"}
    assert res["tags"][0]["topics"] == ["crash", "update"]  # taxonomy keywords apply to any checkpoint
    assert res["tags"][1]["intent"] == "question"


def test_plain_encoder_or_foreign_labels_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    plain = _hf_checkpoint(tmp_path, tiny_model_dir, heads=False, labels={0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(ModelLoadError, match="without classification heads"):
        load_model_classifier(plain)
    foreign = _hf_checkpoint(tmp_path, tiny_model_dir, heads=True, labels={0: "sports", 1: "politics"})
    with pytest.raises(ModelLoadError, match="not sentiments"):
        load_model_classifier(foreign)


def test_head_tail_keeps_the_verdict_at_the_end() -> None:
    from classifier.model import head_tail

    assert head_tail("短文本", 10) == "短文本"
    text = "开头" + "中" * 200 + "总之很差"
    cut = head_tail(text, 40)
    assert len(cut) == 40 and cut.startswith("开头") and cut.endswith("总之很差")


def test_default_config_loads_the_shipped_model_whatever_the_home(settings) -> None:
    from configs.classifier import ClassifierSettings

    s = settings.replace(voc=settings.voc.__class__(classifier=ClassifierSettings()))  # default model path
    assert not (s.home / "classifier").exists()
    clf = load_classifier(s)
    assert clf.model_version.startswith("voc-small")
    tags = clf.predict(["更新后一打开就闪退，垃圾", "很好用，界面清爽，推荐"])
    assert [t.sentiment for t in tags] == ["negative", "positive"]
    assert tags[0].topics == ("crash", "update") and tags[0].intent == "bug"


RAW = ["軟體更新後一直閃退，垃圾[怒]", "ＡＰＰ很好用，赞 https://example.com/x", "//@张三:登录不了，客服也不回",
       "#轻记闪退#请问怎么恢复笔记?", "@客服小美 什么时候修复？//@李四:同步失败"]


@pytest.mark.parametrize("which", ["shipped", "rules"])
def test_already_normalized_texts_get_the_same_tags(which: str, settings) -> None:
    """The crawl hands the classifier its documents' normalized text and says so (``normalized=True``):
    skipping that step must tag exactly as the raw text would be tagged."""
    from classifier import RulesClassifier
    from classifier.normalize import normalize_text

    topics = settings.topics.topics
    clf = load_model_classifier(SHIPPED, threads=1, topics=topics) if which == "shipped" else RulesClassifier(topics)
    normalized = [normalize_text(t) for t in RAW]
    assert normalized != RAW
    assert clf.predict(normalized, normalized=True) == clf.predict(RAW)
