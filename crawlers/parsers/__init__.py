"""Pure parsers and request builders for every source — no I/O, no network, no clock.

Convention (uniform across sources)
-----------------------------------
* **Request builders** are plain functions returning a URL string. Every one takes ``base_url`` first
  (``"https://m.weibo.cn"`` in production, the replay server's ``.url`` in tests). Anything random or
  time-based (黑猫 ``ts``/``rs``) is passed in by the caller.
* **Response parsers** all have the shape::

      parse_x(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
              encoding: str | None = None, **source_specific_kwargs) -> Page

  ``body`` is the raw response body (``response.body``), ``url`` the URL it was fetched from
  (``response.url``; some parsers read ids/page numbers from it), ``now`` the aware crawl time
  (relative times resolve against it in Asia/Shanghai; every ``created_at`` is an aware UTC datetime or
  None). Follow-up URLs (``Page.next`` and ``Page.follow``) are built on the *origin of ``url``*
  (scheme://host:port), so a crawl against the replay server stays on it. ``FeedbackItem.url`` is
  always the public page on the real site.
* **Parsers never raise** on bad input (there is no ParseError). Truncated JSON, HTML where JSON was
  expected, missing fields, a body over ``MAX_BODY_BYTES`` (20 MB), undecodable bytes → a ``Page``
  with no items and a ``dropped`` entry ``(reason, detail)``; a bad *entry* is skipped with its own
  ``dropped`` entry and the rest kept. A block recognised inside the body (JSON error code, login
  HTML, captcha, 百度安全验证) sets ``Page.block`` (and a ``("blocked", str(block))`` dropped entry).
  Status-code blocks (432, 418, 429, 302 to a captcha) are not visible to parsers: call
  ``blocks.detect_block`` on the response first. Spiders count ``page.dropped`` by reason.
  Page-level reasons: ``too_large``, ``bad_json``, ``not_json``, ``bad_html``, ``unknown_shape``,
  ``blocked``, ``error`` (a non-block error message), ``not_found`` (Discuz deleted thread),
  ``page_depth`` (App Store page 11), ``parse_empty`` (the page has content — rows, floors, hits — and none was
  read: the layout is not the parser's; see crawlers/quarantine.py). Item-level: ``missing_field``, ``app_info``,
  ``bad_entry``, ``locked`` (Discuz banned floor), ``ad`` (Tieba advertisement floor).
* **ids**: ``source_id`` is the source's own id; Zhihu prefixes the type (``answer:1``, ``article:1``,
  ``zvideo:1``, ``comment:1``) and V2EX ``t<topic id>`` / ``r<reply id>``. ``parent_id`` is the
  parent's ``source_id`` in the same source (not a doc id): the thread/post/answer/root comment a
  reply belongs to (Zhihu answers: ``question:<qid>``); None for top-level items.
* **List pages** (Discuz forum list, Tieba bar list) yield no items, only follows whose ``meta``
  carries the row (tid, title, author, created_at, replies …) so spiders can stop at seen threads.

Shared types (``crawlers.parsers``)
-----------------------------------
* ``Page(items: list[FeedbackItem], next: str | None, dropped: list[tuple[str, str]],
  follow: list[Follow], block: Block | None, meta: dict[str, Any])``; ``Page.end`` → True when ``next``
  is None. ``meta`` holds page-level facts (totals, app metadata, list end message). ``Page.drop(reason,
  detail)`` records a dropped entry; ``Page.objects(rows)`` yields the rows that are JSON objects and drops
  the others as ``bad_entry``.
* ``Follow(kind: str, url: str, meta: dict[str, Any])`` — a child request to make. Kinds:
  ``weibo_long_text`` (meta ``mid``, ``item``: the truncated FeedbackItem → ``weibo.parse_extend(...,
  item=meta["item"])``), ``weibo_comments`` (meta ``mid``, ``referer`` to send as Referer),
  ``zhihu_comments`` / ``zhihu_child_comments`` (meta ``parent_id``), ``zhihu_question`` (meta
  ``question_id`` → ``zhihu.parse_feeds``), ``tieba_thread`` (→ ``tieba.parse_thread``), ``tieba_lzl``
  (→ ``tieba.parse_lzl``), ``v2ex_replies`` (→ ``v2ex.parse_replies``), ``discuz_thread`` (→
  ``discuz.parse_thread``, or ``discuz.parse_mobile`` when it came from the mobile API).
* ``Block(kind: "login"|"captcha"|"rate_limit"|"forbidden"|"error", reason: str, fix: str)``;
  ``str(block)`` → ``"HTTP 432 — set VOC_WEIBO_COOKIE"``.
* ``MAX_BODY_BYTES = 20 * 1024 * 1024``.

``crawlers.parsers.blocks``
  ``detect_block(source: str, status: int, headers: Mapping | None, body: bytes | str) -> Block | None``
  — login walls, captcha redirects (3xx ``Location`` to wappass/passport/unhuman/login), HTTP
  418/429/432 (and 403/521 as ``forbidden``), JSON error codes (weibo ok:0 errno 100005 / captcha
  ``url``, zhihu 40362/40352/10003, heimao ``result.status.code``, tieba ``error_code``, Discuz
  ``Message.messageval``, v2ex rate limit), ``百度安全验证``, Discuz 您尚未登录/没有权限 pages, WAF
  challenges. Headers may be str or bytes keyed, values str/bytes/lists (Scrapy ``Headers`` works).
  ``json_block(source: str, data: Any) -> Block | None`` (the JSON part alone);
  ``cookie_env(source: str) -> str`` (``VOC_WEIBO_COOKIE``; ``forum:bbs`` → ``VOC_FORUM_BBS_COOKIE``).

``crawlers.parsers.normalize``
  ``parse_count(value: object) -> int | None`` (``74``, ``"1.2万"``, ``"100万+"``, ``"3亿"``, ``"1,234"``);
  ``json_loads(text: str) -> Any`` (``json.loads``; an unpaired surrogate escape such as ``"\\ud800"`` becomes
  U+FFFD, since no UTF-8 store takes it);
  ``parse_rating(value: object) -> int | None`` (a 1–5 star rating from ``4``, ``"4"``, ``"4.0"``; else None);
  ``parse_time(value: object, *, now: datetime, tz: str = "Asia/Shanghai") -> datetime | None``
  (absolute formats, Weibo ``%a %b %d %H:%M:%S %z %Y``, ISO 8601, ``YYYY/MM/DD HH:MM``,
  ``2024-8-6 22:11``, ``06-14``, ``YYYY-MM``, ``HH:MM`` (today), ``刚刚``, ``N秒/分钟/小时/天前``,
  ``半小时前``, ``今天/昨天/前天 HH:MM``, ``发表于`` prefix, epoch s/ms as int or digit string → aware UTC);
  ``parse_epoch(value: object) -> datetime | None``;
  ``html_to_text(html: str | None) -> str`` (``<img alt="[怒]">`` → ``[怒]``, ``<br>``/``</p>`` →
  newline, raw newlines are whitespace, tags/scripts/comments stripped, entities unescaped);
  ``decode_body(body: bytes | str, encoding: str | None = None) -> str`` (explicit > BOM > meta charset /
  inline ``charset = 'gbk'`` > UTF-8 > gb18030; GBK/GB2312 decoded as gb18030; ``errors='replace'``);
  ``load_json(body: bytes | str, encoding: str | None = None) -> tuple[Any, str | None]``
  (value, or None and the dropped reason); ``body_too_large(body: bytes | str) -> bool``;
  ``origin(url: str) -> str``; ``rebase(url: str, on: str) -> str`` (move a URL onto ``on``'s origin).

``crawlers.parsers.appstore``   (source ``appstore``; target = app id)
  ``reviews_url(base_url, app_id, *, page=1, sort="mostrecent", country="cn") -> str``;
  ``lookup_url(base_url, app_id, *, country="cn") -> str``;
  ``parse_reviews(body, url, *, product, target, now, encoding=None) -> Page`` (``next`` = page+1 while
  the page had entries and page < ``MAX_PAGE`` 10; app-info entry → dropped ``app_info``; the
  page-depth plain text → dropped ``page_depth``);
  ``parse_lookup(body, url, *, product, target, now, encoding=None) -> Page`` (no items; ``meta``:
  ``app_id``, ``name``, ``version``, ``rating``, ``rating_count``, ``bundle_id``).

``crawlers.parsers.huawei``     (source ``huawei``; target = ``C…`` app id)
  ``comments_url(base_url, app_id, *, page=1, max_results=25, path="/uowap/index") -> str``;
  ``parse_comments(body, url, *, product, target, now, encoding=None) -> Page`` (empty ``list`` or
  page ≥ ``totalPages`` = end; ``meta``: total_pages, count, score).

``crawlers.parsers.xiaomi``     (source ``xiaomi``; target = numeric app-market id)
  ``comments_url(base_url, app_id, *, page=0, client_id, os="1") -> str`` (pages count from 0);
  ``review_url(app_id, package=None) -> str`` (``app.mi.com/details?id=…`` or the stable API URL);
  ``parse_comments(body, url, *, product, target, now, encoding=None, package=None) -> Page`` (``next``
  = page+1 unless ``hasMore`` is false or ``comments`` is empty; ``meta``: has_more, comment_count,
  point_count).

``crawlers.parsers.yyb``        (source ``yyb``; target = package name)
  ``review_page_url(base_url, package) -> str``; ``legacy_comments_url(base_url, package, *, page=1,
  context="") -> str``; ``parse_review_page(...) -> Page`` (``__NEXT_DATA__`` comments card; ``next``
  always None; ``meta``: app_name, version, score, rating_count; no script → block or ``bad_html``, no
  card → ``unknown_shape``); ``parse_legacy_comments(...) -> Page`` (``next`` = p+1 with ``contextData`` while
  ``hasNext``; ``success: false`` → dropped ``error`` with ``msg``).

``crawlers.parsers.weibo``      (source ``weibo``; target = keyword)
  ``search_url(base_url, keyword, *, page=1, search_type=61) -> str``; ``extend_url(base_url, mid)``;
  ``hotflow_url(base_url, mid, *, max_id=None, max_id_type=0) -> str``; ``detail_url(base_url, mid)``;
  ``comments_show_url(base_url, mid, *, page=1) -> str`` (legacy fallback comment API);
  ``parse_search(...) -> Page`` (type 9 and 11 cards of ``data.cards`` or the app API's top-level ``cards``, or
  weibo.com ajax status lists; a retweet's original is an item of its own, linked by ``extra["retweet_of"]`` /
  ``extra["retweeted_by"]``; long posts only as ``weibo_long_text`` follows; ``ok: 0`` "这里还没有内容" = end;
  anything else ``unknown_shape``); ``mid_time(id)`` (the second a post or comment id encodes; used when the text
  time has no seconds: "06-14", "刚刚"); ``parse_extend(..., item: FeedbackItem | None = None) -> Page`` (the
  item with full text and fresh counts; on failure the truncated item with ``extra["truncated"]``; a whole status
  — ``statuses/show`` — is read as the post and its original);
  ``parse_comments(...) -> Page`` (hotflow; mid from ``url``; inline sub-replies as ``reply`` items;
  ``next`` until ``max_id`` 0; also the legacy ``api/comments/show`` shape, ``next`` up to ``data.max``).

``crawlers.parsers.zhihu``      (source ``zhihu``; target = keyword or question id)
  ``search_url(base_url, keyword, *, offset=0, limit=20, sort="", time_interval="", vertical="") -> str``;
  ``feeds_url(base_url, question_id, *, limit=5, offset=0, cursor="", session_id="") -> str``;
  ``root_comments_url(base_url, kind, obj_id, *, offset="", limit=10) -> str`` (kind answers|articles|
  zvideos); ``child_comments_url(base_url, root_id, *, offset="", limit=10) -> str``;
  ``parse_search(...)``, ``parse_feeds(...)``, ``parse_comments(...)`` (root or child, told apart by
  ``url``), ``parse_initial_data(...)`` (``js-initialData`` HTML pages) — all ``-> Page``; ``next`` =
  ``paging.next`` rebased, None on ``is_end`` or an unchanged offset.

``crawlers.parsers.tieba``      (source ``tieba``; target = bar name or keyword)
  ``forum_url(base_url, kw, *, pn=0) -> str``; ``thread_url(base_url, tid, *, page=1, see_lz=False)``;
  ``lzl_url(base_url, tid, pid, fid, *, page=1)``; ``search_url(base_url, kw, *, page=1, sort=1,
  only_thread=0)``; ``parse_forum(...)`` (list inside the BigPipe ``code.pagelet_html``
  comments, wherever they are — also after ``</html>`` → follows), ``parse_thread(...)`` (tid and ``pn`` from
  ``url``; 2013 and 2017+ layouts; ad floors dropped as ``ad``), ``parse_lzl(...)`` (tid/pid/fid/pn from ``url``),
  ``parse_search(...)`` (title-only hits kept) — all ``-> Page``; ``user_id(portrait)`` (the portrait without its
  ``?t=`` cache-buster).

``crawlers.parsers.heimao``     (source ``heimao``; target = keyword or company id)
  ``SALT``; ``sign(ts, rs, keywords, page_size, page, *, salt=SALT) -> str`` (sha256 of the sorted list);
  ``random_rs(rng: random.Random) -> str``; ``search_url(base_url, keyword, *, page=1, page_size=10,
  ts: int, rs: str) -> str``; ``company_url(base_url, couid, *, page=1, page_size=10) -> str``;
  ``parse_complaints(...) -> Page`` (search and company feed; ``next`` re-signed with the same ts/rs,
  ``meta["next_page"]``; empty list + item_count>0 → ``rate_limit`` block; HTML → ``login`` block).

``crawlers.parsers.v2ex``       (source ``v2ex``; target = node name, ``latest`` or ``hot``)
  ``topics_url(base_url, *, kind="latest")`` (``latest``/``hot``/``node:<name>``), ``topic_url(base_url,
  tid)``, ``replies_url(base_url, tid, *, page=1)``, ``v2_node_topics_url(base_url, node, *, page=1)``,
  ``v2_replies_url(base_url, tid, *, page=1)``; ``rate_limit(headers) -> dict | None`` (limit,
  remaining, reset); ``parse_topics(...) -> Page`` (v1 array or v2 envelope; ``v2ex_replies`` follows),
  ``parse_replies(...) -> Page`` (topic id from ``url``; v2 ``next`` from ``pagination``).

``crawlers.parsers.discuz``     (source ``forum:<site>``; target = forum id; extra kwargs ``site: str =
  "discuz"`` and, for HTML, ``selectors: Mapping[str, str] | None`` overriding ``DEFAULT_SELECTORS``)
  ``forum_url(base_url, fid, *, page=1, rewrite=False)``, ``thread_url(base_url, tid, *, page=1,
  rewrite=False)``, ``mobile_url(base_url, module, *, fid=None, tid=None, page=1)``,
  ``quote_keyword(keyword, encoding="gbk") -> str``, ``search_url(base_url, keyword, *, formhash,
  encoding="gbk")``; ``parse_forum(...)`` (→ ``discuz_thread`` follows), ``parse_thread(...)`` (one item
  per floor, ``span@title`` times preferred, quotes removed, ``div.locked`` dropped), ``parse_mobile(...)``
  (``api/mobile`` JSON: viewthread → items, forumdisplay → follows) — all ``-> Page``.
"""

from __future__ import annotations

from crawlers.parsers._page import MAX_BODY_BYTES, Block, Follow, Page

__all__ = ["MAX_BODY_BYTES", "Block", "Follow", "Page"]
