"""Processes sharing the support domain: queue adoption, hand-off to a queue's owner, changes told.

With ejabberd's ``bare_destination`` balancing a queue JID's stanzas reach one process, its
owner (ownership.py), but a conversation JID ``t-<ticket>@…`` hashes to any process, and a
customer's queue may no longer serve their ticket after a transfer. The process that receives
such a stanza serves what needs only the stored ticket (relaying a message, a note: lookup.py)
and hands the rest (a command, an offer answer, a customer's reply that queues the ticket
again, the agent's first answer, which is recorded) to the owner: it re-addresses the stanza,
wrapped, to the ticket's queue JID, and ejabberd routes that to the owner's connection. Only our
own component may send from the bare service domain, so the owner trusts a hand-off from there;
it unwraps the stanza and serves it as if it had arrived itself (errors go to the original
sender, answers come from the original address). A stanza is handed off once: the owner does not
hold the ticket either (it moved on meanwhile) -> the sender gets an error and may retry.

The same wrapper without content (``<adopt/>``) is sent to each queue once the connections are
up: the process that receives it owns the queue and loads it, so a restarted process resumes its
queues without waiting for a customer or an agent to write.

Ticket changes are told to the other processes as PostgreSQL notifications (lookup.CHANNEL) in
the writer's transaction: they drop their cached copies, and the owner of a ticket's new queue
takes it up (ownership.py).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import weakref
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element, SubElement

from component import namespaces as xmlns
from component.claims import CLAIMS_BACK, CLAIMS_LOST
from component.errors import StanzaError
from component.stream import CONNECTION_LOST

from . import hooks as events
from . import lookup

if TYPE_CHECKING:
    from .model import Ticket

log = logging.getLogger("switchboard.plugins.support")

NS_PEER = "urn:switchboard:support:peer:0"
#: Seconds between probes of the queues nobody here owns yet (a slot taken back after a reconnect).
PROBE_INTERVAL = 30.0
#: Seconds between two looks at the connections (a lost one lets the queues go).
WATCH_INTERVAL = 0.5
#: Seconds before a queue still owned by another process (letting it go) is probed again.
ADOPT_RETRY = 0.5


def _renamed(el: Element, old: str, new: str) -> Element:
    out = copy.deepcopy(el)
    for node in out.iter():
        if isinstance(node.tag, str) and node.tag.startswith(f"{{{old}}}"):
            node.tag = f"{{{new}}}" + node.tag[len(old) + 2:]
    return out


def handoff_element(stanza_xml: Element) -> Element:
    """``<handoff><forwarded>{the stanza, in jabber:client}</forwarded></handoff>``."""
    wrapper = Element(f"{{{NS_PEER}}}handoff")
    forwarded = SubElement(wrapper, f"{{{xmlns.FORWARD}}}forwarded")
    forwarded.append(_renamed(stanza_xml, xmlns.COMPONENT, xmlns.CLIENT))
    return wrapper


def adopt_element() -> Element:
    return Element(f"{{{NS_PEER}}}adopt")


class Peering:
    """Hand-off and adoption of :class:`~.plugin.SupportPlugin` (active only where slots are shared)."""

    def _init_peering(self) -> None:
        self._handed: weakref.WeakSet[Element] = weakref.WeakSet()
        self._prober: asyncio.Task | None = None
        self._retrying: set[str] = set()
        self._releasing: set[asyncio.Task] = set()

    def _queue_fence(self) -> "QueueFence | None":
        owners = getattr(self.service.app, "owners", None)
        return QueueFence(owners, self.service.domain) if self.sharing and owners is not None else None

    @property
    def sharing(self) -> bool:
        return self.engine.shared

    async def _listen_peers(self) -> None:
        if self.sharing:
            # At once, not at the next look of the probe loop: the slots may be another's already.
            self.hooks.on(CONNECTION_LOST, self._connection_lost)
            # The queues' locks went with the claims session: no queue is owned here until it is back
            # and each queue is adopted again, its lock taken again (another process may hold it now).
            self.hooks.on(CLAIMS_LOST, self._claims_lost)
            self.hooks.on(CLAIMS_BACK, self._claims_back)
        peers = getattr(self.service.app, "peers", None)
        if peers is not None and peers.active:
            await peers.listen(lookup.CHANNEL, self._peer_changed)

    async def _tell_peers(self, session: Any, changed: dict[str, str]) -> None:
        peers = self.service.app.peers
        for payload in lookup.notices(self.service.domain, changed):
            await peers.notify(session, lookup.CHANNEL, payload)

    async def _peer_changed(self, payload: str) -> None:
        domain, changed = lookup.read_notice(payload)
        if domain == self.service.domain and changed:
            await self.engine.changed_elsewhere(list(changed), changed)
            queues = sorted({queue for queue in changed.values() if queue in self.engine.queues})
            if queues:
                try:
                    await self.hooks.collect(events.CHANGED_ELSEWHERE, events.ChangedElsewhere(queues))
                except Exception:  # noqa: BLE001 - a listener's bug must not stop hearing the others
                    log.exception("changed_elsewhere listener failed")

    # -- adoption ---------------------------------------------------------------------------------------
    def _start_probing(self) -> None:
        if self.sharing and (self._prober is None or self._prober.done()):
            self._prober = asyncio.ensure_future(self._probe_loop())

    async def _probe_loop(self) -> None:
        """Probe once every connection is up, and again now and then; let the queues go when a
        connection was lost (it may come back on another slot: engine.release_all)."""
        connected, probed, sessions = False, 0.0, -1
        loop = asyncio.get_running_loop()
        while True:
            now = self.service.connected.is_set()
            reopened = now and sessions >= 0 and self.service.sessions_started != sessions
            if (connected and not now) or reopened:
                await self.engine.release_all(park=True)
            if now and (not connected or reopened or loop.time() - probed >= PROBE_INTERVAL):
                self.probe_queues()
                probed = loop.time()
            sessions = self.service.sessions_started if now else -1  # back after a loss: let go already
            connected = now
            await asyncio.sleep(WATCH_INTERVAL)

    def probe_queues(self) -> None:
        """Ask the server to route a probe to each queue nobody here owns: its owner adopts it."""
        for name in sorted(set(self.engine.queues) - self.engine.owned):
            self._peer_message(self.engine.queue_jid(name), adopt_element())

    async def _stop_peering(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.gather(self._prober, return_exceptions=True)

    async def _adopt_for(self, stanza: Any, queue: str) -> None:
        """A stanza the server routed to a queue's JID: this process owns the queue.

        While another process still owns it (letting it go after its own connection was lost), the
        queue is probed again shortly and a message or IQ from a user is refused: served here now,
        it could be served twice."""
        if self.sharing and not self.handed(stanza) and not self.engine.owns(queue):
            await self.engine.adopt(queue)
            if queue in self.engine.fenced:
                self._adopt_later(queue)
                if stanza["from"].bare != self.service.domain and not stanza.xml.tag.endswith("presence"):
                    raise StanzaError("recipient-unavailable", "this queue is moving; send it again in a moment")

    def _connection_lost(self) -> None:
        task = asyncio.ensure_future(self.engine.release_all(park=True))  # not awaited: the engine may be busy
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _claims_lost(self) -> None:
        # Awaited (the claims are told they are back only after it): the probes sent then must find
        # every queue let go, or one still owned would ignore its probe and wait for the next.
        await self.engine.release_all(park=True)

    def _claims_back(self) -> None:
        if self.service.connected.is_set():  # else probed once the connections are back
            self.probe_queues()

    def _adopt_later(self, queue: str) -> None:
        if queue in self._retrying:
            return
        self._retrying.add(queue)

        def again() -> None:
            self._retrying.discard(queue)
            if not self.engine.owns(queue):
                self._peer_message(self.engine.queue_jid(queue), adopt_element())
        asyncio.get_running_loop().call_later(ADOPT_RETRY, again)

    # -- hand-off ----------------------------------------------------------------------------------------
    def handed(self, stanza: Any) -> bool:
        return stanza.xml in self._handed

    def hand_off(self, stanza: Any, t: "Ticket") -> None:
        """Send ``stanza`` to the owner of the ticket's queue; refused when that cannot help (it was
        handed to us already, or we own the queue and yet do not hold the ticket)."""
        if self.handed(stanza) or not self.sharing or self.engine.owns(t.queue) or t.queue not in self.engine.queues:
            raise StanzaError("recipient-unavailable", "this conversation is moving; send it again in a moment")
        log.info("stanza handed to the queue's owner", extra={"ticket": t.id, "queue": t.queue})
        self._peer_message(self.engine.queue_jid(t.queue), handoff_element(stanza.xml))

    async def held_elsewhere(self, stanza: Any) -> "Ticket | None":
        """The open ticket a stanza to a conversation JID names, when another process owns its queue
        (and the stanza was not handed here already)."""
        if not self.sharing or self.handed(stanza):
            return None
        ticket_id = self._ticket_of(stanza["to"])
        if not ticket_id or ticket_id in self.engine.tickets:
            return None
        t = await self.engine.lookup.get(ticket_id)
        if t is None or not t.is_open or self.engine.owns(t.queue) or t.queue not in self.engine.queues:
            return None
        return t

    async def command_elsewhere(self, iq: Any) -> Any:
        """XEP-0050 at a conversation whose ticket another process holds: its commands are the owner's."""
        t = await self.held_elsewhere(iq)
        if t is None:
            return None
        self.hand_off(iq, t)
        return True

    def _peer_message(self, to: str, payload: Element) -> None:
        msg = self.service.xmpp.make_message(mto=to, mfrom=self.service.domain, mtype="normal")
        msg.append(payload)
        self.service.send(msg)

    def peer_stanza(self, msg: Any) -> bool:
        """Our own probe or hand-off (sent from the bare service domain): served here; True when it was one."""
        payload = next((c for c in msg.xml if c.tag.startswith(f"{{{NS_PEER}}}")), None)
        if payload is None:
            return False
        sender = msg["from"]
        if sender.user or sender.resource or sender.domain != self.service.domain:
            raise StanzaError("forbidden", "only this service hands stanzas over")
        if payload.tag == f"{{{NS_PEER}}}handoff":
            inner = payload.find(f"{{{xmlns.FORWARD}}}forwarded")
            stanzas = [c for c in (inner if inner is not None else ())
                       if c.tag in (f"{{{xmlns.CLIENT}}}message", f"{{{xmlns.CLIENT}}}iq")]
            if len(stanzas) != 1:
                raise StanzaError("bad-request", "a hand-off carries one message or IQ")
            el = _renamed(stanzas[0], xmlns.CLIENT, xmlns.COMPONENT)
            self._handed.add(el)
            # As if the server had delivered it here: limits, order, errors to its sender.
            self.service.take(_Wrapped(el))
        return True


class QueueFence:
    """The engine's guard (ownership.Fence): the queue's lock in PostgreSQL, held while owned (not
    taken while the claims session is lost: component/claims.py), and its fencing token, checked by
    every write of the queue's tickets (component/owners.py)."""

    def __init__(self, owners: Any, domain: str) -> None:
        self.owners, self.domain = owners, domain

    async def hold(self, queue: str) -> bool:
        return await self.owners.take(self.domain, queue)

    async def keep(self, queue: str, generation: int) -> bool:
        return await self.owners.keep(self.domain, queue, generation)

    async def let_go(self, queue: str) -> None:
        await self.owners.let_go(self.domain, queue)

    def token(self, queue: str) -> int | None:
        return self.owners.generation(self.domain, queue)

    def drop(self, queue: str) -> None:
        self.owners.drop(self.domain, queue)

    async def check(self, session: Any, tokens: set[tuple[str, int]]) -> None:
        await self.owners.check(session, self.domain, tokens)


class _Wrapped:
    """What ``Service.take`` needs of a stanza: its XML."""

    def __init__(self, xml: Element) -> None:
        self.xml = xml
