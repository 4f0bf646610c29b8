/* VOC web page: the alerts view (incidents). Loaded before app.js and called by it (loadAlerts); uses
   app.js's helpers (el, clear, api, showPosts, fmtTime, label, showError, session, SEVERITY, STATE_LABEL) at
   call time. Crawled text only ever goes in through textContent (el's text children); links to original
   posts are http(s) only. Every "查看" link opens exactly the posts of what it describes: its own query. */
"use strict";



/* The figures of an alert stored without words (before incidents): current vs baseline, in its unit. */
function figureText(f) {
  if (!f) return "";
  const share = String(f.unit || "").startsWith("share");
  if (String(f.unit || "").startsWith("post")) return "单条高风险帖子";
  const v = (x) => share ? (x * 100).toFixed(0) + "%" : num(x, 1);
  const parts = [];
  if (f.current !== undefined) parts.push("当前 " + v(f.current));
  if (f.expected !== undefined) parts.push("基线 " + v(f.expected));
  if (f.low !== undefined && f.high !== undefined) parts.push("正常范围 " + v(f.low) + "–" + v(f.high));
  if (f.ratio !== undefined && f.ratio !== null) parts.push("倍数 " + Number(f.ratio).toFixed(1) + "×");
  if (f.window_start && f.window_end) parts.push("窗口 " + fmtTime(f.window_start) + " – " + fmtTime(f.window_end));
  return parts.join(" · ");
}

function openPosts(query) { showPosts(query); }

/* A trend sparkline (hourly counts) as inline SVG, drawn through the DOM. */
function incidentSparkline(trend) {
  const NS = "http://www.w3.org/2000/svg";
  const values = (trend || []).map((p) => Number(p[1]) || 0);
  if (values.length < 2) return null;
  const w = 240, h = 36, max = Math.max(...values, 1);
  const pts = values.map((v, i) => (i * w / (values.length - 1)).toFixed(1) + "," + (h - 2 - v * (h - 4) / max).toFixed(1));
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("role", "img");
  const first = trend[0][0], last = trend[trend.length - 1][0];
  svg.setAttribute("aria-label", "走势 " + fmtTime(first) + " – " + fmtTime(last) + "，每小时最多 " + max + " 条");
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", pts.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#e8554e");
  line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  return svg;
}

const FIX_LABEL = { fixed: "已修复·观察中", fix_verified: "修复已验证", fix_ineffective: "修复未见效" };

/* The fix (version, date, verdict and the rates before and after, in words) and the tickets of an incident. */
function fixBlock(a) {
  const f = a.fix;
  const tickets = (a.tickets || []).filter((t) => safeHref(t.url));
  if (!f && !tickets.length) return null;
  const parts = [];
  if (f) {
    parts.push(el("span", { class: "fix-version" }, "修复版本 " + (f.version || "—") + "（" + fmtTime(f.date) + " 起）"));
    if (f.text) parts.push(el("span", { class: "fix-text" }, "　" + f.text));
    else if (f.verdict === "pending") parts.push(el("span", { class: "fix-text" }, "　观察至 " + fmtTime(f.due_at) + (f.waiting ? "；" + f.waiting : "")));
  }
  for (const t of tickets) parts.push(el("a", { class: "ticket", href: safeHref(t.url), target: "_blank", rel: "noopener noreferrer" },
    "　工单 " + (t.key || t.tracker || "")));
  return el("div", { class: "fix", dataset: { verdict: f ? f.verdict || "" : "" } }, parts);
}

/* "标记已修复": the version (app stores) and/or date typed beside the button. */
async function markFixed(id, card) {
  const version = card.querySelector("input.fix-in-version").value.trim();
  const date = card.querySelector("input.fix-in-date").value.trim();
  try {
    await api("/api/alerts/" + encodeURIComponent(id) + "/fix", {}, "POST", { version, date: date || null });
    await loadAlerts();
  } catch (e) { showError(e); }
}

/* Reply drafts for the App Store reviewers of a fix-verified incident: the review, the reply, its status;
   an admin approves them all (only approved replies are ever sent: `voc replies send`). */
async function showReplies(id, card, admin) {
  try {
    const data = await api("/api/replies", { incident: id });
    const box = card.querySelector(".replies") || card.appendChild(el("div", { class: "replies" }));
    clear(box);
    const drafts = data.replies.filter((r) => r.status === "draft").length;
    box.appendChild(el("div", { class: "replies-head" }, "回复草稿 " + data.replies.length + " 条（待批准 " + drafts + " 条）",
      admin && drafts ? el("button", { type: "button", class: "approve-all", onclick: async () => {
        try { await api("/api/replies/approve", {}, "POST", { incident: id }); await showReplies(id, card, admin); } catch (e) { showError(e); }
      } }, "全部批准") : null));
    box.appendChild(el("ol", {}, data.replies.slice(0, 50).map((r) => el("li", { dataset: { status: r.status } },
      el("span", { class: "review" }, r.review_text), el("span", { class: "reply" }, " → " + r.body),
      el("span", { class: "tag reply-status" }, REPLY_STATUS[r.status] || r.status)))));
  } catch (e) { showError(e); }
}

const REPLY_STATUS = { draft: "草稿", approved: "已批准", sending: "发送中", sent: "已发送", failed: "失败" };

function safeHref(url) { return /^https?:\/\//i.test(url || "") ? url : null; }

function incidentCard(a, admin) {
  const id = a.id || a.fingerprint;
  const acked = Boolean(a.acked_at) || a.state === "acknowledged";
  const stateText = FIX_LABEL[a.state] || (a.state === "resolved" ? STATE_LABEL.resolved : acked ? STATE_LABEL.acknowledged : STATE_LABEL[a.state] || a.state);
  const evidence = a.evidence || [];
  const meta = [];
  if ((a.topic_names || []).length) meta.push("话题：" + a.topic_names.join("、"));
  if ((a.terms || []).length) meta.push("说法：" + a.terms.slice(0, 5).join("、"));
  if ((a.versions || []).length) meta.push("版本：" + a.versions.join("、"));
  if ((a.sources || []).length) meta.push("来源：" + a.sources.map(([s, n]) => label("source", s) + " " + n).join("、"));
  if ((a.platforms || []).length) meta.push("平台：" + a.platforms.map(([s, n]) => s + " " + n).join("、"));
  const samples = (a.samples || []).slice(0, 3);
  return el("li", { class: "alert sev-" + (a.severity || "info"), dataset: { id } },
    el("div", { class: "head" },
      el("span", { class: "tag" }, SEVERITY[a.severity] || a.severity || ""),
      el("span", { class: "title" }, a.title || a.rule || id),
      el("span", { class: "tag state", dataset: { state: acked && a.state !== "resolved" ? "acknowledged" : a.state } }, stateText),
      a.product ? el("span", { class: "tag" }, label("product", a.product)) : null),
    evidence.length
      ? el("ul", { class: "evidence" }, evidence.map((e) => el("li", { dataset: { kind: e.kind } },
          el("span", { class: "words" }, e.text),
          e.query ? el("button", { type: "button", class: "link posts", dataset: { query: e.query }, onclick: () => openPosts(e.query) }, "查看这些帖子") : null)))
      : el("div", { class: "figs" }, figureText(a.figures)),
    el("div", { class: "when" }, "首次 ", fmtTime(a.opened_at), "　更新 ", fmtTime(a.updated_at)),
    fixBlock(a),
    incidentSparkline(a.trend),
    meta.length ? el("div", { class: "meta" }, meta.join("　")) : null,
    samples.length ? el("ol", { class: "samples" }, samples.map((s) => el("li", {},
      el("span", { class: "text" }, s.text || ""),
      (s.similar || 1) > 1 ? el("span", { class: "similar" }, "（另有 " + (s.similar - 1) + " 条相似）") : null,
      safeHref(s.url) ? el("a", { href: safeHref(s.url), target: "_blank", rel: "noopener noreferrer" }, "原文") : null))) : null,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "ack", disabled: !admin || acked || a.state === "resolved", title: admin ? "" : "需要管理员角色",
        onclick: () => alertAction(id, "ack") }, "确认"),
      el("button", { type: "button", class: "resolve", disabled: !admin || a.state === "resolved", title: admin ? "" : "需要管理员角色",
        onclick: () => alertAction(id, "resolve") }, "解决"),
      admin && a.state !== "fix_verified" ? el("span", { class: "fix-form" },
        el("input", { class: "fix-in-version", placeholder: "修复版本，如 3.2.1", maxlength: "64", "aria-label": "修复版本" }),
        el("input", { class: "fix-in-date", type: "date", "aria-label": "修复发布日期" }),
        el("button", { type: "button", class: "fix", onclick: (ev) => markFixed(id, ev.target.closest("li.alert")) }, "标记已修复")) : null,
      a.state === "fix_verified" ? el("button", { type: "button", class: "replies-open",
        onclick: (ev) => showReplies(id, ev.target.closest("li.alert"), admin) }, "回复用户") : null,
      a.query ? el("button", { type: "button", class: "link all", dataset: { query: a.query }, onclick: () => openPosts(a.query) }, "查看相关帖子") : null));
}

async function loadAlerts() {
  const data = await api("/api/alerts", { state: $("alert-state").value });
  const list = $("alerts"); clear(list);
  if (!data.alerts.length) list.appendChild(el("li", { class: "empty" }, "暂无告警"));
  const admin = session.role === "admin";
  for (const a of data.alerts) list.appendChild(incidentCard(a, admin));
}

async function alertAction(id, action) {
  try {
    await api("/api/alerts/" + encodeURIComponent(id) + "/" + action, {}, "POST");
    await loadAlerts();
  } catch (e) { showError(e); }
}
