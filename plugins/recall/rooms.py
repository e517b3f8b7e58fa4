"""Recall in rooms: self-retraction, moderation, the per-room window, disco (active where MUC runs).

- Self-retraction (XEP-0424, and XEP-0422's older form) arrives as a groupchat
  message: checked in ``muc.message`` before the archive stores it, so a refused
  retraction is neither archived nor broadcast, and an accepted one has
  already tombstoned the original when MUC archives and broadcasts it.
- Moderation (XEP-0425 0.3.0 and 0.2) is an IQ set to the room; the room then
  broadcasts the notice in the form the request used.
- Each room may override the service's recall window in its configuration form.

MUC knows nothing of this module; it uses MUC's events and public service only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slixmpp import JID, Iq

from component import namespaces as xmlns
from component.errors import StanzaError
from plugins.muc import hooks as muc_hooks

from . import stanza
from .service import (DEFAULT_CHOICE, WINDOW_CHOICES, Actor, Target, check_moderate, check_retract, describe_window,
                      notice, parse_window_value, text)

if TYPE_CHECKING:
    from .plugin import RecallPlugin

#: Room configuration field holding the room's recall window.
WINDOW_FIELD = xmlns.RECALL_WINDOW_FIELD

PRIVILEGED_AFFILIATIONS = ("owner", "admin")
ARCHIVING = "muc#roomconfig_enablearchiving"


class RoomRecall:
    def __init__(self, plugin: "RecallPlugin") -> None:
        self.plugin = plugin
        self.service = plugin.service
        self.hooks = plugin.hooks
        self.recall = plugin.recall
        self.options = plugin.options

    def setup(self) -> None:
        owner = self.plugin.name
        # Above the archive (priority 0): refuse or tombstone before the retraction is stored.
        self.hooks.on(muc_hooks.MESSAGE, self.on_groupchat, priority=100, owner=owner)
        self.hooks.on(muc_hooks.DISCO_FEATURES, self.on_disco_features, owner=owner)
        self.hooks.on(muc_hooks.CONFIG_FORM, self.on_config_form, owner=owner)
        self.hooks.on(muc_hooks.CONFIG_SUBMITTED, self.on_config_submitted, owner=owner)
        self.hooks.on(muc_hooks.ROOM_DESTROYED, self.on_room_destroyed, owner=owner)
        for tag in (stanza.MODERATE_TAG, stanza.APPLY_TO_TAG):
            self.service.on_iq(tag, self.on_moderate, types=("set",), priority=10)

    @property
    def muc(self) -> muc_hooks.MucService:
        return self.hooks.service(muc_hooks.SERVICE)

    def _privileged(self, room: str, bare: str) -> bool:
        return self.muc.affiliation(room, bare) in PRIVILEGED_AFFILIATIONS or self.service.is_admin(bare)

    # -- self-retraction ----------------------------------------------------
    async def on_groupchat(self, event: muc_hooks.GroupchatMessage) -> Any:
        if not event.real_jid:
            return None  # the room's own notices, e.g. our moderation broadcasts
        message = event.stanza
        lang = stanza.message_lang(message)
        if stanza.forged_moderation(message):
            raise StanzaError("forbidden", text("forged", lang))
        request = stanza.parse_retract(message)
        if request is None:
            return None
        bare = JID(event.real_jid).bare
        actor = Actor(bare_jid=bare, occupant_id=event.occupant_id, privileged=self._privileged(event.room, bare))
        window = self.recall.window_for(event.room)
        if not event.archive:
            await self.retract_unarchived(event, request.target_id, actor, window, lang)
            return None
        await self.recall.retract_own(event.room, request.target_id, actor, window=window,
                                      retraction_id=event.stanza_id,
                                      tombstone_id=event.client_id or event.stanza_id, lang=lang)
        return None  # MUC archives and broadcasts the retraction itself

    async def retract_unarchived(self, event: muc_hooks.GroupchatMessage, target_id: str, actor: Actor,
                                 window: int | None, lang: str) -> None:
        """A room without archive still relays the retraction: the occupants hold the message.

        The room's in-memory history (what joiners get) is checked and cleaned when it still
        has the original; otherwise the retraction is relayed as it is, and clients check
        that it comes from the author's occupant-id (XEP-0424 security considerations).
        """
        recent = self.muc.recent_message(event.room, target_id)
        target = self.recent_target(target_id, recent)
        if target is not None:
            check_retract(target, actor, window, event.timestamp, lang)
            self.muc.forget_message(event.room, target_id)
        await self.recall.audit_unarchived(event.room, target_id, actor.bare_jid, author=target and actor.bare_jid,
                                           retraction_id=event.client_id or event.stanza_id, now=event.timestamp)

    @staticmethod
    def recent_target(target_id: str, recent: muc_hooks.HistoryItem | None) -> Target | None:
        if recent is None:
            return None
        found = recent.stanza.find(f"{{{stanza.NS_OCCUPANT_ID}}}occupant-id")
        return Target(stanza_id=target_id, author="", occupant_id=found.get("id", "") if found is not None else "",
                      timestamp=recent.timestamp, retracted=False, is_retraction=stanza.is_retraction(recent.stanza))

    # -- moderation ---------------------------------------------------------
    async def on_moderate(self, iq: Iq) -> Any:
        to = iq["to"]
        if to.resource or not to.user:
            return None  # not addressed to a room
        payload = next((child for child in iq.xml if child.tag in (stanza.MODERATE_TAG, stanza.APPLY_TO_TAG)), None)
        if payload is None:
            return None
        request = stanza.parse_moderate(payload)
        if request is None:
            return None  # another kind of fastening
        room = to.bare
        lang = iq["lang"] or "en"
        muc = self.muc
        if not muc.room_exists(room):
            raise StanzaError("item-not-found", text("unknown", lang))
        requester = iq["from"]
        occupant = muc.occupant(room, requester.full)
        moderator = (occupant is not None and occupant.role == "moderator") or self._privileged(room, requester.bare)
        occupant_id = occupant.occupant_id if occupant is not None else muc.occupant_id(room, requester.bare)
        # A moderator who is not in the room is named by the room itself, not by real JID.
        by = f"{room}/{occupant.nick}" if occupant is not None else room
        actor = Actor(bare_jid=requester.bare, occupant_id=occupant_id, moderator=moderator)
        if muc.room_config(room).get(ARCHIVING):
            await self.recall.moderate(room, request.target_id, actor, by=by, moderator_occupant_id=occupant_id,
                                       reason=request.reason, lang=lang)
        else:
            # Nothing archived to tombstone, but the occupants hold the message: the notice still goes out.
            recent = self.muc.recent_message(room, request.target_id)
            check_moderate(self.recent_target(request.target_id, recent) or Target(
                request.target_id, "", "", 0.0, False, False), actor, lang)
            self.muc.forget_message(room, request.target_id)
            await self.recall.audit_unarchived(room, request.target_id, requester.bare, moderated=True,
                                               reason=request.reason)
        payload_out = [stanza.build_moderation_notice(request.target_id, by, occupant_id, request.reason)]
        if request.version == stanza.LEGACY:
            # Answer in the 0.2 form the moderator's client speaks; the current form
            # stays alongside for the other occupants' newer clients.
            payload_out.insert(0, stanza.build_legacy_moderation_notice(request.target_id, by, request.reason))
        room_lang = str(muc.room_config(room).get("muc#roomconfig_lang") or "")
        body = (notice("moderated_reason", room_lang, reason=request.reason) if request.reason
                else notice("moderated", room_lang))
        payload_out += stanza.build_fallback_body(body, room_lang)
        if not await muc.broadcast_from_room(room, payload_out):
            # The content is gone already; only the notice failed (e.g. the archive refused it).
            self.plugin.log.warning("moderation notice not broadcast", extra={"room": room,
                                                                              "stanza_id": request.target_id})
        return iq.reply()

    # -- room settings and disco --------------------------------------------
    def on_disco_features(self, room: str) -> Any:
        # Rooms that do not archive still relay retractions and moderations to their occupants.
        return stanza.ROOM_FEATURES

    def on_config_form(self, event: muc_hooks.ConfigFormEvent) -> Any:
        lang = event.lang
        current = self.recall.room_windows.get(event.room)
        options = [{"label": notice("window_default", lang,
                                    window=describe_window(self.options.window_seconds, lang)),
                    "value": DEFAULT_CHOICE}]
        choices = list(WINDOW_CHOICES[1:])
        if current is not None and str(current) not in choices:
            choices.append(str(current))
        options += [{"label": describe_window(int(value), lang), "value": value} for value in choices]
        event.form.add_field(var=WINDOW_FIELD, ftype="list-single", label=notice("window_label", lang),
                             value=DEFAULT_CHOICE if current is None else str(current), options=options)
        return True

    async def on_config_submitted(self, event: muc_hooks.ConfigSubmitEvent) -> Any:
        if WINDOW_FIELD not in event.values:
            return None
        seconds = parse_window_value(event.values[WINDOW_FIELD])
        if seconds != self.recall.room_windows.get(event.room):
            await self.recall.set_room_window(event.room, seconds)
        return True

    async def on_room_destroyed(self, event: muc_hooks.RoomEvent) -> Any:
        await self.recall.forget_room(event.room)
        return None
