"""The SQLite index's schema: named migrations, applied in order and recorded in ``feedback_migrations``.

A migration is a tuple of statements that runs inside the one transaction that opens the index
(``SqliteIndex._migrate``), so an interrupted upgrade leaves the previous schema whole. What the
full-text columns were built with is recorded in ``feedback_meta`` (:data:`SCHEMA_META`) and checked on
open: another tokenizer or sub-word analysis is a ``SchemaMismatchError`` naming ``voc reindex``.

``feedback_fts`` has three columns: ``tokens`` (the jieba words), ``tags`` (the filter values, see
:mod:`index.sqlite_sql`) and ``grams`` (the Chinese character bigrams of title and text, computed by the
``voc_grams`` SQL function, :func:`index._grams.doc_grams`, which every connection of ``SqliteIndex``
registers: writes to ``feedback`` go through ``SqliteIndex``, whose triggers call it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from index._grams import GRAMS_VERSION
from index.sqlite_sql import DIMS, SIDE_TABLES, TAG_PREFIX, tags_sql

__all__ = ["MIGRATIONS", "FTS_TOKENIZE", "TEXT_SOURCE", "SCHEMA_META", "ROLLUPS", "BLOCK_ROLLUPS", "BLOCK_HOURS",
           "GRAMS_FUNCTION"]

#: The FTS5 tokenizer over the space-joined jieba tokens (whitespace and punctuation split; case folded).
FTS_TOKENIZE = "unicode61 remove_diacritics 0"
TEXT_SOURCE = "jieba tokens column (space-joined)"
#: The SQL function that computes a document's ``grams`` column from its title and text.
GRAMS_FUNCTION = "voc_grams"
#: What ``feedback_meta`` records (and checks on open) about how the full-text columns were built.
SCHEMA_META = {"fts_tokenize": FTS_TOKENIZE, "text_source": TEXT_SOURCE, "grams_source": GRAMS_VERSION}

#: Every Filters field on a plain column gets an index led by it, with created_ts for time-bounded counts.
_FILTER_INDEXES = ("product", "source", "sentiment", "intent", "platform", "app_version", "rating")

_M1 = [
    """CREATE TABLE feedback (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE, source TEXT, source_id TEXT, url TEXT, parent_id TEXT, product TEXT,
        kind TEXT, title TEXT, text TEXT, raw_text TEXT, tokens TEXT, author_id TEXT, author_name TEXT,
        created_at TEXT, created_ts INTEGER, crawled_at TEXT, rating INTEGER, app_version TEXT, platform TEXT,
        likes INTEGER, replies INTEGER, reposts INTEGER, sentiment TEXT, sentiment_score REAL, intent TEXT,
        topics TEXT NOT NULL DEFAULT '[]', risk TEXT NOT NULL DEFAULT '[]', dup_of TEXT, model_version TEXT,
        extra TEXT)""",
    f"""CREATE VIRTUAL TABLE feedback_fts USING fts5(tokens, content='feedback', content_rowid='rowid',
        tokenize='{FTS_TOKENIZE}')""",
    "CREATE INDEX feedback_created ON feedback(created_ts)",
    *[f"CREATE INDEX feedback_{c} ON feedback({c}, created_ts)" for c in _FILTER_INDEXES],
    "CREATE INDEX feedback_parent ON feedback(parent_id)",
]
for _field, _table in SIDE_TABLES.items():
    _M1 += [
        f"CREATE TABLE {_table} (value TEXT NOT NULL, ts INTEGER, doc INTEGER NOT NULL, "
        f"PRIMARY KEY (value, ts, doc)) WITHOUT ROWID",
        f"CREATE INDEX {_table}_doc ON {_table}(doc)",
    ]
_side_insert = "".join(
    f"INSERT OR IGNORE INTO {t}(value, ts, doc) SELECT value, new.created_ts, new.rowid FROM json_each(new.{f});"
    for f, t in SIDE_TABLES.items())
_side_delete = "".join(f"DELETE FROM {t} WHERE doc = old.rowid;" for t in SIDE_TABLES.values())
_M1 += [
    f"""CREATE TRIGGER feedback_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_fts(rowid, tokens) VALUES (new.rowid, new.tokens); {_side_insert} END""",
    f"""CREATE TRIGGER feedback_ad AFTER DELETE ON feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens) VALUES ('delete', old.rowid, old.tokens);
        {_side_delete} END""",
    """CREATE TRIGGER feedback_au_fts AFTER UPDATE OF tokens ON feedback WHEN old.tokens IS NOT new.tokens BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens) VALUES ('delete', old.rowid, old.tokens);
        INSERT INTO feedback_fts(rowid, tokens) VALUES (new.rowid, new.tokens); END""",
    f"""CREATE TRIGGER feedback_au_side AFTER UPDATE OF topics, risk, created_ts ON feedback
        WHEN old.topics IS NOT new.topics OR old.risk IS NOT new.risk OR old.created_ts IS NOT new.created_ts
        BEGIN {_side_delete.replace('old.rowid', 'new.rowid')} {_side_insert} END""",
]


def _keyed_roll(table: str, cols: tuple[str, ...], sign: str, row: str) -> str:
    """The statement adding ``sign`` (+1/-1) for document ``row`` (new/old) to the hourly rollup ``table``
    keyed by ``cols`` (a missing value counts as '')."""
    key = [f"coalesce({row}.{c}, '')" for c in cols]
    if sign == "+":
        return (f"INSERT INTO {table} SELECT {row}.created_ts / 3600, {', '.join(key)}, 1 "
                f"WHERE {row}.created_ts IS NOT NULL ON CONFLICT DO UPDATE SET n = n + 1;")
    return (f"UPDATE {table} SET n = n - 1 WHERE hour = {row}.created_ts / 3600 AND "
            + " AND ".join(f"{c} = {k}" for c, k in zip(cols, key)) + ";")


def _roll(sign: str, row: str) -> list[str]:
    """Statements adding ``sign`` (+1/-1) for document ``row`` (new/old) to the hourly rollups."""
    if sign == "+":
        topics = (f"INSERT INTO feedback_topic_hourly SELECT {row}.created_ts / 3600, value, "
                  f"coalesce({row}.product, ''), coalesce({row}.sentiment, ''), 1 FROM json_each({row}.topics) "
                  f"WHERE {row}.created_ts IS NOT NULL ON CONFLICT DO UPDATE SET n = n + 1;")
    else:
        topics = (f"UPDATE feedback_topic_hourly SET n = n - 1 WHERE hour = {row}.created_ts / 3600 "
                  f"AND topic IN (SELECT value FROM json_each({row}.topics)) AND product = coalesce({row}.product, '') "
                  f"AND sentiment = coalesce({row}.sentiment, '');")
    return [_keyed_roll("feedback_hourly", ("product", "source", "sentiment"), sign, row), topics]



def _roll_triggers(name: str, columns: Sequence[str], roll: Callable[[str, str], str]) -> list[str]:
    """The triggers that keep a rollup in step with ``feedback``: ``roll(sign, row)`` is the SQL adding ("+") or
    taking away ("-") document ``row`` (new/old); an update of one of ``columns`` takes the old away, adds the new."""
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    return [
        f"CREATE TRIGGER {name}_ai AFTER INSERT ON feedback BEGIN {roll('+', 'new')} END",
        f"CREATE TRIGGER {name}_ad AFTER DELETE ON feedback BEGIN {roll('-', 'old')} END",
        f"CREATE TRIGGER {name}_au AFTER UPDATE OF {', '.join(columns)} ON feedback WHEN {changed} "
        f"BEGIN {roll('-', 'old')} {roll('+', 'new')} END",
    ]

#: Counts per UTC hour for the dimensions dashboards and spike detection read most; histograms over
#: whole hours with only these filters read them instead of the documents.
ROLLUPS: dict[str, tuple[str, ...]] = {
    "feedback_hourly": ("product", "source", "sentiment"),
    "feedback_topic_hourly": ("topic", "product", "sentiment"),
}
_M2 = [
    "CREATE TABLE feedback_hourly (hour INTEGER NOT NULL, product TEXT NOT NULL, source TEXT NOT NULL, "
    "sentiment TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, product, source, sentiment)) WITHOUT ROWID",
    "CREATE TABLE feedback_topic_hourly (hour INTEGER NOT NULL, topic TEXT NOT NULL, product TEXT NOT NULL, "
    "sentiment TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, topic, product, sentiment)) WITHOUT ROWID",
    "INSERT INTO feedback_hourly SELECT created_ts / 3600, coalesce(product, ''), coalesce(source, ''), "
    "coalesce(sentiment, ''), count(*) FROM feedback WHERE created_ts IS NOT NULL GROUP BY 1, 2, 3, 4",
    "INSERT INTO feedback_topic_hourly SELECT s.ts / 3600, s.value, coalesce(f.product, ''), "
    "coalesce(f.sentiment, ''), count(*) FROM feedback_topic s JOIN feedback f ON f.rowid = s.doc "
    "WHERE s.ts IS NOT NULL GROUP BY 1, 2, 3, 4",
    *_roll_triggers("feedback_roll", ("created_ts", "product", "source", "sentiment", "topics"),
                    lambda sign, row: " ".join(_roll(sign, row))),
]

_dims_cols = ", ".join(DIMS)
_dims_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in DIMS)
_M3 = [
    f"CREATE TABLE feedback_dims (rowid INTEGER PRIMARY KEY, {', '.join(c + (' INTEGER' if c in ('created_ts', 'rating') else ' TEXT') for c in DIMS)})",
    f"INSERT INTO feedback_dims (rowid, {_dims_cols}) SELECT rowid, {_dims_cols} FROM feedback",
    "CREATE INDEX feedback_dims_created ON feedback_dims(created_ts)",
    *[f"CREATE INDEX feedback_dims_{c} ON feedback_dims({c}, created_ts)" for c in _FILTER_INDEXES],
    f"""CREATE TRIGGER feedback_dims_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_dims (rowid, {_dims_cols}) VALUES (new.rowid, {', '.join('new.' + c for c in DIMS)}); END""",
    "CREATE TRIGGER feedback_dims_ad AFTER DELETE ON feedback BEGIN DELETE FROM feedback_dims WHERE rowid = old.rowid; END",
    f"""CREATE TRIGGER feedback_dims_au AFTER UPDATE OF {_dims_cols} ON feedback WHEN {_dims_changed} BEGIN
        UPDATE feedback_dims SET {', '.join(f'{c} = new.{c}' for c in DIMS)} WHERE rowid = new.rowid; END""",
    # the wide table no longer needs its filter indexes: every filter reads feedback_dims
    "DROP INDEX IF EXISTS feedback_created",
    *[f"DROP INDEX IF EXISTS feedback_{c}" for c in (*_FILTER_INDEXES, "kind", "dup")],
    # side tables: (doc, value) answers "does this match carry topic X" without touching anything else
    *[stmt for t in SIDE_TABLES.values() for stmt in (
        f"DROP INDEX IF EXISTS {t}_doc", f"DROP INDEX IF EXISTS {t}_ts", f"CREATE INDEX {t}_doc ON {t}(doc, value)")],
]

_VCOLS = ("product", "source", "app_version", "rating")


def _vroll(sign: str, row: str) -> str:
    return _keyed_roll("feedback_version_hourly", _VCOLS, sign, row)


_M4 = [
    # app_version/rating trends (rating by version, app_version series) without reading the documents
    "CREATE TABLE feedback_version_hourly (hour INTEGER NOT NULL, product TEXT NOT NULL, source TEXT NOT NULL, "
    "app_version TEXT NOT NULL, rating NOT NULL, n INTEGER NOT NULL, "
    "PRIMARY KEY (hour, product, source, app_version, rating)) WITHOUT ROWID",
    "INSERT INTO feedback_version_hourly SELECT created_ts / 3600, coalesce(product, ''), coalesce(source, ''), "
    "coalesce(app_version, ''), coalesce(rating, ''), count(*) FROM feedback_dims WHERE created_ts IS NOT NULL "
    "GROUP BY 1, 2, 3, 4, 5",
    *_roll_triggers("feedback_vroll", ("created_ts", *_VCOLS), _vroll),
]
ROLLUPS["feedback_version_hourly"] = _VCOLS


def _croll(sign: str, row: str) -> str:
    return _keyed_roll("feedback_class_hourly", ("intent", "platform"), sign, row)


#: Single-value filter columns; their indexes are ``(column)`` alone, i.e. ``(column, rowid)``.
_PLAIN_INDEXES = ("product", "source", "sentiment", "intent", "platform", "app_version", "rating")
_M5 = [
    # Indexes ``(column, created_ts)`` take each new document at a random place (documents do not arrive in
    # created_at order), so a batch of 2,000 dirtied thousands of pages per index: at a million documents
    # they halved the upsert rate. ``(column)`` indexes grow at their end (rowids ascend); time-bounded
    # counts and histograms read the hourly rollups (edges via ``feedback_dims_created``), which now cover
    # intent and platform too.
    *[f"DROP INDEX IF EXISTS feedback_dims_{c}" for c in _PLAIN_INDEXES],
    *[f"CREATE INDEX feedback_dims_{c} ON feedback_dims({c})" for c in _PLAIN_INDEXES],
    "CREATE TABLE feedback_class_hourly (hour INTEGER NOT NULL, intent TEXT NOT NULL, platform TEXT NOT NULL, "
    "n INTEGER NOT NULL, PRIMARY KEY (hour, intent, platform)) WITHOUT ROWID",
    "INSERT INTO feedback_class_hourly SELECT created_ts / 3600, coalesce(intent, ''), coalesce(platform, ''), "
    "count(*) FROM feedback_dims WHERE created_ts IS NOT NULL GROUP BY 1, 2, 3",
    *_roll_triggers("feedback_croll", ("created_ts", "intent", "platform"), _croll),
]
ROLLUPS["feedback_class_hourly"] = ("intent", "platform")

_tagged = ", ".join(TAG_PREFIX)
_tags_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in ("tokens", *TAG_PREFIX))
_M6 = [
    # The filter values join the full-text index as tags (a second FTS column, fed by a view over the
    # documents): a query with free words and value filters becomes one intersection of posting lists
    # instead of a lookup of every match's filter columns (`质量 product:phone` read 138k dims rows).
    "DROP TRIGGER feedback_ai", "DROP TRIGGER feedback_ad", "DROP TRIGGER feedback_au_fts",
    "DROP TABLE feedback_fts",
    f"CREATE VIEW feedback_fts_content AS SELECT rowid AS rid, tokens, {tags_sql('feedback')} AS tags FROM feedback",
    f"""CREATE VIRTUAL TABLE feedback_fts USING fts5(tokens, tags, content='feedback_fts_content', content_rowid='rid',
        tokenize='{FTS_TOKENIZE}')""",
    # (FTS5's 'rebuild' cannot read this view — its json_each — so the documents are inserted instead)
    "INSERT INTO feedback_fts(rowid, tokens, tags) SELECT rid, tokens, tags FROM feedback_fts_content",
    f"""CREATE TRIGGER feedback_fts_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_fts(rowid, tokens, tags) VALUES (new.rowid, new.tokens, {tags_sql('new')}); END""",
    f"""CREATE TRIGGER feedback_fts_ad AFTER DELETE ON feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens, tags) VALUES ('delete', old.rowid, old.tokens, {tags_sql('old')});
        END""",
    f"""CREATE TRIGGER feedback_fts_au AFTER UPDATE OF tokens, {_tagged} ON feedback WHEN {_tags_changed} BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens, tags) VALUES ('delete', old.rowid, old.tokens, {tags_sql('old')});
        INSERT INTO feedback_fts(rowid, tokens, tags) VALUES (new.rowid, new.tokens, {tags_sql('new')}); END""",
    # (the dropped insert/delete triggers also kept the topics/risk side tables)
    f"CREATE TRIGGER feedback_side_ai AFTER INSERT ON feedback BEGIN {_side_insert} END",
    f"CREATE TRIGGER feedback_side_ad AFTER DELETE ON feedback BEGIN {_side_delete} END",
]

_side_insert_all = "".join(
    f"INSERT INTO {t}(value, ts, doc) SELECT DISTINCT value, new.created_ts, new.rowid FROM json_each(new.{f});"
    for f, t in SIDE_TABLES.items())
_M7 = [
    # The side tables' key (value, ts, doc) could not hold a NULL ts, so documents without created_at had no
    # topics/risk rows (topic filters and facets missed them, and re-upserting one failed). Rowid tables
    # with the same two indexes take ts NULL; every time condition on ts already excludes NULL.
    "DROP TRIGGER feedback_side_ai", "DROP TRIGGER feedback_side_ad", "DROP TRIGGER feedback_au_side",
    *[stmt for f, t in SIDE_TABLES.items() for stmt in (
        f"DROP TABLE {t}",
        f"CREATE TABLE {t} (value TEXT NOT NULL, ts INTEGER, doc INTEGER NOT NULL)",
        f"INSERT INTO {t} SELECT DISTINCT j.value, f.created_ts, f.rowid FROM feedback f, json_each(f.{f}) j",
        f"CREATE INDEX {t}_value ON {t}(value, ts, doc)",
        f"CREATE INDEX {t}_doc ON {t}(doc, value)",
    )],
    f"CREATE TRIGGER feedback_side_ai AFTER INSERT ON feedback BEGIN {_side_insert_all} END",
    f"CREATE TRIGGER feedback_side_ad AFTER DELETE ON feedback BEGIN {_side_delete} END",
    f"""CREATE TRIGGER feedback_side_au AFTER UPDATE OF topics, risk, created_ts ON feedback
        WHEN old.topics IS NOT new.topics OR old.risk IS NOT new.risk OR old.created_ts IS NOT new.created_ts
        BEGIN {_side_delete.replace('old.rowid', 'new.rowid')} {_side_insert_all} END""",
]

_M8 = [
    # A time-bounded word search reads each match's time by rowid; this narrow covering index answers that
    # from a few dense pages instead of the dims table's wide rows (0010 replaces it with a narrow table).
    "CREATE INDEX feedback_dims_time_by_rowid ON feedback_dims(rowid, created_ts)",
]

_grams = f"{GRAMS_FUNCTION}({{row}}.title, {{row}}.text)"
_fts_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in ("tokens", "title", "text", *TAG_PREFIX))
_M9 = [
    # Sub-word recall: jieba keeps 自动续费, 转圈圈 and 验证码 as single words, so 续费, 转圈 and 验证 found
    # nothing. A third FTS column holds the character bigrams of every Chinese run of title and text; a
    # query word also matches as a phrase of its bigrams (sqlite_sql.fts_match_expression).
    "DROP TRIGGER feedback_fts_ai", "DROP TRIGGER feedback_fts_ad", "DROP TRIGGER feedback_fts_au",
    "DROP TABLE feedback_fts", "DROP VIEW feedback_fts_content",
    f"CREATE VIEW feedback_fts_content AS SELECT rowid AS rid, tokens, {tags_sql('feedback')} AS tags, "
    f"{_grams.format(row='feedback')} AS grams FROM feedback",
    f"""CREATE VIRTUAL TABLE feedback_fts USING fts5(tokens, tags, grams, content='feedback_fts_content',
        content_rowid='rid', tokenize='{FTS_TOKENIZE}')""",
    "INSERT INTO feedback_fts(rowid, tokens, tags, grams) SELECT rid, tokens, tags, grams FROM feedback_fts_content",
    f"""CREATE TRIGGER feedback_fts_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_fts(rowid, tokens, tags, grams)
        VALUES (new.rowid, new.tokens, {tags_sql('new')}, {_grams.format(row='new')}); END""",
    f"""CREATE TRIGGER feedback_fts_ad AFTER DELETE ON feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens, tags, grams)
        VALUES ('delete', old.rowid, old.tokens, {tags_sql('old')}, {_grams.format(row='old')}); END""",
    f"""CREATE TRIGGER feedback_fts_au AFTER UPDATE OF tokens, title, text, {_tagged} ON feedback
        WHEN {_fts_changed} BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, tokens, tags, grams)
        VALUES ('delete', old.rowid, old.tokens, {tags_sql('old')}, {_grams.format(row='old')});
        INSERT INTO feedback_fts(rowid, tokens, tags, grams)
        VALUES (new.rowid, new.tokens, {tags_sql('new')}, {_grams.format(row='new')}); END""",
]

_M10 = [
    # A time-bounded word search reads each match's time by rowid. From a narrow rowid table that is an
    # integer-key seek: half the cost of seeking the (rowid, created_ts) index of 0008, which it replaces
    # (1M bench: counting the 58,897 matches of 客服 for since:7d, 29 → 14 ms of CPU).
    "CREATE TABLE feedback_time (rowid INTEGER PRIMARY KEY, created_ts INTEGER)",
    "INSERT INTO feedback_time (rowid, created_ts) SELECT rowid, created_ts FROM feedback_dims ORDER BY rowid",
    """CREATE TRIGGER feedback_time_ai AFTER INSERT ON feedback BEGIN
        INSERT INTO feedback_time (rowid, created_ts) VALUES (new.rowid, new.created_ts); END""",
    "CREATE TRIGGER feedback_time_ad AFTER DELETE ON feedback BEGIN DELETE FROM feedback_time WHERE rowid = old.rowid; END",
    """CREATE TRIGGER feedback_time_au AFTER UPDATE OF created_ts ON feedback WHEN old.created_ts IS NOT new.created_ts
        BEGIN UPDATE feedback_time SET created_ts = new.created_ts WHERE rowid = new.rowid; END""",
    "DROP INDEX feedback_dims_time_by_rowid",
]

#: Hours per row of a block rollup: a day in a zone whose UTC offset is a multiple of them (UTC, UTC+8 …) is
#: whole blocks, so day charts read an eighth of the hourly rows.
BLOCK_HOURS = 8
#: hourly rollup → its twin in blocks of BLOCK_HOURS hours (same dimensions; kept by triggers on the hourly
#: rows, so it always holds their sums). Only the commonest rollup has one: each costs every upsert a write.
BLOCK_ROLLUPS = {"feedback_hourly": "feedback_8h"}
_bdims = ROLLUPS["feedback_hourly"]
_bkey = " AND ".join(f"{d} = {{row}}.{d}" for d in _bdims)
_M11 = [
    # Day charts over 30 days summed ~45,000 hourly rows per chart at a million documents (1,400 an hour);
    # 8-hour blocks are 5,700 (bench/api.py: a 30-day chart by source 9.6 → ~1.5 ms of SQL).
    f"CREATE TABLE feedback_8h (block INTEGER NOT NULL, {', '.join(d + ' TEXT NOT NULL' for d in _bdims)}, "
    f"n INTEGER NOT NULL, PRIMARY KEY (block, {', '.join(_bdims)})) WITHOUT ROWID",
    f"INSERT INTO feedback_8h SELECT hour / {BLOCK_HOURS}, {', '.join(_bdims)}, sum(n) FROM feedback_hourly "
    f"GROUP BY 1, {', '.join(str(i + 2) for i in range(len(_bdims)))}",
    f"""CREATE TRIGGER feedback_8h_ai AFTER INSERT ON feedback_hourly BEGIN
        INSERT INTO feedback_8h VALUES (new.hour / {BLOCK_HOURS}, {', '.join('new.' + d for d in _bdims)}, new.n)
        ON CONFLICT DO UPDATE SET n = n + excluded.n; END""",
    f"""CREATE TRIGGER feedback_8h_au AFTER UPDATE OF n ON feedback_hourly BEGIN
        UPDATE feedback_8h SET n = n + new.n - old.n WHERE block = new.hour / {BLOCK_HOURS} AND {_bkey.format(row='new')}; END""",
    f"""CREATE TRIGGER feedback_8h_ad AFTER DELETE ON feedback_hourly BEGIN
        UPDATE feedback_8h SET n = n - old.n WHERE block = old.hour / {BLOCK_HOURS} AND {_bkey.format(row='old')}; END""",
]

_CCOLS = ("product", "intent", "platform")


def _croll_product(sign: str, row: str) -> str:
    return _keyed_roll("feedback_class_hourly", _CCOLS, sign, row)


_M12 = [
    # The intent/platform rollup gains the product: the overview's platform breakdown of one product (and any
    # intent or platform chart of one product) is then a rollup read, not a scan of the product's documents
    # (1M bench, 7 days of one product: 290 ms of exact facets → a few ms).
    "DROP TRIGGER feedback_croll_ai", "DROP TRIGGER feedback_croll_ad", "DROP TRIGGER feedback_croll_au",
    "DROP TABLE feedback_class_hourly",
    "CREATE TABLE feedback_class_hourly (hour INTEGER NOT NULL, product TEXT NOT NULL, intent TEXT NOT NULL, "
    "platform TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hour, product, intent, platform)) WITHOUT ROWID",
    "INSERT INTO feedback_class_hourly SELECT created_ts / 3600, coalesce(product, ''), coalesce(intent, ''), "
    "coalesce(platform, ''), count(*) FROM feedback_dims WHERE created_ts IS NOT NULL GROUP BY 1, 2, 3, 4",
    *_roll_triggers("feedback_croll", ("created_ts", *_CCOLS), _croll_product),
]
ROLLUPS["feedback_class_hourly"] = _CCOLS

#: Named schema migrations, applied in order, each recorded in ``feedback_migrations``.
MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("0001_feedback_fts_side_tables", tuple(_M1)),
    ("0002_hourly_rollups", tuple(_M2)),
    ("0003_narrow_dims_table", tuple(_M3)),
    ("0004_version_rating_rollup", tuple(_M4)),
    ("0005_append_only_filter_indexes", tuple(_M5)),
    ("0006_filter_tags_in_fts", tuple(_M6)),
    ("0007_side_rows_for_undated_documents", tuple(_M7)),
    ("0008_time_by_rowid_index", tuple(_M8)),
    ("0009_cjk_bigrams_for_sub_word_recall", tuple(_M9)),
    ("0010_time_by_rowid_table", tuple(_M10)),
    ("0011_eight_hour_rollup", tuple(_M11)),
    ("0012_product_in_class_rollup", tuple(_M12)),
)
