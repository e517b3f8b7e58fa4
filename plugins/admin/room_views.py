"""Room commands that only read: the room list, a room's information, its statistics."""

from __future__ import annotations

import time
from typing import Any

from component.adhoc import Context, Done, FormStep
from component.errors import StanzaError
from component.forms import new_form, table

from . import export as archive_export
from . import processes
from .room_command import (AFFILIATIONS, ALL, STATS_TABLE_LIMIT, TABLE_LIMIT, RoomCommand, joined, message_counts,
                           room_row, yes)
from .service import format_time


class RoomsListCommand(RoomCommand):
    node = "rooms-list"
    name = "List rooms"
    name_zh = "房间列表"

    async def start(self, ctx: Context) -> Done:
        scope, known = await self.rooms_in_scope(ctx)
        # Known here: every stored room. Served elsewhere: temporary rooms, and a room another
        # process stored a moment ago (known here once its notification has been handled).
        served, occupants_note = await processes.served(self.plugin, ctx)
        rooms = sorted(set(known).union(scope.filter(served)))
        rows = []
        for room in rooms[:TABLE_LIMIT]:
            occupants, config = served.get(room, (0, None))
            row = await room_row(self.muc, self.archive, room, occupants, config)
            rows.append({**row, "persistent": yes(ctx, row["persistent"]), "public": yes(ctx, row["public"]),
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
        return Done(joined(note, occupants_note), "info", table(columns, rows, title=self.title(ctx.lang)))


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
            put(var, t(en, zh), yes(ctx, config.get(f"muc#roomconfig_{key}")))
        max_users = config.get("muc#roomconfig_maxusers")
        put("max_users", t("Max occupants", "人数上限"), max_users or t("no limit", "不限"))
        occupants, note = await self.occupant_list(ctx, room)
        put("occupants", t("Occupants", "在线人数"), len(occupants))
        put("occupant_list", t("Who is here", "在线成员"),
            "\n".join(f"{nick} ({role}, {affiliation})" for nick, role, affiliation in occupants), "text-multi")
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
        return Done(note, form=form)


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
            counted, occupants_note = await self.occupants(ctx, rooms[:STATS_TABLE_LIMIT])
            for each in rooms[:STATS_TABLE_LIMIT]:
                counts = await message_counts(self.archive, each, now)
                rows.append({"room": each, "occupants": counted.get(each, 0), **counts})
            rows.sort(key=lambda r: (-r["week"], r["room"]))
            note = "" if len(rooms) <= STATS_TABLE_LIMIT else t(
                f"The first {STATS_TABLE_LIMIT} of {len(rooms)} rooms by name.",
                f"按名称列出 {len(rooms)} 个房间中的前 {STATS_TABLE_LIMIT} 个。")
            columns = [("room", t("Room", "房间")), ("occupants", t("Occupants", "在线人数")),
                       ("day", t("Messages, 24 h", "24 小时消息")), ("week", t("Messages, 7 days", "7 天消息")),
                       ("month", t("Messages, 30 days", "30 天消息")), ("total", t("Messages, all", "全部消息"))]
            return Done(joined(note, occupants_note), "info",
                        table(columns, rows, title=self.title(ctx.lang)))
        counts = await message_counts(self.archive, room, now)
        first, last = await self.archive.bounds(room)
        occupants, occupants_note = await self.occupant_list(ctx, room)
        form = new_form(title=f"{self.title(ctx.lang)}: {room}", form_type="result")

        def put(var: str, label: str, value: Any) -> None:
            form.add_field(var=var, ftype="text-single", label=label, value="" if value is None else str(value))

        put("room", t("Room", "房间"), room)
        put("occupants", t("Occupants now", "当前在线"), len(occupants))
        put("moderators", t("Moderators now", "当前主持人"), sum(1 for _, role, _ in occupants if role == "moderator"))
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
        return Done(occupants_note, form=form)

