"""What every room command shares (rights, the room field, resolving a submitted room). Room commands
are built only on MUC's (``hooks.service("muc")``) and the archive's (``hooks.service("archive")``)
public services.

Global admins act on every room; a room's owners act on their own rooms (the
``admin.rights`` scope ``"room"`` this module answers); others see none of these.
Creating a room is for global admins only, as is an announcement to all rooms.

MUC operations beyond its read-only contract are called duck-typed, so this
module runs against whatever the MUC plugin offers and says clearly what is
missing (``feature-not-implemented``):
``create_room(room, *, owner, config, actor)``, ``destroy_room(room, *, reason, alternate, actor)``,
``set_affiliation(room, jid, affiliation, *, actor, reason)``, ``affiliations(room)``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component import namespaces as xmlns
from component.adhoc import Command, Context, Done, FormError, RightsQuery, Scope
from component.errors import StanzaError
from component.forms import new_form

from . import export as archive_export
from . import processes

if TYPE_CHECKING:
    from component.service import Service

    from .plugin import AdminPlugin

#: Up to this many rooms, a room is picked from a list; beyond, it is typed.
LIST_LIMIT = 100
#: Most rows a room list shows.
TABLE_LIMIT = 500
#: Most rooms the all-rooms statistics table counts (four counts each).
STATS_TABLE_LIMIT = 200
AFFILIATIONS = ("owner", "admin", "member", "none", "outcast")
ALL = "*"
CLIENT = xmlns.CLIENT


class RoomRights:
    """Answers ``admin.rights`` for ``kind == "room"``: the rooms the requester owns."""

    def __init__(self, service: "Service") -> None:
        self.service = service

    def answer(self, query: RightsQuery) -> Any:
        if query.kind != "room":
            return None
        muc = self.service.hooks.service("muc", None)
        if muc is None:
            return None
        owned = getattr(muc, "rooms_owned_by", None)
        if owned is not None:
            return list(owned(query.requester))
        return [room for room in muc.rooms() if muc.affiliation(room, query.requester) == "owner"]


async def room_row(muc: Any, archive: Any, room: str, occupants: int | None = None,
                   config: dict[str, Any] | None = None) -> dict[str, Any]:
    """One line of the room list (shared by the command and the CLI); ``occupants`` when counted
    elsewhere (every process's), ``config`` as the process serving the room told it."""
    config = muc.room_config(room) if config is None else config
    return {"room": room, "name": config.get("muc#roomconfig_roomname", ""),
            "occupants": len(muc.occupants(room)) if occupants is None else occupants,
            "persistent": bool(config.get("muc#roomconfig_persistentroom")),
            "public": bool(config.get("muc#roomconfig_publicroom")),
            "archiving": bool(config.get("muc#roomconfig_enablearchiving")),
            "archive": None if archive is None else await archive.count(room)}


async def message_counts(archive: Any, room: str, now: float) -> dict[str, int]:
    """Archived messages: all, and in the last day, week and 30 days."""
    return {"total": await archive.count(room),
            "day": await archive_export.count(archive, room, start=now - 86400),
            "week": await archive_export.count(archive, room, start=now - 7 * 86400),
            "month": await archive_export.count(archive, room, start=now - 30 * 86400)}


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


#: MUC refusals about the submitted values: shown next to the form, which can be corrected.
_FIXABLE = ("bad-request", "conflict", "jid-malformed", "not-acceptable", "not-allowed")


async def muc_operation(value: Any) -> Any:
    try:
        return await maybe_await(value)
    except StanzaError as error:
        if error.condition in _FIXABLE:
            raise FormError(error.text or error.condition) from error
        raise


def yes(ctx: Context, value: Any) -> str:
    return ctx.text("yes", "是") if value else ctx.text("no", "否")


class RoomCommand(Command):
    scope = "room"

    def __init__(self, plugin: "AdminPlugin") -> None:
        self.plugin = plugin
        self.service = plugin.service

    @property
    def muc(self) -> Any:
        return self.service.hooks.service("muc")

    @property
    def archive(self) -> Any:
        return self.service.hooks.service("archive", None)

    def _muc_call(self, ctx: Context, name: str) -> Any:
        method = getattr(self.muc, name, None)
        if method is None:
            raise StanzaError("feature-not-implemented", ctx.text(
                f"the group chat service here cannot do this yet (it lacks {name})",
                f"本群聊服务暂不支持此操作（缺少 {name}）"))
        return method

    async def rooms_in_scope(self, ctx: Context) -> tuple[Scope, list[str]]:
        scope = await ctx.scope("room")
        return scope, sorted(scope.filter(self.muc.rooms()))

    async def room_form(self, ctx: Context, *, all_label: str = "", everything_label: str = "",
                        instructions: str = "") -> Any:
        """The first stage of a room command: a form with the room field, or Done when no room is in scope.

        ``everything_label`` offers an "all rooms" choice only to those whose scope is every room.
        """
        scope, rooms = await self.rooms_in_scope(ctx)
        if not rooms:
            return Done(ctx.text("No rooms.", "没有房间。"))
        form = new_form(title=self.title(ctx.lang), instructions=instructions)
        self.room_field(form, ctx, rooms, all_label=all_label or (everything_label if scope.everything else ""))
        return form

    def room_field(self, form: Any, ctx: Context, rooms: list[str], *, all_label: str = "",
                   var: str = "room") -> None:
        label = ctx.text("Room", "房间")
        if len(rooms) <= LIST_LIMIT:
            options = [{"label": all_label, "value": ALL}] if all_label else []
            options += [{"label": self._room_label(room), "value": room} for room in rooms]
            form.add_field(var=var, ftype="list-single", label=label, required=True, options=options,
                           value=rooms[0] if len(rooms) == 1 and not all_label else None)
        else:
            form.add_field(var=var, ftype="text-single", label=label, required=True,
                           desc=ctx.text(f"The room's JID or its name before @{self.service.domain}"
                                         + (f"; {ALL} for all rooms" if all_label else ""),
                                         f"房间 JID，或 @{self.service.domain} 前面的名字"
                                         + (f"；{ALL} 表示所有房间" if all_label else "")))

    def _room_label(self, room: str) -> str:
        name = self.muc.room_config(room).get("muc#roomconfig_roomname") or ""
        return f"{name} ({room})" if name else room

    async def resolve(self, ctx: Context, value: Any, *, allow_all: bool = False, archive_only: bool = False) -> str:
        """A submitted room: exists, belongs to this service, and is in the requester's scope.

        ``archive_only``: global admins may also name a room that is gone but left an archive.
        """
        text = str(value or "").strip()
        if allow_all and text == ALL:
            return ALL
        if not text:
            raise FormError(ctx.text("Choose a room.", "请选择房间。"))
        if "@" not in text:
            text = f"{text}@{self.service.domain}"
        try:
            room = JID(text).bare
        except InvalidJID as exc:
            raise FormError(ctx.text(f"Not a room address: {text}", f"不是房间地址：{text}")) from exc
        scope = await ctx.scope("room")
        if not scope.everything and room not in scope.names:
            raise StanzaError("forbidden", ctx.text(f"you do not own {room}", f"你不是 {room} 的所有者"))
        if JID(room).domain != self.service.domain:
            raise FormError(ctx.text(f"No room {room} here.", f"这里没有房间 {room}。"))
        if not self.muc.room_exists(room):
            if archive_only and scope.everything and self.archive is not None and await self.archive.count(room):
                return room
            raise FormError(ctx.text(f"No room {room} here.", f"这里没有房间 {room}。"))
        return room

    async def archive_count(self, room: str) -> int | None:
        return None if self.archive is None else await self.archive.count(room)

    async def occupants(self, ctx: Context, rooms: list[str] | None) -> tuple[dict[str, int], str]:
        """How many occupants each room has, in whichever process serves it (docs/scaling.md), and
        a note naming any process that did not answer in time."""
        return await processes.occupants(self.plugin, ctx, rooms)

    async def occupant_list(self, ctx: Context, room: str) -> tuple[list[tuple[str, str, str]], str]:
        """The occupants of ``room`` as (nick, role, affiliation), wherever it is served."""
        found, note = await processes.occupants(self.plugin, ctx, [room], detail=True)
        return found.get(room, []), note


def joined(*notes: str) -> str:
    return " ".join(note for note in notes if note)

