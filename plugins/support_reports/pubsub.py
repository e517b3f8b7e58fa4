"""Live monitor updates as XEP-0060 notifications from the support domain (dashboards subscribe, never poll).

One leaf node per queue, ``monitor/<queue>``, holding one item (``current``):
the queue's state and today's figures (``feed.py``, ``schemas/support-monitor.xsd``).
Supported: subscribe, unsubscribe, retrieve the item, list one's subscriptions,
and disco of the nodes (disco#items node ``monitor``). The nodes are whitelist
nodes: only the queue's supervisors and global admins may subscribe or read
(others get ``not-allowed`` with ``<closed-node/>``, XEP-0060 6.1.3.6); rights
are checked again at every publication.

Subscriptions live in memory: a dashboard subscribes after each login. They end
on ``unsubscribe``, when the subscriber's directed presence to the domain turns
unavailable (the server sends that when the client goes away), or when a
notification bounces. Notifications are ``headline`` messages, so a server drops
them rather than storing them offline.

A publication follows within ``feed_delay`` seconds after a ticket event or an
agent's presence at a queue; a slower check every ``feed_check`` seconds
catches anything else (business hours opening, say). The item is only sent when
it changed. Today's figures are read from the recorded events in the
background, at most once a second per queue, and follow in a second
notification: the live state never waits for the database.

Where several processes share the domain, one publishes: the one receiving the service
domain's stanzas, where dashboards subscribe (and where their presence goes). A queue owned by
another process is read as stored, when a change of its tickets is heard
(``support.changed_elsewhere``) and at each check (its agents' presence has no event here).
Ids carry a per-process prefix, so they stay unique if the domain moves to another process;
a process that may have lost the domain's slot stops publishing at once (``publisher.py``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element, SubElement, tostring

from slixmpp import JID, Iq, Message, Presence

from component.adhoc import rights_scope
from component.errors import StanzaError
from component.namespaces import PUBSUB, PUBSUB_ERRORS, PUBSUB_EVENT
from component.stream import CONNECTION_LOST
from plugins.support import hooks as support_hooks

from .feed import NODE_PREFIX, monitor_element, node_of, queue_of
from .publisher import Publisher
from .today import TodayFigures

if TYPE_CHECKING:
    from .plugin import ReportsPlugin

ITEM_ID = "current"
#: The disco#items node listing the monitor nodes a requester may subscribe to.
ROOT_NODE = "monitor"
#: subscription-notifications: a subscription ended by the service is told to its subscriber (publisher.py).
FEATURES = (PUBSUB, f"{PUBSUB}#subscribe", f"{PUBSUB}#retrieve-items", f"{PUBSUB}#retrieve-subscriptions",
            f"{PUBSUB}#access-whitelist", f"{PUBSUB}#subscription-notifications")
#: Subscriptions one account may hold on one node (one per open dashboard).
PER_ACCOUNT = 10

log = logging.getLogger("switchboard.plugins.support_reports.pubsub")


def pubsub_error(condition: str, text: str, feature: str | None = None, app: str | None = None) -> StanzaError:
    """A stanza error with XEP-0060's application condition (``<closed-node/>``, ``<unsupported feature/>``)."""
    element = None
    if app or feature:
        element = Element(f"{{{PUBSUB_ERRORS}}}{app or 'unsupported'}")
        if feature:
            element.set("feature", feature)
    return StanzaError(condition, text, app=element)


class MonitorFeed:
    def __init__(self, plugin: "ReportsPlugin") -> None:
        self.plugin = plugin
        self.service = plugin.service
        #: queue -> {delivery JID -> subscription id}
        self.subs: dict[str, dict[str, str]] = {}
        self._last: dict[str, bytes] = {}
        self._figures = TodayFigures(plugin)
        self._dirty: set[str] = set()
        self._today_dirty: set[str] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flushing = asyncio.Lock()
        self._checker: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._today_tasks: dict[str, asyncio.Task] = {}
        self._today_again: set[str] = set()
        self._stopped = False
        self._counter = 0
        #: Subscription and notification ids are unique across processes and restarts.
        self._origin = secrets.token_hex(4)
        self.publisher = Publisher(self, plugin.shared)

    def register(self) -> None:
        service, hooks = self.service, self.plugin.hooks
        service.on_iq(f"{{{PUBSUB}}}pubsub", self.on_pubsub)
        # Before the support plugin, which takes presences to queue JIDs: watch, never take.
        service.on_presence(self.on_presence, priority=100)
        service.on_message(self.on_bounce, priority=100)
        hooks.on(support_hooks.TICKET_EVENT, self.on_ticket_event)
        hooks.on(support_hooks.CHANGED_ELSEWHERE, self.on_changed_elsewhere)
        hooks.on(CONNECTION_LOST, self.publisher.lost)
        hooks.on("disco.items", self.disco_items)
        hooks.on("disco.node_info", self.disco_node_info)

    async def stop(self) -> None:
        # Nothing may start once the service stops: a late read would wait on a closed database forever.
        self._stopped = True
        self.subs.clear()
        await self.publisher.stop()
        if self._flush_handle:
            self._flush_handle.cancel()
            self._flush_handle = None
        running = [t for t in (self._checker, *self._tasks) if t is not None and not t.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    # -- rights ------------------------------------------------------------------------------
    async def may_watch(self, requester: JID | str, queue: str) -> bool:
        scope = await rights_scope(self.service, JID(requester), "queue")
        return bool(scope.filter([queue]))

    def _node_queue(self, node: str) -> str:
        if not node:
            raise pubsub_error("bad-request", "a node is required", app="nodeid-required")
        queue = queue_of(node)
        if queue is None or queue not in self.plugin.support.queues():
            raise StanzaError("item-not-found", f"no such node: {node}")
        return queue

    async def _checked(self, iq: Iq, node: str) -> str:
        queue = self._node_queue(node)
        if not await self.may_watch(iq["from"], queue):
            raise pubsub_error("not-allowed", "only the queue's supervisors may watch it", app="closed-node")
        return queue

    # -- requests ----------------------------------------------------------------------------
    async def on_pubsub(self, iq: Iq) -> Any:
        if iq["to"].full != self.service.domain:
            return None
        children = [c for c in iq.xml.find(f"{{{PUBSUB}}}pubsub") if isinstance(c.tag, str)]
        actions = [c for c in children if c.tag != f"{{{PUBSUB}}}options"]
        if len(actions) != 1:
            raise StanzaError("bad-request", "one pubsub action per request")
        action = actions[0]
        name = action.tag.rsplit("}", 1)[-1]
        kind = iq["type"]
        if kind == "set" and name == "subscribe":
            return await self.subscribe(iq, action)
        if kind == "set" and name == "unsubscribe":
            return await self.unsubscribe(iq, action)
        if kind == "get" and name == "items":
            return await self.items(iq, action)
        if kind == "get" and name == "subscriptions":
            return self.subscriptions(iq, action)
        feature = {"publish": "publish", "create": "create-nodes", "retract": "retract-items",
                   "affiliations": "retrieve-affiliations", "default": "retrieve-default"}.get(name, name)
        raise pubsub_error("feature-not-implemented", f"this service does not support {name}", feature=feature)

    def _delivery(self, iq: Iq, action: Element) -> str:
        requester = iq["from"]
        wanted = action.get("jid") or requester.full
        try:
            target = JID(wanted)
        except Exception as exc:  # noqa: BLE001 - slixmpp raises several kinds for a bad JID
            raise pubsub_error("bad-request", "malformed jid", app="invalid-jid") from exc
        if target.bare != requester.bare or (target.resource and target.full != requester.full):
            raise pubsub_error("bad-request", "you may only subscribe yourself", app="invalid-jid")
        return target.full

    async def subscribe(self, iq: Iq, action: Element) -> Iq:
        node = action.get("node", "")
        queue = await self._checked(iq, node)
        delivery = self._delivery(iq, action)
        subs = self.subs.setdefault(queue, {})
        if delivery not in subs:
            mine = [jid for jid in subs if JID(jid).bare == JID(delivery).bare]
            if len(mine) >= PER_ACCOUNT:
                raise pubsub_error("policy-violation", "too many open dashboards on this account",
                                   app="too-many-subscriptions")
            self._counter += 1
            subs[delivery] = f"{int(time.time())}-{self._origin}-{self._counter}"
            log.info("monitor subscribed", extra={"queue": queue, "subscriber": JID(delivery).bare})
        self._ensure_checker()
        reply = iq.reply()
        ps = SubElement(reply.xml, f"{{{PUBSUB}}}pubsub")
        SubElement(ps, f"{{{PUBSUB}}}subscription", {"node": node, "jid": delivery, "subid": subs[delivery],
                                                    "subscription": "subscribed"})
        # XEP-0060 6.1.7: the last published item follows the subscription.
        self.service.send(reply)
        await self._figures.read(queue)  # nobody kept it current while nobody watched
        self._send_item(delivery, queue, await self.payload(queue))
        return True  # type: ignore[return-value]

    async def unsubscribe(self, iq: Iq, action: Element) -> Iq:
        queue = self._node_queue(action.get("node", ""))
        delivery = self._delivery(iq, action)
        if self.subs.get(queue, {}).pop(delivery, None) is None:
            raise pubsub_error("unexpected-request", "you are not subscribed to this node", app="not-subscribed")
        return iq.reply()

    async def items(self, iq: Iq, action: Element) -> Iq:
        node = action.get("node", "")
        queue = await self._checked(iq, node)
        reply = iq.reply()
        ps = SubElement(reply.xml, f"{{{PUBSUB}}}pubsub")
        items = SubElement(ps, f"{{{PUBSUB}}}items", {"node": node})
        await self._figures.read(queue)
        SubElement(items, f"{{{PUBSUB}}}item", {"id": ITEM_ID}).append(await self.payload(queue))
        return reply

    def subscriptions(self, iq: Iq, action: Element) -> Iq:
        reply = iq.reply()
        ps = SubElement(reply.xml, f"{{{PUBSUB}}}pubsub")
        out = SubElement(ps, f"{{{PUBSUB}}}subscriptions")
        wanted = action.get("node")
        for queue, subs in sorted(self.subs.items()):
            for delivery, subid in sorted(subs.items()):
                if JID(delivery).bare == iq["from"].bare and wanted in (None, node_of(queue)):
                    SubElement(out, f"{{{PUBSUB}}}subscription", {"node": node_of(queue), "jid": delivery,
                                                                 "subid": subid, "subscription": "subscribed"})
        return reply

    # -- disco -------------------------------------------------------------------------------
    async def disco_items(self, iq: Iq) -> Any:
        if iq["disco_items"]["node"] != ROOT_NODE:
            return None
        allowed = (await rights_scope(self.service, iq["from"], "queue")).filter(self.plugin.support.queues())
        return [(self.service.jid, node_of(q), self.plugin.support.queue_title(q)) for q in allowed]

    async def disco_node_info(self, iq: Iq, info: Any) -> Any:
        node = iq["disco_info"]["node"]
        if node != ROOT_NODE and not node.startswith(NODE_PREFIX):
            return None
        if node != ROOT_NODE:
            self._node_queue(node)
        info.add_identity("pubsub", "collection" if node == ROOT_NODE else "leaf")
        info.add_feature(PUBSUB)
        return True

    # -- what changes ------------------------------------------------------------------------
    async def on_presence(self, pres: Presence) -> Any:
        to, sender = pres["to"], pres["from"]
        if to.full == self.service.domain and pres["type"] in ("unavailable", "error"):
            self.forget(sender.full)
        elif to.user and not to.resource and to.user in self.plugin.support.queues():
            self.mark(to.user)
        return None

    async def on_bounce(self, msg: Message) -> Any:
        """A notification came back as an error: the subscriber is gone. (And the publisher's probes.)"""
        if self.publisher.on_message(msg):
            return True
        if msg["type"] == "error" and msg["to"].full == self.service.domain and msg["id"].startswith("monitor-"):
            self.forget(msg["from"].full)
            return True
        return None

    def on_ticket_event(self, event: Any) -> None:
        for queue in {event.queue, event.data.get("to_queue"), event.data.get("from_queue")}:
            if queue:
                self.mark(queue, today=True)

    def on_changed_elsewhere(self, event: Any) -> None:
        """Another process changed tickets of these queues (its ticket events are heard there only)."""
        for queue in event.queues:
            self.mark(queue, today=True)

    def forget(self, delivery: str) -> None:
        for subs in self.subs.values():
            if subs.pop(delivery, None) is not None:
                log.info("monitor subscription ended", extra={"subscriber": JID(delivery).bare})

    def mark(self, queue: str, today: bool = False) -> None:
        if self._stopped or not self.subs.get(queue):
            return
        self._dirty.add(queue)
        if today:
            self._today_dirty.add(queue)
        self._schedule(self.plugin.options.feed_delay)

    def _schedule(self, delay: float) -> None:
        if self._flush_handle is None and not self._stopped:
            self._flush_handle = asyncio.get_running_loop().call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_handle = None
        if self._stopped:
            return
        task = asyncio.ensure_future(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("monitor publication failed", exc_info=task.exception())

    def _ensure_checker(self) -> None:
        if not self._stopped and (self._checker is None or self._checker.done()):
            self._checker = asyncio.ensure_future(self._check_loop())

    async def _check_loop(self) -> None:
        while any(self.subs.values()):
            await asyncio.sleep(self.plugin.options.feed_check)
            for queue, subs in self.subs.items():
                if subs:
                    # Shared domain: another process's queue changes with no event heard here.
                    self.mark(queue, today=self.plugin.shared)

    # -- publishing --------------------------------------------------------------------------
    def _refresh_today(self, queue: str) -> None:
        """Recompute today's figures in the background (at most once a second), then publish them."""
        self._today_again.add(queue)
        if queue not in self._today_tasks and not self._stopped:
            task = asyncio.ensure_future(self._today_loop(queue))
            self._today_tasks[queue] = task
            self._tasks.add(task)
            task.add_done_callback(self._flushed)

    async def _today_loop(self, queue: str) -> None:
        try:
            while queue in self._today_again:
                self._today_again.discard(queue)
                age = self._figures.age(queue)
                if age is not None:
                    await asyncio.sleep(max(0.0, 1.0 - age))
                await self._figures.read(queue)
                async with self._flushing:
                    if self.subs.get(queue) and queue in self.plugin.support.queues():
                        await self._publish(queue, await self.payload(queue))
        finally:
            self._today_tasks.pop(queue, None)

    async def payload(self, queue: str) -> Element:
        today = await self._figures.get(queue)
        snap = await self.plugin.current([queue])
        return monitor_element(snap, queue, self.plugin.options.monitor_rows, today)

    async def flush(self) -> None:
        async with self._flushing:
            queues, self._dirty = self._dirty, set()
            for queue in sorted(queues):
                fresh = queue in self._today_dirty
                self._today_dirty.discard(queue)
                if not self.subs.get(queue) or queue not in self.plugin.support.queues():
                    continue
                # The live state first, with today's figures as they were: a change is shown without
                # waiting for the recorded events to be read; the new figures follow.
                await self._publish(queue, await self.payload(queue))
                if fresh:
                    self._refresh_today(queue)

    async def _publish(self, queue: str, element: Element) -> None:
        if not self.publisher.holding:
            return  # maybe not the publisher any more: sent on resuming, if it still is
        serialized = tostring(element)
        if serialized == self._last.get(queue):
            return
        self._last[queue] = serialized
        subs = self.subs.get(queue, {})
        for delivery in list(subs):
            if not await self.may_watch(delivery, queue):
                subs.pop(delivery, None)
                continue
            self._send_item(delivery, queue, element)

    def _send_item(self, delivery: str, queue: str, payload: Element) -> None:
        self._counter += 1
        msg = self.service.xmpp.make_message(mto=delivery, mfrom=self.service.domain, mtype="headline")
        msg["id"] = f"monitor-{self._origin}-{self._counter}"
        event = SubElement(msg.xml, f"{{{PUBSUB_EVENT}}}event")
        items = SubElement(event, f"{{{PUBSUB_EVENT}}}items", {"node": node_of(queue)})
        SubElement(items, f"{{{PUBSUB_EVENT}}}item", {"id": ITEM_ID}).append(payload)
        self.service.send(msg)
