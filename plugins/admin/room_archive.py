"""Room commands on the archive: purge and export (global admins may name a room that is gone)."""

from __future__ import annotations

from typing import Any

from component.adhoc import Context, Done, FormError, FormStep, add_confirmation, require_confirmation
from component.errors import StanzaError
from component.forms import new_form

from . import export as archive_export
from .room_command import RoomCommand
from .service import format_time, parse_time


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
        add_confirmation(form, t("Yes, delete them", "是的，删除"))
        return FormStep(form, self.purge, final=True)

    async def purge(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        require_confirmation(ctx, values)
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

