"""What each agent's client speaks (XEP-0142 offer IQs or plain chat), and whether it is online:
asked of the client by disco#info, once per session, or once per client version announced with
XEP-0115 capabilities (component/caps.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Collection
from xml.etree.ElementTree import Element

from slixmpp.exceptions import IqError, IqTimeout

from component import namespaces as xmlns
from component.caps import Caps, CapsCache

from . import stanza

if TYPE_CHECKING:
    from component.service import Service

    from .engine import SupportEngine

log = logging.getLogger("switchboard.plugins.support")

DISCO_TIMEOUT = 5.0


class AgentClients:
    """Needs from the class it is mixed into: ``service`` and ``engine``; it calls ``_start_clients``
    when built."""

    service: "Service"
    engine: "SupportEngine | None"

    def _start_clients(self) -> None:
        self._features: dict[str, bool] = {}  # full JID -> speaks XEP-0142 offers
        self._asking: dict[str, asyncio.Future] = {}  # full JID -> its disco#info on the way
        self._client_caps: dict[str, Caps] = {}  # full JID -> the XEP-0115 version its presence announced
        #: What each client version speaks, asked of one session and believed of the others.
        self.caps = CapsCache(learned=self._version_learned)

    def _pinned(self) -> str:
        """Where our requests come from: a JID whose answers reach this process. With processes
        sharing the domain the bare domain hashes to any of them; a queue owned here does not."""
        assert self.engine is not None
        if self.engine.shared and self.engine.owned:
            return self.engine.queue_jid(min(self.engine.owned))
        return self.engine.domain

    def forget_client(self, jid: str) -> None:
        """A resource went offline, or came online anew: what its client speaks is learned again at the
        next offer (the same resource may now be another client)."""
        self._features.pop(jid, None)
        self._asking.pop(jid, None)
        self._client_caps.pop(jid, None)

    def learn_client(self, jid: str, caps: Caps | None = None) -> None:
        """Learn what a new agent session speaks before its first offer is due: from its client
        version (XEP-0115) when another session of that version was asked already, else asked."""
        assert self.engine is not None
        if caps is not None:
            self._client_caps[jid] = caps
            known = self.caps.known(caps)
            if known is not None:
                self._features[jid] = stanza.WG in known
                return
        if jid not in self._features:
            self._ask_features(jid)

    def known_offer_form(self, jid: str) -> str:
        return "chat" if self._features.get(jid) is False else ""

    async def supports_offers(self, jid: str) -> bool:
        """Does this full JID take XEP-0142 offer IQs? Asked once per session of the resource (an offer
        due while the question is on its way waits for the same answer)."""
        if jid in self._features:
            return self._features[jid]
        features = await asyncio.shield(self._ask_features(jid))
        return bool(features) and stanza.WG in features

    def _ask_features(self, jid: str) -> asyncio.Future:
        """The question on its way to ``jid``, or a new one, sent before this returns. Its answer is
        awaited by a task of its own: learned even when nobody waits for it yet."""
        asking = self._asking.get(jid)
        if asking is None:
            try:
                asking = asyncio.ensure_future(self._features_of(jid))
            except Exception as exc:  # noqa: BLE001 - failed like an answer that failed: asked again later
                asking = asyncio.get_running_loop().create_future()
                asking.set_exception(exc)
            self._asking[jid] = asking
            asking.add_done_callback(lambda done, jid=jid: self._features_answered(jid, done))
        return asking

    def _features_answered(self, jid: str, done: asyncio.Future) -> None:
        if self._asking.get(jid) is not done:
            return  # forgotten meanwhile (the session ended)
        del self._asking[jid]
        if done.cancelled() or done.exception() is not None:
            if not done.cancelled():
                log.warning("asking a client what it speaks failed", exc_info=done.exception())
            return  # asked again at the next offer
        self._learned(jid, done.result())

    def _version_learned(self, caps: Caps, features: frozenset[str]) -> None:
        """A client version's answer was just verified: every session of that version still waiting
        knows what it speaks now (fifty agents online together: their offers go out with the answer)."""
        for jid, announced in list(self._client_caps.items()):
            if jid not in self._features and (announced.hash, announced.ver) == (caps.hash, caps.ver):
                self._learned(jid, features)

    def _learned(self, jid: str, features: Collection[str] | None) -> None:
        """What ``jid`` speaks is known now: kept, and the offers that waited for it are written."""
        self._features[jid] = bool(features) and stanza.WG in features
        self._client_known(jid)

    def _client_known(self, jid: str) -> None:
        """What ``jid`` speaks was just learned (the outbox writes the offers that waited for it)."""

    def _features_of(self, jid: str) -> Awaitable[set[str] | None]:
        """What ``jid`` speaks, asked before this returns (or waiting for a question on its way)."""
        caps = self._client_caps.get(jid)
        if caps is None:
            return self._disco(jid)
        return self._as_set(self.caps.features(caps, lambda node: self._answered(jid, node)))

    @staticmethod
    async def _as_set(found: Awaitable[frozenset[str] | None]) -> set[str] | None:
        features = await found
        return None if features is None else set(features)

    def _disco(self, jid: str) -> Awaitable[set[str] | None]:
        return self._features_in(self._info(jid))

    @staticmethod
    async def _features_in(answer: Awaitable[Element | None]) -> set[str] | None:
        try:
            query = await answer
        except IqTimeout:
            return set()
        return None if query is None else {f.get("var", "") for f in query.findall(f"{{{xmlns.DISCO_INFO}}}feature")}

    def _answered(self, jid: str, node: str) -> Awaitable[Element | None]:
        """``_info``, with no answer in time taken as none (nothing is believed of the version)."""
        return self._timeout_as_none(self._info(jid, node))

    @staticmethod
    async def _timeout_as_none(answer: Awaitable[Element | None]) -> Element | None:
        try:
            return await answer
        except IqTimeout:
            return None

    def _info(self, jid: str, node: str = "") -> Awaitable[Element | None]:
        """``jid``'s disco#info query element (of ``node``: XEP-0115's node#ver); None when it answered
        with an error or the server did for it; IqTimeout when no answer came in time. The question
        leaves before this returns: an agent's first offer waits for its answer, and a task would
        ask only after everything else the loop has to do (fifty agents' presences read at once)."""
        assert self.engine is not None
        iq = self.service.make_iq(ifrom=self._pinned(), ito=jid, itype="get")
        iq["disco_info"]["node"] = node  # creates the query element (no attribute when empty)
        return self._query_of(self.service.request_now(iq, timeout=DISCO_TIMEOUT))

    @staticmethod
    async def _query_of(reply: Awaitable[Any]) -> Element | None:
        try:
            result = await reply
        except IqError:
            return None
        found = result.xml.find(f"{{{xmlns.DISCO_INFO}}}query")
        return Element(f"{{{xmlns.DISCO_INFO}}}query") if found is None else found

    async def probe(self, jid: str) -> bool:
        """Is this full JID online? A client answers disco#info; the server answers for an absent one."""
        return await self._disco(jid) is not None
