// Shared by the agent console and the supervisor dashboard: a logged-in XMPP client over WebSocket
// (RFC 7395) and small helpers to read and build the stanzas the support desk speaks.
import { client, xml } from "@xmpp/client";

export { xml };

export const NS = {
  WG: "http://jabber.org/protocol/workgroup",
  SUPPORT: "urn:switchboard:support:0",
  MONITOR: "urn:switchboard:support:monitor:0",
  PUBSUB: "http://jabber.org/protocol/pubsub",
  EVENT: "http://jabber.org/protocol/pubsub#event",
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
  DISCO_ITEMS: "http://jabber.org/protocol/disco#items",
  COMMANDS: "http://jabber.org/protocol/commands",
  XDATA: "jabber:x:data",
  CHATSTATES: "http://jabber.org/protocol/chatstates",
  DELAY: "urn:xmpp:delay",
  MAM: "urn:xmpp:mam:2",
  RSM: "http://jabber.org/protocol/rsm",
  FORWARD: "urn:xmpp:forward:0",
};

export function bare(jid) {
  return String(jid || "").split("/")[0];
}

export function localpart(jid) {
  const b = bare(jid);
  return b.includes("@") ? b.split("@")[0] : b;
}

// Logs in with a password and resolves once online; `features` are announced in disco#info (an
// agent's client announcing the workgroup feature gets offers as XEP-0142 IQs).
export async function connect({ service, jid, password, resource, features = [] }) {
  const [user, domain] = bare(jid).split("@");
  if (!user || !domain) throw new Error("bad-jid");
  const xmpp = client({ service, domain, username: user, password, resource });
  xmpp.reconnect.stop(); // a console reconnects by logging in again: its state comes from the server
  xmpp.iqCallee.get(NS.DISCO_INFO, "query", () =>
    xml("query", { xmlns: NS.DISCO_INFO },
      xml("identity", { category: "client", type: "web", name: "Switchboard console" }),
      ...[NS.DISCO_INFO, NS.CHATSTATES, ...features].map((v) => xml("feature", { var: v }))));
  xmpp.on("error", (err) => console.warn("xmpp", err && err.message));
  await xmpp.start();
  return xmpp;
}

// One XEP-0050 step; returns the <command/> element of the answer.
export async function command(xmpp, to, node, action = "execute", sessionid, fields) {
  const attrs = { xmlns: NS.COMMANDS, node, action };
  if (sessionid) attrs.sessionid = sessionid;
  const children = [];
  if (fields) {
    children.push(xml("x", { xmlns: NS.XDATA, type: "submit" },
      ...Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", {}, String(v))))));
  }
  const reply = await xmpp.iqCaller.request(xml("iq", { type: "set", to }, xml("command", attrs, ...children)), 15000);
  return reply.getChild("command", NS.COMMANDS);
}

// The rows of a data-form table (<reported/> + <item/>) as objects.
export function tableRows(commandEl) {
  const x = commandEl && commandEl.getChild("x", NS.XDATA);
  if (!x) return [];
  return x.getChildren("item").map((item) => {
    const row = {};
    for (const f of item.getChildren("field")) row[f.attrs.var] = f.getChildText("value") || "";
    return row;
  });
}

export function errorText(err) {
  const el = err && err.element;
  const text = el && el.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas");
  return text || (err && err.condition) || (err && err.message) || String(err);
}

// The last `max` messages of an archive (XEP-0313 at `to`), oldest first, as the forwarded <message/>
// elements with their <delay/> stamps.
export async function archive(xmpp, to, max = 100) {
  const queryid = `q${Math.random().toString(36).slice(2, 10)}`;
  const found = [];
  const collect = (stanza) => {
    const result = stanza.is("message") && stanza.getChild("result", NS.MAM);
    if (!result || result.attrs.queryid !== queryid) return;
    const forwarded = result.getChild("forwarded", NS.FORWARD);
    const message = forwarded && forwarded.getChild("message");
    if (message) found.push({ message, delay: forwarded.getChild("delay", NS.DELAY) });
  };
  xmpp.on("stanza", collect);
  try {
    await xmpp.iqCaller.request(xml("iq", { type: "set", to },
      xml("query", { xmlns: NS.MAM, queryid },
        xml("set", { xmlns: NS.RSM }, xml("max", {}, String(max)), xml("before")))), 15000);
  } finally {
    xmpp.removeListener("stanza", collect);
  }
  return found;
}

