"""Hats (XEP-0317): roles with a title that owners and admins give people, shown in presence.

Given and taken with the XEP's ad-hoc commands sent to the room's JID
(``urn:xmpp:hats:commands:don`` / ``doff`` / ``dlist``), by the room's owners and
admins (and service administrators). A hat belongs to a bare JID; while that
person is in the room their presence carries ``<hats xmlns='urn:xmpp:hats:0'>``
and changes are broadcast at once. Hats go with the room.
"""

from __future__ import annotations

from typing import Any

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component.adhoc import Command, Context, Done, FormError, FormStep
from component.errors import StanzaError
from component.forms import new_form, table

from .. import hooks
from ..room import Room
from ..stanza import escape_attr
from .occupancy import Change
from . import Feature

NS_HATS = "urn:xmpp:hats:0"
DON, DOFF, DLIST = (f"urn:xmpp:hats:commands:{name}" for name in ("don", "doff", "dlist"))


class Hats(Feature):
    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.hats: dict[str, dict[str, dict[str, str]]] = {}  # room -> bare JID -> uri -> title

    def hook(self, events: Any) -> None:
        super().hook(events)
        self.host.hooks.on("commands.owns", self.owns_command, owner="muc")
        self.host.hooks.on(hooks.ROOM_DESTROYED, self.on_destroyed, owner="muc")
        self.host.hooks.on(hooks.ROOM_CREATED, self.on_destroyed, owner="muc")

    def commands(self) -> list[Command]:
        return [HatCommand(self, DON, "Give a hat", "授予头衔"),
                HatCommand(self, DOFF, "Take a hat off", "取下头衔"),
                HatCommand(self, DLIST, "List hats", "列出头衔")]

    async def load(self) -> None:
        for room_jid, jid, uri, title in await self.host.store.hats():
            room = self.host.rooms.get(room_jid)
            if room is None:
                continue  # another process's room, or one that went: cleaned when created again
            self.hats.setdefault(room_jid, {}).setdefault(jid, {})[uri] = title
            self.refresh(room, jid, announce=False)

    def disco_features(self, room: Room) -> tuple[str, ...]:
        return (NS_HATS,)

    def owns_command(self, iq: Any) -> Any:
        to = iq["to"]
        node = iq["command"]["node"]
        if node in (DON, DOFF, DLIST) and to.user and not to.resource and self.host.rooms.get(to.bare) is not None:
            return True
        return None

    def may_manage(self, ctx: Context) -> bool:
        target = ctx.target
        room = self.host.rooms.get(target.bare) if target is not None and target.user else None
        return room is not None and room.affiliation(ctx.requester.bare) in ("owner", "admin")

    async def don(self, room: Room, jid: str, uri: str, title: str) -> None:
        await self.host.store.save_hat(room.jid, jid, uri, title)
        self.hats.setdefault(room.jid, {}).setdefault(jid, {})[uri] = title
        self.refresh(room, jid)

    async def doff(self, room: Room, jid: str, uri: str) -> bool:
        worn = self.hats.get(room.jid, {}).get(jid, {})
        if uri not in worn:
            return False
        await self.host.store.delete_hats(room.jid, jid, uri)
        del worn[uri]
        self.refresh(room, jid)
        return True

    def refresh(self, room: Room, jid: str, announce: bool = True) -> None:
        worn = self.hats.get(room.jid, {}).get(jid, {})
        if worn:
            room.presence_extras[jid] = f'<hats xmlns="{NS_HATS}">' + "".join(
                f'<hat uri="{escape_attr(uri)}" title="{escape_attr(title)}"/>' for uri, title in worn.items()
            ) + "</hats>"
        else:
            room.presence_extras.pop(jid, None)
        if announce:
            for occupant in room.occupants_of(jid):
                if occupant.sessions:
                    self.host.broadcast_presence(room, occupant, Change(broadcast=room.broadcasts_presence_of(
                        occupant.role)))

    async def on_destroyed(self, event: Any) -> None:
        """Destroyed, or created anew: no hats of an earlier room of that name."""
        self.hats.pop(event.room, None)
        await self.host.store.delete_hats(event.room)


class HatCommand(Command):
    def __init__(self, hats: Hats, node: str, name: str, name_zh: str) -> None:
        self.hats = hats
        self.node = node  # type: ignore[misc]
        self.name = name  # type: ignore[misc]
        self.name_zh = name_zh  # type: ignore[misc]

    def allowed(self, ctx: Context) -> bool:
        return ctx.is_admin or self.hats.may_manage(ctx)

    def room(self, ctx: Context) -> Room:
        room = self.hats.host.rooms.get(ctx.target.bare) if ctx.target is not None and ctx.target.user else None
        if room is None:
            raise StanzaError("bad-request", "send this command to a room's address")
        return room

    async def start(self, ctx: Context) -> Any:
        room = self.room(ctx)
        if self.node == DLIST:
            rows = [{"hats#jid": jid, "hats#hat": uri, "hats#title": title}
                    for jid, worn in sorted(self.hats.hats.get(room.jid, {}).items())
                    for uri, title in sorted(worn.items())]
            return Done(form=table((("hats#jid", "JID"), ("hats#hat", "Hat"), ("hats#title", "Title")), rows,
                                   title=ctx.text("Hats", "头衔")))
        form = new_form(title=self.title(ctx.lang), form_type_value=NS_HATS)
        form.add_field(var="hats#jid", ftype="jid-single", label=ctx.text("The user", "用户"), required=True)
        form.add_field(var="hats#hat", ftype="text-single", label=ctx.text("The hat's URI", "头衔 URI"),
                       required=True)
        if self.node == DON:
            form.add_field(var="hats#title", ftype="text-single", label=ctx.text("Its title", "头衔名称"),
                           required=True)
        return FormStep(form, self.submitted, final=True)

    async def submitted(self, ctx: Context, values: dict[str, Any]) -> Any:
        room = self.room(ctx)
        try:
            jid = JID(str(values.get("hats#jid") or "")).bare
        except InvalidJID:
            jid = ""
        uri = str(values.get("hats#hat") or "").strip()
        title = str(values.get("hats#title") or "").strip()
        if not jid or "@" not in jid or not uri or (self.node == DON and not title):
            raise FormError(ctx.text("A user, a hat URI and (to give one) a title are needed.",
                                     "需要用户、头衔 URI，授予时还需要头衔名称。"))
        if self.node == DON:
            await self.hats.don(room, jid, uri, title[:1023])
            return Done(ctx.text("The hat was given.", "已授予头衔。"))
        if not await self.hats.doff(room, jid, uri):
            raise FormError(ctx.text("That user does not wear that hat here.", "该用户在此没有这个头衔。"))
        return Done(ctx.text("The hat was taken off.", "已取下头衔。"))
