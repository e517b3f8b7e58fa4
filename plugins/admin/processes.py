"""The other processes serving this domain, asked through the core's peer requests.

With balancing (docs/scaling.md) a room's occupants are held by the process its stanzas reach,
and every process has its own counters, configuration file and log level; the bare domain, where
these commands arrive, hashes to any of them. So the process that answers a command asks the
others (``component/peer_requests.py``) and shows everyone's answer: the true occupants of every
room, the statistics of each process and their total, a reload or a log level applied to all (or
to the one chosen). A process that does not answer in time is named; the rest is shown.

Rights are checked where the command arrives; a process asked to act for someone (reload, log
level) checks again that the requester is one of its own global administrators.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from component.adhoc import Context, FormError
from component.peer_requests import Gathered, Process
from component.texts import pick

from . import service as logic
from .hooks import Stat

if TYPE_CHECKING:
    from .plugin import AdminPlugin

OCCUPANTS = "admin.occupants"
SERVED = "admin.served"
STATS = "admin.stats"
RELOAD_PLAN = "admin.reload-plan"
RELOAD = "admin.reload"
LOG_LEVEL = "admin.log-level"
#: What the room list shows of a room's configuration (room_command.room_row): asked of the process
#: serving a room that this one may not know (never the whole configuration: it holds the password).
LISTED_CONFIG = ("muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom",
                 "muc#roomconfig_enablearchiving")
#: The "process" field's value for every process.
EVERY = "all"


def register(plugin: "AdminPlugin") -> None:
    """This process answers the others' questions about this domain."""
    service = plugin.service
    requests = service.app.peer_requests

    def check(body: Any) -> None:
        if not service.is_admin(str((body or {}).get("actor", ""))):
            raise PermissionError("not an administrator of this process")

    async def answer_occupants(body: Any) -> dict[str, Any]:
        muc = service.hooks.service("muc", None)
        if muc is None:
            return {}
        detail = bool(body.get("detail"))
        found: dict[str, Any] = {}
        for room in body.get("rooms") or muc.rooms():
            held = muc.occupants(room)
            if held:
                found[room] = [[o.nick, o.role, o.affiliation] for o in held] if detail else len(held)
        return found

    async def answer_served(body: Any) -> dict[str, Any]:
        muc = service.hooks.service("muc", None)
        if muc is None:
            return {}
        found: dict[str, Any] = {}
        for room in muc.rooms():
            held = muc.occupants(room)
            if held:
                found[room] = {"occupants": len(held), "config": list_fields(muc.room_config(room))}
        return found

    async def answer_stats(body: Any) -> dict[str, Any]:
        figures = await logic.gather_figures(service.app, plugin.meter, body.get("lang", "en"))
        return {"figures": dataclasses.asdict(figures), "temporary": temporary_rooms(service.app)}

    def checked_plan(body: Any) -> tuple[Any, str]:
        """(this process's reload plan, "") or (None, why there is none)."""
        check(body)
        lang = body.get("lang", "en")
        try:
            return reload_plan(service.app, lang), ""
        except FormError as error:
            return None, str(error)
        except logic.ConfigError as error:
            return None, pick("The configuration file has an error; nothing was changed: ",
                              "配置文件有错误，未做任何更改：", lang) + str(error)

    async def answer_reload_plan(body: Any) -> dict[str, Any]:
        plan, problem = checked_plan(body)
        if plan is None:
            return {"problem": problem}
        lang = body.get("lang", "en")
        live, restart = describe_reload(SimpleNamespace(text=lambda en, zh: pick(en, zh, lang)), plan)
        return {"changes": plan.changes, "live": live, "restart": restart}

    async def answer_reload(body: Any) -> dict[str, Any]:
        plan, problem = checked_plan(body)
        if plan is None:
            return {"problem": problem}
        result = await logic.apply_reload(service.app, plan)
        return {"applied": result.applied, "restart_needed": result.restart_needed}

    async def answer_log_level(body: Any) -> dict[str, Any]:
        check(body)
        level, logger = body["level"], body["logger"]
        if level not in logic.LOG_LEVELS or logger not in loggers(service.app):
            return {"problem": f"{logger or 'root'}: {level}"}
        return {"previous": logic.set_log_level(level, logger)}

    for kind, handler in ((OCCUPANTS, answer_occupants), (SERVED, answer_served), (STATS, answer_stats),
                          (RELOAD_PLAN, answer_reload_plan), (RELOAD, answer_reload), (LOG_LEVEL, answer_log_level)):
        requests.answer(service.domain, kind, handler)


def reload_plan(app: Any, lang: str) -> logic.ReloadPlan:
    """What reloading this process's own configuration file would change."""
    path = logic.config_path(app)
    if path is None:
        raise FormError(pick("This process was not started from a configuration file.",
                             "本进程不是从配置文件启动的。", lang))
    new, options = logic.read_config(str(path))
    return logic.plan_reload(app.config, logic.running_options(app), new, options)


def describe_reload(ctx: Any, plan: logic.ReloadPlan) -> tuple[list[str], list[str]]:
    """What applies now and what needs a restart, as lines (``ctx.text`` picks the language)."""
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


def loggers(app: Any) -> list[str]:
    """The loggers whose level the log-level command sets."""
    names = ["", "switchboard", "slixmpp", "sqlalchemy"]
    for service in app.services.values():
        for plugin in service.plugins:
            name = f"switchboard.plugins.{plugin}"
            if name not in names:
                names.append(name)
    return names


async def ask(plugin: "AdminPlugin", kind: str, body: Any, only: int | None = None) -> Gathered:
    service = plugin.service
    try:
        return await service.app.peer_requests.ask(service.domain, kind, body, only=only)
    except LookupError as gone:
        raise FormError(pick("That process no longer serves this domain; start the command again.",
                             "该进程已不再服务此域名；请重新执行命令。", body.get("lang"))) from gone


def unanswered(gathered: Gathered) -> list[Process]:
    """The processes asked whose answer is missing: too late, or failed."""
    return gathered.late + [a.process for a in gathered.answers if a.error]


def missing_note(ctx: Context, gathered: Gathered, en: str, zh: str) -> str:
    """``en``/``zh`` follow the names of the processes that did not answer; empty when all did."""
    missing = unanswered(gathered)
    if not missing:
        return ""
    names = ", ".join(p.label(ctx.lang if ctx.zh() else "en") for p in missing)
    return ctx.text(f"No answer in time from {names}: {en}", f"{names} 未及时回答：{zh}")


async def occupants(plugin: "AdminPlugin", ctx: Context, rooms: list[str] | None,
                    detail: bool = False) -> tuple[dict[str, Any], str]:
    """The occupants of ``rooms`` (None: every room) in every process: {room: count} or, with
    ``detail``, {room: [(nick, role, affiliation)…]}; and a note naming any process not heard."""
    gathered = await ask(plugin, OCCUPANTS, {"rooms": rooms, "detail": detail, "lang": ctx.lang})
    found: dict[str, Any] = {}
    for answer in gathered.answers:
        for room, held in (answer.body or {}).items():
            if detail:
                found.setdefault(room, []).extend(tuple(o) for o in held)
            else:
                found[room] = found.get(room, 0) + held
    return found, missing_note(ctx, gathered, "the occupants of the rooms they serve are not shown.",
                               "由其服务的房间的在线成员未显示。")


async def served(plugin: "AdminPlugin", ctx: Context) -> tuple[dict[str, tuple[int, dict[str, Any]]], str]:
    """Every room with occupants in any process: {room: (occupants, what the room list shows of its
    configuration, as the serving process knows it)}; and a note naming any process not heard.

    The room list needs it beside the rooms known here: a temporary room is known only where it is
    served, and a room just stored by another process is known here only once its notification
    has been handled."""
    gathered = await ask(plugin, SERVED, {"lang": ctx.lang})
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for answer in gathered.answers:
        for room, held in (answer.body or {}).items():
            count = found.get(room, (0, {}))[0] + int(held["occupants"])
            found[room] = (count, dict(held["config"]))
    return found, missing_note(ctx, gathered, "the rooms they serve are not shown with their occupants.",
                               "由其服务的房间未显示在线成员。")


def list_fields(config: dict[str, Any]) -> dict[str, Any]:
    """What the room list shows of a room's configuration (see room_command.room_row)."""
    return {key: config.get(key) for key in LISTED_CONFIG}


def process_field(form: Any, ctx: Context, processes: list[Process]) -> None:
    """Choose every process (the default) or one, when several serve this domain."""
    if len(processes) < 2:
        return
    lang = "zh" if ctx.zh() else "en"
    options = [{"label": ctx.text("All processes", "所有进程"), "value": EVERY}]
    options += [{"label": p.label(lang) + (ctx.text(" — this one", "（本进程）") if p.here else ""),
                 "value": str(p.id)} for p in processes]
    form.add_field(var="process", ftype="list-single", label=ctx.text("Process", "进程"), value=EVERY,
                   options=options)


def chosen(values: dict[str, Any]) -> int | None:
    value = str(values.get("process") or EVERY).strip()
    if value == EVERY:
        return None
    try:
        return int(value)
    except ValueError:
        raise FormError(f"process: {value}") from None


# -- statistics ------------------------------------------------------------------------
def temporary_rooms(app: Any) -> dict[str, int]:
    """Rooms never stored, per domain: known only where they are served (not to the other processes)."""
    counts = {}
    for domain, service in app.services.items():
        muc = service.hooks.service("muc", None)
        if muc is not None:
            counts[domain] = sum(1 for room in muc.rooms()
                                 if not muc.room_config(room).get("muc#roomconfig_persistentroom"))
    return counts


def figures_of(body: dict[str, Any]) -> logic.Figures:
    raw = dict(body["figures"])
    raw["services"] = [logic.ServiceFigures(**s) for s in raw["services"]]
    raw["extra"] = [Stat(**s) for s in raw["extra"]]
    return logic.Figures(**raw)


def combine(here: logic.Figures, here_temporary: dict[str, int],
            others: list[tuple[logic.Figures, dict[str, int]]]) -> logic.Figures:
    """Every process's figures as one: counters summed; stored rooms counted once (every process
    knows them), temporary rooms where each is; the uptime and database size this process's, and
    the plugins' figures (``admin.stats`` answers for the whole domain: see hooks.py)."""
    total = dataclasses.replace(here, services=[dataclasses.replace(s) for s in here.services],
                                extra=[dataclasses.replace(s) for s in here.extra])
    temporary = dict(here_temporary)
    for figures, theirs in others:
        for name in ("streams_connected", "streams_total", "stanzas_in", "stanzas_out", "in_per_second",
                     "out_per_second", "command_sessions"):
            setattr(total, name, getattr(total, name) + getattr(figures, name))
        for mine in total.services:
            for their in figures.services:
                if their.domain == mine.domain:
                    mine.connected = mine.connected and their.connected
                    mine.stanzas_in += their.stanzas_in
                    mine.stanzas_out += their.stanzas_out
                    if mine.occupants is not None and their.occupants is not None:
                        mine.occupants += their.occupants
        for domain, count in theirs.items():
            temporary[domain] = temporary.get(domain, 0) + count
    for mine in total.services:
        if mine.rooms is not None:
            mine.rooms += temporary.get(mine.domain, 0) - here_temporary.get(mine.domain, 0)
    with_rooms = [s for s in total.services if s.rooms is not None]
    if with_rooms:
        total.rooms = sum(s.rooms or 0 for s in with_rooms)
        total.occupants = sum(s.occupants or 0 for s in with_rooms)
    return total
