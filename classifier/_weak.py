"""Weak supervision for what has no labelled data in our domain: app-feedback templates and taxonomy
examples, with sentiment/intent/topics labels assigned by construction (see the model card)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

__all__ = ["template_rows", "taxonomy_rows"]

_APPS = ["", "", "这个app", "这软件", "app", "新版", "你们的应用", "客户端", "这个软件"]
_FEATURES = ["首页", "消息", "视频", "直播", "搜索", "设置", "个人中心", "相册", "聊天", "播放器", "地图", "购物车",
             "订单页", "会员中心", "评论区", "下载", "文件", "通知", "小程序", "钱包"]
_BUG = ["一打开就闪退", "老是崩溃", "点了没反应", "一直白屏", "加载不出来", "打不开了", "卡死了", "报错进不去",
        "显示异常", "总是自动退出", "黑屏", "图片显示不出来", "一直转圈", "发不出去", "无法使用", "频繁闪退"]
_WHEN = ["", "", "更新后", "升级到新版本以后", "今天", "最近", "从昨天开始", "换了手机之后", "每次", "iOS更新后"]
_REQUEST = ["希望能增加{f}的夜间模式", "建议{f}支持批量删除", "能不能加个{f}的导出功能", "希望{f}可以自定义",
            "求增加{f}的横屏模式", "建议优化一下{f}的排版", "可不可以在{f}加个搜索", "期待{f}支持多账号",
            "希望出一个{f}的简洁版", "建议{f}增加字体大小调节", "要是{f}能离线使用就好了", "希望恢复旧版的{f}"]
_QUESTION = ["请问{f}在哪里设置", "{f}怎么找不到了?", "怎么修改{f}的设置", "请问{f}支持平板吗", "{f}是不是要收费?",
             "为什么{f}不显示了?", "如何把{f}的记录导出", "请问怎么注销账号", "新版本什么时候上线?",
             "{f}可以关掉吗?", "请问会员能退吗?", "这个{f}是什么意思?"]
_SERVICE = ["客服一直不回复", "联系人工客服半天没人理", "申请退款一周了还没到账", "自动续费乱扣钱还不给退",
            "客服态度太差了", "投诉了三次都没人处理", "莫名其妙扣了我的会员费", "退款申请被驳回也不说原因",
            "客服只会复制粘贴敷衍", "账号被封了申诉没人管", "充值没到账客服踢皮球", "售后推来推去没人负责"]
_PRAISE = ["{f}很好用", "{f}做得很棒", "界面清爽，用着舒服", "非常好用，推荐", "更新后流畅多了，赞", "良心应用，没有广告",
           "{f}设计得很贴心", "用了好几年了，一直很满意", "这次更新很给力", "功能齐全，五星好评", "客服很耐心，问题解决了",
           "速度快，体验很好"]
_OTHER = ["今天更新了新版本", "用了三年了", "{f}改版了", "昨天下载的", "刚换了新手机重新装了一下", "看到别人推荐来试试",
          "第一次用", "{f}的位置变了", "和朋友一起用", "每天都会打开看看", "版本号是8.0.1", "在应用商店下载的"]
_NEG_TAIL = ["", "", "，太垃圾了", "，差评", "，烦死了", "，什么破软件", "，无语", "!!"]


def _rows(kind: str, pattern: str, rnd: random.Random) -> dict[str, Any]:
    f = rnd.choice(_FEATURES)
    text = pattern.format(f=f)
    if kind == "bug":
        text = rnd.choice(_WHEN) + rnd.choice(_APPS) + f + pattern + rnd.choice(_NEG_TAIL)
        return {"text": text, "sentiment": "negative", "intent": "bug"}
    if kind == "service_complaint":
        return {"text": text + rnd.choice(_NEG_TAIL), "sentiment": "negative", "intent": "service_complaint"}
    if kind == "praise":
        return {"text": text, "sentiment": "positive", "intent": "praise"}
    return {"text": text, "sentiment": "neutral", "intent": kind}


def template_rows(n: int, *, seed: int = 13) -> list[dict[str, Any]]:
    """``n`` synthetic app-feedback rows, balanced over intents."""
    rnd = random.Random(seed)
    kinds = [("bug", _BUG), ("feature_request", _REQUEST), ("question", _QUESTION),
             ("service_complaint", _SERVICE), ("praise", _PRAISE), ("other", _OTHER)]
    out = []
    for i in range(n):
        kind, pats = kinds[i % len(kinds)]
        out.append(_rows(kind, rnd.choice(pats), rnd))
    return out


def taxonomy_rows(topics: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per taxonomy example sentence, labelled with its topic (sentiment/intent by rules later)."""
    return [{"text": ex, "topics": [t.id]} for t in topics for ex in t.examples]
