/* The trends page: volume by sentiment and topic over time, top topics, sources, ratings per version, and
   the drill-down from a sentiment bucket → topic → source / platform / version → posts, each step a
   removable chip. Uses app.js's helpers; crawled text only through text nodes. */
"use strict";

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
  return { since: data.starts[i], until: data.ends[i], range: fmtBucket(data.starts[i], data.interval) + (data.interval === "day" ? " 全天" : "") };
}
/* Charts stay readable on a phone: fewer pixels for margins, labels that would overlap are dropped. */
const narrow = () => window.innerWidth < 600;
function axisLabel() { return { hideOverlap: true, fontSize: narrow() ? 10 : 12 }; }

async function loadTrends() {
  const v = cur();
  const interval = v.interval === "hour" ? "hour" : "day";
  $("interval").value = interval;
  const common = { q: v.q };
  $("drill").hidden = true;  // a new question: the old drill-down no longer applies
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
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 36, right: 12, top: 30, bottom: 30 },
    xAxis: { type: "category", data: labels, axisLabel: axisLabel() }, yAxis: { type: "value", minInterval: 1 },
    series: order.map((key) => {
      const s = bySent.series.find((x) => x.key === key);
      return { name: SENT[key], type: "bar", stack: "all", itemStyle: { color: SENT_COLOR[key] }, data: s ? s.counts : labels.map(() => 0), sentimentKey: key };
    }),
  }, true);
  sent.on("click", (p) => drillStart(order[p.seriesIndex], bucketRange(bySent, p.dataIndex)));

  const top = byTopic.series.filter((s) => s.key).slice(0, 8);
  const tl = chart("chart-topics");
  tl.setOption({
    tooltip: { trigger: "axis", confine: true }, legend: { top: 0, type: "scroll" }, grid: { left: 36, right: 12, top: 30, bottom: 30 },
    xAxis: { type: "category", data: byTopic.starts.map((s) => fmtBucket(s, interval)), axisLabel: axisLabel() }, yAxis: { type: "value", minInterval: 1 },
    series: top.map((s) => ({ name: label("topics", s.key), type: "line", symbolSize: 8, data: s.counts })),
  }, true);
  tl.on("click", (p) => {
    const s = top[p.seriesIndex];
    if (s) { const r = bucketRange(byTopic, p.dataIndex); showPosts(setField(v.q || "", "topic", s.key), r.since, r.until, r.range); }
  });

  const topics = (facets.facets.topics || []).slice(0, 10).reverse();
  const tt = chart("chart-top-topics");
  tt.setOption({
    tooltip: { confine: true }, grid: { left: 8, right: 24, top: 10, bottom: 20, containLabel: true },
    xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", data: topics.map(([t]) => label("topics", t)), axisLabel: { width: narrow() ? 70 : 110, overflow: "truncate" } },
    series: [{ type: "bar", data: topics.map(([, n]) => counts.scale(n)), itemStyle: { color: "#3370ff" } }],
  }, true);
  tt.on("click", (p) => showPosts(setField(v.q || "", "topic", topics[p.dataIndex][0])));

  const sources = facets.facets.source || [];
  const sc = chart("chart-sources");
  sc.setOption({
    tooltip: { trigger: "item", confine: true }, legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["35%", "65%"], data: sources.map(([s, n]) => ({ name: label("source", s), value: counts.scale(n) })) }],
  }, true);
  sc.on("click", (p) => showPosts(setField(v.q || "", "source", sources[p.dataIndex][0])));

  const versions = ratings.versions;
  const rc = chart("chart-ratings");
  const starColor = ["#e8554e", "#f5a05a", "#f7d154", "#9ccf6d", "#3fb27f"];
  rc.setOption({
    tooltip: { trigger: "axis", confine: true }, legend: { top: 0, type: "scroll" }, grid: { left: 36, right: 36, top: 56, bottom: 30 },
    xAxis: { type: "category", data: versions.map((x) => x.app_version), axisLabel: axisLabel() },
    yAxis: [{ type: "value", name: "条数", minInterval: 1 }, { type: "value", name: "均分", min: 1, max: 5 }],
    series: [1, 2, 3, 4, 5].map((s) => ({ name: s + " 星", type: "bar", stack: "r", itemStyle: { color: starColor[s - 1] }, data: versions.map((x) => x.counts[s - 1]) }))
      .concat([{ name: "平均分", type: "line", yAxisIndex: 1, data: versions.map((x) => x.mean), itemStyle: { color: "#1f3a5f" } }]),
  }, true);
  rc.on("click", (p) => {
    const ver = versions[p.dataIndex]; if (!ver) return;
    let q = setField(v.q || "", "version", ver.app_version);
    if (p.seriesIndex < 5) q = setField(q, "rating", p.seriesIndex + 1);
    showPosts(q);
  });
  for (const c of Object.values(charts)) c.resize();
}

/* drill-down: a sentiment bucket → topic → source / platform / version → posts. Each step is a breadcrumb
   chip; × on a chip drops that condition (the steps after it stay when they still make sense). */
const DRILL_NEXT = ["source", "platform", "app_version"];
const DRILL_TITLE = { topics: "按话题", source: "按来源", platform: "按平台", app_version: "按版本" };
let drill = null;
function drillStart(sentiment, range) {
  drill = { base: cur().q || "", range, steps: [{ field: "sentiment", value: sentiment }] };
  drillRender().catch(showError);
}

function drillQuery() {
  let q = drill.base;
  for (const st of drill.steps) q = setField(q, QFIELD[st.field] || st.field, st.value);
  return q;
}

async function drillRender() {
  const box = $("drill"); box.hidden = false;
  const crumbs = $("drill-crumbs"); clear(crumbs);
  crumbs.appendChild(el("span", { class: "chip fixed" }, drill.range.range));
  drill.steps.forEach((st, i) => {
    crumbs.appendChild(el("span", { class: "chip", dataset: { field: st.field, value: st.value } }, label(st.field, st.value),
      el("button", { type: "button", title: "去掉这一步", onclick: () => {
        drill.steps.splice(i, 1);
        if (!drill.steps.length) { drill = null; box.hidden = true; return; }
        drillRender().catch(showError);
      } }, "×")));
  });
  const q = drillQuery();
  crumbs.appendChild(el("button", { type: "button", id: "drill-posts", onclick: () => showPosts(q, drill.range.since, drill.range.until, drill.range.range) }, "查看帖子"));
  const list = $("drill-list"); clear(list);
  const chosen = new Set(drill.steps.map((x) => x.field));
  const fields = chosen.has("topics") ? DRILL_NEXT.filter((f) => !chosen.has(f)) : ["topics"];
  if (!fields.length) return;
  const data = await api("/api/facets", { q, fields: fields.join(","), since: drill.range.since, until: drill.range.until });
  const counts = facetCounts(data);
  for (const field of fields) {
    const values = data.facets[field] || [];
    const group = el("div", { class: "drill-group", dataset: { field } }, el("h3", {}, DRILL_TITLE[field] + (counts.note ? "（" + counts.note + "）" : "")));
    const ul = el("ul", {});
    if (!values.length) ul.appendChild(el("li", { class: "empty" }, "没有更细的分类"));
    for (const [value, n] of values.slice(0, 12)) {
      ul.appendChild(el("li", {}, el("button", {
        type: "button", dataset: { drill: field, value: String(value) },
        onclick: () => {
          drill.steps.push({ field, value: String(value) });
          if (field === "topics") drillRender().catch(showError);
          else showPosts(drillQuery(), drill.range.since, drill.range.until, drill.range.range);  // the last step: its posts
        },
      }, label(field, value), el("span", { class: "n" }, counts.show(n)))));
    }
    group.appendChild(ul);
    list.appendChild(group);
  }
}
