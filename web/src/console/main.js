// The agent console: an XMPP client for support agents. It uses what the support domain offers any
// client (schemas/support-protocol.md): directed presence with XEP-0142 <agent-status/> to the queue,
// XEP-0142 offer IQs answered with offer-accept/offer-reject, one conversation JID per customer
// (t-<ticket>@support...), our <close/>, <transfer/> and <note/> IQs, and the canned-reply command.
import { connect, xml, NS, bare, localpart, command, tableRows, errorText, archive } from "../common/xmpp.js";
import { h, settings, defaultWebsocket, translator, loginForm, isZh, clock, duration } from "../common/ui.js";
import { TEXTS } from "./texts.js";

const root = document.getElementById("app");
const cfg = settings(root, { websocket: defaultWebsocket(), support: "", queue: "", jid: "", lang: "" });
const lang = cfg.lang || navigator.language || "en";
const zh = isZh(lang);
const t = translator(TEXTS, lang);
document.documentElement.lang = zh ? "zh" : "en";
document.title = t("title");

const MAX_BODY = 4000;
const state = {
  xmpp: null, me: "", support: "", queues: [], status: "chat", capacity: 3,
  offers: new Map(), // ticket -> {queue, customer, ticket, expires, jid}
  convs: new Map(), // conversation JID -> conversation
  current: null, canned: [], notice: "",
  waiting: [], // tickets the agent may take: {queue, ticket, label, sessionid}
};

function conv(jid) {
  let c = state.convs.get(jid);
  if (!c) {
    c = { jid, ticket: localpart(jid).replace(/^t-/, ""), customer: "", queue: "", state: "active", messages: [],
      unread: 0, typing: false, details: [] };
    state.convs.set(jid, c);
  }
  return c;
}

// -- presence and offers --------------------------------------------------------------------------------
function sendStatus() {
  const { xmpp } = state;
  for (const queue of state.queues) {
    const children = [xml("agent-status", { xmlns: NS.WG }, xml("max-chats", {}, String(state.capacity)))];
    if (state.status !== "chat") children.unshift(xml("show", {}, state.status));
    xmpp.send(xml("presence", { to: queue }, ...children));
  }
}

function onOffer(ctx) {
  const offer = ctx.element;
  const ticketEl = offer.getChild("ticket", NS.SUPPORT);
  const timeout = parseFloat(offer.getChildText("timeout") || "30");
  const ticket = ticketEl ? ticketEl.attrs.id : offer.attrs.jid;
  state.offers.set(ticket, { ticket, queue: bare(ctx.stanza.attrs.from), customer: offer.attrs.jid,
    jid: ticketEl && ticketEl.attrs.jid, expires: Date.now() + timeout * 1000 });
  render();
  return true; // an empty result: the offer reached us
}

function onRevoke(ctx) {
  const ticketEl = ctx.element.getChild("ticket", NS.SUPPORT);
  for (const [key, o] of state.offers) {
    if ((ticketEl && key === ticketEl.attrs.id) || o.customer === ctx.element.attrs.jid) state.offers.delete(key);
  }
  render();
  return true;
}

async function answerOffer(offer, accept) {
  state.offers.delete(offer.ticket);
  try {
    await state.xmpp.iqCaller.request(xml("iq", { type: "set", to: offer.queue },
      xml(accept ? "offer-accept" : "offer-reject", { xmlns: NS.WG, jid: offer.customer })));
    if (accept && offer.jid) {
      const c = conv(offer.jid);
      c.customer = offer.customer;
      c.queue = offer.queue;
      state.current = offer.jid;
    }
  } catch (err) {
    notice(errorText(err));
  }
  render();
  loadWaiting();
}

// -- messages -------------------------------------------------------------------------------------------
function onMessage(stanza) {
  if (stanza.getChild("result", NS.MAM)) return; // archive pages are read by restore()
  const from = bare(stanza.attrs.from);
  if (!from.startsWith("t-") || !from.endsWith(`@${state.support}`)) {
    const body = stanza.getChildText("body");
    if (body && stanza.attrs.type !== "error" && state.queues.includes(from)) notice(body);
    return;
  }
  const c = conv(from);
  const ticketEl = stanza.getChild("ticket", NS.SUPPORT);
  if (ticketEl) {
    c.state = ticketEl.attrs.state || c.state;
    c.queue = ticketEl.attrs.queue || c.queue;
  }
  const offer = stanza.getChild("offer", NS.WG);
  if (offer) c.customer = offer.attrs.jid;
  const form = stanza.getChild("x", NS.XDATA);
  if (form && form.attrs.type === "result") {
    c.details = form.getChildren("field").filter((f) => f.attrs.type !== "hidden")
      .map((f) => [f.attrs.label || f.attrs.var, f.getChildren("value").map((v) => v.text()).join(", ")]);
  }
  if (stanza.getChild("closed", NS.SUPPORT)) c.state = "resolved";
  const states = stanza.children.filter((el) => el.attrs && el.attrs.xmlns === NS.CHATSTATES).map((el) => el.name);
  if (states.length) c.typing = states.includes("composing");
  const body = stanza.getChildText("body");
  if (stanza.attrs.type === "error") {
    c.messages.push({ role: "error", text: t("not_delivered"), at: new Date() });
  } else if (body !== null && body !== undefined && body !== "") {
    const speaker = stanza.getChild("speaker", NS.SUPPORT);
    const delay = stanza.getChild("delay", NS.DELAY);
    // The web channel tells where the customer is (urn:switchboard:web:0 <context/>): shown apart.
    const context = stanza.getChild("context", "urn:switchboard:web:0");
    let role = speaker ? speaker.attrs.role : (context ? "context" : (ticketEl || offer ? "system" : "customer"));
    if (role === "customer") c.typing = false;
    const name = speaker && speaker.attrs.name;
    // Transcripts prefix "[name] " for plain clients; the console shows the name apart.
    const text = name && body.startsWith(`[${name}] `) ? body.slice(name.length + 3) : body;
    c.messages.push({ role, name, text: text.slice(0, MAX_BODY),
      at: delay ? new Date(delay.attrs.stamp) : new Date(), history: Boolean(delay) });
    if (!state.current) state.current = from;
    if (state.current !== from) c.unread += 1;
  }
  if (!state.current) state.current = from;
  render();
}

function send(c, body) {
  const text = body.trim().slice(0, MAX_BODY);
  if (!text) return;
  state.xmpp.send(xml("message", { to: c.jid, type: "chat", id: `c${Date.now().toString(36)}` },
    xml("body", {}, text), xml("active", { xmlns: NS.CHATSTATES })));
  if (!text.startsWith("/")) c.messages.push({ role: "me", text, at: new Date() });
  c.composing = false;
  clearTimeout(pauseTimer);
  const box = document.querySelector("textarea[name=reply]");
  if (box) box.value = ""; // before the redraw, which keeps what the focused field holds
  render();
}

let pauseTimer = null;
function typing(c) {
  if (!c.composing) {
    c.composing = true;
    state.xmpp.send(xml("message", { to: c.jid, type: "chat" }, xml("composing", { xmlns: NS.CHATSTATES })));
  }
  clearTimeout(pauseTimer);
  pauseTimer = setTimeout(() => {
    c.composing = false;
    state.xmpp.send(xml("message", { to: c.jid, type: "chat" }, xml("paused", { xmlns: NS.CHATSTATES })));
  }, 3000);
}

async function conversationIq(c, payload, done) {
  try {
    await state.xmpp.iqCaller.request(xml("iq", { type: "set", to: c.jid }, payload));
    done();
  } catch (err) {
    notice(errorText(err));
  }
  render();
}

function closeConv(c) {
  conversationIq(c, xml("close", { xmlns: NS.SUPPORT }), () => {
    loadWaiting();
    c.state = "resolved";
    c.messages.push({ role: "system", text: t("closed_by_you"), at: new Date() });
  });
}

function transfer(c, target) {
  let to = target.trim();
  if (!to) return;
  if (!to.includes("@")) to = `${to}@${state.support}`; // a queue's name
  conversationIq(c, xml("transfer", { xmlns: NS.SUPPORT, to }), () => {
    c.state = "transferred";
    c.messages.push({ role: "system", text: t("transferred_to", { to }), at: new Date() });
  });
}

function note(c, text) {
  const value = text.trim().slice(0, MAX_BODY);
  if (!value) return;
  conversationIq(c, xml("note", { xmlns: NS.SUPPORT }, value), () => {
    c.messages.push({ role: "note", text: value, at: new Date() });
  });
}

// After a login (a reload, another browser): the agent's open conversations with what was said,
// from the queue's ticket list and each conversation's archive.
async function restore() {
  for (const queue of state.queues) {
    let rows = [];
    try {
      rows = tableRows(await command(state.xmpp, queue, "support-tickets"));
    } catch (err) {
      continue; // not an agent of this queue
    }
    for (const row of rows.filter((r) => r.agent === state.me && r.jid)) {
      const c = conv(row.jid);
      c.customer = c.customer || row.customer;
      c.state = row.state || c.state;
      c.queue = queue;
      try {
        const history = (await archive(state.xmpp, row.jid)).map(({ message, delay }) => {
          const speaker = message.getChild("speaker", NS.SUPPORT);
          const role = speaker ? speaker.attrs.role : (bare(message.attrs.from) === bare(c.customer) ? "customer" :
            "system");
          const name = speaker && speaker.attrs.name;
          return { role: role === "agent" && name === localpart(state.me) ? "me" : role, name,
            text: (message.getChildText("body") || "").slice(0, MAX_BODY),
            at: delay ? new Date(delay.attrs.stamp) : new Date(), history: true };
        }).filter((m) => m.text);
        c.messages = [...history, ...c.messages.filter((m) => !m.history)];
      } catch (err) {
        c.messages.push({ role: "error", text: t("history_failed"), at: new Date() });
      }
      if (!state.current) state.current = row.jid;
    }
  }
  render();
}

// Customers waiting, messages left out of hours and conversations waiting for the customer: the
// first stage of the queue's take command lists them (and opens the session a take completes).
async function loadWaiting() {
  const rows = [];
  const stale = [...new Set(state.waiting.map((w) => `${w.queue} ${w.sessionid}`))];
  for (const key of stale) {
    const [queue, sessionid] = key.split(" ");
    command(state.xmpp, queue, "support-take", "cancel", sessionid).catch(() => {}); // spent or expired: fine
  }
  for (const queue of state.queues) {
    try {
      const cmd = await command(state.xmpp, queue, "support-take");
      const form = cmd.getChild("x", NS.XDATA);
      const field = form && form.getChildren("field").find((f) => f.attrs.var === "ticket");
      for (const option of field ? field.getChildren("option") : []) {
        const ticket = option.getChildText("value");
        rows.push({ queue, ticket, label: option.attrs.label || ticket, sessionid: cmd.attrs.sessionid });
      }
    } catch (err) {
      // Not an agent of this queue.
    }
  }
  state.waiting = rows;
  render();
}

async function take(row) {
  state.waiting = state.waiting.filter((w) => w.sessionid !== row.sessionid);
  try {
    const done = await command(state.xmpp, row.queue, "support-take", "complete", row.sessionid,
      { ticket: row.ticket });
    const note = done && done.getChildText("note");
    if (done && done.attrs.status !== "completed" && note) notice(note);
  } catch (err) {
    notice(errorText(err));
  }
  state.current = `t-${row.ticket}@${state.support}`;
  loadWaiting();
}

async function takeNext() {
  for (const queue of state.queues) {
    try {
      const done = await command(state.xmpp, queue, "support-next");
      const note = done && done.getChildText("note");
      if (note) notice(note);
      break;
    } catch (err) {
      notice(errorText(err));
    }
  }
  loadWaiting();
}

async function loadCanned() {
  const rows = [];
  for (const queue of state.queues) {
    try {
      const cmd = await command(state.xmpp, queue, "support-canned-list");
      for (const row of tableRows(cmd)) rows.push({ ...row, queue });
    } catch (err) {
      // Not every queue lets every agent list them; the others still count.
    }
  }
  state.canned = rows;
  render();
}

function notice(text) {
  state.notice = text;
  render();
}

// -- rendering ------------------------------------------------------------------------------------------
function renderOffers() {
  return [...state.offers.values()].map((o) => h("div", { class: "offer", dataset: { ticket: o.ticket } },
    h("strong", {}, t("offer_from", { customer: bare(o.customer) })),
    h("span", { class: "countdown" }, duration(Math.max(0, (o.expires - Date.now()) / 1000), zh)),
    h("button", { class: "accept", onclick: () => answerOffer(o, true) }, t("accept")),
    h("button", { class: "reject", onclick: () => answerOffer(o, false) }, t("reject"))));
}

function renderWaiting() {
  return h("section", { class: "waiting" },
    h("div", { class: "waiting-head" }, h("strong", {}, t("waiting", { count: state.waiting.length })),
      h("button", { class: "refresh", title: t("refresh"), onclick: () => loadWaiting() }, "↻"),
      h("button", { class: "next", onclick: () => takeNext() }, t("next"))),
    h("ul", {}, state.waiting.map((w) => h("li", { dataset: { ticket: w.ticket } },
      h("span", { class: "label" }, w.label),
      h("button", { class: "take", onclick: () => take(w) }, t("take"))))));
}

function renderList() {
  const items = [...state.convs.values()].reverse();
  return h("ul", { class: "convs" }, items.length ? items.map((c) =>
    h("li", { class: c.jid === state.current ? "current" : "", dataset: { jid: c.jid, state: c.state },
      onclick: () => { state.current = c.jid; c.unread = 0; render(); } },
    h("div", { class: "who" }, bare(c.customer) || c.jid),
    h("div", { class: "meta" }, `#${c.ticket.slice(-6)} · ${t(`state_${c.state}`)}`,
      c.typing ? h("span", { class: "typing" }, ` · ${t("typing")}`) : "",
      c.unread ? h("span", { class: "unread" }, String(c.unread)) : ""))) :
    h("li", { class: "empty" }, t("no_conversations")));
}

function renderConversation(c) {
  if (!c) return h("div", { class: "conversation empty" }, t("pick_conversation"));
  const open = c.state === "active" || c.state === "pending";
  const input = h("textarea", { name: "reply", rows: 2, maxlength: MAX_BODY, placeholder: t("reply_placeholder"),
    disabled: !open, oninput: () => typing(c),
    onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(c, input.value); } } });
  const cannedSelect = h("select", { name: "canned", disabled: !open || !state.canned.length,
    onchange: () => { if (cannedSelect.value) send(c, `/c ${cannedSelect.value}`); } },
  h("option", { value: "" }, state.canned.length ? t("canned") : t("no_canned")),
  state.canned.map((r) => h("option", { value: r.shortcut }, `${r.shortcut} — ${(zh && r.text_zh) || r.text}`)));
  const noteInput = h("input", { name: "note", type: "text", maxlength: MAX_BODY, placeholder: t("note_placeholder") });
  const transferInput = h("input", { name: "transfer", type: "text", placeholder: t("transfer_placeholder") });
  return h("div", { class: "conversation", dataset: { jid: c.jid } },
    h("div", { class: "conv-head" },
      h("div", {}, h("strong", {}, bare(c.customer) || c.jid), ` · ${t("ticket")} ${c.ticket} · `,
        h("span", { class: "state" }, t(`state_${c.state}`))),
      h("button", { class: "close", disabled: !open, onclick: () => closeConv(c) }, t("close"))),
    c.details.length ? h("dl", { class: "details" }, c.details.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : "",
    h("ol", { class: "messages" }, c.messages.map((m) => h("li", { class: `msg ${m.role}${m.history ? " history" : ""}` },
      h("span", { class: "when" }, clock(m.at)),
      ["customer", "me", "system", "context"].includes(m.role) ? "" : h("span", { class: "role" },
        m.role === "note" ? t("note") : (m.name || t(`role_${m.role}`))),
      h("span", { class: "text" }, m.text)))),
    c.typing ? h("div", { class: "typing" }, t("customer_typing")) : "",
    h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); send(c, input.value); } },
      input, h("button", { type: "submit", disabled: !open }, t("send"))),
    h("div", { class: "tools" }, cannedSelect,
      h("form", { class: "note", onsubmit: (e) => { e.preventDefault(); note(c, noteInput.value); } },
        noteInput, h("button", { type: "submit" }, t("add_note"))),
      h("form", { class: "transfer", onsubmit: (e) => { e.preventDefault(); transfer(c, transferInput.value); } },
        transferInput, h("button", { type: "submit", disabled: !open }, t("transfer")))));
}

function render() {
  const app = document.getElementById("console");
  if (!app) return;
  const active = document.activeElement;
  const keep = active && active.name && active.value !== undefined ? [active.name, active.value] : null;
  const statusSelect = h("select", { name: "status", onchange: () => { state.status = statusSelect.value; sendStatus(); } },
    ["chat", "away", "dnd", "xa"].map((s) => h("option", { value: s, selected: s === state.status }, t(`status_${s}`))));
  app.replaceChildren(
    h("header", {}, h("h1", {}, t("title")), h("span", { class: "me" }, state.me), statusSelect,
      h("button", { onclick: () => state.xmpp.stop().then(() => location.reload()) }, t("logout"))),
    state.notice ? h("p", { class: "notice", role: "status" }, state.notice,
      h("button", { class: "dismiss", onclick: () => notice("") }, "×")) : "",
    h("div", { class: "offers" }, renderOffers()),
    h("div", { class: "layout" }, h("nav", {}, renderWaiting(), renderList()),
      renderConversation(state.convs.get(state.current))));
  if (keep) { // redraws must not eat what the agent is typing
    const again = app.querySelector(`[name="${keep[0]}"]`);
    if (again) { again.value = keep[1]; again.focus(); }
  }
  const list = app.querySelector(".messages");
  if (list) list.scrollTop = list.scrollHeight;
}

// -- start ----------------------------------------------------------------------------------------------
async function run(xmpp, jid) {
  state.xmpp = xmpp;
  state.me = bare(jid);
  state.support = cfg.support || `support.${state.me.split("@")[1]}`;
  root.replaceChildren(h("div", { id: "console" }));
  xmpp.iqCallee.set(NS.WG, "offer", onOffer);
  xmpp.iqCallee.set(NS.WG, "offer-revoke", onRevoke);
  xmpp.on("stanza", (stanza) => { if (stanza.is("message")) onMessage(stanza); });
  xmpp.on("offline", () => notice(t("disconnected")));
  if (cfg.queue) {
    state.queues = cfg.queue.split(",").map((q) => q.trim()).filter(Boolean);
  } else {
    const found = await xmpp.iqCaller.request(xml("iq", { type: "get", to: state.support },
      xml("query", { xmlns: NS.DISCO_ITEMS })));
    state.queues = found.getChild("query", NS.DISCO_ITEMS).getChildren("item").map((i) => i.attrs.jid);
  }
  await xmpp.send(xml("presence"));
  sendStatus();
  render();
  loadCanned();
  restore();
  loadWaiting();
  setInterval(() => { if (state.offers.size) render(); }, 1000); // offer countdowns
}

loginForm(root, t, cfg.jid, async (jid, password) => {
  const xmpp = await connect({ service: cfg.websocket, jid, password, features: [NS.WG],
    resource: `console-${Math.random().toString(36).slice(2, 8)}` });
  return { xmpp, jid };
}).then(({ xmpp, jid }) => run(xmpp, jid)).catch((err) => root.append(h("p", { class: "error" }, errorText(err))));
