"""Room commands, built only on MUC's (``hooks.service("muc")``) and the archive's
(``hooks.service("archive")``) public services.

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
import time
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component import namespaces as xmlns
from component.adhoc import Command, Context, Done, FormError, FormStep, RightsQuery, Scope
from component.errors import StanzaError
from component.forms import new_form, table

from . import export as archive_export
from .service import format_time, parse_time

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


async def room_row(muc: Any, archive: Any, room: str) -> dict[str, Any]:
    """One line of the room list (shared by the command and the CLI)."""
    config = muc.room_config(room)
    return {"room": room, "name": config.get("muc#roomconfig_roomname", ""),
            "occupants": len(muc.occupants(room)),
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


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


#: MUC refusals about the submitted values: shown next to the form, which can be corrected.
_FIXABLE = ("bad-request", "conflict", "jid-malformed", "not-acceptable", "not-allowed")


async def _muc_operation(value: Any) -> Any:
    try:
        return await _maybe_await(value)
    except StanzaError as error:
        if error.condition in _FIXABLE:
            raise FormError(error.text or error.condition) from error
        raise


def _yes(ctx: Context, value: Any) -> str:
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


# -- list, info, statistics --------------------------------------------------
class RoomsListCommand(RoomCommand):
    node = "rooms-list"
    name = "List rooms"
    name_zh = "房间列表"

    async def start(self, ctx: Context) -> Done:
        _, rooms = await self.rooms_in_scope(ctx)
        rows = []
        for room in rooms[:TABLE_LIMIT]:
            row = await room_row(self.muc, self.archive, room)
            rows.append({**row, "persistent": _yes(ctx, row["persistent"]), "public": _yes(ctx, row["public"]),
                         "archive": "-" if row["archive"] is None else row["archive"]})
        columns = [("room", ctx.text("Room", "房间")), ("name", ctx.text("Name", "名称")),
                   ("occupants", ctx.text("Occupants", "在线人数")),
                   ("persistent", ctx.text("Persistent", "持久")), ("public", ctx.text("Public", "公开")),
                   ("archive", ctx.text("Archived messages", "存档消息数"))]
        note = ""
        if len(rooms) > TABLE_LIMIT:
            note = ctx.text(f"Showing {TABLE_LIMIT} of {len(rooms)} rooms; `switchboard rooms list` shows all.",
                            f"显示 {len(rooms)} 个房间中的 {TABLE_LIMIT} 个；`switchboard rooms list` 可列出全部。")
        elif not rooms:
            note = ctx.text("No rooms.", "没有房间。")
        return Done(note, "info", table(columns, rows, title=self.title(ctx.lang)))


class RoomInfoCommand(RoomCommand):
    node = "room-info"
    name = "Room information"
    name_zh = "房间信息"

    async def start(self, ctx: Context) -> Any:
        form = await self.room_form(ctx)
        if isinstance(form, Done):
            return form
        return FormStep(form, self.show, final=True)

    def _affiliations(self, room: str, config: dict[str, Any]) -> dict[str, list[str]] | None:
        """Affiliated JIDs by affiliation, when the MUC service can list them (else None)."""
        found: dict[str, list[str]] = {a: [] for a in AFFILIATIONS if a != "none"}
        listed = getattr(self.muc, "affiliations", None)
        if listed is not None:
            items = listed(room)
            pairs = items.items() if isinstance(items, dict) else items
            for jid, affiliation in pairs:
                if affiliation in found:
                    found[affiliation].append(str(jid))
        elif "muc#roomconfig_roomowners" in config:
            found["owner"] = list(config.get("muc#roomconfig_roomowners") or [])
            found["admin"] = list(config.get("muc#roomconfig_roomadmins") or [])
        else:
            return None
        return {k: sorted(v) for k, v in found.items()}

    async def show(self, ctx: Context, values: dict[str, Any]) -> Done:
        room = await self.resolve(ctx, values.get("room"))
        config = self.muc.room_config(room)
        t = ctx.text
        form = new_form(title=f"{self.title(ctx.lang)}: {room}", form_type="result")

        def put(var: str, label: str, value: Any, ftype: str = "text-single") -> None:
            form.add_field(var=var, ftype=ftype, label=label, value="" if value is None else str(value))

        put("room", t("Room", "房间"), room)
        put("name", t("Name", "名称"), config.get("muc#roomconfig_roomname", ""))
        put("description", t("Description", "描述"), config.get("muc#roomconfig_roomdesc", ""))
        put("lang", t("Language", "语言"), config.get("muc#roomconfig_lang", ""))
        for var, key, en, zh in (("persistent", "persistentroom", "Persistent", "持久"),
                                 ("public", "publicroom", "Public", "公开"),
                                 ("members_only", "membersonly", "Members only", "仅限成员"),
                                 ("moderated", "moderatedroom", "Moderated", "受管理"),
                                 ("password", "passwordprotectedroom", "Password protected", "有密码"),
                                 ("archiving", "enablearchiving", "Archiving", "存档")):
            put(var, t(en, zh), _yes(ctx, config.get(f"muc#roomconfig_{key}")))
        max_users = config.get("muc#roomconfig_maxusers")
        put("max_users", t("Max occupants", "人数上限"), max_users or t("no limit", "不限"))
        occupants = self.muc.occupants(room)
        put("occupants", t("Occupants", "在线人数"), len(occupants))
        put("occupant_list", t("Who is here", "在线成员"),
            "\n".join(f"{o.nick} ({o.role}, {o.affiliation})" for o in occupants), "text-multi")
        for affiliation, jids in (self._affiliations(room, config) or {}).items():
            label = {"owner": t("Owners", "所有者"), "admin": t("Admins", "管理员"),
                     "member": t("Members", "成员"), "outcast": t("Banned", "已封禁")}[affiliation]
            put(f"{affiliation}s", label, "\n".join(jids), "text-multi")
        if self.archive is not None:
            count = await self.archive.count(room)
            first, last = await self.archive.bounds(room)
            put("archive", t("Archived messages", "存档消息数"), count)
            put("first_message", t("First message", "最早消息"), format_time(first.timestamp) if first else "")
            put("last_message", t("Last message", "最新消息"), format_time(last.timestamp) if last else "")
        return Done(form=form)


class RoomStatsCommand(RoomCommand):
    node = "room-stats"
    name = "Room statistics"
    name_zh = "房间统计"

    async def start(self, ctx: Context) -> Any:
        if self.archive is None:
            raise StanzaError("feature-not-implemented", ctx.text("no archive runs on this service",
                                                                  "本服务没有启用消息存档"))
        form = await self.room_form(ctx, all_label=ctx.text("All my rooms (table)", "我的所有房间（表格）"))
        if isinstance(form, Done):
            return form
        return FormStep(form, self.show, final=True)

    async def show(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        room = await self.resolve(ctx, values.get("room"), allow_all=True)
        now = time.time()
        if room == ALL:
            _, rooms = await self.rooms_in_scope(ctx)
            rows = []
            for each in rooms[:STATS_TABLE_LIMIT]:
                counts = await message_counts(self.archive, each, now)
                rows.append({"room": each, "occupants": len(self.muc.occupants(each)), **counts})
            rows.sort(key=lambda r: (-r["week"], r["room"]))
            note = "" if len(rooms) <= STATS_TABLE_LIMIT else t(
                f"The first {STATS_TABLE_LIMIT} of {len(rooms)} rooms by name.",
                f"按名称列出 {len(rooms)} 个房间中的前 {STATS_TABLE_LIMIT} 个。")
            columns = [("room", t("Room", "房间")), ("occupants", t("Occupants", "在线人数")),
                       ("day", t("Messages, 24 h", "24 小时消息")), ("week", t("Messages, 7 days", "7 天消息")),
                       ("month", t("Messages, 30 days", "30 天消息")), ("total", t("Messages, all", "全部消息"))]
            return Done(note, "info", table(columns, rows, title=self.title(ctx.lang)))
        counts = await message_counts(self.archive, room, now)
        first, last = await self.archive.bounds(room)
        occupants = self.muc.occupants(room)
        form = new_form(title=f"{self.title(ctx.lang)}: {room}", form_type="result")

        def put(var: str, label: str, value: Any) -> None:
            form.add_field(var=var, ftype="text-single", label=label, value="" if value is None else str(value))

        put("room", t("Room", "房间"), room)
        put("occupants", t("Occupants now", "当前在线"), len(occupants))
        put("moderators", t("Moderators now", "当前主持人"), sum(1 for o in occupants if o.role == "moderator"))
        put("messages", t("Messages, all", "全部消息"), counts["total"])
        put("messages_24h", t("Messages, last 24 h", "最近 24 小时消息"), counts["day"])
        put("messages_7d", t("Messages, last 7 days", "最近 7 天消息"), counts["week"])
        put("messages_30d", t("Messages, last 30 days", "最近 30 天消息"), counts["month"])
        put("first_message", t("First message", "最早消息"), format_time(first.timestamp) if first else "")
        put("last_message", t("Last message", "最新消息"), format_time(last.timestamp) if last else "")
        day_start = now - now % 86400
        for back in range(6, -1, -1):
            start = day_start - back * 86400
            day = format_time(start)[:10]
            n = await archive_export.count(self.archive, room, start=start, end=start + 86400 - 0.001)
            put(f"day.{day}", t(f"Messages on {day}", f"{day} 的消息"), n)
        return Done(form=form)


# -- create, destroy, affiliations -------------------------------------------
class RoomCreateCommand(RoomCommand):
    node = "room-create"
    name = "Create a room"
    name_zh = "创建房间"
    scope = ""  # global admins only: nobody owns a room that does not exist yet

    async def start(self, ctx: Context) -> FormStep:
        self._muc_call(ctx, "create_room")
        t = ctx.text
        form = new_form(title=self.title(ctx.lang))
        form.add_field(var="name", ftype="text-single", label=t("Address (before @", "地址（@ 前面的部分，")
                       + self.service.domain + t(")", "）"), required=True)
        form.add_field(var="title", ftype="text-single", label=t("Name", "名称"))
        form.add_field(var="description", ftype="text-single", label=t("Description", "描述"))
        form.add_field(var="persistent", ftype="boolean", label=t("Persistent", "持久"), value=True)
        form.add_field(var="public", ftype="boolean", label=t("Public (listed)", "公开（可被搜索到）"), value=True)
        form.add_field(var="members_only", ftype="boolean", label=t("Members only", "仅限成员"), value=False)
        form.add_field(var="archiving", ftype="boolean", label=t("Archive messages", "存档消息"), value=True)
        form.add_field(var="owner", ftype="jid-single", label=t("Owner (optional)", "所有者（可选）"))
        return FormStep(form, self.create, final=True)

    async def create(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        local = str(values.get("name") or "").strip().lower()
        try:
            if not local or "@" in local or "/" in local:
                raise InvalidJID("bad local part")
            room = JID(f"{local}@{self.service.domain}").bare
        except InvalidJID as exc:
            raise FormError(t(f"{local!r} cannot be a room address.", f"{local!r} 不能作为房间地址。")) from exc
        if self.muc.room_exists(room):
            raise FormError(t(f"{room} already exists.", f"{room} 已存在。"))
        owner = values.get("owner")
        config = {"muc#roomconfig_roomname": str(values.get("title") or ""),
                  "muc#roomconfig_roomdesc": str(values.get("description") or ""),
                  "muc#roomconfig_persistentroom": bool(values.get("persistent")),
                  "muc#roomconfig_publicroom": bool(values.get("public")),
                  "muc#roomconfig_membersonly": bool(values.get("members_only")),
                  "muc#roomconfig_enablearchiving": bool(values.get("archiving"))}
        await _muc_operation(self._muc_call(ctx, "create_room")(
            room, owner=owner.bare if owner else None, config=config, actor=ctx.requester.bare))
        self.plugin.log.info("room created by command", extra={"room": room, "actor": ctx.requester.bare})
        return Done(t(f"Room {room} created.", f"房间 {room} 已创建。"))


class RoomDestroyCommand(RoomCommand):
    node = "room-destroy"
    name = "Destroy a room"
    name_zh = "销毁房间"

    async def start(self, ctx: Context) -> Any:
        self._muc_call(ctx, "destroy_room")
        t = ctx.text
        form = await self.room_form(ctx)
        if isinstance(form, Done):
            return form
        form.add_field(var="reason", ftype="text-single", label=t("Reason (shown to occupants)", "原因（会告知在线成员）"))
        form.add_field(var="alternate", ftype="jid-single", label=t("Alternate room (optional)", "替代房间（可选）"))
        if self.archive is not None:
            form.add_field(var="delete_archive", ftype="boolean", label=t("Also delete its archive", "同时删除存档"),
                           value=False)
        return FormStep(form, self.confirm)

    async def confirm(self, ctx: Context, values: dict[str, Any]) -> FormStep:
        t = ctx.text
        room = await self.resolve(ctx, values.get("room"))
        ctx.state["destroy"] = {"room": room, "reason": str(values.get("reason") or ""),
                                "alternate": values["alternate"].bare if values.get("alternate") else "",
                                "delete_archive": bool(values.get("delete_archive"))}
        occupants = len(self.muc.occupants(room))
        count = await self.archive_count(room)
        form = new_form(title=self.title(ctx.lang))
        lines = [t(f"Destroy {room}?", f"确定销毁 {room}？"),
                 t(f"{occupants} occupant(s) will be removed.", f"{occupants} 位在线成员将被移出。")]
        if count is not None and ctx.state["destroy"]["delete_archive"]:
            lines.append(t(f"Its archive ({count} messages) will be deleted.", f"其存档（{count} 条消息）将被删除。"))
        for i, line in enumerate(lines):
            form.add_field(var=f"summary{i}", ftype="fixed", value=line)
        form.add_field(var="confirm", ftype="boolean", label=t("Yes, destroy it", "是的，销毁"), required=True,
                       value=False)
        return FormStep(form, self.destroy, final=True)

    async def destroy(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        if not values.get("confirm"):
            raise FormError(t("Tick the box to confirm, or cancel.", "请勾选确认，或取消。"))
        plan = ctx.state["destroy"]
        room = await self.resolve(ctx, plan["room"])  # rights may have changed since the first stage
        before = await self.archive_count(room)
        await _maybe_await(self._muc_call(ctx, "destroy_room")(
            room, reason=plan["reason"], alternate=plan["alternate"], actor=ctx.requester.bare))
        note = t(f"Room {room} destroyed.", f"房间 {room} 已销毁。")
        if self.archive is not None:
            if plan["delete_archive"]:
                await self.archive.delete_archive(room)
            left = await self.archive.count(room)
            # The archive may also go with the room by its own policy: say what is true now.
            if before and not left:
                note += " " + t(f"Its {before} archived messages were deleted.", f"其 {before} 条存档消息已删除。")
            elif left:
                note += " " + t(f"{left} archived messages are kept.", f"保留了 {left} 条存档消息。")
        self.plugin.log.info("room destroyed by command", extra={"room": room, "actor": ctx.requester.bare})
        return Done(note)


class RoomAffiliationCommand(RoomCommand):
    node = "room-affiliation"
    name = "Set an affiliation"
    name_zh = "设置房间身份"

    async def start(self, ctx: Context) -> Any:
        self._muc_call(ctx, "set_affiliation")
        t = ctx.text
        form = await self.room_form(ctx)
        if isinstance(form, Done):
            return form
        form.add_field(var="jid", ftype="jid-single", label=t("User (bare JID)", "用户（纯 JID）"), required=True)
        labels = {"owner": t("owner", "所有者"), "admin": t("admin", "管理员"), "member": t("member", "成员"),
                  "none": t("none", "无"), "outcast": t("banned (outcast)", "封禁")}
        form.add_field(var="affiliation", ftype="list-single", label=t("Affiliation", "身份"), required=True,
                       options=[{"label": labels[a], "value": a} for a in AFFILIATIONS], value="member")
        form.add_field(var="reason", ftype="text-single", label=t("Reason", "原因"))
        return FormStep(form, self.apply, final=True)

    async def apply(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        room = await self.resolve(ctx, values.get("room"))
        jid = values.get("jid")
        affiliation = str(values.get("affiliation") or "")
        if jid is None or not jid.bare:
            raise FormError(t("Give the user's JID.", "请填写用户的 JID。"))
        if affiliation not in AFFILIATIONS:
            raise FormError(t(f"Unknown affiliation {affiliation!r}.", f"未知身份 {affiliation!r}。"))
        await _muc_operation(self._muc_call(ctx, "set_affiliation")(
            room, jid.bare, affiliation, actor=ctx.requester.bare, reason=str(values.get("reason") or "")))
        return Done(t(f"{jid.bare} is now {affiliation} of {room}.", f"{jid.bare} 现在是 {room} 的 {affiliation}。"))


# -- announcement ----------------------------------------------------------
class RoomAnnounceCommand(RoomCommand):
    node = "room-announce"
    name = "Announce in rooms"
    name_zh = "房间公告"

    async def start(self, ctx: Context) -> Any:
        t = ctx.text
        form = await self.room_form(ctx, everything_label=t("All rooms", "所有房间"))
        if isinstance(form, Done):
            return form
        form.add_field(var="message", ftype="text-multi", label=t("Message", "公告内容"), required=True)
        return FormStep(form, self.send, final=True)

    async def send(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        scope = await ctx.scope("room")
        room = await self.resolve(ctx, values.get("room"), allow_all=scope.everything)
        lines = values.get("message") or []
        text = "\n".join(lines if isinstance(lines, list) else [str(lines)]).strip()
        if not text:
            raise FormError(t("Write the message.", "请填写公告内容。"))
        targets = sorted(self.muc.rooms()) if room == ALL else [room]
        sent = 0
        for target in targets:
            body = ET.Element(f"{{{CLIENT}}}body")
            body.text = text
            try:
                await self.muc.broadcast_from_room(target, [body])
                sent += 1
            except StanzaError as error:  # e.g. destroyed meanwhile: the others still get it
                self.plugin.log.warning("announcement not sent", extra={"room": target,
                                                                        "condition": error.condition})
        self.plugin.log.info("announcement sent", extra={"rooms": sent, "actor": ctx.requester.bare})
        if sent < len(targets):
            return Done(t(f"Announcement sent to {sent} of {len(targets)} room(s).",
                          f"公告已发送到 {len(targets)} 个房间中的 {sent} 个。"), "warn")
        return Done(t(f"Announcement sent to {sent} room(s).", f"公告已发送到 {sent} 个房间。"))


# -- archive: purge, export ------------------------------------------------
class ArchiveCommand(RoomCommand):
    def _need_archive(self, ctx: Context) -> Any:
        if self.archive is None:
            raise StanzaError("feature-not-implemented", ctx.text("no archive runs on this service",
                                                                  "本服务没有启用消息存档"))
        return self.archive

    @staticmethod
    def _time(ctx: Context, value: Any, what: str) -> float | None:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return parse_time(text)
        except ValueError as exc:
            raise FormError(ctx.text(f"{what}: {exc}", f"{what}：日期格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM:SSZ")) from exc


class RoomPurgeCommand(ArchiveCommand):
    node = "room-purge"
    name = "Purge a room's archive"
    name_zh = "清除房间存档"

    async def start(self, ctx: Context) -> Any:
        self._need_archive(ctx)
        t = ctx.text
        form = await self.room_form(ctx, instructions=t("Choose what to delete; the next step shows how many messages that is.",
                                       "选择要删除的内容；下一步会显示将删除的消息数量。"))
        if isinstance(form, Done):
            return form
        form.add_field(var="mode", ftype="list-single", label=t("Delete", "删除"), required=True, value="before",
                       options=[{"label": t("everything", "全部消息"), "value": "all"},
                                {"label": t("messages before a date", "某日期之前的消息"), "value": "before"},
                                {"label": t("messages by one user", "某个用户的消息"), "value": "author"}])
        form.add_field(var="before", ftype="text-single", label=t("Before (YYYY-MM-DD, UTC)", "日期之前（YYYY-MM-DD，UTC）"))
        form.add_field(var="author", ftype="jid-single", label=t("User (real bare JID)", "用户（真实纯 JID）"))
        return FormStep(form, self.preview)

    async def preview(self, ctx: Context, values: dict[str, Any]) -> FormStep:
        t = ctx.text
        room = await self.resolve(ctx, values.get("room"), archive_only=True)
        mode = str(values.get("mode") or "")
        before = self._time(ctx, values.get("before"), t("Before", "日期"))
        author = values.get("author")
        if mode not in ("all", "before", "author"):
            raise FormError(t("Choose what to delete.", "请选择要删除的内容。"))
        if mode == "before" and before is None:
            raise FormError(t("Give the date before which messages are deleted.", "请填写日期。"))
        if mode == "author" and not author:
            raise FormError(t("Give the user whose messages are deleted.", "请填写用户。"))
        if mode == "all":
            before, author = None, None
        elif mode == "before":
            author = None
        plan = {"room": room, "before": before, "author": author.bare if author else None}
        ctx.state["purge"] = plan
        archive = self._need_archive(ctx)
        n = await archive_export.count(archive, room, end=None if before is None else before - 0.001,
                                       author=plan["author"])
        what = [t(f"{n} message(s) of {room}", f"{room} 的 {n} 条消息")]
        if plan["author"]:
            what.append(t(f"by {plan['author']}", f"发送者 {plan['author']}"))
        if before is not None:
            what.append(t(f"before {format_time(before)}", f"早于 {format_time(before)}"))
        form = new_form(title=self.title(ctx.lang))
        form.add_field(var="summary", ftype="fixed",
                       value=t("Will delete for good: ", "将永久删除：") + " ".join(what))
        form.add_field(var="confirm", ftype="boolean", label=t("Yes, delete them", "是的，删除"), required=True,
                       value=False)
        return FormStep(form, self.purge, final=True)

    async def purge(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        if not values.get("confirm"):
            raise FormError(t("Tick the box to confirm, or cancel.", "请勾选确认，或取消。"))
        plan = ctx.state["purge"]
        room = await self.resolve(ctx, plan["room"], archive_only=True)
        removed = await self._need_archive(ctx).purge(room, before=plan["before"], author=plan["author"])
        self.plugin.log.info("archive purged by command", extra={"room": room, "removed": removed,
                                                                  "actor": ctx.requester.bare})
        return Done(t(f"Deleted {removed} message(s) from {room}.", f"已从 {room} 删除 {removed} 条消息。"))


class RoomExportCommand(ArchiveCommand):
    node = "room-export"
    name = "Export a room's archive"
    name_zh = "导出房间存档"

    async def start(self, ctx: Context) -> Any:
        self._need_archive(ctx)
        t = ctx.text
        form = await self.room_form(ctx)
        if isinstance(form, Done):
            return form
        form.add_field(var="format", ftype="list-single", label=t("Format", "格式"), required=True, value="xml",
                       options=[{"label": t("XML (XEP-0313 results, XEP-0227 archive)", "XML（XEP-0313 格式）"),
                                 "value": "xml"}, {"label": "JSON", "value": "json"}])
        form.add_field(var="start", ftype="text-single", label=t("From (YYYY-MM-DD, optional)", "开始日期（可选）"))
        form.add_field(var="end", ftype="text-single", label=t("Until (YYYY-MM-DD, optional)", "结束日期（可选）"))
        return FormStep(form, self.export, final=True)

    async def export(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        room = await self.resolve(ctx, values.get("room"), archive_only=True)
        fmt = str(values.get("format") or "")
        if fmt not in archive_export.FORMATS:
            raise FormError(t("Choose xml or json.", "请选择 xml 或 json。"))
        start = self._time(ctx, values.get("start"), t("From", "开始日期"))
        end = self._time(ctx, values.get("end"), t("Until", "结束日期"))
        if start is not None and end is not None and end < start:
            raise FormError(t("The end is before the start.", "结束日期早于开始日期。"))
        archive = self._need_archive(ctx)
        total = await archive_export.count(archive, room, start=start, end=end)
        limit = self.plugin.options.export_max_inline
        real_jids = ctx.is_admin or self.muc.can_see_real_jids(room, ctx.requester.bare)
        chunks: list[str] = []
        exported = await archive_export.export(archive, room, fmt, chunks.append, real_jids=real_jids,
                                               start=start, end=end, limit=limit,
                                               max_chars=self.plugin.options.export_max_inline_chars)
        form = new_form(title=f"{self.title(ctx.lang)}: {room}", form_type="result")
        form.add_field(var="room", ftype="text-single", label=t("Room", "房间"), value=room)
        form.add_field(var="format", ftype="text-single", label=t("Format", "格式"), value=fmt)
        form.add_field(var="count", ftype="text-single", label=t("Messages", "消息数"), value=str(exported))
        form.add_field(var="total", ftype="text-single", label=t("Messages in range", "范围内消息总数"), value=str(total))
        form.add_field(var="export", ftype="text-multi", label=t("Export", "导出内容"), value="".join(chunks).rstrip("\n"))
        note, kind = t(f"{exported} message(s) exported.", f"已导出 {exported} 条消息。"), "info"
        if exported < total:
            note = t(f"Only the first {exported} of {total} messages fit here; "
                     f"`switchboard rooms export {room}` exports all of them to a file.",
                     f"这里只能容纳 {total} 条中的前 {exported} 条；"
                     f"`switchboard rooms export {room}` 可把全部导出到文件。")
            kind = "warn"
        return Done(note, kind, form)


def room_commands(plugin: "AdminPlugin") -> list[Command]:
    return [RoomsListCommand(plugin), RoomInfoCommand(plugin), RoomStatsCommand(plugin), RoomCreateCommand(plugin),
            RoomDestroyCommand(plugin), RoomAffiliationCommand(plugin), RoomAnnounceCommand(plugin),
            RoomPurgeCommand(plugin), RoomExportCommand(plugin)]
