// DOM helpers: every text goes in through textContent, never as HTML, so nothing a customer or an
// agent writes can run in the page.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Page settings from data attributes filled in by the site (left as @@NAME@@ when not).
export function settings(el, defaults) {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(el.dataset)) {
    if (v && !v.startsWith("@@")) out[k] = v;
  }
  const params = new URLSearchParams(location.search);
  for (const k of Object.keys(out)) if (params.get(k)) out[k] = params.get(k);
  return out;
}

export function defaultWebsocket() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/xmpp-websocket`;
}

export function isZh(lang) {
  return String(lang || "").toLowerCase().startsWith("zh");
}

export function translator(texts, lang) {
  const zh = isZh(lang);
  return (key, params = {}) => {
    const pair = texts[key] || [key, key];
    return (zh ? pair[1] : pair[0]).replace(/\{(\w+)\}/g, (_, p) => (p in params ? String(params[p]) : ""));
  };
}

export function duration(seconds, zh) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return zh ? `${s}秒` : `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return zh ? `${m}分${s % 60}秒` : `${m} min ${s % 60} s`;
  return zh ? `${Math.floor(m / 60)}小时${m % 60}分` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// The login form shared by both pages: calls `attempt(jid, password)` on submit, shows its error and
// lets the user try again; resolves with what `attempt` returned.
export function loginForm(root, t, initialJid, attempt) {
  return new Promise((resolve) => {
    const jid = h("input", { name: "jid", type: "text", value: initialJid || "", placeholder: "agent@example.com",
      autocomplete: "username", required: true });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password",
      required: true });
    const error = h("p", { class: "error", role: "alert" });
    const button = h("button", { type: "submit" }, t("login"));
    const form = h("form", { class: "login", onsubmit: async (e) => {
      e.preventDefault();
      button.disabled = true;
      error.textContent = "";
      try {
        resolve(await attempt(jid.value.trim(), password.value));
      } catch (err) {
        error.textContent = `${t("login_failed")}: ${(err && (err.condition || err.message)) || err}`;
        button.disabled = false;
      }
    } },
    h("h1", {}, t("title")),
    h("label", {}, t("jid"), jid), h("label", {}, t("password"), password), button, error);
    root.replaceChildren(form);
    (initialJid ? password : jid).focus();
  });
}
