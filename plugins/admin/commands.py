"""Service-level commands: statistics, configuration reload, log level (global admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from component.adhoc import Command, Context, Done, FormError, FormStep
from component.forms import new_form
from component.peer_requests import Gathered

from . import processes
from . import service as logic
from .service import KNOWN_STATS, LOG_LEVELS

if TYPE_CHECKING:
    from .plugin import AdminPlugin

NODE_PREFIX = "admin-"


def _whole(ctx: Context, gathered: Gathered, en: str, zh: str) -> str:
    """Which processes answered: who did not (followed by ``en``/``zh``), or all of several."""
    missing = processes.missing_note(ctx, gathered, en, zh)
    if missing or not gathered.several:
        return missing
    return ctx.text(f"All {len(gathered.answers)} processes serving this domain.",
                    f"服务此域名的全部 {len(gathered.answers)} 个进程。")


def _mine(gathered: Gathered) -> Any:
    """This process's own answer (always asked, always first)."""
    answer = gathered.answers[0]
    if answer.error:
        raise RuntimeError(answer.error)
    return answer.body


def _label(ctx: Context, answer: Any) -> str:
    return answer.process.label("zh" if ctx.zh() else "en")


def _field(form: Any, var: str, label: str, value: Any) -> None:
    form.add_field(var=var, ftype="text-single", label=label, value="" if value is None else str(value))


class StatsCommand(Command):
    node = NODE_PREFIX + "stats"
    name = "Service statistics"
    name_zh = "服务统计"

    def __init__(self, plugin: "AdminPlugin") -> None:
        self.plugin = plugin

    async def start(self, ctx: Context) -> Done:
        t = ctx.text
        gathered = await processes.ask(self.plugin, processes.STATS, {"lang": ctx.lang})
        mine = _mine(gathered)
        others = [(processes.figures_of(a.body), a.body["temporary"]) for a in gathered.answers[1:] if not a.error]
        figures = processes.combine(processes.figures_of(mine), mine["temporary"], others)
        form = new_form(title=self.title(ctx.lang), form_type="result")
        _field(form, "uptime", t("Uptime", "运行时间"), logic.human_duration(figures.uptime))
        _field(form, "streams", t("Connected streams", "已连接的流"),
               f"{figures.streams_connected}/{figures.streams_total}")
        _field(form, "stanzas_in", t("Stanzas in", "收到的节"), figures.stanzas_in)
        _field(form, "stanzas_out", t("Stanzas out", "发出的节"), figures.stanzas_out)
        _field(form, "in_per_second", t("Stanzas in per second", "每秒收到"), f"{figures.in_per_second:.2f}")
        _field(form, "out_per_second", t("Stanzas out per second", "每秒发出"), f"{figures.out_per_second:.2f}")
        _field(form, "rooms", t("Rooms", "房间"), "-" if figures.rooms is None else figures.rooms)
        _field(form, "occupants", t("Occupants", "房间成员"), "-" if figures.occupants is None else figures.occupants)
        queued = figures.value("queued_customers")
        _field(form, "queued_customers", t("Queued customers", "排队客户"), "-" if queued is None else queued)
        _field(form, "database_size", t("Database size", "数据库大小"), logic.human_bytes(figures.database_bytes))
        _field(form, "database_bytes", t("Database size (bytes)", "数据库大小（字节）"),
               "" if figures.database_bytes is None else figures.database_bytes)
        _field(form, "command_sessions", t("Open command sessions", "进行中的命令会话"), figures.command_sessions)
        for stat in figures.extra:
            if stat.var == "queued_customers":
                continue
            en, zh = KNOWN_STATS.get(stat.var, (stat.label or stat.var, stat.label_zh or stat.label or stat.var))
            _field(form, f"extra.{stat.var}", t(en, zh), stat.value)
        for s in figures.services:
            parts = [t("connected", "已连接") if s.connected else t("disconnected", "未连接"),
                     t(f"in {s.stanzas_in}", f"收 {s.stanzas_in}"), t(f"out {s.stanzas_out}", f"发 {s.stanzas_out}")]
            if s.rooms is not None:
                parts.append(t(f"{s.rooms} rooms, {s.occupants} occupants", f"{s.rooms} 个房间，{s.occupants} 人"))
            parts.append(t("plugins: ", "插件：") + ", ".join(s.plugins))
            _field(form, f"service.{s.domain}", s.domain, "; ".join(parts))
        if gathered.several:
            for answer in gathered.answers:
                here = t(" — this one", "（本进程）") if answer.process.here else ""
                _field(form, f"process.{answer.process.id}", _label(ctx, answer) + here,
                       self._process_line(ctx, answer))
            for late in processes.unanswered(gathered):
                if all(a.process != late for a in gathered.answers):
                    _field(form, f"process.{late.id}", late.label("zh" if ctx.zh() else "en"),
                           t("no answer in time", "未及时回答"))
        return Done(_whole(ctx, gathered, "their figures are not in the totals.", "其数据未计入总数。"), form=form)

    @staticmethod
    def _process_line(ctx: Context, answer: Any) -> str:
        t = ctx.text
        if answer.error:
            return t("no answer: ", "无回答：") + answer.error
        f = processes.figures_of(answer.body)
        line = t(f"up {logic.human_duration(f.uptime)}; in {f.stanzas_in}, out {f.stanzas_out}; "
                 f"{f.in_per_second:.2f}/s in, {f.out_per_second:.2f}/s out",
                 f"运行 {logic.human_duration(f.uptime)}；收 {f.stanzas_in}，发 {f.stanzas_out}；"
                 f"每秒收 {f.in_per_second:.2f}，发 {f.out_per_second:.2f}")
        if f.occupants is not None:
            line += t(f"; {f.occupants} occupants", f"；{f.occupants} 位房间成员")
        return line


class ReloadCommand(Command):
    node = NODE_PREFIX + "reload"
    name = "Reload configuration"
    name_zh = "重新加载配置"

    def __init__(self, plugin: "AdminPlugin") -> None:
        self.plugin = plugin

    async def start(self, ctx: Context) -> Any:
        t = ctx.text
        gathered = await processes.ask(self.plugin, processes.RELOAD_PLAN,
                                       {"actor": str(ctx.requester), "lang": ctx.lang})
        mine = _mine(gathered)
        if not gathered.several:
            if "problem" in mine:
                return Done(mine["problem"], "error")
            if not mine["changes"]:
                return Done(t("The configuration file has no changes.", "配置文件没有变化。"))
            live, restart = mine["live"], mine["restart"]
        else:
            live, restart = [], []
            for answer in gathered.answers:
                label, body = _label(ctx, answer), answer.body or {}
                if answer.error or "problem" in body:
                    restart.append(f"{label}: " + (answer.error or body["problem"]))
                live += [f"{label}: {line}" for line in body.get("live", ())]
                restart += [f"{label}: {line}" for line in body.get("restart", ())]
            if not live and not restart and not processes.unanswered(gathered):
                return Done(t("No process's configuration file has changes.", "各进程的配置文件都没有变化。"))
        instructions = t("Connections stay up. Complete to apply, cancel to leave things as they are.",
                         "连接不会中断。点“完成”应用，点“取消”保持现状。")
        note = _whole(ctx, gathered, "choose it alone once it answers again.", "待其恢复回答后可单独选择。")
        form = new_form(title=self.title(ctx.lang), instructions=" ".join(p for p in (instructions, note) if p))
        processes.process_field(form, ctx, gathered.processes)
        form.add_field(var="live", ftype="text-multi", label=t("Applied now", "立即生效"),
                       value="\n".join(live) or "-")
        form.add_field(var="restart", ftype="text-multi", label=t("Needs a restart", "需要重启"),
                       value="\n".join(restart) or "-")
        return FormStep(form, self.apply, final=True)

    async def apply(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = ctx.text
        # Each process reads its file again: it may have changed since the preview.
        only = processes.chosen(values)
        gathered = await processes.ask(self.plugin, processes.RELOAD, {"actor": str(ctx.requester), "lang": ctx.lang},
                                       only=only)
        labelled = gathered.several or only is not None
        lines = [t("Configuration reloaded.", "配置已重新加载。")] if gathered.answers else []
        warn = False
        for answer in gathered.answers:
            body = answer.body or {}
            if not labelled:
                if "problem" in body:
                    raise FormError(body["problem"])
                if answer.error:
                    raise RuntimeError(answer.error)
            prefix = f"{_label(ctx, answer)}: " if labelled else ""
            if answer.error or "problem" in body:
                lines.append(prefix + (answer.error or body["problem"]))
                warn = True
                continue
            if body["applied"]:
                lines.append(prefix + t("Applied: ", "已生效：") + "; ".join(body["applied"]))
            if body["restart_needed"]:
                lines.append(prefix + t("Needs a restart: ", "需要重启：") + "; ".join(body["restart_needed"]))
                warn = True
        note = _whole(ctx, gathered, "not reloaded.", "未重新加载。")
        if note:
            lines.insert(min(1, len(lines)), note)
            warn = warn or bool(processes.unanswered(gathered))
        return Done("\n".join(lines), "warn" if warn else "info")


class LogLevelCommand(Command):
    node = NODE_PREFIX + "log-level"
    name = "Change log level"
    name_zh = "修改日志级别"

    def __init__(self, plugin: "AdminPlugin") -> None:
        self.plugin = plugin

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(title=self.title(ctx.lang),
                        instructions=ctx.text("Takes effect at once; a restart returns to the configured level.",
                                              "立即生效；重启后恢复配置文件中的级别。"))
        form.add_field(var="level", ftype="list-single", label=ctx.text("Level", "级别"), required=True,
                       value=logic.log_level_of(), options=[{"label": lvl, "value": lvl} for lvl in LOG_LEVELS])
        form.add_field(var="logger", ftype="list-single", label=ctx.text("Logger", "日志记录器"), value="",
                       options=[{"label": name or ctx.text("(everything)", "（全部）"), "value": name}
                                for name in processes.loggers(self.plugin.service.app)])
        service = self.plugin.service
        processes.process_field(form, ctx, await service.app.peer_requests.processes(service.domain))
        return FormStep(form, self.apply, final=True)

    async def apply(self, ctx: Context, values: dict[str, Any]) -> Done:
        level = (values.get("level") or "").strip().lower()
        logger = (values.get("logger") or "").strip()
        if level not in LOG_LEVELS:
            raise FormError(ctx.text(f"Unknown level {level!r}: choose one of ", f"未知级别 {level!r}，可选：")
                            + ", ".join(LOG_LEVELS))
        if logger not in processes.loggers(self.plugin.service.app):
            raise FormError(ctx.text(f"Unknown logger {logger!r}.", f"未知的日志记录器 {logger!r}。"))
        only = processes.chosen(values)
        gathered = await processes.ask(self.plugin, processes.LOG_LEVEL,
                                       {"actor": str(ctx.requester), "lang": ctx.lang, "level": level,
                                        "logger": logger}, only=only)
        what = logger or ctx.text("everything", "全部")
        if not gathered.several and only is None:
            previous = _mine(gathered)["previous"]
            return Done(ctx.text(f"Log level of {what}: {previous} → {level}.",
                                 f"{what} 的日志级别：{previous} → {level}。"))
        parts = []
        for answer in gathered.answers:
            body = answer.body or {}
            change = f"{body['previous']} → {level}" if "previous" in body else \
                ctx.text("not changed: ", "未更改：") + (answer.error or body.get("problem", ""))
            parts.append(f"{_label(ctx, answer)}: {change}")
        done = ctx.text(f"Log level of {what}: ", f"{what} 的日志级别：") + "; ".join(parts) + "." if parts else ""
        note = _whole(ctx, gathered, "not changed there.", "该进程未更改。")
        return Done(" ".join(p for p in (done, note) if p), "warn" if processes.unanswered(gathered) else "info")


def service_commands(plugin: "AdminPlugin") -> list[Command]:
    return [StatsCommand(plugin), ReloadCommand(plugin), LogLevelCommand(plugin)]
