"""Rebuild reviews.jsonl, the demo's ordinary background feedback, from real Chinese App Store reviews.

Source: ``appstore_reviews_cn/appstore_reviews.csv`` of the shared corpora (see README.md here for origin
and licence). Those are reviews of photo and camera apps; this script keeps the ones that read like any
app's users and adapts them to a notes app, reproducibly:

1. take the review body (the text before the exported ``,title``), 6–60 characters;
2. drop reviews about faces, beauty filters, video, brands, login/accounts (the demo's surge owns those),
   lost emoji (``?``), and Latin-script reviews;
3. adapt with one fixed table (:data:`ADAPT`): a camera app's nouns to a notes app's (照片 → 笔记, 滤镜 →
   模板, 相册 → 文件夹 …) and its "publish" failures to sync failures (发布失败 → 同步失败), recording the
   original text beside the adapted one; the theme is read from the adapted text;
4. draw per theme (sync, editor, export, search, pricing, widgets/reminders, praise, and a little crash and
   lag; a crash is only ever drawn from its own small quota) with a fixed seed, 360 positive and 240
   negative.

    python app/demo/data/build_reviews.py --data ../shared/data > app/demo/data/reviews.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
from pathlib import Path

SEED = 20261207
#: Reviews about what only a camera app has (faces, beauty, video, stickers on selfies), brands, accounts.
DROP = re.compile(
    r"美颜|自拍|脸|妆|瘦|美白|磨皮|颜值|萌|大头贴|特效|镜头|视频|像素|头像|动图|摄像|素材|抠图|水印|美图|秀秀|"
    r"登录|登陆|注册|验证码|账号|帐号|密码|用户名|微博|关注|好友|粉丝|评论才能|评论后|五星|好评才|"
    r"\?|？{2,}|女神|男神|妹子|帅|美美|漂亮|拍|晒|朋友圈|直播|游戏|QQ|qq|贴纸|人像|彩条|故事|长图|录像|声画|"
    r"[0-9]{3,}|卸载你|脑残|傻|逼|妈的|麻蛋|尼玛|操|虚化|粉底|腮红|口红|眼|马赛克|画质|色调|调色|色彩|清晰|模糊|"
    r"[\"“”「;；']|(.)\1{3,}|单身|比赛|国外|音乐|歌|漫画|素描|昵称|弃坑|伊豆|恋|燕尾蝶|复古|微笑|动效|作怪|日文|英文|"
    r"崇洋|今古|登|吃|毛病|员工|动物|卡通|画线|消除笔|魔幻|定位|赔|钟想|选项|动态|"
    r"定制|表情|人性|状态|@|截|拼|P了|[\u3040-\u30ff]|微微一笑|黑边|围脖|画面|姐妹|效果|亮度|饱和|曝光|对焦|闪光|光线|风景|景|天空|照|影|美|县|异地|认识|新浪|人物|身材|皮肤|头发|衣服|"
    r"(?<![A-Za-z])(?!PDF|ok|OK|iPad|App|app)[A-Za-z]{2,}")
#: Subject nouns of a camera app → a notes app (applied in order).
ADAPT = (
    ("发布失败", "同步失败"), ("发表失败", "同步失败"), ("发送失败", "同步失败"), ("上传失败", "同步失败"),
    ("发布不了", "同步不了"), ("发表不了", "同步不了"), ("发不出去", "同步不上去"), ("发布", "同步"),
    ("保存到相册", "导出到文件"), ("存到相册", "导出到文件"), ("相册", "文件夹"),
    ("这款相机", "这款笔记"), ("相机", "笔记"), ("修图", "记笔记"), ("P图", "记笔记"), ("p图", "记笔记"),
    ("照片", "笔记"), ("图片", "笔记"), ("相片", "笔记"), ("滤镜", "模板"), ("模版", "模板"),
    ("图", "笔记"), ("片子", "笔记"),
)
THEMES = {
    "sync": r"同步|云端|备份|电脑|平板|换手机|iPad|丢失|没了|网络",
    "editor": r"编辑|字体|排版|文字|输入|格式|撤销|粘贴|模板",
    "export": r"导出|保存|分享|打印|存不了|存到",
    "search": r"搜索|查找|找不到|在哪",
    "pricing": r"会员|收费|付费|价格|贵|免费|订阅|续费|广告|花钱",
    "widgets": r"小组件|桌面|通知|提醒|推送",
    "crash": r"闪退|崩溃|打不开",
    "lag": r"卡顿|很卡|卡死|太卡|很慢|太慢",
    "praise": r"好用|方便|简洁|喜欢|实用|不错|强大|赞|推荐",
}
#: (positive, negative) reviews to draw per theme; praise fills what a theme lacks.
QUOTA = {"sync": (20, 30), "editor": (50, 50), "export": (35, 55), "search": (6, 14), "pricing": (40, 40),
         "widgets": (8, 16), "crash": (0, 12), "lag": (0, 8), "praise": (201, 15)}


def body(text: str) -> str:
    """The review body of an exported ``body,title`` line (quoted or not)."""
    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return text.strip()
    return (fields[0] if fields else text).strip().strip('"').strip()


def adapt(text: str) -> str:
    for old, new in ADAPT:
        text = text.replace(old, new)
    return text


def build(csv_path: Path) -> list[dict[str, object]]:
    rng = random.Random(SEED)
    pools: dict[tuple[str, str], list[dict[str, object]]] = {}
    seen: set[str] = set()
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            text = body(row["text"])
            if not 6 <= len(text) <= 60 or DROP.search(text):
                continue
            key = re.sub(r"\W+", "", text)[:20]
            if key in seen:
                continue
            seen.add(key)
            label = "positive" if row["label"] == "pos" else "negative"
            adapted = adapt(text)
            theme = next((t for t, p in THEMES.items() if re.search(p, adapted)), None)
            if theme is None or (theme != "crash" and re.search(THEMES["crash"], adapted)):
                continue  # crashes come from their own small quota only
            item: dict[str, object] = {"label": label, "text": adapted, "theme": theme, "line": line_no}
            if adapted != text:
                item["original"] = text
            pools.setdefault((theme, label), []).append(item)
    out: list[dict[str, object]] = []
    for theme, (n_pos, n_neg) in QUOTA.items():
        for label, n in (("positive", n_pos), ("negative", n_neg)):
            pool = pools.get((theme, label), [])
            out.extend(rng.sample(pool, min(n, len(pool))))
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", type=Path, help="the shared corpora folder")
    args = ap.parse_args()
    for item in build(args.data / "appstore_reviews_cn" / "appstore_reviews.csv"):
        sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
