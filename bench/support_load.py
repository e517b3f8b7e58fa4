"""The support queue's load: customers who write to a queue, agents who take and close conversations.

Raw clients of the load generator (see loadgen.py), with the support storm's own commands: what
each side measures is explained in bench/support.py.
"""

from __future__ import annotations

import bisect
import random
import re
import time
from typing import Any
from xml.etree.ElementTree import fromstring

from component.caps import verification_string

from .loadgen import LoadGen, Worker

#: What a support agent of the load answers to disco#info, and the client version it announces.
AGENT_DISCO = ("<query xmlns='http://jabber.org/protocol/disco#info'{node}><identity category='client' type='pc'/>"
               "<feature var='http://jabber.org/protocol/caps'/></query>")
AGENT_CAPS_NODE = "https://switchboard.example/bench-agent"
AGENT_CAPS_VER = verification_string(fromstring(AGENT_DISCO.format(node="")), "sha-1") or ""


class SupportWorker(Worker):
    """A worker whose clients are customers and agents of a support queue."""

    def cmd_customers_join(self, cis: list[int], queue: str, timeout: float = 120, arrival: float = 0.0) -> dict:
        """Each customer writes to the queue, evenly over ``arrival`` seconds (0: all at once); returns
        once every one was told their position (or the timeout passed): how many got no answer at all,
        and each one's time to their position."""
        unanswered = set(cis)
        sent: dict[int, float] = {}
        told_ms: dict[int, float] = {}

        def watch(ci: int, data: bytes) -> None:
            if ci in unanswered and b"<message" in data:
                unanswered.discard(ci)
            if ci in sent and ci not in told_ms and b"queue-status" in data:
                told_ms[ci] = (time.monotonic() - sent[ci]) * 1000

        self.handler = watch
        t = time.monotonic()
        step = arrival / len(cis) if cis else 0.0
        try:
            for k, ci in enumerate(cis):
                while (wait := t + k * step - time.monotonic()) > 0:
                    self.poll(wait)  # answers to the earlier customers are read meanwhile
                sent[ci] = time.monotonic()
                self.write(ci, (f"<message to='{queue}' type='chat' xml:lang='en'><body>Hello, I need help with "
                                f"my order number {ci}</body></message>").encode())
            end = t + timeout
            while len(told_ms) < len(cis) and time.monotonic() < end:
                self.poll(0.2)
        finally:
            self.handler = self._discard
        # Customers still unanswered are reported, not fatal: a slow queue is a result too.
        return {"unanswered": len(unanswered), "position_ms": list(told_ms.values()),
                "never_told": len(cis) - len(told_ms)}

    def cmd_agents_run(self, cis: list[int], queue: str, max_chats: int, expected: int, quiet: float,
                       timeout: float, talk: float) -> dict:
        """Agents come online, accept every offer at once and close each conversation about ``talk`` seconds later.

        An offer's latency is counted from the moment it became routable as the agent sees it: the
        later of the agent's free slot (online, or the close that freed it) and its answer to its
        previous offer (the queue offers an agent one customer at a time). Offers are sorted into the
        first ``max_chats`` of each agent (the initial fill) and those that followed a close (the agent
        was full until then)."""
        iq_re = re.compile(rb"<iq\b([^>]*?)(/>|>(.*?)</iq>)", re.DOTALL)
        msg_re = re.compile(rb"<message\b([^>]*)>(.*?)</message>", re.DOTALL)
        attr_re = re.compile(rb"""\b(from|id|type)=(['"])(.*?)\2""")
        accept = "\u201caccept\u201d".encode()
        bufs = {ci: b"" for ci in cis}
        free: dict[int, list[float]] = {}       # per agent: when each free slot became free, oldest first
        answered: dict[int, float] = {}         # per agent: when it answered its last offer
        offers: dict[int, int] = {}
        first: list[float] = []
        first_round: list[int] = []             # for each of ``first``: the agent's 1st, 2nd... offer
        after_close: list[float] = []
        after_answer: list[float] = []
        closes: list[tuple[float, int, str]] = []  # (due, agent, conversation), kept sorted by due time
        spread = random.Random(cis[0] if cis else 0)  # the same talk times run after run
        seen: set[bytes] = set()
        last = [time.monotonic()]
        first_offer = [0.0]
        filled = [0.0]  # when the last of the first offers came

        def attrs(head: bytes) -> dict[bytes, bytes]:
            return {m.group(1): m.group(3) for m in attr_re.finditer(head)}

        def on_data(ci: int, data: bytes) -> None:
            if ci not in bufs:
                return
            buf = bufs[ci] + data
            end = 0
            for m in iq_re.finditer(buf):
                end = max(end, m.end())
                a = attrs(m.group(1))
                if a.get(b"type") != b"get":
                    continue
                to, iq_id = a.get(b"from", b"").decode(), a.get(b"id", b"").decode()
                if b"disco#info" in (m.group(3) or b""):
                    # A plain client: no workgroup feature, so offers come as chat messages.
                    announced = AGENT_CAPS_VER.encode() in m.group(3)
                    node = f" node='{AGENT_CAPS_NODE}#{AGENT_CAPS_VER}'" if announced else ""
                    reply = f"<iq type='result' to='{to}' id='{iq_id}'>{AGENT_DISCO.format(node=node)}</iq>"
                else:
                    reply = (f"<iq type='error' to='{to}' id='{iq_id}'><error type='cancel'><service-unavailable "
                             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
                self.write(ci, reply.encode())
            for m in msg_re.finditer(buf):
                end = max(end, m.end())
                if accept not in m.group(2):
                    continue
                sender = attrs(m.group(1)).get(b"from", b"")
                if sender in seen or not sender.startswith(b"t-"):
                    continue
                seen.add(sender)
                now = time.monotonic()
                slot = free[ci].pop(0) if free[ci] else now
                routable = max(slot, answered[ci])
                latency = (now - routable) * 1000
                if offers[ci] < max_chats:
                    first.append(latency)
                    first_round.append(offers[ci] + 1)
                    filled[0] = now
                elif slot >= answered[ci]:
                    after_close.append(latency)
                else:
                    after_answer.append(latency)
                offers[ci] += 1
                if not first_offer[0]:
                    first_offer[0] = now
                last[0] = now
                jid = sender.decode()
                self.write(ci, f"<message to='{jid}' type='chat'><body>accept</body></message>".encode())
                answered[ci] = time.monotonic()
                # People do not close in step: each conversation lasts half to one and a half ``talk``.
                bisect.insort(closes, (answered[ci] + talk * spread.uniform(0.5, 1.5), ci, jid))
            rest = buf[end:]
            bufs[ci] = rest if len(rest) < 1 << 20 else b""

        def close_due() -> None:
            now = time.monotonic()
            while closes and closes[0][0] <= now:
                _due, ci, jid = closes.pop(0)
                self.write(ci, f"<message to='{jid}' type='chat'><body>/close</body></message>".encode())
                free[ci].append(time.monotonic())

        self.handler = on_data
        start = time.monotonic()
        try:
            for ci in cis:
                free[ci] = [time.monotonic()] * max_chats
                answered[ci] = 0.0
                offers[ci] = 0
                # Announcing its client version, as real clients do (XEP-0115): sessions of one
                # version are asked what they speak once.
                self.write(ci, (f"<presence to='{queue}'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
                                f"node='{AGENT_CAPS_NODE}' ver='{AGENT_CAPS_VER}'/></presence>").encode())
            last[0] = time.monotonic()
            end = start + timeout
            while time.monotonic() < end and time.monotonic() - last[0] < quiet + talk \
                    and len(seen) < expected:
                self.poll(0.005 if closes else 0.1)
                close_due()
            while closes and time.monotonic() < end:  # the last conversations end as planned
                self.poll(0.005)
                close_due()
        finally:
            self.handler = self._discard
        return {"first_ms": first, "first_round": first_round, "after_close_ms": after_close,
                "after_answer_ms": after_answer, "start": start, "first": first_offer[0], "filled": filled[0],
                "last": last[0]}


class SupportLoad(LoadGen):
    """LoadGen's coordinator with SupportWorker processes."""

    worker_class = SupportWorker
    process_name = "bench-support-load"

    def support(self, agents: list[int], customers: list[int], queue: str, max_chats: int = 3,
                timeout: float = 300, talk: float = 2.0, arrival: float = 0.0) -> dict:
        """Customers queue first (evenly over ``arrival`` seconds; each worker spreads its own share
        over the whole time, so together they arrive evenly); then agents come online and drain the
        queue (see bench.support)."""
        per_c: dict[int, list[int]] = {}
        for g in customers:
            w, ci = self._locate(g)
            per_c.setdefault(w, []).append(ci)
        t = time.monotonic()
        joined = self._call_all({w: ("customers_join", (v, queue, timeout, arrival)) for w, v in per_c.items()})
        queued_s = time.monotonic() - t
        self.quiesce(1.0)
        per_a: dict[int, list[int]] = {}
        for g in agents:
            w, ci = self._locate(g)
            per_a.setdefault(w, []).append(ci)
        results = self._call_all({w: ("agents_run", (v, queue, max_chats, len(customers), 5.0, timeout, talk))
                                  for w, v in per_a.items()})
        start = min(r["start"] for r in results.values())
        last = max(r["last"] for r in results.values())
        out: dict[str, Any] = {key: [x for r in results.values() for x in r[key]]
                               for key in ("first_ms", "first_round", "after_close_ms", "after_answer_ms")}
        # When each phase ran (monotonic, as the other processes on this machine read it).
        out["phases"] = {"customers": t, "joined": t + queued_s, "agents": start,
                         "filled": max(r["filled"] for r in results.values()), "last": last}
        out.update(elapsed_s=last - start, queued_s=queued_s,
                   unanswered=sum(r["unanswered"] for r in joined.values()),
                   never_told=sum(r["never_told"] for r in joined.values()),
                   position_ms=[x for r in joined.values() for x in r["position_ms"]])
        return out
