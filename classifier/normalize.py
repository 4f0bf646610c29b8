"""One pure, versioned text-normalization pipeline, and jieba segmentation with a pinned user dictionary.

``normalize_text`` (what the ``text`` field stores and what every model sees):

1. Unicode NFKC — folds full-width ASCII/digits/punctuation to half-width and compatibility forms;
   stray BOM / zero-width characters are dropped; an unpaired surrogate (no valid Unicode: a command-line
   argument with undecodable bytes, say) becomes U+FFFD, which every later step and store can encode.
2. Traditional → simplified Chinese with OpenCC (profile :data:`OPENCC_PROFILE`).
3. URLs removed.
4. Weibo emoticons ``[怒]`` → words (``愤怒``); unknown bracketed emoticons keep their word.
5. ``#话题#`` hashtags → the topic words.
6. Whitespace collapsed to single spaces.

``classification_text`` additionally splits a Weibo repost chain (``own words//@user: quoted``) keeping
the author's own words, and drops ``@mentions`` — what the classifier tags.

The settings that change these outputs — :data:`NORMALIZE_VERSION`, the OpenCC profile and the hash of
the segmentation dictionary — are returned by :func:`normalization_config`; they are saved with every
model, and :func:`check_normalization` fails loudly when a model was trained under other settings.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from configs import Settings

__all__ = [
    "NORMALIZE_VERSION", "OPENCC_PROFILE", "EMOTICONS", "normalize_text", "classification_text",
    "split_repost", "normalization_config", "check_normalization", "user_words", "dictionary_hash",
    "Segmenter", "segmenter_for",
]

#: Bump whenever any step below changes its output.
NORMALIZE_VERSION = "1"
OPENCC_PROFILE = "t2s"

#: Common Weibo emoticons and their meaning as words.
EMOTICONS: dict[str, str] = {
    "怒": "愤怒", "怒骂": "愤怒", "抓狂": "抓狂", "哼": "生气", "左哼哼": "生气", "右哼哼": "生气",
    "鄙视": "鄙视", "吐": "恶心", "泪": "流泪", "悲伤": "悲伤", "失望": "失望", "伤心": "伤心",
    "可怜": "可怜", "委屈": "委屈", "衰": "倒霉", "晕": "头晕", "汗": "无语", "无语": "无语", "疑问": "疑问",
    "费解": "费解", "思考": "思考", "哈哈": "哈哈", "嘻嘻": "开心", "偷笑": "偷笑", "笑cry": "笑哭",
    "爱你": "喜欢", "心": "爱心", "赞": "赞", "good": "赞", "给力": "给力", "威武": "厉害", "鼓掌": "鼓掌",
    "加油": "加油", "亲亲": "喜欢", "太开心": "开心", "挖鼻": "无聊", "拜拜": "再见", "doge": "调侃",
    "二哈": "调侃", "允悲": "无奈", "吃惊": "吃惊", "酷": "酷", "生病": "生病", "弱": "差", "NO": "不行",
    "ok": "好", "OK": "好", "耶": "开心", "蜡烛": "哀悼", "微笑": "微笑", "怒火": "愤怒", "哭": "哭",
}

_INVISIBLE: dict[int, int | None] = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"), None)
_INVISIBLE.update(dict.fromkeys(range(0xD800, 0xE000), 0xFFFD))  # unpaired surrogates
#: Any character _INVISIBLE maps: translating looks every character up (4.4 µs for a review), searching 0.3 µs.
_HAS_INVISIBLE = re.compile("[" + "".join(chr(c) for c in _INVISIBLE if not 0xD800 <= c < 0xE000) + "\ud800-\udfff]")
_URL = re.compile(r"(?:https?://|www\.)[^\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]+|\bt\.cn/[A-Za-z0-9]+", re.I)
_EMOTICON = re.compile(r"\[([^\[\]\s]{1,8})\]")
_HASHTAG = re.compile(r"#([^#\n]{1,40})#")
_SPACE = re.compile(r"\s+")
_REPOST = re.compile(r"//\s*@")
_MENTION = re.compile(r"@[\w\-\u4e00-\u9fff]{1,30}[:：]?")

_REPOST_BOILERPLATE = {"转发微博", "转发", "轉發微博", "repost", "回复", "转"}

_opencc_lock = threading.Lock()


@lru_cache(maxsize=4)
def _converter(profile: str) -> Any:
    import opencc

    return opencc.OpenCC(profile)


def _t2s(text: str) -> str:
    conv = _converter(OPENCC_PROFILE)
    with _opencc_lock:
        return str(conv.convert(text))


def _emoticon(match: re.Match[str]) -> str:
    name = match.group(1)
    return " " + EMOTICONS.get(name, EMOTICONS.get(name.lower(), name)) + " "


def normalize_text(text: str) -> str:
    """Normalize one text (pure; idempotent). See the module docstring for the steps."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    if _HAS_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    text = _t2s(text)
    # Each pattern needs a character most texts lack: a substring test is far cheaper than a regex scan.
    if "/" in text or "." in text:
        text = _URL.sub(" ", text)
    if "[" in text:
        text = _EMOTICON.sub(_emoticon, text)
    if "#" in text:
        text = _HASHTAG.sub(_hashtag, text)
    return _SPACE.sub(" ", text).strip()


def _hashtag(match: re.Match[str]) -> str:
    return " " + match.group(1).strip() + " "


def split_repost(text: str) -> tuple[str, str]:
    """Split a Weibo repost chain: ``(own words, the quoted chain starting at the first //@)``."""
    m = _REPOST.search(text)
    if not m:
        return text.strip(), ""
    return text[: m.start()].strip(), text[m.start():].strip()


def classification_text(text: str, *, normalized: bool = False) -> str:
    """What the classifier reads: normalized, the author's own words of a repost, @mentions dropped.

    A pure repost (no own words) falls back to the quoted text. ``normalized``: ``text`` is what
    :func:`normalize_text` gave already (a crawled document's text), so that step is skipped — it would
    return the text unchanged.
    """
    norm = text if normalized else normalize_text(text)
    own, chain = split_repost(norm)
    if own.lower() in _REPOST_BOILERPLATE:
        own = ""
    if not own and chain:
        own = _REPOST.sub(" @", chain)
    own = _MENTION.sub(" ", own)
    return _SPACE.sub(" ", own).strip()


# --- segmentation -------------------------------------------------------------------------------------


def user_words(settings: Settings) -> tuple[str, ...]:
    """The segmentation user dictionary: product names, aliases, features and topic keywords (sorted)."""
    words: set[str] = set()
    for p in getattr(settings.sources, "products", ()):
        words.update([p.name, *p.aliases, *p.features])
    for t in getattr(settings.topics, "topics", ()):
        words.update(t.keywords)
    return tuple(sorted(normalize_text(w) for w in words if w and w.strip()))


def dictionary_hash(words: Iterable[str]) -> str:
    """Hash of the segmenter (jieba-rs through ``rjieba``, and its version) and the user dictionary."""
    h = hashlib.sha256(f"rjieba={_rjieba_version()}\n".encode())
    for w in sorted(words):
        h.update(w.encode() + b"\n")
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def _rjieba_version() -> str:
    from importlib.metadata import version

    return version("rjieba")


def normalization_config(words: Iterable[str] = ()) -> dict[str, str]:
    """The settings that change normalization output; saved in model configs and index metadata."""
    return {"version": NORMALIZE_VERSION, "opencc_profile": OPENCC_PROFILE, "dict_hash": dictionary_hash(words)}


def check_normalization(saved: dict[str, Any] | None, *, path: str, words: Iterable[str] | None = None) -> None:
    """Raise :class:`NormalizationMismatch` if ``saved`` (from a model config) differs from this code.

    The dictionary hash is compared only when ``words`` is given (the dictionary only affects
    segmentation for search, not the character-level model).
    """
    from classifier._base import NormalizationMismatch

    if not saved:
        raise NormalizationMismatch(path, "config.json has no voc_normalization settings; re-save the model with `voc train`")
    current = normalization_config(words or ())
    keys = ["version", "opencc_profile"] + (["dict_hash"] if words is not None else [])
    diffs = [f"{k}: model {saved.get(k)!r} != code {current[k]!r}" for k in keys if saved.get(k) != current[k]]
    if diffs:
        raise NormalizationMismatch(path, "normalization differs (" + "; ".join(diffs) + "); retrain with `voc train` or use a matching VOC version")


_PUNCT_ONLY = re.compile(r"^[\W_]+$")


def _is_word(piece: str) -> bool:
    """A segment that is neither blank nor only punctuation/symbols (``3.2.1``, ``e-mail``: yes; ``，``: no)."""
    return bool(piece.strip()) and not _PUNCT_ONLY.match(piece)


class Segmenter:
    """jieba segmentation over normalized text with a pinned user dictionary; built once per dictionary.

    jieba-rs (the ``rjieba`` binding): jieba's dictionary, DAG and HMM for unknown words, in Rust — about 15
    times faster than the pure-Python jieba, which was the crawl's largest cost per item. Its tokens are
    jieba's, except that letters and digits joined by ``-`` ``.`` ``_`` stay one token (``7-eleven``,
    ``60-70``) and a digit run followed by letters is one word (``5g``, ``16g``); the index's FTS5 and
    Elasticsearch tokenizers split the punctuation again, so searches match either way.
    """

    def __init__(self, words: Iterable[str] = ()) -> None:
        import rjieba

        self.words = tuple(sorted(set(words)))
        #: What the index records with its tokens (and checks on open): see normalization_config.
        self.config = normalization_config(self.words)
        self.dict_hash = self.config["dict_hash"]
        self._jieba = _claim_default(rjieba) or rjieba.Jieba()
        for w in self.words:
            self._jieba.add_word(w, 50000, None)

    def __call__(self, text: str) -> list[str]:
        return self.segment_normalized(normalize_text(text))

    def segment_normalized(self, norm: str) -> list[str]:
        """The words of text that :func:`normalize_text` already gave (what the crawl's documents hold)."""
        # Most pieces are plain words (isalnum, a C check); only the others need the punctuation test.
        return [p for p in self._jieba.cut(norm.lower(), True) if p.isalnum() or _is_word(p)]


_segmenters: dict[tuple[str, ...], Segmenter] = {}
_seg_lock = threading.Lock()
_default_free = True  # rjieba's own instance, until the first segmenter takes it
_claim_lock = threading.Lock()


def _claim_default(rjieba: Any) -> Any:
    """Importing ``rjieba`` builds a jieba-rs instance for its module-level ``cut`` (about 0.1 s, as long as
    building ours), which nothing in VOC calls: the process's first segmenter takes that instance over
    rather than building a second one. None for later segmenters (they build their own)."""
    global _default_free
    with _claim_lock:
        free, _default_free = _default_free, False
    return getattr(rjieba, "_DEFAULT_JIEBA", None) if free else None


def segmenter_for(words: Iterable[str]) -> Segmenter:
    key = tuple(sorted(set(words)))
    with _seg_lock:
        seg = _segmenters.get(key)
        if seg is None:
            seg = _segmenters[key] = Segmenter(key)
        return seg
