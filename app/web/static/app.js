/* VOC single-page UI. Plain JS, no build step. Crawled text is hostile: it is only ever inserted with
   textContent / createTextNode (never innerHTML), and links to original posts are http(s) only. */
"use strict";

const SENT = { negative: "负面", neutral: "中性", positive: "正面" };
const SENT_COLOR = { negative: "#e8554e", neutral: "#a0a7b4", positive: "#3fb27f" };
const INTENT = { bug: "缺陷", feature_request: "功能建议", question: "咨询", service_complaint: "服务投诉", praise: "表扬", other: "其他" };
const RISK = { media_threat: "媒体曝光", regulator_threat: "监管投诉", legal_threat: "法律威胁", viral: "高传播" };
const SOURCE = { appstore: "App Store", huawei: "华为应用市场", xiaomi: "小米应用商店", yyb: "应用宝", weibo: "微博", zhihu: "知乎", tieba: "贴吧", heimao: "黑猫投诉", v2ex: "V2EX" };
const FACET_TITLE = { sentiment: "情感", topics: "话题", source: "来源", intent: "意图", platform: "平台", product: "产品", app_version: "版本", rating: "评分" };
/* facet field → query-language field */
const QFIELD = { sentiment: "sentiment", topics: "topic", source: "source", intent: "intent", platform: "platform", product: "product", app_version: "version", rating: "rating", risk: "risk" };
const ALIASES = { topic: ["topic"], version: ["version", "app_version"] };
const STATE_LABEL = { open: "进行中", resolved: "已解决", acknowledged: "已确认" };
const SEVERITY = { critical: "严重", warning: "警告", info: "提示" };
const RUN_STATUS = { ok: "正常", blocked: "被封锁", failed: "失败", running: "运行中", died: "进程已中断", skipped: "已跳过", never_run: "未运行" };
const PAGE = 20;
const FACETS = "sentiment,topics,source,intent,platform,product,app_version";
const VIEWS = ["overview", "search", "trends", "alerts", "sources"];
/* Each view keeps its own parameters (its hash), so no page silently inherits another page's query or time
   range: moving between pages by the navigation restores that page's own last state; a click-through
   (figure → posts) hands over exactly the query it names. */
const SEARCH_KEYS = ["q", "sort", "offset", "since", "until", "range"];
const VIEW_KEYS = { overview: ["product", "period", "f"], search: SEARCH_KEYS, trends: ["q", "interval"], alerts: [], sources: [] };
const views = { overview: {}, search: {}, trends: {}, alerts: {}, sources: {} };
const state = { view: "overview" };
let session = { role: null, csrf_token: null };
let meta = { topics: {}, products: {}, time_zone: "Asia/Shanghai" };
const charts = {};
window.vocCharts = charts;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function label(field, value) {
  if (value === null || value === undefined || value === "") return "（无）";
  if (field === "sentiment") return SENT[value] || value;
  if (field === "intent") return INTENT[value] || value;
  if (field === "risk") return RISK[value] || value;
  if (field === "source") return SOURCE[value] || (String(value).startsWith("forum:") ? "论坛 " + String(value).slice(6) : value);
  if (field === "topics" || field === "topic") return meta.topics[value] || value;
  if (field === "rating") return value + " 星";
  if (field === "product") return (meta.products && meta.products[value]) || String(value);
  return String(value);
}

/* Every time on the page is shown in the server's one configured time zone (voc.yaml time_zone, /api/meta). */
let fmtParts = null;
function setTimeZone(tz) {
  fmtParts = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}
setTimeZone(meta.time_zone);
function parts(iso) {
  const out = {};
  for (const p of fmtParts.formatToParts(new Date(iso))) out[p.type] = p.value;
  return out;
}
function fmtTime(iso) { if (!iso) return "—"; const p = parts(iso); return `${p.year}/${p.month}/${p.day} ${p.hour}:${p.minute}`; }
/* bucket labels: "11/24" per day, "11/24 09时" per hour (one 时, built from parts, not the locale's format) */
function fmtBucket(iso, interval) { const p = parts(iso); return interval === "day" ? `${p.month}/${p.day}` : `${p.month}/${p.day} ${p.hour}时`; }

/* ---------------------------------------------------------------- API */
class ApiError extends Error {
  constructor(status, body) { super((body && body.message) || ("HTTP " + status)); this.status = status; this.body = body || {}; }
}

async function api(path, params, method, payload) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  const opts = { method: method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (opts.method !== "GET" && session.csrf_token) opts.headers["X-CSRF-Token"] = session.csrf_token;
  if (payload !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(payload); }
  const res = await fetch(url, opts);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401) { location.href = "/login"; throw new ApiError(401, body); }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function showError(err) {
  const box = $("error");
  if (!err) { box.hidden = true; clear(box); return; }
  clear(box);
  if (err.body && err.body.error === "bad_query") {
    box.appendChild(el("span", {}, "查询有误（字段 ", el("code", {}, err.body.field || "?"), "）：", err.body.message || ""));
  } else if (err.body && err.body.error === "bad_label") {
    box.appendChild(el("span", {}, "标签有误（字段 ", el("code", {}, err.body.field || "?"), "）：", err.body.message || ""));
  } else if (err.body && err.body.error === "bad_watchlist") {
    const why = { name: "名称不能为空、不超过 60 个字符，且不能与已有的关注重名（每人最多 50 个）", q: "查询不能超过 500 个字符" }[err.body.field];
    box.appendChild(el("span", {}, "无法保存关注：", why || err.body.message || ""));
  } else if (err.status === 403) {
    box.appendChild(el("span", {}, "无权限：", err.message));
  } else {
    box.appendChild(el("span", {}, "出错了：", err.message || String(err)));
  }
  box.hidden = false;
}

/* ---------------------------------------------------------------- query helpers */
function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

function fieldValues(q, qfield) {
  const names = ALIASES[qfield] || [qfield];
  const out = [];
  for (const name of names) {
    const re = new RegExp("(?:^|\\s)" + escapeRe(name) + ":(\\S+)", "gi");
    let m; while ((m = re.exec(q))) out.push(...m[1].split(",").filter(Boolean));
  }
  return out;
}

function setField(q, qfield, value) {
  const names = ALIASES[qfield] || [qfield];
  let rest = q;
  for (const name of names) rest = rest.replace(new RegExp("(^|\\s)" + escapeRe(name) + ":\\S+", "gi"), " ");
  rest = rest.replace(/\s+/g, " ").trim();
  if (value === null || value === undefined) return rest;
  return (rest ? rest + " " : "") + qfield + ":" + value;
}

function toggleField(q, qfield, value) {
  const cur = fieldValues(q, qfield);
  if (cur.length === 1 && cur[0] === String(value)) return setField(q, qfield, null);
  return setField(q, qfield, value);
}

/* ---------------------------------------------------------------- routing */
function readHash() {
  const [view, query] = location.hash.replace(/^#/, "").split("?");
  const p = new URLSearchParams(query || "");
  state.view = VIEWS.includes(view) ? view : "overview";
  const own = {};
  for (const k of VIEW_KEYS[state.view]) if (p.get(k) !== null && p.get(k) !== "") own[k] = p.get(k);
  const linked = new URLSearchParams(location.search).get("q");
  if (!location.hash && linked !== null) { state.view = "search"; own.q = linked; }  // links in alerts: /?q=…
  if (own.offset) own.offset = parseInt(own.offset, 10) || 0;
  views[state.view] = own;
}

function hashOf(view, params) {
  const p = new URLSearchParams();
  for (const k of VIEW_KEYS[view]) if (params[k] !== null && params[k] !== undefined && params[k] !== "" && params[k] !== 0) p.set(k, String(params[k]));
  return "#" + view + (p.toString() ? "?" + p.toString() : "");
}

/* go(view, params): show `view` with exactly `params` (its own parameters); go(view) restores its last state. */
function go(view, params) {
  const next = params === undefined ? views[view] : params;
  views[view] = { ...next };
  state.view = view;
  const hash = hashOf(view, views[view]);
  if (location.hash === hash) render(); else location.hash = hash;
}
const cur = () => views[state.view];
/* The search page with exactly this query (and optional ISO time window). */
function showPosts(q, since, until, range) { go("search", { q: q || "", sort: "time", since: since || null, until: until || null, range: range || "" }); }

function render() {
  showError(null);
  const v = cur();
  const queryView = state.view === "search" || state.view === "trends";
  $("query-form").hidden = !queryView;
  if (!queryView) $("help").hidden = true;
  $("q").value = queryView ? v.q || "" : "";
  $("sort").hidden = state.view !== "search";
  $("sort").value = v.sort || "";
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === state.view);
    a.href = hashOf(a.dataset.view, views[a.dataset.view]);
  }
  for (const name of VIEWS) $("view-" + name).hidden = name !== state.view;
  renderChips();
  const task = { overview: loadOverview, search: loadSearch, trends: loadTrends, alerts: loadAlerts, sources: loadSources }[state.view];
  document.body.dataset.ready = "";
  task().catch(showError).finally(() => {
    document.body.dataset.ready = state.view;
    document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  });
}

/* The search page's filters as removable chips: each field:value of the query, and the time window. */
function queryChips(q) {
  const out = [];
  for (const [qfield, title] of Object.entries(CHIP_FIELDS)) {
    for (const value of fieldValues(q, qfield)) out.push({ qfield, value, text: title + "：" + value.split(",").map((x) => label(FIELD_OF[qfield] || qfield, x)).join("、") });
  }
  return out;
}
const CHIP_FIELDS = { product: "产品", sentiment: "情感", topic: "话题", source: "来源", platform: "平台", version: "版本", intent: "意图", rating: "评分", risk: "风险", since: "起", until: "止" };
const FIELD_OF = { topic: "topics", version: "app_version" };

function renderChips() {
  const box = $("chips"); clear(box);
  if (state.view !== "search") return;
  const v = cur();
  for (const c of queryChips(v.q || "")) {
    box.appendChild(el("span", { class: "chip", dataset: { field: c.qfield } }, c.text,
      el("button", { type: "button", title: "去掉这个条件", "aria-label": "去掉 " + c.text,
        onclick: () => go("search", { ...v, q: removeValue(v.q, c.qfield, c.value), offset: 0 }) }, "×")));
  }
  if (v.since || v.until) {
    box.appendChild(el("span", { class: "chip", id: "range-chip" }, "时间段：" + (v.range || (fmtTime(v.since) + " – " + fmtTime(v.until))),
      el("button", { type: "button", title: "清除时间段", onclick: () => go("search", { ...v, since: null, until: null, range: "", offset: 0 }) }, "×")));
  }
}

function removeValue(q, qfield, value) {
  const names = ALIASES[qfield] || [qfield];
  let out = q;
  for (const name of names) out = out.replace(new RegExp("(^|\\s)" + escapeRe(name) + ":" + escapeRe(value) + "(?=\\s|$)", "gi"), " ");
  return out.replace(/\s+/g, " ").trim();
}

/* ---------------------------------------------------------------- search */
async function loadSearch() {
  /* hits and facet counts in one request: the index counts the matches once for both (facets of large match
     sets are sampled, so they cost little more than the hits) */
  const v = cur();
  const data = await api("/api/search", { q: v.q, since: v.since, until: v.until, sort: v.sort,
                                          offset: v.offset, limit: PAGE, facets: FACETS });
  renderHits(data);
  renderFacets(data);
  for (const fmt of ["csv", "xlsx"]) {
    const url = new URL("/api/export", location.origin);
    for (const [k, val] of Object.entries({ q: v.q, since: v.since, until: v.until, format: fmt })) if (val) url.searchParams.set(k, val);
    $("export-" + fmt).href = url.pathname + url.search;
  }
}

async function saveWatchlist() {
  const v = cur();
  const name = window.prompt("给这个搜索起个名字（在概览页「我的关注」里查看）", (v.q || "全部反馈").slice(0, 60));
  if (!name) return;
  await api("/api/watchlists", {}, "POST", { name: name.trim(), q: v.q || "" });
  $("save-watch").textContent = "已保存";
  setTimeout(() => { $("save-watch").textContent = "保存为关注"; }, 2000);
}

function toggleFacets(open) {
  document.body.classList.toggle("facets-open", open);
  $("facets-backdrop").hidden = !open;
}

/* Facet counts of a query with many matches count its newest `facets_sampled` matches only (the API says so):
   scale them to the whole match set and mark them as estimates. */
function facetCounts(data) {
  const k = data.facets_sampled && data.total > data.facets_sampled ? data.total / data.facets_sampled : 1;
  const num = (n) => n.toLocaleString("zh-CN");
  const scale = (n) => (k === 1 ? n : Math.round(n * k));
  return { scale, show: (n) => (k === 1 ? "" : "≈") + num(scale(n)),
           note: k === 1 ? "" : "计数按最新 " + num(data.facets_sampled) + " 条匹配估算（共 " + num(data.total) + " 条）" };
}

function renderFacets(data) {
  const box = $("facets"); clear(box);
  box.appendChild(el("div", { class: "drawer-head" }, el("span", {}, "筛选"),
    el("button", { type: "button", class: "link", id: "facets-close", "aria-label": "关闭筛选", onclick: () => toggleFacets(false) }, "关闭")));
  const counts = facetCounts(data);
  if (counts.note) box.appendChild(el("p", { class: "hint", id: "facets-sampled" }, counts.note));
  for (const [field, values] of Object.entries(data.facets || {})) {
    if (!values.length) continue;
    const qfield = QFIELD[field] || field;
    const v = cur();
    const selected = fieldValues(v.q || "", qfield);
    const list = el("ul", {});
    for (const [value, n] of values.slice(0, 12)) {
      list.appendChild(el("li", {}, el("button", {
        type: "button", class: selected.includes(String(value)) ? "on" : "", dataset: { facet: field, value: String(value) },
        onclick: () => { toggleFacets(false); go("search", { ...v, q: toggleField(v.q || "", qfield, value), offset: 0 }); },
      }, el("span", {}, label(field, value)), el("span", { class: "n" }, counts.show(n)))));
    }
    box.appendChild(el("div", { class: "facet", dataset: { field } }, el("h3", {}, FACET_TITLE[field] || field), list));
  }
}

function safeUrl(url) { return /^https?:\/\//i.test(url || "") ? url : null; }

function hitNode(hit) {
  const d = hit.doc;
  const meta = el("div", { class: "meta" },
    el("span", { class: "tag" }, label("source", d.source)),
    d.sentiment ? el("span", { class: "tag s-" + d.sentiment }, label("sentiment", d.sentiment)) : null,
    d.intent ? el("span", { class: "tag" }, label("intent", d.intent)) : null,
    (d.topics || []).map((t) => el("span", { class: "tag topic" }, "#" + label("topics", t))),
    (d.risk || []).map((r) => el("span", { class: "tag risk" }, label("risk", r))),
    d.rating ? el("span", { title: d.rating + " 星" }, "★".repeat(d.rating) + "☆".repeat(Math.max(0, 5 - d.rating))) : null,
    d.app_version ? el("span", {}, "v" + d.app_version) : null,
    d.platform ? el("span", {}, d.platform) : null,
    el("span", {}, fmtTime(d.created_at)),
    d.author_name ? el("span", {}, "@" + d.author_name) : null);
  const text = el("div", { class: "text" });
  const segments = hit.highlight && hit.highlight.length ? hit.highlight : [[d.text || "", false]];
  for (const [segment, matched] of segments) {
    text.appendChild(matched ? el("mark", {}, segment) : document.createTextNode(segment));
  }
  const url = safeUrl(d.url);
  const node = el("li", { class: "hit", dataset: { id: d.id } }, meta,
    d.title ? el("div", { class: "title" }, d.title) : null, text,
    url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", class: "orig" }, "查看原帖 ↗") : null);
  if (session.role === "admin") {
    node.appendChild(el("button", { type: "button", class: "link fix-labels", onclick: () => toggleLabelForm(node, d) }, "纠正标签"));
  }
  return node;
}

/* label correction (admin): stored for the next `voc train`, applied to the document at once, kept by re-crawls */
function toggleLabelForm(node, d) {
  const open = node.querySelector(".label-form");
  if (open) { open.remove(); return; }
  const choice = (name, options, current) => el("select", { name },
    Object.entries(options).map(([v, text]) => el("option", { value: v, selected: v === current }, text)));
  const boxes = (name, options, current) => el("span", { class: "boxes", dataset: { name } },
    Object.entries(options).map(([v, text]) => el("label", {},
      el("input", { type: "checkbox", value: v, checked: (current || []).includes(v) }), text)));
  const form = el("div", { class: "label-form" },
    el("label", {}, "情感 ", choice("sentiment", SENT, d.sentiment)),
    el("label", {}, "意图 ", choice("intent", INTENT, d.intent)),
    el("div", {}, "话题 ", boxes("topics", meta.topics, d.topics)),
    el("div", {}, "风险 ", boxes("risk", RISK, d.risk)),
    el("button", { type: "button", class: "save", onclick: () => saveLabels(form, d).catch(showError) }, "保存"),
    el("button", { type: "button", class: "link", onclick: () => form.remove() }, "取消"));
  node.appendChild(form);
}

async function saveLabels(form, d) {
  const picked = (name) => [...form.querySelectorAll(`[data-name=${name}] input:checked`)].map((i) => i.value);
  const same = (a, b) => [...(a || [])].sort().join(",") === [...(b || [])].sort().join(",");
  const body = {};
  const sentiment = form.querySelector("select[name=sentiment]").value;
  const intent = form.querySelector("select[name=intent]").value;
  if (sentiment !== d.sentiment) body.sentiment = sentiment;
  if (intent !== d.intent) body.intent = intent;
  // topics outside today's taxonomy have no box: only a change among the configured ones is a correction
  if (!same(picked("topics"), (d.topics || []).filter((t) => t in meta.topics))) body.topics = picked("topics");
  if (!same(picked("risk"), d.risk)) body.risk = picked("risk");
  if (!Object.keys(body).length) { form.remove(); return; }
  await api("/api/feedback/" + encodeURIComponent(d.id), {}, "POST", body);
  await loadSearch();
}

function renderHits(data) {
  const list = $("hits"); clear(list);
  $("summary").textContent = "共 " + data.total.toLocaleString("zh-CN") + " 条" + (data.total ? "，第 " + (data.offset + 1) + "–" + Math.min(data.offset + data.hits.length, data.total) + " 条" : "");
  if (!data.hits.length) list.appendChild(el("li", { class: "empty" }, "没有符合条件的反馈"));
  for (const hit of data.hits) list.appendChild(hitNode(hit));
  $("prev").disabled = data.offset <= 0;
  $("next").disabled = data.offset + data.hits.length >= data.total;
  $("page").textContent = "第 " + (Math.floor(data.offset / PAGE) + 1) + " 页";
}

/* ---------------------------------------------------------------- alerts */
/* The alerts view (incidents) lives in alerts.js: loadAlerts(), alertAction(). */
function num(x, digits) { return typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : String(x); }

/* ---------------------------------------------------------------- sources */
async function loadSources() {
  const data = await api("/api/sources");
  const body = document.querySelector("#sources-table tbody"); clear(body);
  for (const s of data.sources) {
    const perDay = (s.items_per_day || []).map(([, n]) => n);
    body.appendChild(el("tr", { dataset: { source: s.source } },
      el("td", {}, label("source", s.source)),
      el("td", { class: "st-" + s.status }, RUN_STATUS[s.status] || s.status),
      el("td", {}, s.schedule ? el("code", {}, s.schedule) : "—"),
      el("td", {}, fmtTime(s.next_run)),
      el("td", {}, fmtTime(s.last_success)),
      el("td", { title: (s.items_per_day || []).map(([d, n]) => d + ": " + n).join("\n") }, perDay.length ? perDay.join(" / ") : "—"),
      el("td", {}, s.blocked ? [el("div", {}, s.blocked.reason), el("div", { class: "fix" }, "修复：", s.blocked.fix || "—")] : "—")));
  }
  if (!data.sources.length) body.appendChild(el("tr", {}, el("td", { colspan: 7, class: "empty" }, "尚未配置数据源")));
  const runs = document.querySelector("#runs-table tbody"); clear(runs);
  for (const r of data.runs) {
    runs.appendChild(el("tr", {},
      el("td", {}, label("source", r.source)), el("td", { class: "st-" + r.status }, RUN_STATUS[r.status] || r.status),
      el("td", {}, fmtTime(r.started_at)), el("td", {}, r.duration ? r.duration.toFixed(1) + " 秒" : "—"),
      el("td", {}, String(r.pages)), el("td", {}, String(r.new)), el("td", {}, String(r.updated)), el("td", {}, String(r.errors))));
  }
}

/* ---------------------------------------------------------------- start */
async function start() {
  session = await api("/api/session");
  $("role").textContent = session.role === "admin" ? "管理员" : "只读";
  if (session.via !== "session") $("logout-form").hidden = true;
  try { meta = await api("/api/meta"); } catch (e) { meta = { topics: {}, products: {} }; }
  meta.time_zone = meta.time_zone || "Asia/Shanghai";
  setTimeZone(meta.time_zone);
  $("tz").textContent = "时区 " + meta.time_zone;
  $("query-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("q").value.trim();
    if (state.view === "trends") go("trends", { ...cur(), q });
    else go("search", { q, sort: $("sort").value, since: cur().since, until: cur().until, range: cur().range });
  });
  $("sort").addEventListener("change", () => go("search", { ...cur(), sort: $("sort").value, offset: 0 }));
  $("help-btn").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
  $("prev").addEventListener("click", () => go("search", { ...cur(), offset: Math.max(0, (cur().offset || 0) - PAGE) }));
  $("next").addEventListener("click", () => go("search", { ...cur(), offset: (cur().offset || 0) + PAGE }));
  $("interval").addEventListener("change", () => go("trends", { ...cur(), interval: $("interval").value }));
  $("alert-state").addEventListener("change", () => loadAlerts().catch(showError));
  $("save-watch").addEventListener("click", () => saveWatchlist().catch(showError));
  $("facets-btn").addEventListener("click", () => toggleFacets(!document.body.classList.contains("facets-open")));
  $("facets-backdrop").addEventListener("click", () => toggleFacets(false));
  for (const a of document.querySelectorAll("#nav a")) {
    a.addEventListener("click", (ev) => { ev.preventDefault(); go(a.dataset.view); });
  }
  window.addEventListener("hashchange", () => { readHash(); render(); });
  window.addEventListener("resize", () => { for (const c of Object.values(charts)) c.resize(); });
  readHash();
  render();
}

document.addEventListener("DOMContentLoaded", () => { start().catch(showError); });
