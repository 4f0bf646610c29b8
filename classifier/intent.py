"""Intent of a piece of app feedback from cue phrases, given its sentiment: bug, feature_request, question,
service_complaint, praise or other.

Written from the ``dev`` part of ``classifier/eval/intent.jsonl`` (real App Store / Google Play reviews and
written sentences, hand-labelled; see ``classifier/eval/README.md``); ``bench/intent.py`` scores the ``test``
part, which was not read while writing these rules. Decisions, in order:

1. **service_complaint** — blame aimed at the company's service rather than the software: customer service
   that does not answer or help, charges, refunds, renewals, membership walls, orders not delivered,
   accounts banned. Customer service that helped is praise (rule 5), and 投诉 alone ("I complain") is not a
   service cue — people "complain" about crashes too.
2. **bug** — something fails: crashes, cannot log in / register / download (``…不了``, ``…不上``,
   无法, 进不去), errors, timeouts, blank screens, lost data, overheating and lag. A question about a failure
   ("为什么注册不了", "到底能不能登录") is a bug report, not a question or a feature request; a fixed failure
   ("修好了闪退") is not.
3. **feature_request** — asks for something new or changed back: 希望增加 / 建议 / 能不能加 / 要是能…就好了 /
   换回旧版. Generic wishes (希望越来越好, 加油) are not requests.
4. **question** — asks for information or how to do something (请问, 怎么设置, 在哪, …吗？).
5. **praise** — positive sentiment (the model's) or clear praise words, with no cue above.
6. **other** — everything else: opinions without a failure (滤镜变丑了), ads, spam, plain statements.

:func:`rule_decision` is that order. :func:`intent_of` — what every classifier calls — hands the rules'
decision, the cue flags and the sentiment to the learned layer of :mod:`classifier.intent_model` (fitted on the
labelled ``dev`` and ``train`` parts, character n-grams included), which has the last word; without its
weights file the rules decide alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from classifier.intent_model import IntentWeights, load_weights

__all__ = ["intent_of", "rule_decision", "cue_flags", "CUES"]

_SERVICE_BAD = re.compile(
    r"客服|售后|人工|工单|申诉|回访|反馈").pattern
_SERVICE_NEG = re.compile(
    r"(?:客服|售后|人工|工单|申诉|反馈|热线|客服电话)[^。！!？?]{0,12}?"
    r"(?:不理|不回|没回|没人|没有人|不管|不处理|不给|拖|推来推去|只会|找不到|打不通|没有用|没用|差|烂|垃圾|不存在|"
    r"石沉大海|没消息|没有任何|无应答|不解决|祝我|模板|机器人|让我自己|不归|一直显示处理中|只回复|滞后)"
    r"|(?:没|没有|找不到|联系不到|不见)(?:任何)?(?:人工)?(?:客服|售后|投诉电话|客服电话)"
    r"|垃圾客服|客服真是个垃圾|石沉大海|(?<!无效)退款|不退|退不了|退钱|扣费|扣了|扣钱|乱扣|重复扣|自动续费|续费|偷偷涨|"
    r"还要收费|要收费|收费了|开始收费|乱收费|变相收费|还收费|还要付费|要付费|高额付费|付费才|要钱|坑钱|骗钱|"
    r"不发货|没发货|还没发|也没发|发货|赠品|没收到|没到账|没开通|封号|被封了|停权|停我|停止使用权限|注销别人|诈欺|诈骗|"
    r"会员才|办理会员|注册会员|开发票|发票|态度(?:差|极差|恶劣|强硬|诚恳)|冲[你这](?:们)?(?:这)?态度|理直气壮|"
    r"龙珠呢|送的|说好的|欺负人")
_SERVICE_GOOD = re.compile(r"态度(?:特别|很|非常|超)?好|服务(?:很|特别|非常)?好|耐心|热情|很快|及时|解决了|处理好|贴心|感谢|谢谢|点赞|好评|到位|靠谱|负责|专业|满意|顺畅|通过了")
_BUG = re.compile(
    r"闪退|崩溃|崩了|卡死|卡住|卡成|卡爆|很卡|太卡|好卡|卡的|卡得|卡顿|死机|白屏|黑屏|空白|白一片|打不开|点不开|进不去|进不了|"
    r"进不入|上不了|上不去|[登注]不[上进]|不进去|不能[登注用使下安更刷上进保发打删]|不能再用|无法|用不了|不能用|没法用|不好使了|"
    r"就退了|自己退了|不让安装|全是灰|卡在|"
    r"(?:登录|登陆|登入|注册|下载|安装|刷新|更新|同步|上传|保存|加载|连接|删除|卸载|打开|发图|发送|截图|认证|绑定|兑换)"
    r"(?:不了|不上|不成功|失败|不进|不起|不下来|不出来|不掉|不进去)|删不掉|删也删不|下不了|下不下来|刷不出|"
    r"bug|报错|错误|出错|异常|故障|失败|超时|没反应|没有反应|没声音|没有声音|乱码|转圈|loading|一直显示|显示无网络|"
    r"网络(?:错误|异常|问题|不行|不好|连接失败)|无网络|连不上|收不到|不提醒|登出|退出app|跳出|自己退出|自动退出|"
    r"(?:数据|笔记|记录|资料|照片|图片|收藏|步数)[^，。！!]{0,6}(?:丢|没了|不见|全空|消失|清空)|丢失|全空了|"
    r"发烫|发热|烫手|耗电|费电|掉电|很慢|太慢|变慢|慢死|反应慢|模糊了?$|条纹|不对称|反的|不显示|看不到|显示不出|不同步|"
    r"无限循环|无限迴圈|循环")
_BUG_FIXED = re.compile(r"(?:修好|修复了|解决了|好了|不再)[^，。！!]{0,4}$|修好了|已修复|终于不")
_FEATURE = re.compile(
    r"希望(?!越来越|越做越|继续|一直|坚持|不断|以后可以有更好|你们越|能用着|评论|是真的|如此|早点解决|快点解决|尽快|快点处理|.{0,6}(?:坚持|做好|越来越))"
    r"|建议(?!大家|删除)|能不能(?:加|增加|添加|出|提供|换|改|调|回|恢复|多|支持|不要|把)|可不可以(?:加|出|增加|换|改|回|在)|"
    r"可以(?:再)?(?:加|增加|添加|出个|出一|弄个|改成|多出)|求(?:加|增加|出|支持|恢复|降级|还)|加个|加一个|增加|添加|"
    r"就更好|就好了|就好啦|就完美|更好了|要是能|要是有|如果能|如果可以|如果有|想要|期待(?!着?越来越|更好|更强)|"
    r"换回|改回|调回|变回|还原|恢复(?:到)?(?:以前|之前|原来|旧)|回到(?:以前|之前|原来|旧|最初|上一)|旧版本|老版本|降级|还我|还给我|"
    r"再出|多出|多点|多些|多一些|再多|不能随意|不能调|望改善|坐等改进|有待|需要改进|出个|出一个|能(?:加|出)|应该(?:增加|加|再)|"
    r"不要(?:水印|广告|乱加)|快点更新|不能分享|不能清理")
_QUESTION = re.compile(
    r"请问|怎么|怎样|如何|在哪|哪里|哪儿|为什么|为何|为啥|咋|是不是|是否|有没有|能否|吗[？?!！。\s]*$|吗[？?]|呢[？?]|"
    r"[？?]\s*$|多久|什么时候|几点|啥时候")
_PRAISE = re.compile(
    r"好用|不错|很好|非常好|真好|挺好|满意|喜欢|爱了|超爱|赞|给力|棒|神器|完美|感谢|谢谢|优秀|漂亮|好看|好玩|实用|方便|"
    r"靠谱|贴心|必备|推荐|强大|良心|五星|好评|100分|名不虚传|有意思|可爱|迷妹|卡哇伊|最好|最出色")
#: A question from its first words: asks how / where / whether (then a feature cue inside it is what is asked about).
_ASKS = re.compile(r"^(?:请问|怎么|怎样|如何|在哪|哪里|有没有人知道|第一次用，请问|这个.{0,8}(?:吗|呢)[？?]?$)")
_NEGATIVE = re.compile(r"不好|垃圾|差评|难用|太差|很差|失望|讨厌|难看|丑|烂|坑|骗|后悔|无语|恶心|卸载|删了|不如|没什么用|不方便|"
                       r"模糊|吐槽|太坏|不爽|暴力|气死|郁闷|辣鸡|损|low|流氓|歧视|不公|恼人|惱人")


#: The cue patterns whose flags the learned layer reads, by name (their order is the weights' order).
CUES = {"service_negative": _SERVICE_NEG, "service_positive": _SERVICE_GOOD, "bug": _BUG, "bug_fixed": _BUG_FIXED,
        "feature": _FEATURE, "question": _QUESTION, "praise": _PRAISE, "asks": _ASKS, "negative": _NEGATIVE}


def cue_flags(text: str, names: Sequence[str] | None = None) -> tuple[bool, ...]:
    """Whether each cue of :data:`CUES` (or of ``names``, in that order) occurs in the text."""
    low = text.lower()
    patterns = [CUES[n] for n in names] if names else _PATTERNS
    return tuple(p.search(low) is not None for p in patterns)


def intent_of(text: str, sentiment: str, *, layer: IntentWeights | None = None,
              head: Sequence[float] | None = None) -> str:
    """The intent of one normalized text given its sentiment (negative / neutral / positive): the shipped
    text-only layer's, or ``layer``'s — a model's own, which adds that model's intent-head log-probabilities
    ``head``."""
    low = text.lower()
    flags = cue_flags(low)
    rule = _decide(low, sentiment, flags)
    weights = layer if layer is not None else load_weights()
    if weights is None:
        return rule
    if weights.cues != _NAMES:
        flags = cue_flags(low, weights.cues)
    return weights.predict_features(low, rule, sentiment, flags, head)


def rule_decision(text: str, sentiment: str) -> str:
    """The rules' intent of one normalized text given its sentiment (the order in the module docstring)."""
    low = text.lower()
    return _decide(low, sentiment, cue_flags(low))


_NAMES = list(CUES)
_PATTERNS = tuple(CUES.values())


def _decide(low: str, sentiment: str, flags: tuple[bool, ...]) -> str:
    service_bad, service_good_word, bug, bug_fixed, feature, question, praise, asks, negative = flags
    service_good = not service_bad and service_good_word and re.search(_SERVICE_BAD, low) is not None
    if service_bad:
        return "service_complaint"
    if bug and not bug_fixed:
        return "bug"
    if asks and not negative:
        return "question"
    if feature:
        return "feature_request"
    if question and not negative:
        return "question"
    if service_good:
        return "praise"
    if (sentiment == "positive" or praise) and not negative:
        return "praise"
    return "other"
