from __future__ import annotations

from pathlib import Path

from classifier import RulesClassifier, keyword_topics, load_classifier
from classifier.loading import load_model_classifier
from configs.topics import Topic, TopicsFile, load_topics_file

SHIPPED = Path(__file__).resolve().parents[2] / "classifier" / "models" / "voc-small"

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


BATTERY = Topic(id="battery", name="电量/续航", keywords=("电池", "续航"),
                examples=("充满电用半天就没电了", "电量掉得飞快", "待机一晚上掉电百分之三十", "充电充到一半手机发热",
                          "开一会儿电量就只剩一半"))


def test_an_added_topic_tags_a_text_that_shares_only_its_examples_wording(settings) -> None:
    """Issue 17: examples count at once — the text has none of the topic's keywords."""
    text = "昨晚充满电，早上起来电量掉了一大半"
    assert not any(k in text for k in BATTERY.keywords)
    extended = settings.replace(topics=TopicsFile(topics=(*settings.topics.topics, BATTERY)))
    for clf in (load_classifier(extended), load_model_classifier(SHIPPED, topics=extended.topics.topics, threads=1)):
        tags = clf.predict([text, "客服一直不回复", "更新后一打开就闪退"])
        assert "battery" in tags[0].topics
        assert "battery" not in tags[1].topics and "battery" not in tags[2].topics
    before = load_model_classifier(SHIPPED, topics=settings.topics.topics, threads=1).predict([text])[0]
    assert "battery" not in before.topics


def test_login_complaints_of_the_demo_are_not_crashes(settings) -> None:
    """Issue 17: 12 of 16 demo posts tagged `crash` were login failures (a false 闪退 surge alert)."""
    from app.demo import story

    texts = [*story.SURGE_TEXTS, *story.SURGE_TITLES, *story.FORUM_SURGE_SUBJECTS, story.THREAT_TEXT,
             *(f"{a}，{b}" for a in story.SURGE_TITLES for b in story.SURGE_TEXTS)]
    clf = load_model_classifier(SHIPPED, topics=settings.topics.topics, threads=1, quantize=True)
    tags = clf.predict(texts)
    assert not [t for t, tag in zip(texts, tags) if "crash" in tag.topics]
    assert sum("login" in tag.topics for tag in tags) >= len(texts) - 3
    crashes = clf.predict(["一打开就闪退", "App打不开了，点开就白屏", "登录以后立刻闪退"])
    assert all("crash" in t.topics for t in crashes)
