from __future__ import annotations

import pytest

from classifier import engagement_flags, risk_flags


@pytest.mark.parametrize(("text", "flags"), [
    ("再不退款我就去12315投诉", ("regulator_threat",)),
    ("已经向工信部反映了", ("regulator_threat",)),
    ("准备向银保监会投诉你们", ("regulator_threat",)),
    ("去市场监管局举报你们", ("regulator_threat",)),
    ("我要找媒体曝光你们", ("media_threat",)),
    ("曝光一下这个黑心商家", ("media_threat",)),
    ("已经联系记者了", ("media_threat",)),
    ("等着上新闻吧", ("media_threat",)),
    ("已经请律师了，准备起诉", ("legal_threat",)),
    ("法院见", ("legal_threat",)),
    ("申请仲裁", ("legal_threat",)),
    ("找律师起诉，顺便去消协", ("regulator_threat", "legal_threat")),
])
def test_threats_are_flagged(text: str, flags: tuple[str, ...]) -> None:
    assert risk_flags(text) == flags


@pytest.mark.parametrize("text", [
    "照片曝光不足，夜景拍不清",          # camera exposure, not a threat
    "曝光补偿调一下就好",
    "这个律师事务所招聘",
    "不会起诉的，放心",                  # negated
    "没必要找媒体",
    "上热搜了，这个功能真火",            # popularity, not a threat
    "更新后一直闪退，垃圾",              # angry but no threat
    "客服态度太差了",
    "",
])
def test_no_false_alarms(text: str) -> None:
    assert risk_flags(text) == ()


def test_engagement_flags() -> None:
    assert engagement_flags(None, None, None) == ()
    assert engagement_flags(10, 2, 1) == ()
    assert engagement_flags(2000, 0, 0) == ("viral",)
    assert engagement_flags(0, 0, 400) == ("viral",)      # reposts weigh 5
    assert engagement_flags(0, 0, 399) == ()
    assert engagement_flags(5, 0, 0, threshold=5) == ("viral",)
