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
const RUN_STATUS = { ok: "正常", blocked: "被封锁", failed: "失败", running: "运行中", skipped: "已跳过", never_run: "未运行" };
const TZ = "Asia/Shanghai";
const PAGE = 20;
const FACETS = "sentiment,topics,source,intent,platform,product";

const state = { view: "search", q: "", sort: "", offset: 0, since: null, until: null, rangeLabel: "" };
let session = { role: null, csrf_token: null };
let meta = { topics: {} };
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
  return String(value);
}

const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const dayFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "2-digit", day: "2-digit" });
const hourFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", hour12: false });
function fmtTime(iso) { return iso ? timeFmt.format(new Date(iso)) : "—"; }
function fmtBucket(iso, interval) { const d = new Date(iso); return interval === "day" ? dayFmt.format(d) : hourFmt.format(d) + "时"; }

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
  const top = new URLSearchParams(location.search);
  state.view = ["search", "trends", "alerts", "sources"].includes(view) ? view : "search";
  state.q = p.get("q") ?? top.get("q") ?? "";
  state.sort = p.get("sort") || "";
  state.offset = parseInt(p.get("offset") || "0", 10) || 0;
  state.since = p.get("since"); state.until = p.get("until");
  state.rangeLabel = p.get("range") || "";
}

function go(changes) {
  Object.assign(state, changes);
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.sort) p.set("sort", state.sort);
  if (state.offset) p.set("offset", String(state.offset));
  if (state.since) p.set("since", state.since);
  if (state.until) p.set("until", state.until);
  if (state.rangeLabel) p.set("range", state.rangeLabel);
  const hash = "#" + state.view + (p.toString() ? "?" + p.toString() : "");
  if (location.hash === hash) render(); else location.hash = hash;
}

function render() {
  showError(null);
  $("q").value = state.q;
  $("sort").value = state.sort;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === state.view);
  for (const v of ["search", "trends", "alerts", "sources"]) $("view-" + v).hidden = v !== state.view;
  renderChips();
  const task = { search: loadSearch, trends: loadTrends, alerts: loadAlerts, sources: loadSources }[state.view];
  document.body.dataset.ready = "";
  task().catch(showError).finally(() => {
    document.body.dataset.ready = state.view;
    document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  });
}

function renderChips() {
  const box = $("chips"); clear(box);
  if (state.since || state.until) {
    box.appendChild(el("span", { class: "chip", id: "range-chip" }, "时间段：" + (state.rangeLabel || (fmtTime(state.since) + " – " + fmtTime(state.until))),
      el("button", { type: "button", title: "清除时间段", onclick: () => go({ since: null, until: null, rangeLabel: "", offset: 0 }) }, "×")));
  }
}

/* ---------------------------------------------------------------- search */
async function loadSearch() {
  /* hits and facet counts in one request: the index counts the matches once for both (facets of large match
     sets are sampled, so they cost little more than the hits) */
  const data = await api("/api/search", { q: state.q, since: state.since, until: state.until, sort: state.sort,
                                          offset: state.offset, limit: PAGE, facets: FACETS });
  renderHits(data);
  renderFacets(data);
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
  const counts = facetCounts(data);
  if (counts.note) box.appendChild(el("p", { class: "hint", id: "facets-sampled" }, counts.note));
  for (const [field, values] of Object.entries(data.facets || {})) {
    if (!values.length) continue;
    const qfield = QFIELD[field] || field;
    const selected = fieldValues(state.q, qfield);
    const list = el("ul", {});
    for (const [value, n] of values.slice(0, 12)) {
      list.appendChild(el("li", {}, el("button", {
        type: "button", class: selected.includes(String(value)) ? "on" : "", dataset: { facet: field, value: String(value) },
        onclick: () => go({ q: toggleField(state.q, qfield, value), offset: 0 }),
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

/* ---------------------------------------------------------------- trends */
function chart(id) {
  if (!charts[id]) {
    charts[id] = echarts.init($(id));
    /* data-finished marks a chart whose render and animation are complete (clicks then hit what is drawn) */
    charts[id].on("finished", () => { $(id).dataset.finished = "1"; });
  }
  $(id).dataset.finished = "";
  charts[id].off("click");
  return charts[id];
}

function bucketRange(data, i) {
  return { since: data.starts[i], until: data.ends[i], rangeLabel: fmtBucket(data.starts[i], data.interval) + (data.interval === "day" ? " 全天" : "") };
}

async function loadTrends() {
  const interval = $("interval").value;
  const common = { q: state.q, since: state.since, until: state.until };
  const [bySent, byTopic, facets, ratings] = await Promise.all([
    api("/api/trends", { ...common, interval, group_by: "sentiment" }),
    api("/api/trends", { ...common, interval, group_by: "topics" }),
    api("/api/facets", { ...common, fields: "topics,source" }),
    api("/api/trends/ratings", common),
  ]);
  const labels = bySent.starts.map((s) => fmtBucket(s, interval));
  const counts = facetCounts(facets);
  $("trend-note").textContent = counts.note ? "热门话题与来源分布：" + counts.note : "";

  const sent = chart("chart-sentiment");
  const order = ["negative", "neutral", "positive"];
  sent.setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "category", data: labels }, yAxis: { type: "value", minInterval: 1 },
    series: order.map((key) => {
      const s = bySent.series.find((x) => x.key === key);
      return { name: SENT[key], type: "bar", stack: "all", itemStyle: { color: SENT_COLOR[key] }, data: s ? s.counts : labels.map(() => 0), sentimentKey: key };
    }),
  }, true);
  sent.on("click", (p) => drillStart(order[p.seriesIndex], bucketRange(bySent, p.dataIndex)));

  const top = byTopic.series.filter((s) => s.key).slice(0, 8);
  const tl = chart("chart-topics");
  tl.setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" }, grid: { left: 40, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "category", data: byTopic.starts.map((s) => fmtBucket(s, interval)) }, yAxis: { type: "value", minInterval: 1 },
    series: top.map((s) => ({ name: label("topics", s.key), type: "line", symbolSize: 8, data: s.counts })),
  }, true);
  tl.on("click", (p) => {
    const s = top[p.seriesIndex];
    if (s) go({ view: "search", q: setField(state.q, "topic", s.key), sort: "time", offset: 0, ...bucketRange(byTopic, p.dataIndex) });
  });

  const topics = (facets.facets.topics || []).slice(0, 10).reverse();
  const tt = chart("chart-top-topics");
  tt.setOption({
    tooltip: {}, grid: { left: 100, right: 30, top: 10, bottom: 20 },
    xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", data: topics.map(([t]) => label("topics", t)) },
    series: [{ type: "bar", data: topics.map(([, n]) => counts.scale(n)), itemStyle: { color: "#3370ff" } }],
  }, true);
  tt.on("click", (p) => go({ view: "search", q: setField(state.q, "topic", topics[p.dataIndex][0]), offset: 0 }));

  const sources = facets.facets.source || [];
  const sc = chart("chart-sources");
  sc.setOption({
    tooltip: { trigger: "item" }, legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["35%", "65%"], data: sources.map(([s, n]) => ({ name: label("source", s), value: counts.scale(n) })) }],
  }, true);
  sc.on("click", (p) => go({ view: "search", q: setField(state.q, "source", sources[p.dataIndex][0]), offset: 0 }));

  const versions = ratings.versions;
  const rc = chart("chart-ratings");
  const starColor = ["#e8554e", "#f5a05a", "#f7d154", "#9ccf6d", "#3fb27f"];
  rc.setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 40, top: 30, bottom: 30 },
    xAxis: { type: "category", data: versions.map((v) => v.app_version) },
    yAxis: [{ type: "value", name: "条数", minInterval: 1 }, { type: "value", name: "均分", min: 1, max: 5 }],
    series: [1, 2, 3, 4, 5].map((s) => ({ name: s + " 星", type: "bar", stack: "r", itemStyle: { color: starColor[s - 1] }, data: versions.map((v) => v.counts[s - 1]) }))
      .concat([{ name: "平均分", type: "line", yAxisIndex: 1, data: versions.map((v) => v.mean), itemStyle: { color: "#1f3a5f" } }]),
  }, true);
  rc.on("click", (p) => {
    const v = versions[p.dataIndex]; if (!v) return;
    let q = setField(state.q, "version", v.app_version);
    if (p.seriesIndex < 5) q = setField(q, "rating", p.seriesIndex + 1);
    go({ view: "search", q, offset: 0 });
  });
  for (const c of Object.values(charts)) c.resize();
}

/* drill-down: a sentiment bucket → topic (category) → platform → posts */
let drillPath = [];
function drillStart(sentiment, range) {
  drillPath = [{ label: label("sentiment", sentiment) + " · " + range.rangeLabel, q: setField(state.q, "sentiment", sentiment), range, next: "topics" }];
  drillRender().catch(showError);
}

async function drillRender() {
  const box = $("drill"); box.hidden = false;
  const crumbs = $("drill-crumbs"); clear(crumbs);
  drillPath.forEach((step, i) => {
    crumbs.appendChild(el("button", { type: "button", onclick: () => { drillPath = drillPath.slice(0, i + 1); drillRender().catch(showError); } }, step.label));
    crumbs.appendChild(document.createTextNode(" › "));
  });
  const step = drillPath[drillPath.length - 1];
  crumbs.appendChild(el("button", { type: "button", id: "drill-posts", onclick: () => go({ view: "search", q: step.q, sort: "time", offset: 0, ...step.range }) }, "查看帖子"));
  const list = $("drill-list"); clear(list);
  if (!step.next) return;
  const data = await api("/api/facets", { q: step.q, fields: step.next, since: step.range.since, until: step.range.until });
  const values = data.facets[step.next] || [];
  const counts = facetCounts(data);
  if (!values.length) list.appendChild(el("li", { class: "empty" }, "没有更细的分类"));
  list.appendChild(el("li", { class: "hint" }, (step.next === "topics" ? "按话题：" : "按平台：") + (counts.note ? "（" + counts.note + "）" : "")));
  for (const [value, n] of values) {
    const qfield = QFIELD[step.next];
    list.appendChild(el("li", {}, el("button", {
      type: "button", dataset: { drill: step.next, value: String(value) },
      onclick: () => {
        drillPath.push({ label: label(step.next, value), q: setField(step.q, qfield, value), range: step.range, next: step.next === "topics" ? "platform" : null });
        if (step.next === "platform") { const last = drillPath[drillPath.length - 1]; go({ view: "search", q: last.q, sort: "time", offset: 0, ...last.range }); }
        else drillRender().catch(showError);
      },
    }, label(step.next, value), el("span", { class: "n" }, counts.show(n)))));
  }
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
  try { meta = await api("/api/meta"); } catch (e) { meta = { topics: {} }; }
  $("query-form").addEventListener("submit", (ev) => { ev.preventDefault(); go({ q: $("q").value.trim(), sort: $("sort").value, offset: 0, view: state.view === "search" || state.view === "trends" ? state.view : "search" }); });
  $("sort").addEventListener("change", () => go({ sort: $("sort").value, offset: 0 }));
  $("help-btn").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
  $("prev").addEventListener("click", () => go({ offset: Math.max(0, state.offset - PAGE) }));
  $("next").addEventListener("click", () => go({ offset: state.offset + PAGE }));
  $("interval").addEventListener("change", () => loadTrends().catch(showError));
  $("alert-state").addEventListener("change", () => loadAlerts().catch(showError));
  for (const a of document.querySelectorAll("#nav a")) {
    a.addEventListener("click", (ev) => { ev.preventDefault(); go({ view: a.dataset.view, offset: 0 }); });
  }
  window.addEventListener("hashchange", () => { readHash(); render(); });
  window.addEventListener("resize", () => { for (const c of Object.values(charts)) c.resize(); });
  readHash();
  render();
}

document.addEventListener("DOMContentLoaded", () => { start().catch(showError); });
