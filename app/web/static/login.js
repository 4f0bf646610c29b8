"use strict";
/* The login form posts with fetch, so a refusal can be told in words: a wrong token (the server redirects
   to /login?error=1), too many failed tries from this address (429 with Retry-After), or a refused origin
   (403). Without JavaScript the form still posts normally. */
const form = document.querySelector("form.login-box");
const box = document.getElementById("login-error");
const button = form.querySelector("button[type=submit]");

function show(message) {
  box.textContent = message;
  box.hidden = false;
}

if (new URLSearchParams(location.search).has("error")) show("令牌无效，请重试。");

let lockedUntil = 0;
function countdown() {
  const left = Math.ceil((lockedUntil - Date.now()) / 1000);
  if (left > 0) {
    show(`失败次数过多，请 ${left} 秒后再试。`);
    button.disabled = true;
    setTimeout(countdown, 1000);
  } else {
    button.disabled = false;
    box.hidden = true;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;
  let res;
  try {
    res = await fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
    });
  } catch (err) {
    button.disabled = false;
    show("无法连接服务器，请稍后重试。");
    return;
  }
  if (res.status === 429) {
    lockedUntil = Date.now() + 1000 * (parseInt(res.headers.get("Retry-After") || "60", 10) || 60);
    countdown();
    return;
  }
  button.disabled = false;
  const landed = new URL(res.url);
  if (res.ok && landed.pathname === "/" ) {
    location.assign("/");
  } else if (res.ok && landed.searchParams.has("error")) {
    form.reset();
    show("令牌无效，请重试。");
  } else {
    let message = "";
    try { message = (await res.json()).message || ""; } catch (err) { /* not JSON */ }
    show(`登录被拒绝（${res.status}）${message ? "：" + message : ""}`);
  }
});
