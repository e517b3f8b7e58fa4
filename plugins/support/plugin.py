"""Wiring of the support queue: options checked, engine built, handlers registered; nothing else.

The handlers live by surface: chat.py (messages), workgroup.py (presence and IQs), discovery.py
(disco, archive access, rights), public.py (the public service); the commands are declared once
in commands.py and served by chat.py, adhoc.py (XEP-0050) and workgroup.py (IQs).

JIDs of the service domain:
- ``<queue>@domain``: customers write here (plain chat or XEP-0142 IQs); agents
  send their presence here;
- ``t-<ticket>@domain``: one conversation as the agents see it.
"""

from __future__ import annotations

from slixmpp import JID

from component.plugin import Plugin
from component.storage import create_tables

from . import adhoc, cli
from . import hooks as events
from . import overrides, prechat, stanza
from .chat import ChatSurface
from .discovery import COMMANDS, DISCO_INFO, DISCO_ITEMS, Discovery
from .engine import SupportEngine
from .hours import HoursError
from .ops import Operations
from .options import SupportOptions
from .outbox import StanzaOutbox
from .peering import Peering
from .public import SupportFacade
from .store import TABLES, SupportStore, upgrade_tickets
from .workgroup import Workgroup

class SupportPlugin(ChatSurface, Workgroup, Discovery, Peering, Plugin):
    name = "support"
    depends = ("mam",)
    shares_domain = True  # queues owned where their stanzas arrive: ownership.py, peering.py, docs/scaling.md
    Options = SupportOptions
    identities = (("collaboration", "workgroup", "Support"),)
    features = (stanza.WG, stanza.NS)
    migrations = (create_tables(*TABLES), upgrade_tickets, overrides.create_overrides)
    command_line = cli.COMMANDS

    async def setup(self) -> None:
        names = [q.name for q in self.options.queues]
        if len(set(names)) != len(names) or any(n.startswith("t-") or not n for n in names):
            raise ValueError("support queues need distinct names that do not start with 't-'")
        for q in self.options.queues:
            if set(q.join_form) & set(prechat.RESERVED) or len(set(q.join_form)) != len(q.join_form):
                raise ValueError(f"support queue {q.name}: join_form fields must be distinct and not "
                                 f"{', '.join(prechat.RESERVED)}")
            if not set(q.join_form_optional) <= set(q.join_form):
                raise ValueError(f"support queue {q.name}: join_form_optional names fields not in join_form")
        peers = getattr(self.service.app, "peers", None)
        shared = self.service.app.config.balancing.shared
        self._init_peering()
        self._init_workgroup()
        self.store = SupportStore(self.db, changed=self._tell_peers if peers is not None and peers.active else None)
        self.outbox = StanzaOutbox(self.service, self.options)
        try:
            self.engine = SupportEngine(self.options, self.service.domain, self.store, self.outbox, self.hooks,
                                        is_admin=self.service.is_admin, shared=shared,
                                        slots=self.service.app.config.balancing.slots)
        except HoursError as error:
            raise ValueError(f"support queue business hours: {error}") from error
        self.outbox.engine = self.engine
        self.engine.fence = self._queue_fence()
        self.ops = Operations(self)
        await self.engine.load()
        self._loaded_new = [t.id for t in self.engine.tickets.values() if t.state == "new"]
        self.outbox.restoring(self._loaded_new)  # a resend of those first messages waits for them
        await self._listen_peers()
        await overrides.start(self)
        self.hooks.provide(events.SERVICE, SupportFacade(self))
        s = self.service
        s.on_message(self.on_message)
        s.on_presence(self.on_presence)
        wg = lambda name: f"{{{stanza.WG}}}{name}"  # noqa: E731
        s.on_iq(wg("join-queue"), self.on_join_queue, types=("get", "set"))
        s.on_iq(wg("depart-queue"), self.on_depart_queue, types=("set",))
        s.on_iq(wg("queue-status"), self.on_queue_status, types=("get",))
        s.on_iq(wg("offer-accept"), self.on_offer_answer, types=("set",))
        s.on_iq(wg("offer-reject"), self.on_offer_answer, types=("set",))
        s.on_iq(wg("agent-status-request"), self.on_agent_status_request, types=("get",))
        for name in ("close", "transfer", "note"):
            s.on_iq(f"{{{stanza.NS}}}{name}", self.on_session_iq, types=("set",))
        s.on_iq(f"{{{COMMANDS}}}command", self.command_elsewhere, types=("set",), priority=10)
        s.on_iq(f"{{{DISCO_INFO}}}query", self.on_disco_info, types=("get",), priority=10)
        s.on_iq(f"{{{DISCO_ITEMS}}}query", self.on_disco_items, types=("get",), priority=10)
        self.hooks.on("commands.owns", self.owns_command)
        self.hooks.on("disco.items", self.domain_items)
        self.hooks.on("mam.access", self.mam_access)
        self.hooks.on("admin.rights", self.admin_rights)
        self.hooks.on("admin.stats", self.admin_stats)
        for command in adhoc.all_commands(self):
            s.commands.register(command)
        s.commands.register(overrides.QueueStateCommand(self))

    async def on_connected(self) -> None:
        self.engine.stream_back()  # before anything is sent again: offers on a lost stream go again
        # Only the tickets loaded "new": later ones are mid-join, their first message on its way.
        loaded_new, self._loaded_new = self._loaded_new, []
        await self.outbox.keep_first_messages(loaded_new)
        await self.engine.resume()
        self.ops.start()
        self._start_probing()

    async def stop(self) -> None:
        await self._stop_peering()
        await self.ops.stop()
        await self.engine.stop()
        await self.outbox.close()
        await self.store.close()

    # -- addressing ---------------------------------------------------------------------
    def _queue_of(self, jid: JID) -> str | None:
        if jid.domain != self.service.domain or jid.resource:
            return None
        return jid.user if jid.user in self.engine.queues else None

    def _ticket_of(self, jid: JID) -> str | None:
        if jid.domain != self.service.domain or not jid.user:
            return None
        return self.engine.ticket_id_of(jid.user)

    def _ours(self, jid: JID) -> bool:
        return bool(self._queue_of(jid) or self._ticket_of(jid))
