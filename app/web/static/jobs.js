/* Background jobs panel (数据源 view): start a retag, crawl or training run, follow its progress (count,
   percent, rate, time left — the same figures `voc` prints), cancel it (admin). Separate from app.js but
   for el(), which app.js (loaded first) defines; text is only ever set with textContent. */
"use strict";

(function () {
  const KIND = { retag: "重新打标", crawl: "抓取", train: "训练模型" };
  const STATE = { running: "运行中", cancelling: "取消中", done: "完成", failed: "失败", cancelled: "已取消" };
  let csrf = null;
  let role = null;
  let timer = null;

  async function call(path, method, payload) {
    const opts = { method: method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (opts.method !== "GET" && csrf) opts.headers["X-CSRF-Token"] = csrf;
    if (payload !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(payload); }
    const res = await fetch(path, opts);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) throw new Error((body && body.message) || ("HTTP " + res.status));
    return body;
  }

  function seconds(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return s + " 秒";
    if (s < 3600) return Math.floor(s / 60) + " 分 " + (s % 60) + " 秒";
    return Math.floor(s / 3600) + " 小时 " + Math.floor((s % 3600) / 60) + " 分";
  }

  function progressText(p) {
    const count = p.total !== null && p.total !== undefined ? p.done + " / " + p.total : String(p.done);
    const bits = [p.label + "：" + count + " " + p.unit];
    if (p.percent !== null && p.percent !== undefined) bits.push(p.percent + "%");
    if (p.rate !== null && p.rate !== undefined) bits.push((p.rate >= 10 ? Math.round(p.rate) : p.rate) + " " + p.unit + "/秒");
    if (p.eta_seconds !== null && p.eta_seconds !== undefined && !p.closed) bits.push("剩余 " + seconds(p.eta_seconds));
    for (const [k, v] of Object.entries(p.notes || {})) bits.push(k + " " + v);
    return bits.join("，");
  }

  function render(data) {
    const body = document.querySelector("#jobs-table tbody");
    while (body.firstChild) body.removeChild(body.firstChild);
    const admin = role === "admin";
    for (const j of data.jobs) {
      const live = j.state === "running";
      const cells = (j.progress || []).map((p) => el("div", { class: "job-progress" },
        p.percent !== null && p.percent !== undefined ? el("progress", { max: 100, value: p.percent }) : null,
        el("span", {}, progressText(p))));
      body.appendChild(el("tr", { dataset: { job: j.id, kind: j.kind, state: j.state } },
        el("td", {}, KIND[j.kind] || j.kind),
        el("td", { class: "job-state st-" + j.state }, STATE[j.state] || j.state),
        el("td", {}, cells.length ? cells : "—"),
        el("td", { class: "job-message" }, j.message || (j.log && j.log.length ? j.log[j.log.length - 1] : "")),
        el("td", {}, el("button", { type: "button", class: "job-cancel", disabled: !admin || !live,
                                    title: admin ? "" : "需要管理员角色", dataset: { job: j.id } }, "取消"))));
    }
    if (!data.jobs.length) body.appendChild(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "暂无任务")));
    for (const b of document.querySelectorAll("#jobs-panel button.job-start")) b.disabled = !admin;
    const running = data.jobs.some((j) => j.state === "running" || j.state === "cancelling");
    document.getElementById("jobs-panel").dataset.running = running ? "1" : "";
  }

  function showError(err) {
    const box = document.getElementById("jobs-error");
    box.textContent = err ? "出错了：" + (err.message || String(err)) : "";
    box.hidden = !err;
  }

  async function refresh() {
    try { render(await call("/api/jobs")); showError(null); } catch (e) { showError(e); }
  }

  function schedule() {
    clearTimeout(timer);
    const visible = !document.getElementById("view-sources").hidden;
    timer = setTimeout(async () => { if (!document.getElementById("view-sources").hidden) await refresh(); schedule(); },
                       visible ? 1000 : 3000);
  }

  async function start() {
    const panel = document.getElementById("jobs-panel");
    if (!panel) return;
    try { const s = await call("/api/session"); csrf = s.csrf_token; role = s.role; } catch (e) { showError(e); return; }
    panel.addEventListener("click", async (ev) => {
      const button = ev.target.closest("button");
      if (!button) return;
      try {
        if (button.classList.contains("job-start")) await call("/api/jobs", "POST", { kind: button.dataset.kind });
        else if (button.classList.contains("job-cancel")) await call("/api/jobs/" + encodeURIComponent(button.dataset.job) + "/cancel", "POST");
        else return;
        showError(null);
      } catch (e) { showError(e); }
      await refresh();
    });
    await refresh();
    schedule();
  }

  document.addEventListener("DOMContentLoaded", () => { start(); });
})();
