"""The demo story, as data: 轻记 (a fictional notes app) ships 3.2.0, and login failures surge.

Pure and deterministic: :func:`build_story` takes the crawl time and returns every review and forum
thread, with times anchored to the hour so that two runs within an hour replay identical responses.
Ordinary feedback comes from real review sentences (see data/README.md); the surge is written here.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["Review", "Post", "Thread", "Story", "build_story", "APP_ID", "FORUM_ID", "NEW_VERSION", "FIX_VERSION",
           "FIX_DAY_LOGIN_COMPLAINTS"]

APP_ID = "1600000001"
FORUM_ID = "2"
NEW_VERSION = "3.2.0"
#: The next day: 3.2.1 ships an hour after the story's now and fixes login (``build_story(now, fix_day=True)``).
FIX_VERSION = "3.2.1"
#: Login complaints on 3.2.1 in its first day (a few users still stuck: the fix works, not perfectly).
FIX_DAY_LOGIN_COMPLAINTS = 2
OLD_VERSIONS = ("3.1.0", "3.1.1", "3.1.2")
#: Days of ordinary history before the release, and hours since the release.
HISTORY_DAYS = 14
SURGE_HOURS = 6

SURGE_TEXTS = (
    "3.2.0之后一直登录失败，提示网络错误，重装也没用",
    "验证码登录收不到短信，等了十分钟都没有，根本登不上",
    "现在登录后马上退回登录页，笔记都看不了了，急用！",
    "登录一直转圈圈，换了WiFi和4G都不行，什么情况",
    "账号登录不上了，密码是对的，提示账号异常",
    "今天就登不上了，试了好多次，太耽误事了",
    "登录页面点登录按钮没反应，到底能不能登录",
    "收不到验证码，登录不了，我的笔记都在里面，怎么办",
    "一登录就提示服务器繁忙，已经试了一上午了",
    "登录失败好几次账号就被锁了，这是什么设计",
    "微信登录也不行了，授权完又跳回登录页",
    "登录不上，开会的记录全在里面，急死了",
)
SURGE_TITLES = ("登录不上", "登录失败", "收不到验证码", "无法登录", "求修复登录", "登不上了")
THREAT_TEXT = "登录不上还自动续费扣了我68元，客服三天不回复，再不退款我就去12315投诉，并找媒体曝光"
FORUM_SURGE_SUBJECTS = (
    "【求助】3.2.0 登录一直失败", "验证码收不到，有人一样吗", "登录后又退回登录页，笔记打不开",
    "登录转圈圈，官方出来说句话", "账号登录异常被锁定", "今天大家都登不上吗？",
)
NAMES = ("小鹿", "阿青", "Momo", "橘子汽水", "老王", "夏天", "木木", "lemon", "阿杰", "星星", "糖糖", "大熊")


@dataclass(frozen=True)
class Review:
    id: str
    title: str
    text: str
    rating: int
    version: str
    author: str
    author_id: str
    updated: datetime
    votes: int


@dataclass(frozen=True)
class Post:
    pid: str
    author: str
    uid: str
    posted: datetime
    message: str


@dataclass(frozen=True)
class Thread:
    tid: str
    subject: str
    author: str
    uid: str
    posted: datetime
    posts: tuple[Post, ...]
    #: A thread that answers with the forum's login wall (a block page in the demo).
    login_required: bool = False


@dataclass(frozen=True)
class Story:
    now: datetime
    reviews: tuple[Review, ...]
    threads: tuple[Thread, ...] = field(default=())


def _sentences() -> tuple[list[str], list[str]]:
    pos: list[str] = []
    neg: list[str] = []
    with (Path(__file__).parent / "data" / "reviews.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            (pos if row["label"] == "positive" else neg).append(row["text"])
    return pos, neg


def build_story(now: datetime, *, fix_day: bool = False) -> Story:
    """The story at ``now``; with ``fix_day`` also the day after it: 3.2.1 ships at now + 1 h and its
    reviews over the next 23 hours are mostly happy, with :data:`FIX_DAY_LOGIN_COMPLAINTS` login complaints
    (everything before ``now`` is identical either way)."""
    """Every review and thread of the demo, newest first, for a crawl at ``now`` (aware)."""
    rng = random.Random(20261124)
    anchor = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    pos, neg = _sentences()
    reviews: list[Review] = []
    serial = 0

    def add_review(at: datetime, text: str, rating: int, version: str, title: str) -> None:
        nonlocal serial
        serial += 1
        who = rng.choice(NAMES) + str(rng.randint(10, 999))
        reviews.append(Review(id=str(8_800_000_000 + serial), title=title, text=text, rating=rating, version=version,
                              author=who, author_id=str(1_000_000_000 + rng.randint(1, 99_999_999)), updated=at,
                              votes=rng.randint(0, 3)))

    # Ordinary history: about one review an hour, two thirds positive, across the 3.1.x versions.
    for hour in range(SURGE_HOURS + 2, HISTORY_DAYS * 24, 1):
        if rng.random() < 0.2:
            continue
        at = anchor - timedelta(hours=hour, minutes=rng.randint(0, 59))
        version = OLD_VERSIONS[min(2, (HISTORY_DAYS * 24 - hour) * 3 // (HISTORY_DAYS * 24))]
        if rng.random() < 0.62:
            add_review(at, rng.choice(pos), rng.choice((4, 5, 5)), version, rng.choice(("好用", "不错", "推荐", "满意")))
        else:
            add_review(at, rng.choice(neg), rng.choice((1, 2, 3)), version, rng.choice(("一般", "失望", "不太好用", "有问题")))
    # The release: 3.2.0 ships SURGE_HOURS + 2 hours ago; login complaints surge in the last SURGE_HOURS.
    for hour in range(SURGE_HOURS + 2):
        for _ in range(2 if hour >= SURGE_HOURS else 1):
            at = anchor - timedelta(hours=hour, minutes=rng.randint(0, 59))
            add_review(at, rng.choice(pos), 5, NEW_VERSION, "新版不错")
        if hour < SURGE_HOURS:
            for _ in range(9 + (SURGE_HOURS - hour)):
                at = anchor - timedelta(hours=hour, minutes=rng.randint(0, 59))
                add_review(at, rng.choice(SURGE_TEXTS), rng.choice((1, 1, 2)), NEW_VERSION, rng.choice(SURGE_TITLES))
    add_review(anchor - timedelta(hours=1, minutes=12), THREAT_TEXT, 1, NEW_VERSION, "再不处理就投诉")
    reviews.sort(key=lambda r: (r.updated, r.id), reverse=True)

    threads: list[Thread] = []
    tid = 4100
    for day in range(HISTORY_DAYS, 0, -1):
        for _ in range(rng.randint(1, 2)):
            tid += 1
            at = anchor - timedelta(days=day, hours=rng.randint(0, 20))
            threads.append(_thread(rng, tid, rng.choice(pos + neg)[:24], at, pos + neg))
    for i, subject in enumerate(FORUM_SURGE_SUBJECTS):
        tid += 1
        at = anchor - timedelta(hours=SURGE_HOURS - 1 - i % SURGE_HOURS, minutes=rng.randint(0, 59))
        threads.append(_thread(rng, tid, subject, at, list(SURGE_TEXTS)))
    tid += 1
    threads.append(Thread(tid=str(tid), subject="【内部】版主讨论区", author="版主", uid="1", posted=anchor - timedelta(hours=3),
                          posts=(), login_required=True))
    threads.sort(key=lambda t: t.posted, reverse=True)
    if fix_day:  # its own random stream: the story before now stays exactly as it was
        fix_rng = random.Random(20261125)
        rng = fix_rng
        for hour in range(2, 24):
            at = anchor + timedelta(hours=hour, minutes=fix_rng.randint(0, 59))
            add_review(at, fix_rng.choice(pos), fix_rng.choice((4, 5, 5)), FIX_VERSION, "修好了")
        for i in range(FIX_DAY_LOGIN_COMPLAINTS):
            at = anchor + timedelta(hours=6 + 7 * i, minutes=fix_rng.randint(0, 59))
            add_review(at, SURGE_TEXTS[i % len(SURGE_TEXTS)], 1, FIX_VERSION, "还是登录不上")
        reviews.sort(key=lambda r: (r.updated, r.id), reverse=True)
    return Story(now=now, reviews=tuple(reviews), threads=tuple(threads))


def _thread(rng: random.Random, tid: int, subject: str, at: datetime, pool: list[str]) -> Thread:
    posts = []
    for floor in range(rng.randint(2, 4)):
        who = rng.choice(NAMES)
        posts.append(Post(pid=str(tid * 10 + floor), author=who, uid=str(5000 + rng.randint(1, 4000)),
                          posted=at + timedelta(minutes=17 * floor), message=rng.choice(pool)))
    return Thread(tid=str(tid), subject=subject, author=posts[0].author, uid=posts[0].uid, posted=at, posts=tuple(posts))
