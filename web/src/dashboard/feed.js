// Reads the live monitor item (<monitor xmlns='urn:switchboard:support:monitor:0'/>) into plain objects.
import { NS } from "../common/xmpp.js";

const int = (v) => (v === undefined || v === "" ? 0 : parseInt(v, 10));
const num = (v) => (v === undefined || v === "" ? null : parseFloat(v));

export function parseMonitor(el) {
  const waiting = el.getChild("waiting", NS.MONITOR);
  const counts = el.getChild("counts", NS.MONITOR);
  const agents = el.getChild("agents", NS.MONITOR);
  const convs = el.getChild("conversations", NS.MONITOR);
  const today = el.getChild("today", NS.MONITOR);
  const out = {
    queue: el.attrs.queue,
    title: el.attrs.title || el.attrs.queue,
    open: el.attrs.open === "true",
    waiting: {
      count: int(waiting.attrs.count),
      oldest: waiting.attrs.oldest || null,
      customers: waiting.getChildren("customer").map((c) => ({
        ticket: c.attrs.ticket, jid: c.attrs.jid, position: int(c.attrs.position), state: c.attrs.state,
        since: c.attrs.since, offered: c.getChildren("offered").map((o) => o.attrs.agent),
      })),
    },
    counts: { bot: int(counts.attrs.bot), active: int(counts.attrs.active), pending: int(counts.attrs.pending),
      messages: int(counts.attrs.messages) },
    agents: {
      online: int(agents.attrs.online), available: int(agents.attrs.available), busy: int(agents.attrs.busy),
      away: int(agents.attrs.away), load: int(agents.attrs.load), capacity: int(agents.attrs.capacity),
      list: agents.getChildren("agent").map((a) => ({
        jid: a.attrs.jid, status: a.attrs.status, load: int(a.attrs.load), capacity: int(a.attrs.capacity),
        tickets: a.getChildren("ticket").map((x) => x.attrs.id),
      })),
    },
    conversations: {
      count: int(convs.attrs.count),
      list: convs.getChildren("conversation").map((c) => ({
        ticket: c.attrs.ticket, customer: c.attrs.customer, agent: c.attrs.agent, since: c.attrs.since,
        firstResponse: num(c.attrs["first-response"]),
      })),
    },
    today: null,
  };
  if (today) {
    const csat = today.getChild("csat", NS.MONITOR);
    const scores = {};
    for (const s of csat ? csat.getChildren("score") : []) scores[int(s.attrs.value)] = int(s.attrs.count);
    out.today = {
      day: today.attrs.day, conversations: int(today.attrs.conversations), answered: int(today.attrs.answered),
      abandoned: int(today.attrs.abandoned), botResolved: int(today.attrs["bot-resolved"]),
      transfers: int(today.attrs.transfers), serviceTarget: num(today.attrs["service-target"]),
      withinTarget: int(today.attrs["within-target"]), settled: int(today.attrs.settled),
      serviceLevel: num(today.attrs["service-level"]), waitAvg: num(today.attrs["wait-avg"]),
      csatCount: csat ? int(csat.attrs.count) : 0, csatAverage: csat ? num(csat.attrs.average) : null, scores,
    };
  }
  return out;
}
