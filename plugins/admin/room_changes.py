"""Room commands that change rooms: create, destroy, set an affiliation, announce.

Each acts through the MUC service, which carries it to the room's occupants wherever the
room is served (docs/scaling.md).
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component.adhoc import Context, Done, FormError, FormStep, add_confirmation, require_confirmation
from component.errors import StanzaError
from component.forms import new_form

from .room_command import AFFILIATIONS, ALL, CLIENT, RoomCommand, maybe_await, muc_operation


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
        await muc_operation(self._muc_call(ctx, "create_room")(
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
        counted, note = await self.occupants(ctx, [room])
        occupants = counted.get(room, 0)
        count = await self.archive_count(room)
        form = new_form(title=self.title(ctx.lang))
        lines = [t(f"Destroy {room}?", f"确定销毁 {room}？"),
                 t(f"{occupants} occupant(s) will be removed.", f"{occupants} 位在线成员将被移出。")]
        if count is not None and ctx.state["destroy"]["delete_archive"]:
            lines.append(t(f"Its archive ({count} messages) will be deleted.", f"其存档（{count} 条消息）将被删除。"))
        if note:
            lines.append(note)
        for i, line in enumerate(lines):
            form.add_field(var=f"summary{i}", ftype="fixed", value=line)
        add_confirmation(form, t("Yes, destroy it", "是的，销毁"))
        return FormStep(form, self.destroy, final=True)

    async def destroy(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        require_confirmation(ctx, values)
        plan = ctx.state["destroy"]
        room = await self.resolve(ctx, plan["room"])  # rights may have changed since the first stage
        before = await self.archive_count(room)
        await maybe_await(self._muc_call(ctx, "destroy_room")(
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
        await muc_operation(self._muc_call(ctx, "set_affiliation")(
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

