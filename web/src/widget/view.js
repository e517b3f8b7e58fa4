// The widget's window: a bubble that opens a chat panel, inside a shadow root so the site's styles
// and ours do not mix. Every text from the network goes in with textContent: nothing is HTML.
const CSS = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; }
.sb-bubble { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 28px;
  padding: 14px 20px; background: #1f6feb; color: #fff; font-size: 15px; cursor: pointer; box-shadow: 0 4px 16px #0004; }
.sb-panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483001; width: 360px; max-width: calc(100vw - 24px);
  height: 540px; max-height: calc(100vh - 40px); display: none; flex-direction: column; background: #fff; color: #1b1f24;
  border-radius: 12px; box-shadow: 0 8px 32px #0005; overflow: hidden; font-size: 14px; }
.sb-open .sb-panel { display: flex; }
.sb-open .sb-bubble { display: none; }
.sb-head { background: #1f6feb; color: #fff; padding: 10px 14px; display: flex; align-items: center; gap: 8px; }
.sb-head .sb-title { font-weight: 600; flex: 1; }
.sb-head .sb-agent { font-size: 12px; opacity: .9; }
.sb-head button { background: transparent; color: #fff; border: 0; font-size: 18px; cursor: pointer; }
.sb-banner { padding: 6px 12px; font-size: 12px; background: #fff4ce; color: #5c4400; display: none; }
.sb-banner.sb-show { display: block; }
.sb-status { padding: 4px 12px; font-size: 12px; color: #555; background: #f1f3f5; display: none; }
.sb-status.sb-show { display: block; }
.sb-log { flex: 1; overflow-y: auto; padding: 10px; display: flex; flex-direction: column; gap: 6px; background: #fafbfc; }
.sb-msg { max-width: 85%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; overflow-wrap: anywhere; }
.sb-msg[data-from=me] { align-self: flex-end; background: #1f6feb; color: #fff; }
.sb-msg[data-from=agent], .sb-msg[data-from=bot] { align-self: flex-start; background: #e9ecef; }
.sb-msg[data-from=system] { align-self: center; background: transparent; color: #555; font-size: 12px; text-align: center; }
.sb-msg .sb-who { display: block; font-size: 11px; opacity: .7; margin-bottom: 2px; }
.sb-msg .sb-mark { display: block; font-size: 10px; opacity: .7; text-align: right; }
.sb-msg .sb-mark[data-state=failed] { color: #b00020; opacity: 1; }
.sb-sep { align-self: center; font-size: 11px; color: #888; }
.sb-suggest { display: flex; flex-direction: column; gap: 4px; align-self: flex-start; max-width: 85%; }
.sb-suggest button { text-align: left; border: 1px solid #1f6feb; color: #1f6feb; background: #fff; border-radius: 8px;
  padding: 5px 8px; cursor: pointer; font-size: 13px; }
.sb-typing { font-size: 12px; color: #666; padding: 0 12px 4px; min-height: 16px; }
.sb-form { align-self: stretch; background: #fff; border: 1px solid #d0d7de; border-radius: 10px; padding: 8px 10px;
  display: flex; flex-direction: column; gap: 6px; }
.sb-form-title { font-weight: 600; }
.sb-form-help { font-size: 12px; color: #555; }
.sb-field { display: flex; flex-direction: column; gap: 2px; font-size: 12px; }
.sb-field input, .sb-field select, .sb-field textarea { font-size: 14px; padding: 5px; border: 1px solid #c6ccd2; border-radius: 6px; }
.sb-stars { display: flex; gap: 4px; }
.sb-star { width: 34px; height: 30px; border: 1px solid #c6ccd2; background: #fff; border-radius: 6px; cursor: pointer; }
.sb-star.sb-on { background: #f2b600; border-color: #f2b600; color: #fff; }
.sb-form-error { color: #b42318; font-size: 12px; min-height: 0; }
.sb-submit, .sb-send { background: #1f6feb; color: #fff; border: 0; border-radius: 6px; padding: 7px 12px; cursor: pointer; }
.sb-input { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e1e4e8; }
.sb-input textarea { flex: 1; resize: none; font-size: 14px; padding: 6px; border: 1px solid #c6ccd2; border-radius: 6px; height: 40px; }
`;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const RANK = { failed: 1, delivered: 2, read: 3 };
const MAX_SHOWN = 4000; // characters of one message shown; the rest is cut

export class View {
  constructor(tr, handlers) {
    this.tr = tr;
    this.host = el("div");
    this.host.id = "switchboard-widget";
    const root = this.host.attachShadow({ mode: "open" });
    const style = el("style");
    style.textContent = CSS;
    this.wrap = el("div", "sb-wrap");
    this.bubble = el("button", "sb-bubble", tr("open"));
    this.panel = el("div", "sb-panel");
    const head = el("div", "sb-head");
    this.titleEl = el("span", "sb-title", tr("title"));
    this.agentEl = el("span", "sb-agent");
    const close = el("button", "sb-close", "×");
    close.title = tr("close");
    head.append(this.titleEl, this.agentEl, close);
    this.banner = el("div", "sb-banner");
    this.status = el("div", "sb-status");
    this.log = el("div", "sb-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.typingEl = el("div", "sb-typing");
    const bar = el("form", "sb-input");
    this.input = el("textarea");
    this.input.maxLength = 2000;
    this.input.placeholder = tr("placeholder");
    this.sendBtn = el("button", "sb-send", tr("send"));
    this.sendBtn.type = "submit";
    bar.append(this.input, this.sendBtn);
    this.panel.append(head, this.banner, this.status, this.log, this.typingEl, bar);
    this.wrap.append(this.bubble, this.panel);
    root.append(style, this.wrap);

    this.bubble.addEventListener("click", () => handlers.open());
    close.addEventListener("click", () => this.wrap.classList.remove("sb-open"));
    const submit = () => {
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      handlers.send(text);
    };
    bar.addEventListener("submit", (ev) => { ev.preventDefault(); submit(); });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
    });
    this.input.addEventListener("input", () => handlers.typing());
    document.body.append(this.host);
  }

  show() { this.wrap.classList.add("sb-open"); this.input.focus(); }

  setBanner(text) {
    this.banner.textContent = text || "";
    this.banner.classList.toggle("sb-show", !!text);
  }

  setStatus(text) {
    this.status.textContent = text || "";
    this.status.classList.toggle("sb-show", !!text);
  }

  setAgent(text) { this.agentEl.textContent = text || ""; }

  setTyping(on) { this.typingEl.textContent = on ? this.tr("typing") : ""; }

  clear() { this.log.replaceChildren(); }

  separator(text) { this._add(el("div", "sb-sep", text)); }

  // from: me | agent | bot | system. Returns the element (receipts mark it later).
  message(from, body, { id = "", who = "", stamp = null } = {}) {
    const m = el("div", "sb-msg");
    m.dataset.from = from;
    if (id) m.dataset.id = id;
    if (who) m.append(el("span", "sb-who", who));
    const text = body.length > MAX_SHOWN ? body.slice(0, MAX_SHOWN) + "…" : body;
    m.append(el("span", "sb-body", text));
    if (stamp) m.title = stamp.toLocaleString();
    this._add(m);
    return m;
  }

  mark(id, what) {
    for (const m of this.log.querySelectorAll(".sb-msg[data-from=me]")) {
      if (m.dataset.id !== id) continue;
      let mark = m.querySelector(".sb-mark");
      if (!mark) { mark = el("span", "sb-mark"); m.append(mark); }
      // A later, stronger mark wins: not delivered < delivered < read (a late receipt clears "failed").
      if ((RANK[what] || 0) > (RANK[mark.dataset.state] || 0)) {
        mark.dataset.state = what;
        mark.textContent = this.tr(what);
      }
    }
  }

  suggestions(items, pick) {
    const box = el("div", "sb-suggest");
    for (const [num, label] of items) {
      const b = el("button", "", label);
      b.type = "button";
      b.dataset.pick = num;
      b.addEventListener("click", () => { box.remove(); pick(num, label); });
      box.append(b);
    }
    this._add(box);
  }

  form(node) { this._add(node); }

  _add(node) {
    const atEnd = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.append(node);
    while (this.log.childElementCount > 300) this.log.firstElementChild.remove();
    if (atEnd) this.log.scrollTop = this.log.scrollHeight;
  }
}
