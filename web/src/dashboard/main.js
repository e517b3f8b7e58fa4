// The supervisor dashboard: an XMPP client that subscribes to the support domain's live monitor feed
// (XEP-0060 nodes monitor/<queue>, schemas/support-monitor.xsd) and redraws on every notification.
// It never polls; only the waits tick on the page's own clock.
import { connect, xml, NS, bare, errorText } from "../common/xmpp.js";
import { h, svg, settings, defaultWebsocket, translator, duration, loginForm, isZh } from "../common/ui.js";
import { parseMonitor } from "./feed.js";
import { FeedKeeper } from "./keeper.js";

const TEXTS = {
  title: ["Support dashboard", "客服监控台"],
  jid: ["Supervisor account (JID)", "主管账号（JID）"],
  password: ["Password", "密码"],
  login: ["Log in", "登录"],
  login_failed: ["Login failed", "登录失败"],
  logout: ["Log out", "退出"],
  no_queues: ["You supervise no queue on {domain}.", "您在 {domain} 上没有可监控的队列。"],
  open: ["open", "服务中"],
  closed: ["closed", "已关闭"],
  updated: ["updated {time}", "更新于 {time}"],
  waiting: ["Waiting", "排队中"],
  waiting_detail: ["{bot} with the bot · {messages} messages left · {pending} pending",
    "机器人接待 {bot} · 留言 {messages} · 待客户回复 {pending}"],
  longest: ["Longest wait", "最长等待"],
  agents: ["Agents online", "在线客服"],
  agents_detail: ["{available} available · {busy} busy · {away} away", "空闲 {available} · 忙碌 {busy} · 离开 {away}"],
  active: ["In conversation", "接待中"],
  service_level: ["Service level today", "今日服务水平"],
  service_detail: ["{within}/{settled} answered within {target}", "{settled} 位中 {within} 位在 {target} 内接入"],
  csat: ["CSAT today", "今日满意度"],
  csat_detail: ["{count} ratings", "{count} 条评价"],
  today: ["Today: {conversations} conversations · {answered} answered · {abandoned} abandoned · bot resolved {bot}",
    "今日：会话 {conversations} · 人工接待 {answered} · 放弃 {abandoned} · 机器人解决 {bot}"],
  chart_waiting: ["Waiting, last 10 minutes", "排队人数（近10分钟）"],
  chart_agents: ["Conversations per agent", "各客服接待量"],
  chart_csat: ["Ratings today", "今日评价分布"],
  waiting_list: ["Waiting customers", "排队客户"],
  agent_list: ["Agents", "客服"],
  none: ["none", "无"],
  offered: ["offered to {agents}", "已分配给 {agents}"],
  st_available: ["available", "空闲"], st_away: ["away", "离开"], st_dnd: ["do not disturb", "勿扰"],
  st_xa: ["not routed", "暂停接待"], st_offline: ["offline", "离线"], st_busy: ["busy", "忙碌"],
  disconnected: ["Disconnected from the server.", "与服务器的连接已断开。"],
  feed_reconnecting: ["The live feed was interrupted; reconnecting…", "实时数据中断，正在重新连接…"],
  feed_failed: ["The live feed is not reconnected yet; it will be tried again shortly.",
    "实时数据尚未恢复，稍后将再次尝试。"],
  feed_refused: ["The service refused the live feed of {queue}: {reason}", "服务拒绝了 {queue} 的实时数据：{reason}"],
};

const root = document.getElementById("app");
const cfg = settings(root, { websocket: defaultWebsocket(), support: "", jid: "", lang: "", check: "30" });
const lang = cfg.lang || navigator.language || "en";
const zh = isZh(lang);
const t = translator(TEXTS, lang);
document.documentElement.lang = zh ? "zh" : "en";
document.title = t("title");

const HISTORY_SECONDS = 600;
const queues = new Map(); // queue -> {data, at, history: [{at, waiting}]}

function pct(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`;
}

function since(iso) {
  return iso ? (Date.now() - Date.parse(iso)) / 1000 : null;
}

function kpi(key, label, value, detail, raw) {
  return h("div", { class: "kpi", dataset: { kpi: key, value: raw === undefined ? String(value) : String(raw) } },
    h("div", { class: "kpi-label" }, label), h("div", { class: "kpi-value" }, value),
    h("div", { class: "kpi-detail" }, detail || ""));
}

function sparkline(history) {
  const w = 300, hgt = 80, now = Date.now();
  const max = Math.max(1, ...history.map((p) => p.waiting));
  const x = (at) => w - ((now - at) / 1000 / HISTORY_SECONDS) * w;
  const y = (v) => hgt - 4 - (v / max) * (hgt - 12);
  let d = "";
  history.forEach((p, i) => {
    const prev = history[i - 1];
    if (prev) d += ` L${x(p.at).toFixed(1)},${y(prev.waiting).toFixed(1)}`; // a step: the count held until now
    d += `${i ? " L" : "M"}${x(p.at).toFixed(1)},${y(p.waiting).toFixed(1)}`;
  });
  if (history.length) d += ` L${w},${y(history[history.length - 1].waiting).toFixed(1)}`;
  return svg("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "chart", role: "img" },
    svg("text", { x: 2, y: 10, class: "axis" }, String(max)),
    svg("line", { x1: 0, y1: hgt - 4, x2: w, y2: hgt - 4, class: "base" }),
    svg("path", { d, class: "line" }));
}

function bars(items, cls) {
  const w = 300, row = 18;
  const max = Math.max(1, ...items.map((i) => i.value));
  const hgt = Math.max(row, items.length * row);
  return svg("svg", { viewBox: `0 0 ${w} ${hgt}`, class: `chart ${cls}`, role: "img" },
    items.map((item, i) => svg("g", {},
      svg("text", { x: 0, y: i * row + 13, class: "label" }, item.label),
      svg("rect", { x: 110, y: i * row + 3, width: (item.value / max) * 160, height: row - 6,
        class: "bar" }),
      svg("text", { x: 276, y: i * row + 13, class: "value" }, String(item.value)))));
}

function statusOf(agent) {
  if (agent.status === "available" && agent.load >= agent.capacity) return "busy";
  return agent.status;
}

function renderQueue(name, entry) {
  const m = entry.data;
  const today = m.today || {};
  const oldest = since(m.waiting.oldest);
  const target = today.serviceTarget ? duration(today.serviceTarget, zh) : "";
  const section = h("section", { class: "queue", dataset: { queue: name } },
    h("h2", {}, `${m.title} (${name}) `,
      h("span", { class: `badge ${m.open ? "open" : "closed"}` }, t(m.open ? "open" : "closed")),
      h("span", { class: "updated" }, t("updated", { time: new Date(entry.at).toLocaleTimeString() }))),
    h("div", { class: "kpis" },
      kpi("waiting", t("waiting"), m.waiting.count,
        t("waiting_detail", { bot: m.counts.bot, messages: m.counts.messages, pending: m.counts.pending })),
      kpi("longest", t("longest"), oldest === null ? "—" : duration(oldest, zh), "", oldest === null ? "" :
        Math.round(oldest)),
      kpi("agents", t("agents"), m.agents.online, t("agents_detail", m.agents), m.agents.online),
      kpi("active", t("active"), m.conversations.count),
      kpi("service-level", t("service_level"), pct(today.serviceLevel),
        today.settled ? t("service_detail", { within: today.withinTarget, settled: today.settled, target }) : "",
        today.serviceLevel ?? ""),
      kpi("csat", t("csat"), today.csatAverage ? today.csatAverage.toFixed(1) : "—",
        t("csat_detail", { count: today.csatCount || 0 }), today.csatAverage ?? "")),
    h("p", { class: "today", dataset: { conversations: today.conversations ?? "" } },
      t("today", { conversations: today.conversations ?? 0, answered: today.answered ?? 0,
        abandoned: today.abandoned ?? 0, bot: today.botResolved ?? 0 })),
    h("div", { class: "charts" },
      h("figure", {}, h("figcaption", {}, t("chart_waiting")), sparkline(entry.history)),
      h("figure", {}, h("figcaption", {}, t("chart_agents")),
        bars(m.agents.list.filter((a) => a.status !== "offline" || a.tickets.length)
          .map((a) => ({ label: a.jid.split("@")[0], value: a.tickets.length })), "agents")),
      h("figure", {}, h("figcaption", {}, t("chart_csat")),
        bars([5, 4, 3, 2, 1].map((s) => ({ label: "★".repeat(s), value: (today.scores || {})[s] || 0 })), "csat"))),
    h("div", { class: "lists" },
      h("div", {}, h("h3", {}, t("waiting_list")),
        m.waiting.customers.length ? h("ol", { class: "waiting" }, m.waiting.customers.map((c) =>
          h("li", { dataset: { ticket: c.ticket } }, h("span", { class: "who" }, c.jid), " · ",
            duration(since(c.since), zh),
            c.offered.length ? ` · ${t("offered", { agents: c.offered.join(", ") })}` : ""))) :
          h("p", { class: "none" }, t("none"))),
      h("div", {}, h("h3", {}, t("agent_list")),
        h("ul", { class: "agents" }, m.agents.list.map((a) =>
          h("li", { dataset: { agent: a.jid, status: statusOf(a) } },
            h("span", { class: `dot ${statusOf(a)}` }), h("span", { class: "who" }, a.jid),
            ` · ${t(`st_${statusOf(a)}`)} · ${a.load}/${a.capacity}`))))));
  return section;
}

function render() {
  const board = document.getElementById("board");
  if (!board) return;
  board.replaceChildren(...[...queues.entries()].sort().map(([name, entry]) => renderQueue(name, entry)));
}

// One line per kind of trouble with the feed (none when every node is subscribed).
function renderFeedStatus(states) {
  const status = document.getElementById("feed-status");
  if (!status) return;
  const lines = [];
  const nodes = (state) => [...states].filter(([, s]) => s.state === state).map(([node]) => node);
  if (nodes("reconnecting").length) lines.push(["reconnecting", t("feed_reconnecting")]);
  if (nodes("failed").length) lines.push(["failed", t("feed_failed")]);
  for (const node of nodes("refused")) {
    const queue = node.replace(/^monitor\//, "");
    lines.push(["refused", t("feed_refused", { queue, reason: states.get(node).reason })]);
  }
  status.replaceChildren(...lines.map(([state, text]) => h("p", { class: `feed-status ${state}`,
    dataset: { feed: state } }, text)));
}

function onMonitor(node, element) {
  const data = parseMonitor(element);
  const now = Date.now();
  const entry = queues.get(data.queue) || { history: [] };
  entry.data = data;
  entry.at = now;
  entry.history.push({ at: now, waiting: data.waiting.count });
  entry.history = entry.history.filter((p, i, all) => now - p.at < HISTORY_SECONDS * 1000 || i === all.length - 1);
  queues.set(data.queue, entry);
  render();
}

async function run(xmpp, jid) {
  const domain = bare(jid).split("@")[1];
  const support = cfg.support || `support.${domain}`;
  root.replaceChildren(
    h("header", {}, h("h1", {}, t("title")), h("span", { class: "me" }, bare(jid)),
      h("button", { onclick: () => xmpp.stop().then(() => location.reload()) }, t("logout"))),
    h("div", { id: "feed-status", role: "status" }),
    h("main", { id: "board", "aria-live": "polite" }));
  let keeper = null;
  xmpp.on("stanza", (stanza) => {
    if (!stanza.is("message")) return;
    if (keeper && keeper.onStanza(stanza)) return;
    const items = stanza.getChild("event", NS.EVENT)?.getChild("items");
    if (!items || bare(stanza.attrs.from) !== support) return;
    for (const item of items.getChildren("item")) {
      const monitor = item.getChild("monitor", NS.MONITOR);
      if (monitor) onMonitor(items.attrs.node, monitor);
    }
  });
  xmpp.on("offline", () => root.prepend(h("p", { class: "error banner" }, t("disconnected"))));
  await xmpp.send(xml("presence"));
  // Directed presence: the server tells the service when this page goes away, which ends the subscriptions.
  await xmpp.send(xml("presence", { to: support }));
  const found = await xmpp.iqCaller.request(xml("iq", { type: "get", to: support },
    xml("query", { xmlns: NS.DISCO_ITEMS, node: "monitor" })));
  const nodes = found.getChild("query", NS.DISCO_ITEMS).getChildren("item").map((i) => i.attrs.node);
  if (!nodes.length) {
    document.getElementById("board").append(h("p", { class: "none" }, t("no_queues", { domain: support })));
    return;
  }
  keeper = new FeedKeeper({ xmpp, service: support, nodes, onStatus: renderFeedStatus });
  for (const node of nodes) await keeper.subscribe(node);
  setInterval(render, 1000); // waits tick between notifications
  // Subscriptions live in the service's memory: a restart of the service forgets them without a
  // notice. This asks whether we are still subscribed and subscribes again (the item follows); the
  // figures themselves are never polled. A move of the domain is told at once (the keeper acts on it).
  setInterval(() => keeper.check(), Math.max(1, parseFloat(cfg.check) || 30) * 1000);
}

loginForm(root, t, cfg.jid, async (jid, password) => {
  const xmpp = await connect({ service: cfg.websocket, jid, password,
    resource: `dashboard-${Math.random().toString(36).slice(2, 8)}` });
  return { xmpp, jid };
}).then(({ xmpp, jid }) => run(xmpp, jid)).catch((err) => {
  root.append(h("p", { class: "error" }, errorText(err)));
});
