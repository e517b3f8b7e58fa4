"""Room archives: the archive hooked into MUC's events (active only where the muc plugin runs).

MUC knows nothing of this module (the decoupling of Prosody's mod_muc_mam):
- ``muc.message``: store before the broadcast; a failed store refuses the
  message (the sender gets the error, nobody gets the message);
- ``muc.get_history``: history on join from the archive;
- ``muc.disco_features``: MAM features on rooms that archive;
- ``muc.room_destroyed``: the archive goes with the room (option);
- ``mam.access``: who may read a room's archive and see real JIDs;
- ``muc.config_form`` / ``muc.config_submitted``: owners choose their room's
  retention, at most the service's own.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from component import namespaces as xmlns
from component.errors import StanzaError
from component.texts import Texts
from plugins.muc import hooks as muc

from . import stanza as wire
from .hooks import ACCESS, AccessRequest, ArchiveAccess, ArchiveRecord

if TYPE_CHECKING:
    from .plugin import MamPlugin

ARCHIVING = "muc#roomconfig_enablearchiving"
#: Room owners' retention choice in the room configuration form (days; "default" = the service's policy).
RETENTION_FIELD = xmlns.MAM_RETENTION_FIELD
RETENTION_CHOICES = (1, 7, 30, 90, 365)
_TEXTS = {
    "label": ("Delete archived messages after", "存档消息保留期限"),
    "default": ("Service default ({policy})", "服务默认（{policy}）"),
    "days": ("{n} days", "{n} 天"),
    "day": ("1 day", "1 天"),
    "forever": ("Keep forever", "永久保留"),
    "too_long": ("This service keeps messages at most {n} days.", "本服务最多保留消息 {n} 天。"),
    "bad": ("Unknown retention choice {value!r}.", "无效的保留期限 {value!r}。"),
}


_text = Texts(_TEXTS)


def _days(n: int, lang: str) -> str:
    if n == 0:
        return _text("forever", lang)
    return _text("day", lang) if n == 1 else _text("days", lang, n=n)


class MucBridge:
    def __init__(self, plugin: "MamPlugin") -> None:
        self.plugin = plugin
        self.archive = plugin.archive
        self.hooks = plugin.hooks
        self.muc: muc.MucService = plugin.hooks.service(muc.SERVICE)
        self.log = plugin.log

    def setup(self) -> None:
        self.hooks.on(muc.MESSAGE, self.on_message, owner="mam")
        self.hooks.on(muc.GET_HISTORY, self.on_history, owner="mam")
        self.hooks.on(muc.DISCO_FEATURES, self.on_disco_features, owner="mam")
        self.hooks.on(muc.ROOM_DESTROYED, self.on_room_destroyed, owner="mam")
        self.hooks.on(ACCESS, self.on_access, owner="mam")
        self.hooks.on(muc.CONFIG_FORM, self.on_config_form, owner="mam")
        self.hooks.on(muc.CONFIG_SUBMITTED, self.on_config_submitted, owner="mam")

    def archives(self, room: str) -> bool:
        return bool(self.muc.room_config(room).get(ARCHIVING))

    async def on_message(self, message: muc.GroupchatMessage) -> Any:
        if not message.archive or not wire.should_archive(message.stanza):
            return None
        record = ArchiveRecord(
            archive=message.room, stanza_id=message.stanza_id, timestamp=message.timestamp,
            stanza=message.stanza, author=message.real_jid.partition("/")[0],
            with_jid=f"{message.room}/{message.nick}" if message.nick else message.room,
            occupant_id=message.occupant_id, origin_id=message.origin_id, client_id=message.client_id,
            kind="groupchat")
        try:
            await self.archive.store(record)
        except Exception as exc:
            # MUC answers the sender with this error and broadcasts nothing.
            if isinstance(exc, asyncio.TimeoutError) or "database is locked" in str(exc):
                self.log.warning("archive busy; message refused", extra={"room": message.room})
                raise StanzaError("resource-constraint",
                                  "the archive is busy, so the message was not sent; try again") from exc
            self.log.exception("archiving failed; message refused", extra={"room": message.room})
            raise StanzaError("internal-server-error",
                              "the message could not be archived, so it was not sent") from exc
        return None

    async def on_history(self, request: muc.HistoryRequest) -> Any:
        if not self.archives(request.room):
            return None  # MUC's in-memory history has what was said while archiving was off
        maxstanzas = request.default_max if request.maxstanzas is None else request.maxstanzas
        found = await self.archive.history(request.room, maxstanzas=maxstanzas, maxchars=request.maxchars,
                                           since=request.since, seconds=request.seconds)
        return [muc.HistoryItem(stanza=element, timestamp=ts) for element, ts in found]

    async def on_disco_features(self, room: str) -> Any:
        return (wire.NS, wire.NS_EXTENDED) if self.archives(room) else None

    async def on_room_destroyed(self, event: muc.RoomEvent) -> Any:
        if self.plugin.options.delete_with_room:
            await self.archive.delete_archive(event.room)
        return None

    # -- the owners' retention setting ---------------------------------------
    def _allowed_days(self) -> list[int]:
        """Owners may shorten the service's retention, never lengthen it."""
        limit = self.archive.retention_days
        return [d for d in RETENTION_CHOICES if not limit or d <= limit] + ([] if limit else [0])

    async def on_config_form(self, event: muc.ConfigFormEvent) -> Any:
        days, _ = await self.archive.backend.policy(event.room)
        lang = event.lang or "en"
        choices = self._allowed_days()
        if days is not None and days not in choices:
            choices.append(days)  # set by an administrator: shown as it is
        options = [{"label": _text("default", lang, policy=_days(self.archive.retention_days, lang)),
                    "value": "default"}]
        options += [{"label": _days(d, lang), "value": str(d)} for d in choices]
        event.form.add_field(var=RETENTION_FIELD, ftype="list-single", label=_text("label", lang),
                             value="default" if days is None else str(days), options=options)
        return True

    async def on_config_submitted(self, event: muc.ConfigSubmitEvent) -> Any:
        if RETENTION_FIELD not in event.values:
            return None
        value = event.values[RETENTION_FIELD]
        value = (value[0] if value else "") if isinstance(value, list) else str(value or "")
        current_days, most = await self.archive.backend.policy(event.room)
        if value in ("", "default"):
            days = None
        else:
            try:
                days = int(value)
            except ValueError:
                raise StanzaError("not-acceptable", _text("bad", "en", value=value)) from None
            limit = self.archive.retention_days
            if days < 0 or (days != current_days and days not in self._allowed_days()):
                if limit and (days == 0 or days > limit):
                    raise StanzaError("not-acceptable", _text("too_long", "en", n=limit))
                raise StanzaError("not-acceptable", _text("bad", "en", value=value))
        if days != current_days:
            await self.archive.set_policy(event.room, retention_days=days, max_messages=most)
            self.log.info("room retention changed", extra={"room": event.room, "retention_days": days,
                                                           "actor": event.actor})
        return True

    async def on_access(self, request: AccessRequest) -> ArchiveAccess | None:
        room = request.to
        if "@" not in room or not self.muc.room_exists(room):
            return None
        who = request.requester.bare
        admin = self.plugin.service.is_admin(who)
        allowed = admin or self.muc.can_read_history(room, who)
        reason = ""
        if not allowed:
            reason = ("you are banned from this room" if self.muc.affiliation(room, who) == "outcast"
                      else "only members may read this room's archive")
        return ArchiveAccess(archive=room, allowed=allowed, real_jids=admin or self.muc.can_see_real_jids(room, who),
                             reason=reason)
