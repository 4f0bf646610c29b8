"""Risk flags: threats to go to the media, regulators or court (text rules), and ``viral`` (engagement).

Precision matters more than recall: each pattern needs an explicit threat phrase, and a negated or
hypothetical-denial context (``不会起诉``, ``没必要找媒体``) or a known false friend (camera
``曝光不足``, ``律师事务所`` job ads) does not count.
"""

from __future__ import annotations

import re

__all__ = ["RISK_PATTERNS", "VIRAL_ENGAGEMENT", "risk_flags", "engagement_flags"]

#: Weighted engagement (likes + 3·replies + 5·reposts) at or above which an item is ``viral``.
VIRAL_ENGAGEMENT = 2000

RISK_PATTERNS: dict[str, tuple[str, ...]] = {
    "media_threat": (
        r"(?:找|联系|求助|告诉|投稿|爆料给?|反映给|打给)(?:各大)?(?:媒体|记者|电视台|报社|新闻)",
        r"(?:媒体|记者|电视台|报社)(?:来)?曝光",
        r"曝光(?:你们|他们|这家|这个|此事|这件事|这种|黑心|无良|商家|平台|公司|出来|一下|到|在)",
        r"(?:去|要|会|就|必须|一定|全网|网上|到处|发帖|发微博|发抖音)曝光",
        r"上(?:新闻|电视|焦点访谈)",
        r"(?:3\.?15|315)晚会",
    ),
    "regulator_threat": (
        r"12315|12321|12345|12377|12381",
        r"工信部|工业和信息化部|消协|消费者协会|消保委|银保监|银监会|保监会|证监会|金融监管|网信办",
        r"市场监(?:督)?管(?:理)?局|市监局|工商局|通信管理局|人民银行|央行投诉|监管部门|有关部门投诉",
    ),
    "legal_threat": (
        r"起诉|诉讼|上诉|法院|仲裁|打官司|律师函|(?:找|请|咨询|委托)(?:了)?律师|法律途径|法律手段|追究.{0,4}法律责任|报警",
    ),
}

_NEGATION = re.compile(r"(?:不会|不想|不用|不必|没必要|别|不要|无需|懒得|不打算)[^，。,.!?！？]{0,3}$")
_FALSE_FRIENDS = re.compile(r"曝光(?:不足|过度|补偿|度|时间|模式|率)|过曝|欠曝|律师事务所|律师资格|法院路|诉讼费用?计算器")
_COMPILED = {flag: tuple(re.compile(p) for p in pats) for flag, pats in RISK_PATTERNS.items()}


def risk_flags(text: str) -> tuple[str, ...]:
    """Text risk flags of one (normalized) text, in :data:`RISK_PATTERNS` order."""
    if not text:
        return ()
    clean = _FALSE_FRIENDS.sub("  ", text)
    flags = []
    for flag, patterns in _COMPILED.items():
        for pat in patterns:
            if any(not _NEGATION.search(clean[max(0, m.start() - 8): m.start()]) for m in pat.finditer(clean)):
                flags.append(flag)
                break
    return tuple(flags)


def engagement_flags(likes: int | None, replies: int | None, reposts: int | None, *,
                     threshold: int = VIRAL_ENGAGEMENT) -> tuple[str, ...]:
    """``("viral",)`` when likes + 3·replies + 5·reposts reaches ``threshold``, else ``()``."""
    score = (likes or 0) + 3 * (replies or 0) + 5 * (reposts or 0)
    return ("viral",) if score >= threshold else ()
