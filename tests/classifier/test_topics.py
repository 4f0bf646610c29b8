from __future__ import annotations

from pathlib import Path

from classifier import RulesClassifier, keyword_topics, load_classifier
from classifier.loading import load_model_classifier
from configs.topics import Topic, TopicsFile, load_topics_file

NEW = Topic(id="dark_mode", name="深色模式", keywords=("深色模式", "夜间模式", "暗黑模式"), examples=("求出个夜间模式",))


def test_added_topic_tags_texts_with_rules(settings) -> None:
    texts = ["求求出个暗黑模式吧", "更新后闪退"]
    before = RulesClassifier(settings.topics.topics).predict(texts)
    assert all("dark_mode" not in t.topics for t in before)
    extended = settings.replace(topics=TopicsFile(topics=(*settings.topics.topics, NEW)))
    after = load_classifier(extended).predict(texts)
    assert after[0].topics == ("dark_mode",)
    assert after[1].topics == ("crash", "update")


def test_added_topic_tags_texts_with_a_trained_model_without_retraining(tiny_model_dir: Path, settings) -> None:
    topics = (*settings.topics.topics, NEW)
    clf = load_model_classifier(tiny_model_dir, topics=topics, threads=1)
    tags = clf.predict(["夜间模式什么时候上线", "登录不上"])
    assert "dark_mode" in tags[0].topics
    assert "dark_mode" not in tags[1].topics and "login" in tags[1].topics


def test_removed_topic_is_never_tagged_by_the_model(tiny_model_dir: Path, settings) -> None:
    only_ads = tuple(t for t in settings.topics.topics if t.id == "ads")
    clf = load_model_classifier(tiny_model_dir, topics=only_ads, threads=1)
    for t in clf.predict(["更新后一打开就闪退", "开屏广告太多了", "客服不回复"]):
        assert set(t.topics) <= {"ads"}


def test_keyword_topics_normalizes_text(settings) -> None:
    assert keyword_topics("軟體一直閃退", settings.topics.topics) == ("crash",)


def test_load_topics_file(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("topics:\n  - id: shipping\n    name: 物流\n    keywords: [快递, 物流]\n", encoding="utf-8")
    tf = load_topics_file(str(f))
    assert [t.id for t in tf.topics] == ["shipping"]
    assert keyword_topics("快递太慢", tf.topics) == ("shipping",)


def test_default_taxonomy_keeps_agreed_ids(settings) -> None:
    ids = {t.id for t in settings.topics.topics}
    assert {"crash", "login", "payment", "performance", "ads", "update", "privacy", "ui", "customer_service",
            "feature_request", "content", "sync"} <= ids
