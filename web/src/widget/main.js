// Switchboard chat widget: one script tag on any site.
//   <script src="switchboard-widget.js" data-queue="help@support.example.com"
//           data-websocket="wss://example.com/xmpp-websocket" async></script>
// Optional: data-guest-domain (default guest.<parent of the support domain>), data-lang (zh | en),
// data-title, data-resend-seconds (default 10), and the site's signed identity: data-name,
// data-email, data-order, data-ts, data-signature (HMAC-SHA256, see the protocol document, section 11).
//
// It is an ordinary XMPP client: anonymous login on the guest host over WebSocket (RFC 7395),
// plain chat and XEP-0142 queue status with the queue JID, XEP-0085 typing, XEP-0184 receipts,
// XEP-0333 read markers, XEP-0004 forms, XEP-0313 history; urn:switchboard:web:0 for the
// conversation token (so a reload continues the same conversation) and the page context.
import { client, xml } from "@xmpp/client";
import { pickLang, t } from "./i18n.js";
import { View } from "./view.js";
import { readForm, renderForm, submission } from "./forms.js";

const NS = {
  web: "urn:switchboard:web:0",
  support: "urn:switchboard:support:0",
  wg: "http://jabber.org/protocol/workgroup",
  states: "http://jabber.org/protocol/chatstates",
  receipts: "urn:xmpp:receipts",
  markers: "urn:xmpp:chat-markers:0",
  mam: "urn:xmpp:mam:2",
  rsm: "http://jabber.org/protocol/rsm",
  forward: "urn:xmpp:forward:0",
  delay: "urn:xmpp:delay",
  data: "jabber:x:data",
  disco: "http://jabber.org/protocol/disco#info",
  sid: "urn:xmpp:sid:0",
};
const OPEN_STATES = ["new", "bot", "prechat", "queued", "offered", "active", "offline", "pending"];
const HISTORY_MAX = 100;
// A message with no receipt is sent again (same id and origin-id: the desk keeps it once) after a
// reconnect, or resendSeconds after its first copy and twice as long after each next one (a desk slow
// under load is not flooded with copies), at most this many times in all; then it is marked not delivered.
const MAX_SENDS = 4;

function randomId(bytes = 9) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

function bare(jid) { return String(jid || "").split("/")[0].toLowerCase(); }

class Widget {
  constructor(cfg) {
    this.cfg = cfg;
    this.lang = pickLang(cfg.lang);
    this.tr = (key, params) => t(this.lang, key, params);
    this.queue = cfg.queue.toLowerCase();
    this.storeKey = `switchboard-widget:${this.queue}`;
    this.saved = this._load();
    this.ticket = null;       // { id, state }
    this.xmpp = null;
    this.online = false;
    this.unacked = new Map(); // id -> { text, sends, timer }: written, no receipt yet (in writing order)
    this.resendMs = Math.max(0.2, Number(cfg.resendSeconds) || 10) * 1000;
    this.receipts = false;    // the queue announces XEP-0184 (disco#info): its receipts can be waited for
    this.typingTimer = null;
    this.composing = false;
    this.view = new View(this.tr, {
      open: () => this.open(),
      send: (text) => this.send(text),
      typing: () => this.typing(),
    });
    this.watchOtherTabs();
    if (this.saved.token) this.open(); // a conversation is going on: show it again at once
  }

  _load() {
    try { return JSON.parse(localStorage.getItem(this.storeKey) || "{}"); } catch { return {}; }
  }

  _save() {
    try { localStorage.setItem(this.storeKey, JSON.stringify(this.saved)); } catch { /* private mode: no resume */ }
  }

  open() {
    this.view.show();
    if (!this.xmpp) this.connect();
  }

  // For the site (e.g. on logout, or a shared computer): end this browser's claim to the
  // conversation. The token is revoked at the desk and forgotten here.
  async forget() {
    const token = this.saved.token;
    this.saved = {};
    this._save();
    if (token && this.online) {
      await this.iq("set", xml("revoke", { xmlns: NS.web, token })).catch(() => {});
    }
  }

  // -- connection ---------------------------------------------------------------------------
  connect() {
    this.view.setBanner(this.tr("connecting"));
    const xmpp = client({
      service: this.cfg.websocket,
      domain: this.cfg.guestDomain,
      lang: this.lang,
      userAgent: xml("user-agent", { id: randomId(16) }),
    });
    this.xmpp = xmpp;
    this.everOnline = false;
    xmpp.on("error", () => {
      this.view.setBanner(this.tr(this.everOnline ? "reconnecting" : "unreachable"));
    });
    xmpp.on("offline", () => { this.online = false; });
    xmpp.on("disconnect", () => {
      this.online = false;
      this.view.setBanner(this.tr(this.everOnline ? "reconnecting" : "unreachable"));
    });
    xmpp.on("stanza", (st) => this.onStanza(st));
    xmpp.on("online", () => this.onOnline().catch((e) => console.warn("switchboard widget:", e)));
    // xmpp.js retries the WebSocket after a drop; the first attempt is retried here too.
    xmpp.start().catch(() => {
      this.view.setBanner(this.tr("unreachable"));
      xmpp.reconnect.scheduleReconnect();
    });
  }

  async onOnline() {
    this.everOnline = true;
    this.view.setBanner("");
    await this.xmpp.send(xml("presence", { to: this.queue }));
    if (this.saved.token) await this.resume();
    await this.checkOpen();
    this.online = true;
    // Written while offline, or sent before the connection dropped and never acknowledged (it may
    // have been lost on the way): sent now, in the order written.
    for (const [id, u] of [...this.unacked]) if (this.unacked.has(id)) await this.transmit(u.text, id);
  }

  iq(type, payload, to = this.queue) {
    return this.xmpp.iqCaller.request(xml("iq", { type, to }, payload), 10000);
  }

  async resume() {
    try {
      const res = await this.iq("set", xml("resume", { xmlns: NS.web, token: this.saved.token }));
      const r = res.getChild("resume", NS.web);
      this.ticket = { id: r ? r.attrs.ticket : this.saved.ticket, state: r ? r.attrs.state : "" };
      this.markOwner();
      await this.history();
      this.sendContext();
    } catch (e) {
      // Unknown, revoked or over: start afresh (the text stays on the page, the token goes).
      // A timeout or a lost connection keeps the token for the next attempt.
      if (!e || !["not-authorized", "item-not-found", "conflict", "bad-request"].includes(e.condition)) return;
      this.saved = {};
      this._save();
      this.ticket = null;
    }
  }

  // Tabs of one site share the token; the desk answers the tab that resumed last, and the
  // conversation follows the tab the customer looks at or writes in.
  markOwner() {
    this.elsewhere = false;
    if (!this.saved.token) return;
    this.saved.owner = String(this.xmpp.jid);
    this._save();
  }

  watchOtherTabs() {
    window.addEventListener("storage", (e) => {
      if (e.key !== this.storeKey) return;
      const now = this._load();
      if (!now.token) { this.saved = {}; return; } // ended or forgotten in another tab
      this.saved = now;
      if (this.xmpp && this.xmpp.jid && now.owner && now.owner !== String(this.xmpp.jid)) this.elsewhere = true;
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.takeBack().catch(() => {});
    });
  }

  async takeBack() {
    if (this.online && this.elsewhere && this.saved.token) await this.resume();
  }

  async history() {
    const queryid = randomId();
    const items = [];
    const collect = (st) => {
      const result = st.getChild("result", NS.mam);
      if (!result || result.attrs.queryid !== queryid) return;
      const fwd = result.getChild("forwarded", NS.forward);
      const msg = fwd && fwd.getChild("message");
      if (msg) items.push({ msg, delay: fwd.getChild("delay", NS.delay) });
    };
    this.xmpp.on("stanza", collect);
    try {
      await this.iq("set", xml("query", { xmlns: NS.mam, queryid },
        xml("set", { xmlns: NS.rsm }, xml("max", {}, String(HISTORY_MAX)), xml("before"))));
    } finally {
      this.xmpp.removeListener("stanza", collect);
    }
    this.view.clear();
    this.agentName = "";
    if (items.length) this.view.separator(this.tr("history"));
    for (const { msg, delay } of items) {
      const body = msg.getChildText("body");
      if (!body) continue;
      const speaker = msg.getChild("speaker", NS.support);
      const role = speaker ? speaker.attrs.role : (bare(msg.attrs.from) === this.queue ? "agent" : "customer");
      const from = role === "customer" ? "me" : role === "bot" ? "bot" : role === "system" ? "system" : "agent";
      if (role === "agent" && speaker && speaker.attrs.name) this.agentName = speaker.attrs.name.slice(0, 60);
      this.view.message(from, body, {
        id: msg.attrs.id || "",
        who: this.who(from, speaker && speaker.attrs.name),
        stamp: delay ? new Date(delay.attrs.stamp) : null,
      });
    }
    // Back in a conversation with an agent: their name in the header again.
    this.view.setAgent(this.ticket && this.ticket.state === "active" ? this.agentName : "");
  }

  async checkOpen() {
    // XEP-0128 queue information: tell the customer before they write when the desk is closed.
    try {
      const res = await this.iq("get", xml("query", { xmlns: NS.disco }));
      const query = res.getChild("query", NS.disco);
      this.receipts = query.getChildren("feature").some((f) => f.attrs.var === NS.receipts);
      for (const x of query.getChildren("x", NS.data)) {
        const form = readForm(x);
        if (!form.formType.endsWith("#queueinfo")) continue;
        const status = (form.fields.find((f) => f.var === "status") || {}).value;
        if (status === "closed" && !this.ticket) this.view.setStatus(this.tr("closedHours"));
      }
    } catch { /* an older desk without queue information */ }
  }

  // -- sending -------------------------------------------------------------------------------
  async send(text) {
    text = text.slice(0, 2000);
    await this.takeBack();
    const id = randomId();
    this.view.message("me", text, { id, who: this.tr("you") });
    this.unacked.set(id, { text, sends: 0, timer: null });
    if (this.online) await this.transmit(text, id); // else sent once the connection is up
  }

  async transmit(text, id) {
    clearTimeout(this.typingTimer);
    this.composing = false;
    const u = this.unacked.get(id);
    if (u) {
      u.sends += 1;
      clearTimeout(u.timer);
      u.timer = setTimeout(() => this.noReceipt(id), this.resendMs * 2 ** (u.sends - 1));
    }
    await this.xmpp.send(xml("message", { type: "chat", to: this.queue, id, "xml:lang": this.lang },
      xml("body", {}, text), xml("active", { xmlns: NS.states }), xml("request", { xmlns: NS.receipts }),
      xml("markable", { xmlns: NS.markers }), xml("origin-id", { xmlns: NS.sid, id })));
  }

  noReceipt(id) {
    const u = this.unacked.get(id);
    if (!u) return;
    if (!this.receipts) { this.unacked.delete(id); return; } // a desk that gives none: nothing to wait for
    if (u.sends >= MAX_SENDS) { this.settle(id, "failed"); return; }
    if (this.online) this.transmit(u.text, id).catch(() => {}); // offline: onOnline sends it
  }

  settle(id, mark) {
    const u = this.unacked.get(id);
    if (u) clearTimeout(u.timer);
    this.unacked.delete(id);
    this.view.mark(id, mark);
  }

  typing() {
    if (!this.online || !this.ticket) return;
    if (!this.composing) {
      this.composing = true;
      this.chatState("composing");
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => { this.composing = false; this.chatState("paused"); }, 3000);
  }

  chatState(state) {
    this.xmpp.send(xml("message", { type: "chat", to: this.queue }, xml(state, { xmlns: NS.states }))).catch(() => {});
  }

  async requestToken() {
    if (this.saved.token || this.askingToken) return;
    this.askingToken = true;
    try {
      const res = await this.iq("set", xml("token", { xmlns: NS.web }));
      const el = res.getChild("token", NS.web);
      this.saved = { token: el.text(), ticket: el.attrs.ticket };
      this.markOwner();
      this.sendContext();
    } catch { /* the desk has no web channel: the conversation lasts as long as the page */ }
    this.askingToken = false;
  }

  sendContext() {
    const c = this.cfg;
    const children = [
      xml("page", { url: location.href.slice(0, 2000), title: document.title.slice(0, 300) }),
      xml("lang", {}, (navigator.language || "en").slice(0, 35)),
    ];
    const ident = {};
    for (const k of ["name", "email", "order", "ts", "signature"]) if (c[k]) ident[k] = c[k].slice(0, 200);
    if (ident.name || ident.email || ident.order) children.push(xml("identity", ident));
    this.iq("set", xml("context", { xmlns: NS.web }, ...children)).catch(() => {});
  }

  // -- receiving -----------------------------------------------------------------------------
  who(from, name) {
    if (from === "me") return this.tr("you");
    if (from === "bot") return name || this.tr("bot");
    if (from === "agent") return name || this.agentName || this.tr("agent");
    return "";
  }

  onStanza(st) {
    if (!st.is("message") || bare(st.attrs.from) !== this.queue || st.getChild("result", NS.mam)) return;
    if (st.attrs.type === "error") {
      const err = st.getChild("error");
      const cond = err && err.children.find((c) => c.attrs && c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas");
      const text = (err && err.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas")) || (cond ? cond.name : "");
      this.view.message("system", cond && cond.name === "policy-violation" ? this.tr("tooFast") : this.tr("error", { t: text }));
      if (st.attrs.id && this.unacked.has(st.attrs.id)) this.settle(st.attrs.id, "failed"); // refused: not again
      return;
    }
    const received = st.getChild("received", NS.receipts);
    if (received) this.settle(received.attrs.id, "delivered");
    const displayed = st.getChild("displayed", NS.markers);
    if (displayed) this.settle(displayed.attrs.id, "read");
    if (st.getChild("request", NS.receipts) && st.attrs.id) {
      this.xmpp.send(xml("message", { to: st.attrs.from, id: randomId() }, xml("received", { xmlns: NS.receipts, id: st.attrs.id }))).catch(() => {});
    }
    const state = st.children.find((c) => c.attrs && c.attrs.xmlns === NS.states);
    if (state) this.view.setTyping(state.name === "composing");

    const ticket = st.getChild("ticket", NS.support);
    const status = st.getChild("queue-status", NS.wg);
    const body = st.getChildText("body");
    const joined = ticket ? this.onTicket(ticket) : false;
    if (joined && body) {
      // "{agent} is now with you." / "客服 {agent} 已为您服务。": the agent's name for the header.
      const m = /^(.+?) is now with you/.exec(body) || /客服\s*(.+?)\s*已为您服务/.exec(body);
      this.agentName = m ? m[1].slice(0, 60) : "";
      this.view.setAgent(this.agentName);
    }
    if (status) {
      const n = Number(status.getChildText("position") || 0) + 1;
      const secs = Number(status.getChildText("time") || 0);
      this.view.setStatus(secs ? this.tr("positionWait", { n, m: Math.max(1, Math.round(secs / 60)) }) : this.tr("position", { n }));
    }
    if (body) {
      this.view.setTyping(false);
      const from = ticket || status || st.getChild("closed", NS.support) || st.getChild("depart-queue", NS.wg)
        ? "system" : (this.ticket && this.ticket.state === "active" ? "agent" : "bot");
      this.view.message(from, body, { id: st.attrs.id || "", who: this.who(from) });
      if (from === "bot") this.offerSuggestions(body);
      if (from === "agent" && st.getChild("markable", NS.markers) && st.attrs.id && document.visibilityState === "visible") {
        this.xmpp.send(xml("message", { type: "chat", to: this.queue }, xml("displayed", { xmlns: NS.markers, id: st.attrs.id }))).catch(() => {});
      }
    }
    for (const x of st.getChildren("x", NS.data)) {
      if (x.attrs.type !== "form") continue;
      const form = readForm(x);
      const kind = form.formType.endsWith("#rating") ? "rating" : "prechat";
      const thread = st.getChildText("thread");
      this.view.form(renderForm(form, kind, this.tr, (values) => {
        const children = [submission(form.formType, values)];
        if (thread) children.push(xml("thread", {}, thread));
        this.xmpp.send(xml("message", { type: "chat", to: this.queue, id: randomId(), "xml:lang": this.lang }, ...children));
        if (kind === "rating") this.view.message("system", this.tr("thanks"));
      }));
    }
  }

  onTicket(el) {
    const state = el.attrs.state || "";
    const was = this.ticket ? this.ticket.state : "";
    this.ticket = { id: el.attrs.id, state };
    if (state !== "queued" && state !== "offered") this.view.setStatus("");
    if (OPEN_STATES.includes(state)) {
      if (!this.saved.token) this.requestToken();
    } else {
      // Over (resolved, closed, abandoned): nothing left to resume.
      this.saved = {};
      this._save();
      this.view.setAgent("");
    }
    return state === "active" && was !== "active";
  }

  offerSuggestions(body) {
    // The bot numbers the closest questions and takes a reply with the number.
    const items = [];
    for (const line of body.split("\n")) {
      const m = /^\s*(\d{1,2})\s*[.、)．]\s*(.+)$/.exec(line);
      if (m) items.push([m[1], m[2].trim()]);
    }
    if (items.length >= 2) this.view.suggestions(items, (num) => this.send(num));
  }
}

function start() {
  const script = document.currentScript || document.querySelector("script[data-queue][data-websocket]");
  if (!script) return;
  const d = script.dataset;
  if (!d.queue || !d.websocket) {
    console.warn("switchboard widget: data-queue and data-websocket are required");
    return;
  }
  const domain = d.queue.split("@")[1] || "";
  const cfg = {
    queue: d.queue,
    websocket: d.websocket,
    guestDomain: d.guestDomain || "guest." + domain.split(".").slice(1).join("."),
    lang: d.lang,
    name: d.name, email: d.email, order: d.order, ts: d.ts, signature: d.signature,
    resendSeconds: d.resendSeconds,
  };
  const boot = () => { window.SwitchboardWidget = new Widget(cfg); };
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
}

start();
