"""Wiring of the web channel: token, resume, revoke and context IQs at a queue JID."""

from __future__ import annotations

import time
from typing import Any

from slixmpp import JID, Iq

from component.errors import StanzaError
from component.plugin import Plugin
from component.storage import create_tables
from component.texts import Texts
from plugins.support import hooks as support_events

from . import identity, stanza
from .options import SupportWebOptions
from .store import TABLES, WebStore

#: Ticket events after which a conversation can no longer be resumed.
ENDED = ("closed", "abandoned", "finalized")

TEXTS = Texts({
    "intro": ("Customer context:", "客户信息："),
    "page": ("page “{title}” {url}", "页面“{title}” {url}"),
    "lang": ("browser language {v}", "浏览器语言 {v}"),
    "name": ("name {v}", "姓名 {v}"),
    "email": ("e-mail {v}", "邮箱 {v}"),
    "order": ("order {v}", "订单 {v}"),
    "verified": ("(identity verified by the website)", "（身份已由网站验证）"),
    "unverified": ("(identity NOT verified: unsigned or bad signature)", "（身份未验证：未签名或签名无效）"),
    "sep": ("; ", "；"),
})


def describe(data: dict[str, Any], verified: bool, lang: str) -> str:
    """One line for the agent, in the conversation's language."""
    parts = []
    if data.get("url") or data.get("title"):
        parts.append(TEXTS("page", lang, title=data.get("title", ""), url=data.get("url", "")))
    if data.get("lang"):
        parts.append(TEXTS("lang", lang, v=data["lang"]))
    claims = data.get("claims", {})
    shown = [TEXTS(k, lang, v=claims[k]) for k in ("name", "email", "order") if claims.get(k)]
    if shown:
        parts.append(", ".join(shown) + " " + TEXTS("verified" if verified else "unverified", lang))
    return TEXTS("intro", lang) + " " + TEXTS("sep", lang).join(parts)


class SupportWebPlugin(Plugin):
    name = "support_web"
    depends = ("support",)
    #: Its IQs arrive at a queue's JID, so at the queue's owner; tokens and contexts are stored; a
    #: resume of a ticket held by another process (a transfer) is handed to it. docs/scaling.md.
    shares_domain = True
    Options = SupportWebOptions
    features = (stanza.NS,)
    migrations = (create_tables(*TABLES),)

    async def setup(self) -> None:
        self.store = WebStore(self.db)
        self.key = self.options.key()
        for name, handler in (("token", self.on_token), ("resume", self.on_resume), ("revoke", self.on_revoke),
                              ("context", self.on_context)):
            self.service.on_iq(stanza.q(name), handler, types=("set",))
        self.hooks.on(support_events.TICKET_EVENT, self.on_ticket_event)

    @property
    def support(self) -> Any:
        return self.hooks.service(support_events.SERVICE)

    # -- addressing -------------------------------------------------------------------
    async def _queue(self, iq: Iq) -> str:
        to = iq["to"]
        if to.domain != self.service.domain or to.resource or to.user not in self.support.queues():
            raise StanzaError("item-not-found", "web conversations are kept at a queue address")
        await self.support.arrived(iq, to.user)
        return to.user

    async def _customer_ticket(self, queue: str, sender: JID) -> Any:
        t = await self.support.customer_ticket(queue, sender.bare)
        if t is None:
            raise StanzaError("item-not-found", "you have no open conversation in this queue")
        return t

    # -- IQs --------------------------------------------------------------------------
    async def on_token(self, iq: Iq) -> Any:
        queue = await self._queue(iq)
        t = await self._customer_ticket(queue, iq["from"])
        value = await self.store.issue(t.id, queue, time.time(), self.options.tokens_per_ticket)
        self.log.info("conversation token issued", extra={"ticket": t.id})
        reply = iq.reply()
        reply.append(stanza.token(value, t.id))
        return reply

    def _token_attr(self, iq: Iq, name: str) -> str:
        el = iq.xml.find(stanza.q(name))
        value = (el.get("token", "") if el is not None else "").strip()
        if not value or len(value) > stanza.MAX_TOKEN:
            raise StanzaError("bad-request", f"<{name}/> carries the conversation token in its token attribute")
        return value

    async def on_resume(self, iq: Iq) -> Any:
        queue = await self._queue(iq)
        value = self._token_attr(iq, "resume")
        row = await self.store.lookup(value)
        if row is None or row.queue != queue:
            self.log.info("conversation token refused", extra={"queue": queue})
            raise StanzaError("not-authorized", "this conversation token is unknown or revoked")
        # Held here, or as stored (another process may hold it: a transfer to a queue owned elsewhere).
        t = await self.support.ticket(row.ticket)
        if t is None or not t.is_open:
            await self.store.revoke_ticket(row.ticket, time.time())
            raise StanzaError("item-not-found", "this conversation is over")
        sender = iq["from"]
        mine = await self.support.customer_ticket(queue, sender.bare)
        if mine is not None and mine.id != row.ticket:
            raise StanzaError("conflict", "you already have another open conversation in this queue")
        if not self.support.holds(t.id):
            self.support.hand_off(iq, t)  # its holder answers (from this queue's address)
            return True
        t = await self.support.rebind_customer(row.ticket, str(sender))
        self.log.info("conversation resumed", extra={"ticket": t.id})
        reply = iq.reply()
        reply.append(stanza.resumed(t.id, t.state))
        return reply

    async def on_revoke(self, iq: Iq) -> Any:
        await self._queue(iq)
        if not await self.store.revoke(self._token_attr(iq, "revoke"), time.time()):
            raise StanzaError("item-not-found", "this conversation token is unknown or already revoked")
        return iq.reply()

    async def on_context(self, iq: Iq) -> Any:
        queue = await self._queue(iq)
        t = await self._customer_ticket(queue, iq["from"])
        el = iq.xml.find(stanza.q("context"))
        data = stanza.read_context(el)
        data["verified"] = identity.verify(self.key, data["claims"], data.pop("signature"), time.time(),
                                           self.options.identity_max_age)
        await self.store.set_context(t.id, data, time.time())
        if t.agent:
            self._tell_agent(t, data)
        return iq.reply()

    # -- the agent sees it ----------------------------------------------------------------
    def _tell_agent(self, t: Any, data: dict[str, Any]) -> None:
        msg = self.service.xmpp.make_message(mto=t.agent_jid or t.agent, mfrom=self.support.session_jid(t.id),
                                             mbody=describe(data, data.get("verified", False), t.lang),
                                             mtype="chat")
        msg["lang"] = t.lang
        msg.append(stanza.context(data, data.get("verified", False)))
        self.service.send(msg)

    async def on_ticket_event(self, event: Any) -> None:
        if event.kind in ENDED:
            await self.store.revoke_ticket(event.ticket_id, time.time())
        elif event.kind == "accepted":
            data = await self.store.context(event.ticket_id)
            t = await self.support.ticket(event.ticket_id)
            if data and t is not None and t.agent:
                self._tell_agent(t, data)
