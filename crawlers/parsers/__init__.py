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
  (``response.url``), ``now`` the aware crawl time (relative times resolve against it in Asia/Shanghai;
  every ``created_at`` is an aware UTC datetime). Follow-up URLs (``Page.next`` and ``Page.follow``) are
  built on the *origin of ``url``* (scheme://host:port), so a crawl against the replay server stays on it.
* **Parsers never raise** on bad input. Truncated JSON, HTML where JSON was expected, missing fields, a
  body over ``MAX_BODY_BYTES`` (20 MB), undecodable bytes → a ``Page`` with no items and a ``dropped``
  entry ``(reason, detail)``; a bad *entry* is skipped with its own ``dropped`` entry and the rest kept.
  A block page recognised inside a 200 body (JSON error code, login HTML, captcha) sets ``Page.block``.
  Spiders should count ``len(page.dropped)`` by reason, and mark the source blocked when ``page.block``.
  Page-level dropped reasons: ``too_large``, ``bad_json``, ``not_json``, ``bad_html``, ``bad_shape``,
  ``blocked``, ``page_depth`` (App Store page 11). Item-level: ``missing_field``, ``app_info``,
  ``bad_entry``, ``locked``.

Shared types (``crawlers.parsers``)
-----------------------------------
* ``Page(items: list[FeedbackItem], next: str | None, dropped: list[tuple[str, str]],
  follow: list[Follow], block: Block | None, meta: dict[str, Any])``; ``Page.end`` → True when ``next``
  is None. ``meta`` holds page-level facts (totals, app metadata, rate-limit info).
* ``Follow(kind: str, url: str, meta: dict[str, Any])`` — a child request to make. Kinds:
  ``weibo_long_text`` (meta ``item``: the truncated FeedbackItem → pass to ``weibo.parse_extend``),
  ``weibo_comments``, ``zhihu_comments``, ``zhihu_child_comments``, ``zhihu_question``,
  ``tieba_thread``, ``tieba_lzl``, ``v2ex_replies``, ``discuz_thread``, ``appstore_lookup``.
* ``Block(kind: "login"|"captcha"|"rate_limit"|"forbidden"|"error", reason: str, fix: str)``;
  ``str(block)`` → ``"HTTP 432 — set VOC_WEIBO_COOKIE"``.
* ``MAX_BODY_BYTES = 20 * 1024 * 1024``.

``crawlers.parsers.blocks``
  ``detect_block(source: str, status: int, headers: Mapping[str, str] | None, body: bytes | str)
  -> Block | None`` — login walls, captcha redirects (3xx ``Location`` to wappass/passport/unhuman/
  login), HTTP 418/429/432/403/521, JSON error codes (weibo ok:0 errno 100005, zhihu 40362/40352/10003,
  heimao status code, Discuz ``Message.messageval``), ``百度安全验证``, Discuz 您尚未登录 pages, WAF
  challenges. ``source`` is ``"weibo"`` … or ``"forum:<name>"``. ``cookie_env(source) -> str``
  (``VOC_WEIBO_COOKIE``; forum:bbs → ``VOC_FORUM_BBS_COOKIE``).

``crawlers.parsers.normalize``
  ``parse_count(value: object) -> int | None`` (``74``, ``"1.2万"``, ``"100万+"``, ``"3亿"``, ``"1,234"``);
  ``parse_time(value: object, *, now: datetime, tz: str = "Asia/Shanghai") -> datetime | None``
  (absolute formats, Weibo ``%a %b %d %H:%M:%S %z %Y``, ISO 8601, ``YYYY/MM/DD HH:MM``,
  ``2024-8-6 22:11``, ``06-14``, ``刚刚``, ``N秒/分钟/小时/天前``, ``半小时前``, ``今天/昨天/前天 HH:MM``,
  epoch s/ms as int or digit string; returns aware UTC);
  ``parse_epoch(value: object) -> datetime | None``;
  ``html_to_text(html: str | None) -> str`` (``<img alt="[怒]">`` → ``[怒]``, ``<br>``/``</p>`` → newline,
  tags stripped, entities unescaped, whitespace tidied);
  ``decode_body(body: bytes | str, encoding: str | None = None) -> str`` (meta charset / inline
  ``charset = 'gbk'`` sniffing; GBK/GB2312 decoded as gb18030; ``errors='replace'``);
  ``load_json(body: bytes | str, encoding: str | None = None) -> tuple[Any, str | None]``
  (value, dropped reason or None); ``origin(url: str) -> str``; ``rebase(url: str, on: str) -> str``.

``crawlers.parsers.appstore``   (source ``appstore``; target = app id)
  ``reviews_url(base_url, app_id, *, page=1, sort="mostrecent", country="cn") -> str``;
  ``lookup_url(base_url, app_id, *, country="cn") -> str``;
  ``parse_reviews(body, url, *, product, target, now, encoding=None) -> Page`` (next page ≤ 10 while
  the page is non-empty; ``page_depth`` plain text → empty Page with that dropped reason);
  ``parse_lookup(body, url, *, product, target, now, encoding=None) -> Page`` (``meta``: ``name``,
  ``version``, ``rating``, ``rating_count``, ``bundle_id``).

``crawlers.parsers.huawei``     (source ``huawei``; target = ``C…`` app id)
  ``comments_url(base_url, app_id, *, page=1, max_results=25, path="/uowap/index") -> str``;
  ``parse_comments(body, url, *, product, target, now, encoding=None) -> Page`` (empty ``list`` = end).

``crawlers.parsers.weibo``      (source ``weibo``; target = keyword)
  ``search_url(base_url, keyword, *, page=1, search_type=61) -> str``; ``extend_url(base_url, mid)``;
  ``hotflow_url(base_url, mid, *, max_id=None, max_id_type=0) -> str``; ``detail_url(base_url, mid)``;
  ``parse_search(...) -> Page`` (type 9 and 11 cards; follows ``weibo_long_text`` + ``weibo_comments``);
  ``parse_extend(..., item: FeedbackItem | None = None) -> Page`` (the item with its full text);
  ``parse_comments(...) -> Page`` (hotflow; inline sub-replies as ``reply`` items; next until max_id 0).

``crawlers.parsers.zhihu``      (source ``zhihu``; target = keyword or question id)
  ``search_url(base_url, keyword, *, offset=0, limit=20, sort="", time_interval="") -> str``;
  ``feeds_url(base_url, question_id, *, limit=5, offset=0, cursor="", session_id="") -> str``;
  ``root_comments_url(base_url, kind, obj_id, *, offset="", limit=10) -> str`` (kind answers|articles|
  zvideos); ``child_comments_url(base_url, root_id, *, offset="", limit=10) -> str``;
  ``parse_search(...)``, ``parse_feeds(...)``, ``parse_comments(...)`` (root or child),
  ``parse_initial_data(...)`` (``js-initialData`` HTML pages) — all ``-> Page``.

``crawlers.parsers.tieba``      (source ``tieba``; target = bar name or keyword)
  ``forum_url(base_url, kw, *, pn=0) -> str``; ``thread_url(base_url, tid, *, page=1, see_lz=False)``;
  ``lzl_url(base_url, tid, pid, fid, *, page=1)``; ``search_url(base_url, kw, *, page=1, sort=1,
  only_thread=0)``; ``parse_forum(...)`` (list inside the HTML comment), ``parse_thread(...)``,
  ``parse_lzl(...)`` (楼中楼; tid/pid read from ``url``), ``parse_search(...)`` — all ``-> Page``.

``crawlers.parsers.heimao``     (source ``heimao``; target = keyword or company id)
  ``SALT``; ``sign(ts, rs, keywords, page_size, page, *, salt=SALT) -> str`` (sha256 of the sorted list);
  ``random_rs(rng: random.Random) -> str``; ``search_url(base_url, keyword, *, page=1, page_size=10,
  ts: int, rs: str) -> str``; ``company_url(base_url, couid, *, page=1, page_size=10) -> str``;
  ``parse_complaints(...) -> Page`` (search and company feed; empty + item_count>0 → rate_limit block).

``crawlers.parsers.v2ex``       (source ``v2ex``; target = node name, ``latest`` or ``hot``)
  ``topics_url(base_url, *, kind="latest")``, ``topic_url(base_url, tid)``, ``replies_url(base_url, tid,
  *, page=1)``, ``v2_node_topics_url(base_url, node, *, page=1)``, ``v2_replies_url(base_url, tid, *,
  page=1)``; ``rate_limit(headers) -> dict | None`` (limit, remaining, reset);
  ``parse_topics(...) -> Page`` (v1 array or v2 envelope), ``parse_replies(...) -> Page``.

``crawlers.parsers.discuz``     (source ``forum:<site>``; extra kwargs ``site: str``,
  ``selectors: Mapping[str, str] | None`` overriding ``DEFAULT_SELECTORS``)
  ``forum_url(base_url, fid, *, page=1, rewrite=False)``, ``thread_url(base_url, tid, *, page=1,
  rewrite=False)``, ``mobile_url(base_url, module, *, fid=None, tid=None, page=1)``,
  ``quote_keyword(keyword, encoding="gbk") -> str``, ``search_url(base_url, keyword, *, formhash,
  encoding="gbk")``; ``parse_forum(...)``, ``parse_thread(...)``, ``parse_mobile(...)`` — all ``-> Page``.
"""

from __future__ import annotations

from crawlers.parsers._page import MAX_BODY_BYTES, Block, Follow, Page

__all__ = ["MAX_BODY_BYTES", "Block", "Follow", "Page"]
