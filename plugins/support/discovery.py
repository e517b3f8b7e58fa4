"""Discovery (disco#info and #items of queues and conversations, command nodes), archive access
for the archive plugin, scoped rights and statistics for the admin plugin."""

from __future__ import annotations

from typing import Any

from slixmpp import JID, Iq

from component import namespaces as xmlns
from component.errors import StanzaError

from . import stanza
from .chat import XML_LANG
from .texts import pick_lang

DISCO_INFO = xmlns.DISCO_INFO
DISCO_ITEMS = xmlns.DISCO_ITEMS
COMMANDS = xmlns.COMMANDS
MAM = xmlns.MAM


class Discovery:
    """Discovery and cross-plugin answers of :class:`~.plugin.SupportPlugin`."""

    async def on_disco_info(self, iq: Iq) -> Any:
        to = iq["to"]
        if not self._ours(to) or iq["disco_info"]["node"]:
            if self._ours(to):
                if await self.command_elsewhere(iq):
                    return True
                return await self._command_node_info(iq)
            return None
        reply = iq.reply()
        info = reply["disco_info"]
        queue = self._queue_of(to)
        if queue:
            info.add_identity("collaboration", "workgroup", name=self.engine.queue_title(queue))
            for feature in (DISCO_INFO, DISCO_ITEMS, stanza.WG, stanza.NS, COMMANDS, MAM, xmlns.RECEIPTS):
                info.add_feature(feature)
            # XEP-0128: whether the queue is open now, its hours, when it opens next.
            info.xml.append(self.ops.queue_info(queue, pick_lang(iq.xml.get(XML_LANG), "en")).xml)
            return reply
        ticket_id = self._ticket_of(to) or ""
        t = await self.engine.ticket(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "there is no conversation at this address")
        info.add_identity("client", "bot", name=f"Ticket {t.id}")
        for feature in (DISCO_INFO, DISCO_ITEMS, stanza.NS, COMMANDS, MAM, xmlns.CHAT_MARKERS,
                        xmlns.CHATSTATES, xmlns.RECEIPTS, xmlns.CORRECT):
            info.add_feature(feature)
        return reply

    async def _command_node_info(self, iq: Iq) -> Any:
        reply = iq.reply()
        info = reply["disco_info"]
        info["node"] = iq["disco_info"]["node"]
        if not await self.service.commands.node_info(iq, info):
            raise StanzaError("item-not-found", "no such node")
        return reply

    async def on_disco_items(self, iq: Iq) -> Any:
        to = iq["to"]
        if not self._ours(to):
            return None
        node = iq["disco_items"]["node"]
        reply = iq.reply()
        items = reply["disco_items"]
        if node == COMMANDS:
            if await self.command_elsewhere(iq):
                return True  # the commands of a conversation held by another process: its answer
            items["node"] = node
            for command in await self.service.commands.visible_to(iq["from"], to):
                items.add_item(to, node=command.node, name=command.title(iq["lang"]))
            return reply
        if node:
            raise StanzaError("item-not-found", "no such node")
        queue = self._queue_of(to)
        if queue and self.engine.is_supervisor(queue, iq["from"].bare):
            for t in self.engine.tickets.values():
                if t.queue == queue:
                    items.add_item(JID(self.engine.session_jid(t.id)), name=f"{t.id} {t.state} {t.customer}")
        return reply

    async def owns_command(self, iq: Iq) -> Any:
        if not self._ours(iq["to"]):
            return None
        return True

    async def domain_items(self, iq: Iq) -> Any:
        if iq["disco_items"]["node"]:
            return None
        return [(JID(self.engine.queue_jid(name)), None, self.engine.queue_title(name)) for name in self.engine.queues]

    async def mam_access(self, request: Any) -> Any:
        from plugins.mam.hooks import ArchiveAccess

        to = JID(request.to)
        if to.domain != self.service.domain:
            return None
        requester = JID(request.requester).bare
        queue = self._queue_of(to)
        if queue:
            t = self.engine.open_ticket(queue, requester) or await self.store.latest_ticket(queue, requester)
            if t is None:
                return None
            return ArchiveAccess(self.engine.session_jid(t.id), True, False)
        ticket_id = self._ticket_of(to)
        if ticket_id is None:
            return None
        t = await self.engine.ticket(ticket_id)
        if t is None:
            return None
        archive = self.engine.session_jid(t.id)
        if requester == t.customer:
            return ArchiveAccess(archive, True, False)
        if requester in t.agents_seen or self.engine.is_supervisor(t.queue, requester) \
                or self.engine.is_supervisor(t.entry, requester):
            return ArchiveAccess(archive, True, True)
        return ArchiveAccess(archive, False, False, "this conversation is not yours")

    async def admin_rights(self, query: Any) -> Any:
        if getattr(query, "kind", "") != "queue":
            return None
        return [name for name, q in self.engine.queues.items() if query.requester in q.supervisors]


    async def admin_stats(self, _request: Any) -> dict[str, int]:
        """Figures for the admin plugin's service statistics (of every process serving the domain:
        where they share it, read as stored)."""
        if self.engine.shared:
            stored = await self.store.tickets_in(("queued", "offered", "active"))
            online = {r.jid.split("/", 1)[0] for _q, r in await self.store.presences() if r.show != "xa"}
            return {"queued_customers": sum(1 for t in stored if t.state != "active"),
                    "active_conversations": sum(1 for t in stored if t.state == "active"),
                    "agents_online": len(online)}
        tickets = self.engine.tickets.values()
        agents = {a.jid for q in self.engine.agents.values() for a in q.values() if a.tier() is not None}
        return {"queued_customers": self.engine.waiting_count(),
                "active_conversations": sum(1 for t in tickets if t.state == "active"),
                "agents_online": len(agents)}
