/* The overview (landing page): per product and period, is it getting worse, and why. Every number clicks
   through to its posts: the search page with exactly the query and window the API gave for that number.
   Drill filters (sentiment → topic → source / platform / version) are breadcrumb chips in the view's own
   hash (f=…), removable one by one. Uses app.js's helpers; crawled text only through text nodes. */
"use strict";

const PERIOD_LABEL = { "24h": "近 24 小时", "7d": "近 7 天", "30d": "近 30 天" };
const FIGURE_TITLE = { volume: "反馈量", negative_share: "负面占比", mean_rating: "平均评分", open_alerts: "进行中的告警" };
const BREAKDOWN_QFIELD = { source: "source", platform: "platform", app_version: "version" };
const SVG_NS = "http://www.w3.org/2000/svg";

function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
function signed(x, digits) { const t = Math.abs(x).toFixed(digits); return (x > 0 ? "+" : x < 0 ? "−" : "±") + t; }

/* The change against the previous period: text and whether it is worse ("up" in red) or better. */
function delta(fig) {
  if (fig.key === "open_alerts") {
    if (fig.unavailable) return { text: "告警库暂时无法读取", cls: "same" };
    const d = fig.opened - fig.previous_opened;
    return { text: "本期新增 " + fig.opened + "（上期 " + fig.previous_opened + "）", cls: d > 0 ? "worse" : d < 0 ? "better" : "same" };
  }
  if (fig.value === null || fig.previous === null || fig.previous === undefined) return { text: "上期无数据", cls: "same" };
  const d = fig.value - fig.previous;
  if (fig.key === "volume") {
    const rel = fig.previous ? "（" + signed((d / fig.previous) * 100, 0) + "%）" : "";
    return { text: "较上期 " + signed(d, 0) + rel, cls: d > 0 ? "up" : d < 0 ? "down" : "same" };
  }
  if (fig.key === "negative_share") return { text: "较上期 " + signed(d * 100, 1) + " 个百分点", cls: d > 0 ? "worse" : d < 0 ? "better" : "same" };
  return { text: "较上期 " + signed(d, 2), cls: d < 0 ? "worse" : d > 0 ? "better" : "same" };
}

function figureValue(fig) {
  if (fig.key === "negative_share") return pct(fig.value);
  if (fig.key === "mean_rating") return fig.value === null ? "—" : fig.value.toFixed(2) + " 星";
  return fig.value === null ? "—" : Number(fig.value).toLocaleString("zh-CN");
}

function sparkline(counts, half) {
  const w = 120, h = 28, n = counts.length;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`); svg.setAttribute("class", "spark"); svg.setAttribute("aria-hidden", "true");
  if (!n) return svg;
  const max = Math.max(1, ...counts);
  const pt = (c, i) => `${((i / Math.max(1, n - 1)) * w).toFixed(1)},${(h - 2 - (c / max) * (h - 4)).toFixed(1)}`;
  for (const [from, to, cls] of [[0, half + 1, "prev"], [half, n, "now"]]) {
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", counts.slice(from, to).map((c, i) => pt(c, i + from)).join(" "));
    line.setAttribute("class", cls);
    svg.appendChild(line);
  }
  return svg;
}

function overviewFilters(f) {
  const out = [];
  for (const part of (f || "").split(/\s+/).filter(Boolean)) {
    const i = part.indexOf(":");
    if (i > 0) out.push({ qfield: part.slice(0, i), value: part.slice(i + 1) });
  }
  return out;
}
function addFilter(qfield, value) {
  const v = cur();
  go("overview", { ...v, f: setField(v.f || "", qfield, value) });
}

async function loadOverview() {
  const v = cur();
  const products = Object.keys(meta.products || {});
  const sel = $("ov-product"); clear(sel);
  for (const id of products) sel.appendChild(el("option", { value: id }, meta.products[id] + "（" + id + "）"));
  sel.appendChild(el("option", { value: "*" }, "全部产品"));
  const product = v.product || products[0] || "*";
  sel.value = product;
  const period = PERIOD_LABEL[v.period] ? v.period : "7d";
  $("ov-period").value = period;
  const params = { product: product === "*" ? "" : product, period, q: v.f || "" };
  const [data, watch] = await Promise.all([
    api("/api/overview", params),
    api("/api/watchlists", { period }).catch(() => ({ watchlists: [] })),
  ]);
  const range = PERIOD_LABEL[period];
  $("ov-window").textContent = fmtTime(data.since) + " – " + fmtTime(data.until) + "，对比此前同样长的一段";
  const posts = (q, since, until) => showPosts(q, since, until, range);

  /* drill chips */
  const crumbs = $("ov-crumbs"); clear(crumbs);
  for (const c of overviewFilters(v.f)) {
    const text = (CHIP_FIELDS[c.qfield] || c.qfield) + "：" + label(FIELD_OF[c.qfield] || c.qfield, c.value);
    crumbs.appendChild(el("span", { class: "chip", dataset: { field: c.qfield, value: c.value } }, text,
      el("button", { type: "button", title: "去掉这个条件", onclick: () => go("overview", { ...v, f: removeValue(v.f, c.qfield, c.value) }) }, "×")));
  }
  if (v.f) crumbs.appendChild(el("button", { type: "button", id: "ov-posts", onclick: () => posts(data.base_q, data.since, data.until) }, "查看这些帖子"));

  /* headline figures */
  const figs = $("ov-figures"); clear(figs);
  for (const fig of data.figures) {
    const d = delta(fig);
    const isAlerts = fig.key === "open_alerts";
    const card = el("div", { class: "figure", dataset: { figure: fig.key, value: String(fig.value), previous: String(fig.key === "open_alerts" ? fig.previous_opened : fig.previous) } },
      el("div", { class: "fig-title" }, FIGURE_TITLE[fig.key]),
      el("button", { type: "button", class: "fig-value", title: isAlerts ? "查看告警" : "查看这些帖子",
        onclick: () => (isAlerts ? go("alerts") : posts(fig.q, fig.since, fig.until)) }, figureValue(fig)),
      el("div", { class: "fig-delta " + d.cls }, d.text),
      fig.key === "mean_rating" ? el("div", { class: "hint" }, "共 " + fig.count + " 条评分") : null,
      fig.key === "negative_share" ? el("div", { class: "hint" }, "负面 " + fig.count + " 条 ",
        fieldValues(v.f || "", "sentiment").length ? null
          : el("button", { type: "button", class: "link drill-neg", onclick: () => addFilter("sentiment", "negative") }, "下钻")) : null);
    figs.appendChild(card);
  }

  /* top issues: alerts, then topics by growth */
  const alertsList = $("ov-alerts"); clear(alertsList);
  for (const a of data.top_issues.alerts) {
    alertsList.appendChild(el("li", { class: "sev-" + (a.severity || "info"), dataset: { id: a.id } },
      el("span", { class: "tag" }, SEVERITY[a.severity] || a.severity || ""), el("span", { class: "title" }, a.title || ""),
      a.q ? el("button", { type: "button", class: "link", onclick: () => showPosts(a.q) }, "帖子") : null));
  }
  if (!data.top_issues.alerts.length) alertsList.appendChild(el("li", { class: "hint" }, "没有进行中的告警"));
  const tbody = document.querySelector("#ov-topics tbody"); clear(tbody);
  const half = data.spark_starts.length / 2;
  for (const t of data.top_issues.topics) {
    tbody.appendChild(el("tr", { dataset: { topic: t.topic } },
      el("td", {}, t.q ? el("button", { type: "button", class: "link topic-drill", title: "下钻到这个话题", onclick: () => addFilter("topic", t.topic) }, t.name) : t.name),
      el("td", {}, t.q ? el("button", { type: "button", class: "link count", onclick: () => posts(t.q, t.since, t.until) }, String(t.count)) : String(t.count)),
      el("td", {}, String(t.previous)),
      el("td", { class: t.growth > 0 ? "worse" : t.growth < 0 ? "better" : "" }, signed(t.growth, 0)),
      el("td", {}, sparkline(t.spark, Math.floor(half)))));
  }
  if (!data.top_issues.topics.length) tbody.appendChild(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "本期没有带话题的反馈")));

  /* new terms */
  const terms = $("ov-terms"); clear(terms);
  for (const t of data.new_terms) terms.appendChild(el("li", {}, el("button", { type: "button", class: "chip-btn", onclick: () => posts(t.q, t.since, t.until) }, t.term)));
  if (!data.new_terms.length) terms.appendChild(el("li", { class: "hint" }, "本期没有新词告警"));

  /* breakdowns */
  for (const [field, rows] of Object.entries(data.breakdowns)) {
    const ul = $("ov-" + field); clear(ul);
    const max = Math.max(1, ...rows.map((r) => r.count));
    for (const r of rows) {
      const bar = el("span", { class: "bar" }); bar.style.width = ((r.count / max) * 100).toFixed(1) + "%";
      /* r.q is null for a crawled value the query language cannot express: shown, not clickable */
      ul.appendChild(el("li", { dataset: { value: r.value } },
        r.q ? el("button", { type: "button", class: "link name", title: "下钻", onclick: () => addFilter(BREAKDOWN_QFIELD[field], r.value) }, label(field, r.value))
          : el("span", { class: "name", title: "这个值无法写成查询条件" }, label(field, r.value)),
        el("span", { class: "track" }, bar),
        r.q ? el("button", { type: "button", class: "link count", title: "查看这些帖子", onclick: () => posts(r.q, r.since, r.until) }, String(r.count))
          : el("span", { class: "count" }, String(r.count)),
        el("span", { class: "prev hint" }, "上期 " + r.previous)));
    }
    if (!rows.length) ul.appendChild(el("li", { class: "hint" }, "本期没有数据"));
  }

  /* my watchlists */
  const wl = $("ov-watchlists"); clear(wl);
  for (const w of watch.watchlists) {
    wl.appendChild(el("li", { dataset: { id: w.id } },
      el("button", { type: "button", class: "link name", onclick: () => posts(w.q, w.since, w.until) }, w.name),
      w.error ? el("span", { class: "hint" }, "查询已失效：" + w.error) : el("span", { class: "n" }, String(w.count) + "（上期 " + w.previous + "）"),
      el("button", { type: "button", class: "link del", title: "删除", onclick: () => api("/api/watchlists/" + encodeURIComponent(w.id), {}, "DELETE").then(loadOverview).catch(showError) }, "×")));
  }
  if (!watch.watchlists.length) wl.appendChild(el("li", { class: "hint" }, "在搜索页点「保存为关注」，常看的搜索会出现在这里"));
}

document.addEventListener("DOMContentLoaded", () => {
  $("ov-product").addEventListener("change", () => go("overview", { ...cur(), product: $("ov-product").value, f: "" }));
  $("ov-period").addEventListener("change", () => go("overview", { ...cur(), period: $("ov-period").value }));
});
