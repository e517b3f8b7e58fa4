"""Raw-socket customers and agents for the support crash benchmark (see bench/support_crash.py).

Many clients per load-generator process, as in bench/loadgen.py, but driven in short ticks so that
the coordinator can kill and restart the component while every client keeps reading and answering.
Each worker only records what happened, with times of the system-wide monotonic clock; the
coordinator compares it with the database afterwards.

Customers write a first message, and a second one at a random moment of the next ``follow`` seconds
unless their conversation was closed by then (so that messages keep arriving when the kill comes),
each carrying a marker (``[c<number>]``, ``[c<number>/2]``), with a XEP-0184 receipt request and a
XEP-0359 origin-id equal to its id (``c<number>-<seq>``), and note every answer from the queue: the
ticket it names (the acknowledgement), positions, receipts, errors (the component was away), the
close. Like the web widget, a customer sends a message again (same id and origin-id) while it has no
receipt: ``resend_s`` after the first copy, then twice as long after each next one (a desk that is
slow under load is not flooded with copies), and when the coordinator says the service is back to
customers who got an error. Agents answer disco#info like a plain client (offers then come as chat
messages) and answer the receipt requests of the messages relayed to them (the desk leaves those to
the agent's client), hold each offer ``hold`` seconds before accepting it (as a person reading it
would; so that offers are pending at the kill), and close each conversation ``talk`` seconds after it
reached them (its introduction). An offer that comes again (after the restart) is accepted again
unless the conversation reached them and is still open (a conversation reopened after its close
reaches them anew).
"""

from __future__ import annotations

import heapq
import random
import re
import time
from typing import Any

from .loadgen import LoadGen, Worker

STANZA = re.compile(rb"\s*(<message\b[^>]*/>|<message\b.*?</message>|<iq\b[^>]*/>|<iq\b.*?</iq>"
                    rb"|<presence\b[^>]*/>|<presence\b.*?</presence>)", re.DOTALL)
STARTS = (b"<message", b"<iq", b"<presence")
ATTR = re.compile(rb"""\b([\w:]+)=(['"])(.*?)\2""")
TICKET = re.compile(rb"<ticket\b([^>]*)>")
POSITION = re.compile(rb"<position>(\d+)</position>")
MARKER = re.compile(rb"\[c(\d+)\]")
REQUEST = b"<request xmlns='urn:xmpp:receipts'"
RECEIVED = re.compile(rb"<received\b[^>]*\bid=(['\"])c(\d+)-(\d+)\1")
SENDS_MAX = 8      #: a customer gives up on a message after this many copies (counted as not receipted)
CROCKFORD = {c: i for i, c in enumerate(b"0123456789abcdefghjkmnpqrstvwxyz")}


def sent_at(stanza_id: bytes) -> float:
    """When the component made a message: its ids are time-ordered (48-bit milliseconds first, base32), so
    a message the killed process sent and Prosody delivered late is told from one of the new process."""
    value = 0
    for c in stanza_id[:10].lower():
        if c not in CROCKFORD:
            return 0.0
        value = value * 32 + CROCKFORD[c]
    return value / 1000 if len(stanza_id) >= 10 else 0.0


def attrs(head: bytes) -> dict[bytes, bytes]:
    return {m.group(1): m.group(3) for m in ATTR.finditer(head)}


class CrashWorker(Worker):
    def __init__(self, wid: int, port: int) -> None:
        super().__init__(wid, port)
        self.bufs: dict[int, bytes] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.agents: dict[int, dict[str, Any]] = {}
        self.timers: list[tuple[float, int, str, int, str]] = []
        self.seq = 0
        self.queue = ""
        self.hold = self.talk = 0.0
        self.resend_s = 10.0
        self.follow = 0.0
        self.stanzas = 0

    # -- set-up -------------------------------------------------------------------
    def cmd_setup(self, queue: str, customers: list[tuple[int, int]], agents: list[int], hold: float,
                  talk: float, resend_s: float = 10.0, follow: float = 0.0) -> None:
        self.queue, self.hold, self.talk, self.resend_s, self.follow = queue, hold, talk, resend_s, follow
        for ci, number in customers:
            # msgs: seq -> [copies sent (times), receipt (time, made) or None]
            self.customers[ci] = {"number": number, "sent": [], "acked": None, "tickets": [], "errors": [],
                                  "positions": [], "joined": None, "closed": None, "msgs": {}}
            self.bufs[ci] = b""
        for ci in agents:
            self.agents[ci] = {"offers": [], "accepts": [], "confirmed": {}, "closes": [], "scheduled": set(),
                               "talking": set(),
                               "quoted": [], "transcript": [], "probes": [], "retries": 0}
            self.bufs[ci] = b""
        self.handler = self.on_data

    def cmd_agents_online(self) -> None:
        for ci in self.agents:
            self.write(ci, f"<presence to='{self.queue}'/>".encode())

    def cmd_storm(self, plan: list[tuple[int, float]]) -> None:
        """Each customer (local index, when) writes to the queue at its moment."""
        for ci, at in plan:
            self._later(at, "ask", ci)

    def cmd_burst(self, most: int) -> int:
        """Up to ``most`` customers who have not written their second message yet write it now (the
        coordinator kills the component while these are on their way)."""
        todo = [ci for ci, c in self.customers.items() if c["sent"] and 2 not in c["msgs"] and c["closed"] is None]
        for ci in todo[:most]:
            self._send(ci, 2)
        return len(todo[:most])

    def cmd_resend(self, bounced_only: bool) -> int:
        """Customers send again every message that has no receipt yet (the service is back); with
        `bounced_only`, only those who got an error back (the others do when their timer says)."""
        todo = [ci for ci, c in self.customers.items() if self._unreceipted(ci) and (c["errors"] or not bounced_only)]
        for ci in todo:
            for seq in self._unreceipted(ci):
                self._send(ci, seq)
        return len(todo)

    def _unreceipted(self, ci: int) -> list[int]:
        return [seq for seq, (copies, receipt) in self.customers[ci]["msgs"].items()
                if receipt is None and len(copies) < SENDS_MAX]

    def cmd_tick(self, seconds: float) -> dict[str, int]:
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, action, ci, jid = heapq.heappop(self.timers)
                getattr(self, f"_{action}")(ci, *((jid,) if jid else ()))
            if now >= end:
                break
            wake = min(end, self.timers[0][0]) if self.timers else end
            self.poll(max(0.0, min(wake - now, 0.02)))
        cs, ag = self.customers.values(), self.agents.values()
        msgs = [m for c in cs for m in c["msgs"].values()]
        return {"sent": sum(1 for c in cs if c["sent"]), "acked": sum(1 for c in cs if c["acked"] is not None),
                "messages": len(msgs), "copies": sum(len(m[0]) for m in msgs),
                "receipted": sum(1 for m in msgs if m[1] is not None),
                "errors": sum(len(c["errors"]) for c in cs), "closed": sum(1 for c in cs if c["closed"]),
                "offers": sum(len(a["offers"]) for a in ag), "accepts": sum(len(a["accepts"]) for a in ag),
                "confirmed": sum(len(a["confirmed"]) for a in ag), "stanzas": self.stanzas}

    def cmd_records(self) -> dict[str, Any]:
        agents = {ci: {**a, "scheduled": sorted(a["scheduled"]), "talking": sorted(a["talking"])}
                  for ci, a in self.agents.items()}
        return {"customers": self.customers, "agents": agents}

    # -- actions ------------------------------------------------------------------
    def _later(self, at: float, action: str, ci: int, jid: str = "") -> None:
        self.seq += 1
        heapq.heappush(self.timers, (at, self.seq, action, ci, jid))

    def _ask(self, ci: int) -> None:
        """A customer's first words; more to say a moment later (the same moment in every run)."""
        self._send(ci, 1)
        delay = random.Random(self.customers[ci]["number"]).uniform(0, self.follow)
        self._later(time.monotonic() + delay, "follow", ci)

    def _follow(self, ci: int) -> None:
        if self.customers[ci]["closed"] is None and 2 not in self.customers[ci]["msgs"]:
            self._send(ci, 2)  # a closed conversation is not written to: that would reopen it

    def _send(self, ci: int, seq: int) -> None:
        c = self.customers[ci]
        now = time.monotonic()
        copies = c["msgs"].setdefault(seq, [[], None])[0]
        copies.append(now)
        if seq == 1:
            c["sent"].append(now)
        n = c["number"]
        mid = f"c{n}-{seq}"
        body = (f"Hello, I need help with my order [c{n}]" if seq == 1 else
                f"It is order 7-{n}, paid on Monday [c{n}/{seq}]")
        self.write(ci, (f"<message to='{self.queue}' type='chat' xml:lang='en' id='{mid}'><body>{body}</body>"
                        f"<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='{mid}'/>"
                        "</message>").encode())
        self._later(now + self._wait(len(copies)), "recheck", ci, str(seq))

    def _wait(self, sends: int) -> float:
        return self.resend_s * 2 ** (sends - 1)

    def _recheck(self, ci: int, seq: str) -> None:
        """No receipt in time after the last copy: send it again (unless a later copy is pending)."""
        copies, receipt = self.customers[ci]["msgs"][int(seq)]
        if receipt is None and len(copies) < SENDS_MAX and \
                time.monotonic() - copies[-1] >= self._wait(len(copies)) - 0.05:
            self._send(ci, int(seq))

    def _accept(self, ci: int, jid: str) -> None:
        a = self.agents[ci]
        a["scheduled"].discard(jid)
        if jid[2:].split("@", 1)[0] in a["talking"]:
            return
        a["accepts"].append((time.monotonic(), jid))
        self.write(ci, f"<message to='{jid}' type='chat'><body>accept</body></message>".encode())

    def _close(self, ci: int, jid: str) -> None:
        self.agents[ci]["closes"].append((time.monotonic(), jid))
        self.agents[ci]["talking"].discard(jid[2:].split("@", 1)[0])  # reopened later: a new conversation
        self.write(ci, f"<message to='{jid}' type='chat'><body>/close</body></message>".encode())

    # -- reading ------------------------------------------------------------------
    def on_data(self, ci: int, data: bytes) -> None:
        buf = self.bufs.get(ci, b"") + data
        pos = 0
        while True:
            m = STANZA.match(buf, pos)
            if m:
                self._stanza(ci, m.group(1))
                pos = m.end()
                continue
            rest = buf[pos:].lstrip()
            if not rest or rest.startswith(STARTS):
                break  # incomplete: wait for more
            nxt = min((i for i in (rest.find(s, 1) for s in STARTS) if i > 0), default=-1)
            if nxt < 0:
                pos = len(buf)
                break
            pos = len(buf) - len(rest) + nxt  # something we do not read (a stream feature, a header): skip it
        self.bufs[ci] = buf[pos:]

    def _stanza(self, ci: int, st: bytes) -> None:
        now = time.monotonic()
        self.stanzas += 1
        head = attrs(st[:st.find(b">") + 1])
        made = sent_at(head.get(b"id", b""))
        if ci in self.customers:
            c = self.customers[ci]
            if not st.startswith(b"<message") or not head.get(b"from", b"").startswith(self.queue.encode()):
                return
            if head.get(b"type") == b"error":
                c["errors"].append(now)
                return
            r = RECEIVED.search(st)
            if r and int(r.group(2)) == c["number"] and int(r.group(3)) in c["msgs"]:
                m = c["msgs"][int(r.group(3))]
                if m[1] is None:
                    m[1] = (now, made)
                return
            for t in TICKET.finditer(st):
                tid = attrs(t.group(1)).get(b"id", b"").decode()
                if tid and tid not in c["tickets"]:
                    c["tickets"].append(tid)
                if tid and c["acked"] is None:
                    c["acked"] = (now, tid, made)
            p = POSITION.search(st)
            if p:
                c["positions"].append((now, int(p.group(1)), made))
            if b"is now with you" in st and c["joined"] is None:
                c["joined"] = now
            if b"<closed" in st and c["closed"] is None:
                c["closed"] = now
            elif c["closed"] is not None and b"<closed" not in st and \
                    {attrs(t.group(1)).get(b"state") for t in TICKET.finditer(st)} & {b"queued", b"offered", b"active"}:
                c["closed"] = None  # a message sent again after the close reopened the conversation
                c["reopened"] = c.get("reopened", 0) + 1
            return
        a = self.agents.get(ci)
        if a is None:
            return
        if st.startswith(b"<iq"):
            if head.get(b"type") not in (b"get", b"set"):
                return
            to, iq_id = head.get(b"from", b"").decode(), head.get(b"id", b"").decode()
            if b"disco#info" in st and head.get(b"type") == b"get":
                a["probes"].append(now)
                reply = (f"<iq type='result' to='{to}' id='{iq_id}'>"
                         "<query xmlns='http://jabber.org/protocol/disco#info'>"
                         "<identity category='client' type='pc'/></query></iq>")
            else:
                reply = (f"<iq type='error' to='{to}' id='{iq_id}'><error type='cancel'><service-unavailable "
                         "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
            self.write(ci, reply.encode())
            return
        sender = head.get(b"from", b"").decode()
        if not st.startswith(b"<message") or not sender.startswith("t-"):
            return
        jid = sender.split("/", 1)[0]
        if head.get(b"type") == b"error":
            a.setdefault("errors", []).append((now, st[:600].decode("utf-8", "replace")))
            # Prosody bounced what the agent wrote while the component was away: in a conversation that
            # had reached them that is the /close, written again (an accept comes back with the offer).
            tid = jid[2:].split("@", 1)[0]
            if b"not-connected" in st and tid in a["confirmed"] and a["retries"] < 20:
                a["retries"] += 1
                self._later(now + 1.0, "close", ci, jid)
            return
        tid = jid[2:].split("@", 1)[0]
        if REQUEST in st and head.get(b"id"):
            # A customer's message relayed with its receipt request: this client answers, as most do.
            self.write(ci, f"<message to='{jid}' type='chat'><received xmlns='urn:xmpp:receipts' "
                           f"id='{head[b'id'].decode()}'/></message>".encode())
        states = {attrs(t.group(1)).get(b"state") for t in TICKET.finditer(st)}
        marker = MARKER.search(st)
        if b"offered" in states:
            a["offers"].append((now, tid, made))
            if marker:
                a["quoted"].append((now, tid, int(marker.group(1)), made))
            if tid not in a["talking"] and jid not in a["scheduled"]:
                a["scheduled"].add(jid)
                self._later(now + self.hold, "accept", ci, jid)
        elif marker and b"urn:xmpp:delay" in st:
            a["transcript"].append((now, tid, int(marker.group(1)), made))
        if b"active" in states and tid not in a["talking"] and not (tid in a["confirmed"] and b"<offer " not in st):
            # The conversation reached the agent (its introduction carries the offer's meta-data): talk,
            # then close it (never one that did not reach them). Reopened, it reaches them anew.
            a["talking"].add(tid)
            a["confirmed"].setdefault(tid, now)
            self._later(now + self.talk, "close", ci, jid)


class CrashLoad(LoadGen):
    """LoadGen's coordinator with CrashWorker processes."""

    worker_class = CrashWorker
    process_name = "bench-support-crash"

    def per_worker(self, ids: list[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {w: [] for w in range(self.n)}
        for g in ids:
            w, ci = self._locate(g)
            out[w].append(ci)
        return out

    def all(self, command: str, *args: Any) -> dict[int, Any]:
        return self._call_all({w: (command, args) for w in range(self.n)})

    def tick(self, seconds: float) -> dict[str, int]:
        total: dict[str, int] = {}
        for counts in self.all("tick", seconds).values():
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
        return total
