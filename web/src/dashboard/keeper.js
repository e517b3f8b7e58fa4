// Keeps the dashboard subscribed to its monitor nodes (XEP-0060) on the support domain.
//
// The service ends a subscription with a notice (XEP-0060 "Notification of Subscription State
// Changes": <subscription subscription='none'/>) when the support domain's stanzas move to another
// process (docs/scaling.md, the live feed): subscribing again at once reaches whoever serves the
// domain now, so the monitor is not left blank until the next periodic check. Each renewal is a few
// tries with growing waits; a refusal (rights, a bad request) ends it, and a node the service keeps
// ending is left to the periodic check, so nothing here can loop against the service.
import { xml, NS, bare } from "../common/xmpp.js";

// Milliseconds before each try of one renewal. The first is short (the notice comes once the new
// process serves the domain) and jittered, so many dashboards do not all arrive in the same instant.
export const BACKOFF = [250, 1000, 2000, 4000, 8000];
// Renewals of one node that notices may start within WINDOW; past it, only the periodic check renews.
const BURST = 5;
const WINDOW = 60 * 1000;
const REQUEST_TIMEOUT = 10 * 1000;
// Answers that mean "not now" rather than "no": tried again within the backoff. item-not-found and
// gone say the node is not (or no longer) there, which during a move may be the new process's
// start; the bounded tries keep them from looping.
const TRANSIENT = new Set(["remote-server-timeout", "remote-server-not-found", "service-unavailable",
  "internal-server-error", "recipient-unavailable", "resource-constraint", "item-not-found", "gone"]);

function refusal(err) {
  // A stanza error the service meant (not a timeout or a closed connection) that waiting will not change.
  return Boolean(err && err.condition && err.element) && err.type !== "wait" && !TRANSIENT.has(err.condition);
}

// The nodes a subscription-cancel notice in `stanza` ends for `me` (a full JID). XEP-0060 puts it in
// <event xmlns='…#event'/>; revisions before 1.13 (and services that follow them) in <pubsub/>. The
// service may tell every resource of an account: a notice naming another resource is not ours.
export function cancelledNodes(stanza, me) {
  const nodes = [];
  for (const [name, ns] of [["event", NS.EVENT], ["pubsub", NS.PUBSUB]]) {
    const el = stanza.getChild(name, ns);
    for (const sub of el ? el.getChildren("subscription") : []) {
      const { node, jid, subscription } = sub.attrs;
      if (subscription === "none" && node && (!jid || jid === me || jid === bare(me))) nodes.push(node);
    }
  }
  return nodes;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class FeedKeeper {
  // `onStatus(states)` gets a Map node -> {state: "reconnecting" | "failed" | "refused", reason}
  // whenever it changes (empty: every node is subscribed).
  constructor({ xmpp, service, nodes, onStatus, backoff = BACKOFF }) {
    Object.assign(this, { xmpp, service, nodes, onStatus, backoff });
    this.renewing = new Map(); // node -> promise of the renewal under way
    this.refused = new Set();
    this.renewals = new Map(); // node -> times renewals started by a notice (the burst guard)
    this.states = new Map();
  }

  me() {
    return this.xmpp.jid.toString();
  }

  subscribe(node) {
    return this.xmpp.iqCaller.request(xml("iq", { type: "set", to: this.service },
      xml("pubsub", { xmlns: NS.PUBSUB }, xml("subscribe", { node, jid: this.me() }))), REQUEST_TIMEOUT);
  }

  setState(node, state, reason = "") {
    if (state) this.states.set(node, { state, reason });
    else this.states.delete(node);
    this.onStatus(new Map(this.states));
  }

  // A stanza from the service: true when it was a cancel notice (acted on).
  onStanza(stanza) {
    if (!stanza.is("message") || bare(stanza.attrs.from) !== this.service) return false;
    const nodes = cancelledNodes(stanza, this.me()).filter((n) => this.nodes.includes(n));
    for (const node of nodes) {
      const now = Date.now();
      const recent = (this.renewals.get(node) || []).filter((at) => now - at < WINDOW);
      if (recent.length >= BURST) {
        this.setState(node, "failed", "");  // the service keeps ending it: the periodic check tries later
        continue;
      }
      recent.push(now);
      this.renewals.set(node, recent);
      this.renew(node);
    }
    return nodes.length > 0;
  }

  // Subscribes `node` again unless a renewal is under way or the service refused it.
  renew(node) {
    if (this.refused.has(node)) return Promise.resolve(false);
    if (!this.renewing.has(node)) {
      const run = this.tries(node).finally(() => this.renewing.delete(node));
      this.renewing.set(node, run);
    }
    return this.renewing.get(node);
  }

  async tries(node) {
    this.setState(node, "reconnecting");
    let last = "";
    for (const [i, wait] of this.backoff.entries()) {
      await sleep(wait * (0.75 + Math.random() * 0.5));
      try {
        // Directed presence first: the process serving the domain now is told when this page goes.
        if (i === 0) await this.xmpp.send(xml("presence", { to: this.service }));
        await this.subscribe(node);
        this.setState(node, null);
        return true;
      } catch (err) {
        last = (err && (err.text || err.condition || err.message)) || String(err);
        if (refusal(err)) {
          this.refused.add(node);
          this.setState(node, "refused", last);
          return false;
        }
      }
    }
    this.setState(node, "failed", last);
    return false;
  }

  // The periodic check: asks which subscriptions the service holds and renews the missing ones
  // (after a restart of the service, which forgets them without a notice).
  async check() {
    let held;
    try {
      const answer = await this.xmpp.iqCaller.request(xml("iq", { type: "get", to: this.service },
        xml("pubsub", { xmlns: NS.PUBSUB }, xml("subscriptions"))), REQUEST_TIMEOUT);
      held = new Set(answer.getChild("pubsub", NS.PUBSUB).getChild("subscriptions")
        .getChildren("subscription").map((el) => el.attrs.node));
    } catch (err) {
      if (!err || !["item-not-found", "gone"].includes(err.condition)) return; // away for now: next check
      held = new Set(); // the service knows none of them
    }
    for (const node of this.nodes) {
      if (held.has(node) && this.states.get(node)?.state === "failed") this.setState(node, null);
    }
    await Promise.all(this.nodes.filter((n) => !held.has(n)).map((n) => this.renew(n)));
  }
}
