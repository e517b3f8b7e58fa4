"""Whether this process publishes the live feed: it must be receiving the service domain's stanzas.

With balancing (docs/scaling.md) the bare service domain hashes to one slot like any JID: its
dashboards subscribe there, their presence goes there, and the process holding that slot keeps
the subscriptions and publishes. Which of its connections holds the slot is the server's choice,
so a process that loses any connection may have lost it: after an ejabberd restart, or when the
processes reconnect at once, the free slots are taken again in whatever order the connections
come back, and the dashboards then subscribe again at the process that receives them now.

So, from the moment any of its connections closes, the process sends the feed to nobody. Once
its connections are all back it sends a probe from the service domain to the service domain
(``<probe xmlns='urn:switchboard:support:monitor:0'/>`` in a headline message, its id naming
this process and the loss); the server routes it like any stanza, to whoever holds the slot now.
Its own probe coming back proves the slot is still here: publishing resumes, and what changed
meanwhile is sent. Not back within ``PROBE_WAIT`` seconds: another process holds the slot (or
nobody yet); the subscriptions end and each subscriber is told (XEP-0060 "subscription
cancelled": ``subscription='none'``), so a dashboard subscribes again where the domain is now
(ours also checks its subscriptions every ``check`` seconds); a subscription made here after that
came through the slot, so it is served. A slot moves only when its connection closes, so two
processes never publish to the same dashboard at once.

One process alone, or a domain that is not shared, always publishes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, SubElement

from slixmpp import Message

from component.namespaces import PUBSUB_EVENT

from .feed import NS, node_of

if TYPE_CHECKING:
    from .pubsub import MonitorFeed

log = logging.getLogger("switchboard.plugins.support_reports.pubsub")

#: Seconds a probe may take to come back before the slot is taken for lost (a round trip through
#: the server: milliseconds when the slot is here).
PROBE_WAIT = 5.0
PROBE_PREFIX = "monitor-probe-"


def probe_element() -> Element:
    return Element(f"{{{NS}}}probe")


class Publisher:
    def __init__(self, feed: "MonitorFeed", shared: bool) -> None:
        self.feed = feed
        self.service = feed.service
        self.shared = shared
        #: This process receives the service domain's stanzas (as far as it knows): it may publish.
        self.holding = True
        self._origin = secrets.token_hex(4)
        self._losses = 0
        self._proven = asyncio.Event()
        self._waiter: asyncio.Task | None = None
        self.wait = PROBE_WAIT
        #: Probes seen back, and times the slot was found lost (for the logs and the tests).
        self.probes = 0
        self.resigned = 0

    def lost(self) -> None:
        """A connection of this process closed: the domain's slot may be another's now."""
        if not self.shared:
            return
        self._losses += 1
        if self.holding:
            log.info("live feed paused: a connection was lost, checking where the service domain is now")
        self.holding = False
        self._proven.clear()
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.ensure_future(self._check())

    async def _check(self) -> None:
        while not self.holding:
            losses = self._losses
            await self.service.connected.wait()
            if losses != self._losses:
                continue  # lost again meanwhile: probe once everything is back
            self._send_probe(losses)
            try:
                await asyncio.wait_for(self._proven.wait(), self.wait)
            except asyncio.TimeoutError:
                if losses == self._losses:
                    log.info("live feed handed over: the service domain's stanzas reach another process now")
                    self.resigned += 1
                    self._resign()
                    # With no subscription left, whatever subscribes from now on reached this process
                    # through the domain's slot: it may publish to them.
                    self.holding = True
                    return

    def _send_probe(self, losses: int) -> None:
        domain = self.service.domain
        msg = self.service.xmpp.make_message(mto=domain, mfrom=domain, mtype="headline")
        msg["id"] = f"{PROBE_PREFIX}{self._origin}-{losses}"
        msg.append(probe_element())
        self.service.send(msg)

    def on_message(self, msg: Message) -> bool:
        """Takes the probes (any process's); True when ``msg`` was one."""
        domain = self.service.domain
        if msg["to"].full != domain or msg["from"].full != domain or msg.xml.find(f"{{{NS}}}probe") is None:
            return False
        if msg["id"] == f"{PROBE_PREFIX}{self._origin}-{self._losses}" and not self.holding:
            self.probes += 1
            self.holding = True
            self._proven.set()
            log.info("live feed resumed: the service domain's stanzas still reach this process")
            self._resume()
        return True

    def _resume(self) -> None:
        """Publishing again after a pause: what changed meanwhile goes out."""
        for queue in self.feed.subs:
            self.feed.mark(queue, today=True)

    def _resign(self) -> None:
        """Another process publishes now: end every subscription here, telling its subscriber.

        XEP-0060 "Notification of Subscription State Changes": an ``<event/>`` with one
        ``<subscription subscription='none'/>`` (revisions before 1.13 put it in ``<pubsub/>``).
        """
        feed = self.feed
        for queue, subs in feed.subs.items():
            for delivery in subs:
                msg = self.service.xmpp.make_message(mto=delivery, mfrom=self.service.domain)
                event = SubElement(msg.xml, f"{{{PUBSUB_EVENT}}}event")
                SubElement(event, f"{{{PUBSUB_EVENT}}}subscription", {"node": node_of(queue), "jid": delivery,
                                                                      "subscription": "none"})
                self.service.send(msg)
        feed.subs.clear()

    async def stop(self) -> None:
        if self._waiter is not None:
            self._waiter.cancel()
            await asyncio.gather(self._waiter, return_exceptions=True)

