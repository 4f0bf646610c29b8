from __future__ import annotations

import pytest

from classifier import NormalizationMismatch, make_tokenizer
from classifier.normalize import (
    NORMALIZE_VERSION, check_normalization, classification_text, normalization_config, normalize_text, split_repost,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("軟體閃退，無法登錄", "软体闪退,无法登录"),                      # OpenCC t2s + full-width comma folded
    ("ＡＰＰ版本１２．０", "APP版本12.0"),                              # full-width letters/digits
    ("\ufeff  太  卡了\n\t真的 ", "太 卡了 真的"),                        # BOM dropped, whitespace collapsed
    ("看这里 https://example.com/a?b=1 太差", "看这里 太差"),            # URL removed
    ("气死了[怒][怒]", "气死了 愤怒 愤怒"),                              # Weibo emoticons to words
    ("[good]好用", "赞 好用"),
    ("#某某APP闪退#又崩了", "某某APP闪退 又崩了"),                       # hashtag → words
    ("", ""),
])
def test_normalize_table(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected
    assert normalize_text(expected) == expected  # idempotent


@pytest.mark.parametrize(("raw", "own", "chain"), [
    ("确实闪退//@小明:更新后闪退", "确实闪退", "//@小明:更新后闪退"),
    ("没有转发链", "没有转发链", ""),
    ("//@A:只有转发", "", "//@A:只有转发"),
])
def test_split_repost(raw: str, own: str, chain: str) -> None:
    assert split_repost(raw) == (own, chain)


def test_classification_text_keeps_own_words_and_drops_mentions() -> None:
    assert classification_text("@客服小美 你们什么时候修复？//@张三:同问//@李四:闪退") == "你们什么时候修复?"
    assert classification_text("//@张三:更新后闪退") == "更新后闪退"  # pure repost falls back to the quote
    # normalized=True: the caller normalized already (the crawl's documents), so that step is skipped
    assert classification_text("軟體@客服 閃退", normalized=True) == "軟體 閃退"
    assert classification_text("軟體@客服 閃退") == "软体 闪退"


def test_segmentation_uses_product_and_feature_dictionary(settings) -> None:
    from configs.sources import Product, SourcesFile

    custom = settings.replace(sources=SourcesFile(products=(
        Product(id="demo", name="快看笔记", aliases=("KK笔记",), features=("灵感胶囊",)),)))
    tok = make_tokenizer(custom)
    assert "灵感胶囊" in tok("灵感胶囊同步失败")
    assert "快看笔记" in tok("快看笔记又闪退")
    assert tok("軟體閃退！") == ["软体", "闪退"]  # normalized, punctuation dropped


def test_unpaired_surrogates_become_replacement_characters() -> None:
    from classifier.normalize import segmenter_for

    # what Python makes of undecodable bytes in a command-line argument (voc search $'\\xff闪退')
    assert normalize_text("\udcff闪退\ud800") == "\ufffd闪退\ufffd"
    assert segmenter_for(())("\udcff闪退") == ["闪退"]


def test_segmentation_keeps_versions_and_joined_latin_words_whole() -> None:
    from classifier.normalize import normalize_text, segmenter_for

    seg = segmenter_for(())
    assert seg("更新到3.2.1版本后闪退") == ["更新", "到", "3.2.1", "版本", "后", "闪退"]
    assert seg("连不上5G网络") == ["连不上", "5g", "网络"]
    assert seg("7-Eleven的e-mail收不到") == ["7-eleven", "的", "e-mail", "收不到"]
    text = "軟體更新到3.2.1後閃退，@客服 [怒]"
    assert seg.segment_normalized(normalize_text(text)) == seg(text)  # the crawl's path: text normalized once


def test_segmenters_with_other_dictionaries_stay_apart_in_one_process() -> None:
    """The first segmenter of a process takes over the instance that importing rjieba built; its user words
    must not leak into the next segmenter (a fresh process, so the takeover happens here)."""
    import subprocess
    import sys

    code = (
        "from classifier.normalize import Segmenter\n"
        "a = Segmenter(('灵感胶囊',)); b = Segmenter(())\n"
        "print(a.segment_normalized('灵感胶囊同步失败'), b.segment_normalized('灵感胶囊同步失败'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['灵感胶囊', '同步', '失败'] ['灵感', '胶囊', '同步', '失败']"


def test_normalization_mismatch_fails_loudly() -> None:
    cfg = normalization_config()
    check_normalization(cfg, path="m")  # same settings: fine
    with pytest.raises(NormalizationMismatch, match="version"):
        check_normalization({**cfg, "version": NORMALIZE_VERSION + "-old"}, path="m")
    with pytest.raises(NormalizationMismatch, match="opencc_profile"):
        check_normalization({**cfg, "opencc_profile": "s2t"}, path="m")
    with pytest.raises(NormalizationMismatch, match="dict_hash"):
        check_normalization(cfg, path="m", words=["新词"])
    with pytest.raises(NormalizationMismatch):
        check_normalization(None, path="m")
