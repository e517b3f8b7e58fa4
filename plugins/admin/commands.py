"""Service-level commands: statistics, configuration reload, log level (global admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from component.adhoc import Command, Context, Done, FormError, FormStep
from component.config import ConfigError
from component.forms import new_form

from . import service as logic
from .service import KNOWN_STATS, LOG_LEVELS

if TYPE_CHECKING:
    from .plugin import AdminPlugin

NODE_PREFIX = "admin-"


def this_process(ctx: Context, plugin: "AdminPlugin") -> str:
    """With other processes sharing this domain (docs/scaling.md) a service command answers for,
    and acts on, the process the request reached: say so."""
    service = plugin.service
    mine, total = list(getattr(service, "slots", ())), service.app.config.balancing.slots
    if not mine or len(mine) >= total:
        return ""
    slots = ", ".join(str(slot) for slot in mine)
    return ctx.text(f"This process only (slots {slots} of {total}); the others sharing this domain are not included.",
                    f"仅限本进程（共 {total} 个槽位中的 {slots}）；共享此域名的其他进程不包括在内。")


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
        figures = await logic.gather_figures(self.plugin.service.app, self.plugin.meter, ctx.lang)
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
        return Done(this_process(ctx, self.plugin), form=form)


class ReloadCommand(Command):
    node = NODE_PREFIX + "reload"
    name = "Reload configuration"
    name_zh = "重新加载配置"

    def __init__(self, plugin: "AdminPlugin") -> None:
        self.plugin = plugin

    def _plan(self, ctx: Context) -> logic.ReloadPlan:
        app = self.plugin.service.app
        path = logic.config_path(app)
        if path is None:
            raise FormError(ctx.text("This process was not started from a configuration file.",
                                     "本进程不是从配置文件启动的。"))
        new, options = logic.read_config(str(path))
        return logic.plan_reload(app.config, logic.running_options(app), new, options)

    def _describe(self, ctx: Context, plan: logic.ReloadPlan) -> tuple[list[str], list[str]]:
        live = []
        if plan.admins_added:
            live.append(ctx.text("admins added: ", "新增管理员：") + ", ".join(plan.admins_added))
        if plan.admins_removed:
            live.append(ctx.text("admins removed: ", "移除管理员：") + ", ".join(plan.admins_removed))
        if plan.log_level:
            live.append(ctx.text("log level: ", "日志级别：") + f"{plan.log_level[0]} → {plan.log_level[1]}")
        for domain, name in plan.names.items():
            live.append(ctx.text(f"{domain}: name → ", f"{domain}：名称 → ") + name)
        for change in plan.options:
            live.append(ctx.text(f"{change.domain}: options of plugin {change.plugin} (live if it supports it)",
                                 f"{change.domain}：插件 {change.plugin} 的选项（插件支持时即时生效）"))
        return live, list(plan.restart)

    async def start(self, ctx: Context) -> Any:
        try:
            plan = self._plan(ctx)
        except ConfigError as error:
            return Done(ctx.text("The configuration file has an error; nothing was changed: ",
                                 "配置文件有错误，未做任何更改：") + str(error), "error")
        except FormError as error:
            return Done(str(error), "error")
        if not plan.changes:
            return Done(ctx.text("The configuration file has no changes.", "配置文件没有变化。"))
        live, restart = self._describe(ctx, plan)
        instructions = ctx.text("Connections stay up. Complete to apply, cancel to leave things as they are.",
                                "连接不会中断。点“完成”应用，点“取消”保持现状。")
        instructions = " ".join(part for part in (instructions, this_process(ctx, self.plugin)) if part)
        form = new_form(title=self.title(ctx.lang), instructions=instructions)
        form.add_field(var="live", ftype="text-multi", label=ctx.text("Applied now", "立即生效"),
                       value="\n".join(live) or "-")
        form.add_field(var="restart", ftype="text-multi", label=ctx.text("Needs a restart", "需要重启"),
                       value="\n".join(restart) or "-")
        return FormStep(form, self.apply, final=True)

    async def apply(self, ctx: Context, values: dict[str, Any]) -> Done:
        try:
            plan = self._plan(ctx)  # the file may have changed since the preview
        except ConfigError as error:
            raise FormError(ctx.text("The configuration file has an error; nothing was changed: ",
                                     "配置文件有错误，未做任何更改：") + str(error)) from error
        result = await logic.apply_reload(self.plugin.service.app, plan)
        lines = [ctx.text("Configuration reloaded.", "配置已重新加载。")]
        if this_process(ctx, self.plugin):
            lines.append(this_process(ctx, self.plugin))
        if result.applied:
            lines.append(ctx.text("Applied: ", "已生效：") + "; ".join(result.applied))
        if result.restart_needed:
            lines.append(ctx.text("Needs a restart: ", "需要重启：") + "; ".join(result.restart_needed))
        return Done("\n".join(lines), "warn" if result.restart_needed else "info")


class LogLevelCommand(Command):
    node = NODE_PREFIX + "log-level"
    name = "Change log level"
    name_zh = "修改日志级别"

    def __init__(self, plugin: "AdminPlugin") -> None:
        self.plugin = plugin

    def _loggers(self) -> list[str]:
        app = self.plugin.service.app
        names = ["", "switchboard", "slixmpp", "sqlalchemy"]
        for service in app.services.values():
            for plugin in service.plugins:
                name = f"switchboard.plugins.{plugin}"
                if name not in names:
                    names.append(name)
        return names

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(title=self.title(ctx.lang),
                        instructions=ctx.text("Takes effect at once; a restart returns to the configured level.",
                                              "立即生效；重启后恢复配置文件中的级别。"))
        form.add_field(var="level", ftype="list-single", label=ctx.text("Level", "级别"), required=True,
                       value=logic.log_level_of(), options=[{"label": lvl, "value": lvl} for lvl in LOG_LEVELS])
        form.add_field(var="logger", ftype="list-single", label=ctx.text("Logger", "日志记录器"), value="",
                       options=[{"label": name or ctx.text("(everything)", "（全部）"), "value": name}
                                for name in self._loggers()])
        return FormStep(form, self.apply, final=True)

    async def apply(self, ctx: Context, values: dict[str, Any]) -> Done:
        level = (values.get("level") or "").strip().lower()
        logger = (values.get("logger") or "").strip()
        if level not in LOG_LEVELS:
            raise FormError(ctx.text(f"Unknown level {level!r}: choose one of ", f"未知级别 {level!r}，可选：")
                            + ", ".join(LOG_LEVELS))
        if logger not in self._loggers():
            raise FormError(ctx.text(f"Unknown logger {logger!r}.", f"未知的日志记录器 {logger!r}。"))
        previous = logic.set_log_level(level, logger)
        what = logger or ctx.text("everything", "全部")
        done = ctx.text(f"Log level of {what}: {previous} → {level}.", f"{what} 的日志级别：{previous} → {level}。")
        return Done(" ".join(part for part in (done, this_process(ctx, self.plugin)) if part))


def service_commands(plugin: "AdminPlugin") -> list[Command]:
    return [StatsCommand(plugin), ReloadCommand(plugin), LogLevelCommand(plugin)]
