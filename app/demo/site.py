"""Serve the demo story from a :class:`ReplayServer` in the sources' real formats.

- Apple App Store customer-review RSS JSON (``/cn/rss/customerreviews/page=N/id=APP/sortby=mostrecent/json``),
  50 entries a page, newest first, the plain-text reply past page 10.
- A Discuz! X3 forum in GBK: ``forum.php?mod=forumdisplay`` thread lists and ``mod=viewthread`` pages in the
  default template (also under the rewritten ``forum-F-P.html`` / ``thread-T-P-1.html`` paths), with one
  thread behind the forum's login wall.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from app.demo.story import APP_ID, FORUM_ID, Story, Thread
from crawlers.replay import Reply, ReplayServer, Request

__all__ = ["install", "rss_page", "forum_list_page", "thread_page"]

PACIFIC = ZoneInfo("America/Los_Angeles")
SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50
THREADS_PER_PAGE = 20
DEPTH_LIMIT = b"CustomerReviews RSS page depth is limited to 10"


def _label(value: str) -> dict[str, str]:
    return {"label": value}


def rss_page(story: Story, page: int, *, app_id: str = APP_ID, base: str = "https://itunes.apple.com") -> bytes:
    reviews = story.reviews[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    last = max(1, min(10, -(-len(story.reviews) // PAGE_SIZE)))
    feed_url = f"{base}/cn/rss/customerreviews/page={{}}/id={app_id}/sortby=mostrecent/json"
    entries = [{
        "author": {"uri": _label(f"https://itunes.apple.com/cn/reviews/id{r.author_id}"), "name": _label(r.author), "label": ""},
        "updated": _label(r.updated.astimezone(PACIFIC).isoformat()),
        "im:rating": _label(str(r.rating)),
        "im:version": _label(r.version),
        "id": _label(r.id),
        "title": _label(r.title),
        "content": {"label": r.text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/cn/review?id={app_id}&type=Purple%20Software"}},
        "im:voteSum": _label(str(r.votes)),
        "im:contentType": {"attributes": {"term": "Application", "label": "应用程序"}},
        "im:voteCount": _label(str(r.votes)),
    } for r in reviews]
    links = [{"attributes": {"rel": "alternate", "type": "text/html", "href": f"https://apps.apple.com/WebObjects/MZStore.woa/wa/viewGrouping?cc=cn&id={app_id}"}},
             {"attributes": {"rel": "self", "href": feed_url.format(page)}},
             {"attributes": {"rel": "first", "href": feed_url.format(1)}},
             {"attributes": {"rel": "last", "href": feed_url.format(last)}},
             {"attributes": {"rel": "previous", "href": feed_url.format(max(1, page - 1))}},
             {"attributes": {"rel": "next", "href": feed_url.format(min(last, page + 1))}}]
    feed: dict[str, object] = {
        "author": {"name": _label("iTunes Store"), "uri": _label("http://www.apple.com/cn/itunes/")},
        "updated": _label(story.now.astimezone(PACIFIC).replace(microsecond=0).isoformat()),
        "rights": _label("版权所有 2026 Apple Inc."),
        "title": _label("iTunes Store：客户评论"),
        "icon": _label("http://itunes.apple.com/favicon.ico"),
        "link": links,
        "id": _label(feed_url.format(page)),
    }
    if len(entries) == 1:
        feed["entry"] = entries[0]
    elif entries:
        feed["entry"] = entries
    return json.dumps({"feed": feed}, ensure_ascii=False).encode("utf-8")


def _dz_time(at: datetime) -> str:
    local = at.astimezone(SHANGHAI)
    return f"{local.year}-{local.month}-{local.day} {local:%H:%M}"


def _page(title: str, body: str) -> bytes:
    doc = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk" />
<title>{html.escape(title)} - 轻记用户社区 - Powered by Discuz!</title>
<script type="text/javascript">var STYLEID = '1', STATICURL = 'static/', IMGDIR = 'static/image/common', VERHASH = 'Xv9', charset = 'gbk', discuz_uid = '0', cookiepre = 'qj_', cookiedomain = '', cookiepath = '/';</script>
</head>
<body id="nv_forum" class="pg_forumdisplay">
<div id="wp" class="wp">
{body}
</div>
</body>
</html>
"""
    return doc.encode("gbk", errors="xmlcharrefreplace")


def forum_list_page(story: Story, page: int, *, fid: str = FORUM_ID) -> bytes:
    threads = story.threads[(page - 1) * THREADS_PER_PAGE: page * THREADS_PER_PAGE]
    pages = max(1, -(-len(story.threads) // THREADS_PER_PAGE))
    rows = []
    for t in threads:
        local = _dz_time(t.posted)
        rows.append(f"""<tbody id="normalthread_{t.tid}">
<tr>
<td class="icn"><a href="forum.php?mod=viewthread&amp;tid={t.tid}&amp;extra=page%3D{page}" title="新窗口打开" target="_blank"><img src="static/image/common/folder_new.gif" /></a></td>
<th class="new">
<a href="forum.php?mod=viewthread&amp;tid={t.tid}&amp;extra=page%3D{page}" onclick="atarget(this)" class="s xst">{html.escape(t.subject)}</a>
</th>
<td class="by">
<cite><a href="home.php?mod=space&amp;uid={t.uid}" c="1">{html.escape(t.author)}</a></cite>
<em><span>{local}</span></em>
</td>
<td class="num"><a href="forum.php?mod=viewthread&amp;tid={t.tid}&amp;extra=page%3D{page}" class="xi2">{max(0, len(t.posts) - 1)}</a><em>{17 * (len(t.posts) + 3)}</em></td>
<td class="by">
<cite><a href="home.php?mod=space&amp;username=x" c="1">{html.escape(t.author)}</a></cite>
<em><a href="forum.php?mod=redirect&amp;tid={t.tid}&amp;goto=lastpost#lastpost">{local}</a></em>
</td>
</tr>
</tbody>""")
    nxt = f'<a href="forum.php?mod=forumdisplay&amp;fid={fid}&amp;page={page + 1}" class="nxt">下一页</a>' if page < pages else ""
    body = f"""<div id="pt" class="bm cl"><div class="z"><a href="./" class="nvhm" title="首页">轻记用户社区</a> <em>&rsaquo;</em> <a href="forum.php?mod=forumdisplay&amp;fid={fid}">问题反馈</a></div></div>
<div id="threadlist" class="tl bm bmw">
<form method="post" autocomplete="off" name="moderate" id="moderate" action="forum.php?mod=topicadmin&amp;action=moderate&amp;fid={fid}&amp;infloat=yes&amp;nopost=yes">
<input type="hidden" name="formhash" value="a1b2c3d4" />
<table summary="forum_{fid}" cellspacing="0" cellpadding="0" id="threadlisttableid">
{''.join(rows)}
</table>
</form>
</div>
<div class="pg"><strong>{page}</strong><label><input type="text" name="custompage" class="px" size="2" value="{page}" /><span title="共 {pages} 页"> / {pages} 页</span></label>{nxt}</div>"""
    return _page("问题反馈", body)


def thread_page(thread: Thread) -> bytes:
    if thread.login_required:
        body = """<div id="ct" class="wp cl w"><div class="nfl"><div class="f_c altw"><div id="messagetext" class="alert_info">
<p>您尚未登录，没有权限访问该版块</p></div><div id="messagelogin"></div></div></div></div>"""
        return _page("提示信息", body)
    floors = []
    names = {0: "楼主", 1: "沙发", 2: "板凳", 3: "地板"}
    for i, p in enumerate(thread.posts):
        floor = names.get(i) or f"<em>{i + 1}</em><sup>#</sup>"
        floors.append(f"""<div id="post_{p.pid}">
<table id="pid{p.pid}" class="plhin" summary="pid{p.pid}" cellspacing="0" cellpadding="0">
<tr>
<td class="pls" rowspan="2"><div class="pi"><div class="authi"><a href="home.php?mod=space&amp;uid={p.uid}" target="_blank" class="xw1">{html.escape(p.author)}</a></div></div></td>
<td class="plc">
<div class="pi"><strong><a href="forum.php?mod=redirect&amp;goto=findpost&amp;ptid={thread.tid}&amp;pid={p.pid}" id="postnum{p.pid}">{floor}</a></strong>
<div class="pti"><div class="authi"><a href="home.php?mod=space&amp;uid={p.uid}" target="_blank" class="xw1">{html.escape(p.author)}</a>
<em id="authorposton{p.pid}">发表于 {_dz_time(p.posted)}</em></div></div></div>
<div class="pct"><div class="pcb"><div class="t_fsz"><table cellspacing="0" cellpadding="0"><tr><td class="t_f" id="postmessage_{p.pid}">
{html.escape(p.message)}<br />
</td></tr></table></div></div></div>
</td></tr></table>
</div>""")
    body = f"""<div id="pt" class="bm cl"><div class="z"><a href="./">轻记用户社区</a> <em>&rsaquo;</em> <a href="forum.php?mod=forumdisplay&amp;fid={FORUM_ID}">问题反馈</a></div></div>
<div id="postlist" class="pl bm">
<table cellspacing="0" cellpadding="0"><tr><td class="plc ptm pbn vwthd"><h1 class="ts"><span id="thread_subject">{html.escape(thread.subject)}</span></h1></td></tr></table>
{''.join(floors)}
</div>
<div class="pg"><strong>1</strong><label><input type="text" name="custompage" class="px" size="2" value="1" /><span title="共 1 页"> / 1 页</span></label></div>"""
    return _page(thread.subject, body)


def install(server: ReplayServer, story: Story) -> None:
    """Add every route of the demo to ``server``."""
    html_type = "text/html; charset=gbk"
    for page in range(1, 12):
        path = f"/cn/rss/customerreviews/page={page}/id={APP_ID}/sortby=mostrecent/json"
        if page > 10:
            server.add(path, body=DEPTH_LIMIT, content_type="text/plain; charset=utf-8")
        else:
            server.add(path, body=rss_page(story, page), content_type="application/json; charset=utf-8")
    by_tid = {t.tid: t for t in story.threads}
    pages = max(1, -(-len(story.threads) // THREADS_PER_PAGE))

    def forum_php(req: Request) -> Reply:
        mod = req.query.get("mod")
        if mod == "forumdisplay" and req.query.get("fid") == FORUM_ID:
            page = int(req.query.get("page") or 1)
            if 1 <= page <= pages:
                return Reply(200, forum_list_page(story, page), {"Content-Type": html_type})
        if mod == "viewthread" and req.query.get("tid") in by_tid:
            return Reply(200, thread_page(by_tid[req.query["tid"]]), {"Content-Type": html_type})
        return Reply(404, "页面不存在".encode("gbk"), {"Content-Type": html_type})

    server.add_handler("/forum.php", forum_php)
    for page in range(1, pages + 1):
        server.add(f"/forum-{FORUM_ID}-{page}.html", body=forum_list_page(story, page), content_type=html_type)
    for t in story.threads:
        server.add(f"/thread-{t.tid}-1-1.html", body=thread_page(t), content_type=html_type)
    server.add("/robots.txt", body="User-agent: *\nDisallow: /api/\nDisallow: /admin.php\n", content_type="text/plain")
