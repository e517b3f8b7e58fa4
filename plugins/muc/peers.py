"""Rooms changed or spoken in by another process of this domain, applied where they are served.

With balancing (docs/scaling.md) a room's stanzas, hence its occupants, reach one process,
but the bare domain, where administrators' commands arrive, hashes to any. A process that
changes a room it does not serve writes the change and notifies (``ROOM_CHANNEL``, through
``component/peers.py``); the others reload the room. Where the room is served, the change
is then applied as if made there: a destruction tells the occupants, an affiliation or a
configuration that excludes present occupants removes them (301, 321, 322), occupants get
the status codes of a configuration change (104, 170-173).

A message from the room itself (an announcement) sent by a process without occupants in the
room is archived and hooked there, once; the stanza, already stamped, goes on
``MESSAGE_CHANNEL`` and the process that has the occupants only delivers it (no archive, no
hook), in the room's order.

A temporary room is not stored, so only the process serving it may create it: one created by
an administrator's command answered elsewhere is handed over. The answering process sends a
``<create/>`` (``urn:switchboard:muc:peer:0``, ``schemas/muc-peer.xsd``) in a message from the
bare service domain to the room's JID: the server routes it to the process that serves the
room (only our component may send from the bare domain, so it is trusted there), which creates
the room as if asked itself and answers on ``CREATED_CHANNEL``. The command waits at most
``CREATE_TIMEOUT`` seconds, then says the room's process did not answer (its slot may be free).

The service's disco#items (the public rooms) reaches whichever process the bare domain hashes
to: stored rooms it knows, temporary ones only their own process does. It asks the others for
their public temporary rooms (``PUBLIC_TEMPORARY``, component/peer_requests.py) and lists what
they answer within ``ITEMS_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from slixmpp import JID
from slixmpp.exceptions import XMPPError

from component.errors import StanzaError
from component.namespaces import MUC_PEER

from . import hooks
from .room import Room, RoomConfig
from .stanza import serialize
from .store import StoredRoom

if TYPE_CHECKING:
    from .plugin import MucPlugin

#: PostgreSQL NOTIFY channel: "this room changed in the database" (payload: the room's JID, then
#: the new configuration as JSON when it was made temporary, hence deleted).
ROOM_CHANNEL = "switchboard_muc_room"
#: "Deliver this room message to its occupants" (payload: room, history flag, time, stanza id, stanza).
MESSAGE_CHANNEL = "switchboard_muc_message"
#: "The room you asked for is created, or why not" (payload: JSON request, condition, text).
CREATED_CHANNEL = "switchboard_muc_created"
#: Seconds an administrator's command waits for the process serving a new temporary room.
CREATE_TIMEOUT = 5.0
#: The question "which public temporary rooms do you serve?" (answer: [[room, name], …]).
PUBLIC_TEMPORARY = "muc.public-temporary"
#: Seconds the service's disco#items waits for the other processes' public temporary rooms.
ITEMS_TIMEOUT = 1.0

log = logging.getLogger("switchboard.plugins.muc")


def create_element(request: str, owner: str, actor: str, config: dict[str, Any]) -> Element:
    """``<create/>``: the room's process creates this temporary room (schemas/muc-peer.xsd)."""
    ask = Element(f"{{{MUC_PEER}}}create", {"request": request, "owner": owner, "actor": actor})
    ask.text = json.dumps(config, ensure_ascii=False, default=list)
    return ask


class PeerRooms:
    def __init__(self, muc: "MucPlugin", peers: Any) -> None:
        self.muc = muc
        self.peers = peers
        self._creating: dict[str, asyncio.Future] = {}
        self.create_timeout = CREATE_TIMEOUT

    async def listen(self) -> None:
        await self.peers.listen(ROOM_CHANNEL, self.reload_room)
        await self.peers.listen(MESSAGE_CHANNEL, self.on_message)
        # An answer arriving after the command gave up is of no use: not read back after a cut.
        await self.peers.listen(CREATED_CHANNEL, self.on_created, replay=False)
        requests = getattr(self.muc.service.app, "peer_requests", None)
        if requests is not None:
            requests.answer(self.muc.service.domain, PUBLIC_TEMPORARY, self._public_temporary)

    async def _public_temporary(self, _body: Any) -> list[list[str]]:
        muc = self.muc
        return [[room.jid, muc.disco.room_name(room)] for room in muc.rooms.public_rooms()
                if not room.config.persistent]

    async def public_temporary_elsewhere(self) -> list[tuple[str, str]]:
        """The public temporary rooms the other processes of this domain serve: (room, name)."""
        requests = getattr(self.muc.service.app, "peer_requests", None)
        if not self.peers.active or requests is None:
            return []
        gathered = await requests.ask(self.muc.service.domain, PUBLIC_TEMPORARY, timeout=ITEMS_TIMEOUT)
        return [(room, name) for answer in gathered.answers if not answer.process.here
                for room, name in answer.body or ()]

    async def changed(self, session: Any, room: str) -> None:
        await self.peers.notify(session, ROOM_CHANNEL, room)

    # -- changes ---------------------------------------------------------------------
    async def reload_room(self, payload: str) -> None:
        """Another process of this domain changed a room in the database: take the stored state.

        Its occupants, if any, are served here and stay; an unstored room without occupants goes.
        A persistent room with occupants here that is no longer stored was destroyed elsewhere (an
        administrator's command answered by another process), unless it was made temporary: its
        occupants are told here.
        """
        muc = self.muc
        jid, _, temporary = payload.partition(" ")
        if JID(jid).domain != muc.service.domain:
            return
        stored = await muc.store.load_rooms(jid)
        room = muc.rooms.get(jid)
        if stored and room is not None and room.occupants:
            await self._reload_served(room, stored[0])
        elif stored:
            muc.restore(stored[0])
        elif room is not None and not room.occupants:
            muc.rooms.remove(jid)
        elif room is not None and temporary:
            old, room.config = room.config, RoomConfig.from_dict(json.loads(temporary))
            await muc.config_form.announce(room, old, "")
        elif room is not None and room.config.persistent:
            await muc.host.destroy(room, f"{muc.service.domain}")
        muc.log.debug("room reloaded after a peer's change", extra={"room": jid, "stored": bool(stored)})

    async def _reload_served(self, room: Room, stored: StoredRoom) -> None:
        """A room served here, changed by another process: what excludes present occupants there
        (a ban, a membership taken away, members-only) removes and tells them here, as made here."""
        muc = self.muc
        old_affiliations, old_config = dict(room.affiliations), room.config
        muc.restore(stored)
        for jid in set(old_affiliations) | set(stored.affiliations):
            before = old_affiliations.get(jid, "none")
            after, nick, reason = stored.affiliations.get(jid, ("none", "", ""))
            if before != after and room.occupants_of(jid):
                room.set_affiliation(jid, before)
                await muc.host.set_affiliation(room, jid, after, "", reason, nick or None)
        if room.config != old_config:
            await muc.config_form.announce(room, old_config, "")

    # -- messages from the room ------------------------------------------------------------
    async def relay(self, room: Room, event: hooks.GroupchatMessage, remember: bool) -> None:
        """A message from the room, archived here: delivered by the process serving the room."""
        if room.occupants:
            return  # served here: already delivered
        payload = f"{room.jid} {int(remember)} {event.timestamp!r} {event.stanza_id} {serialize(event.stanza)}"
        async with self.muc.db.session() as session:
            await self.peers.notify(session, MESSAGE_CHANNEL, payload)

    async def on_message(self, payload: str) -> None:
        jid, remember, timestamp, stanza_id, xml = payload.split(" ", 4)
        room = self.muc.rooms.get(jid)
        if room is None or not room.occupants:
            return  # not served here
        await self.muc.messages.deliver(room, xml, stanza_id, float(timestamp), remember == "1")


    # -- temporary rooms created by a process that does not serve them ----------------------------
    async def create_where_served(self, room: str, owner: str, config: dict[str, Any], actor: str) -> None:
        """Have the process serving ``room`` create it (temporary); raises its refusal, if any."""
        request = os.urandom(8).hex()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._creating[request] = future
        service = self.muc.service
        msg = service.xmpp.make_message(mto=room, mfrom=service.domain, mtype="normal")
        msg.append(create_element(request, owner, actor, config))
        try:
            service.send(msg)
            condition, text = await asyncio.wait_for(future, self.create_timeout)
        except asyncio.TimeoutError:
            raise StanzaError("recipient-unavailable", "the process serving this room did not answer; it may be "
                                                       "restarting: try again in a moment") from None
        finally:
            self._creating.pop(request, None)
        if condition:
            raise StanzaError(condition, text)

    def is_create(self, msg: Any) -> Element | None:
        """Our own hand-over of a room creation (sent from the bare service domain only)."""
        if msg["from"].full != self.muc.service.domain:
            return None
        return msg.xml.find(f"{{{MUC_PEER}}}create")

    async def on_create(self, room: str, ask: Element) -> None:
        """The server routed a creation here: this process serves the room."""
        request = ask.get("request", "")
        condition = text = ""
        try:
            config = json.loads(ask.text or "{}")
            if not isinstance(config, dict):
                raise StanzaError("bad-request", "the configuration is not an object")
            await self.muc.create_room(room, ask.get("owner", ""), config, ask.get("actor", ""), here=True)
        except XMPPError as refused:
            condition, text = refused.condition, refused.text or ""
        except Exception:  # noqa: BLE001 - the asker gets an answer whatever happens here
            log.exception("creating a room for another process failed", extra={"room": room})
            condition, text = "internal-server-error", "the room's process failed to create it"
        waiting = self._creating.get(request)
        if waiting is not None:  # asked by this process: the room hashed to its own slot
            if not waiting.done():
                waiting.set_result((condition, text))
            return
        answer = json.dumps({"request": request, "condition": condition, "text": text}, ensure_ascii=False)
        async with self.muc.db.session() as session:
            await self.peers.notify(session, CREATED_CHANNEL, answer, durable=False)

    async def on_created(self, payload: str) -> None:
        answer = json.loads(payload)
        waiting = self._creating.get(answer.get("request", ""))
        if waiting is not None and not waiting.done():
            waiting.set_result((answer.get("condition", ""), answer.get("text", "")))
