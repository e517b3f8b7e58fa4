"""Wiring of the monitor and reports: commands, chat commands, the public service.

Chat commands for plain clients (supervisors and global admins):
- at a queue JID (through support's ``support.staff_command`` hook):
  ``/monitor`` (this queue), ``/monitor all`` or ``/monitor <queue>``,
  ``/report`` (today), ``/report week``;
- at the service domain itself: the same, over every queue the sender supervises.
Agents who are not supervisors, and everyone else, are refused with ``forbidden``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

from slixmpp import JID, Message

from component.adhoc import rights_scope
from component.errors import StanzaError
from component.plugin import Plugin
from plugins.support import hooks as support_hooks

from .commands import COMMANDS, local_day, monitor_text, summary_line
from .hooks import SERVICE
from .metrics import report
from .monitor import Snapshot
from . import cli
from .measures import SupportMeasures
from .options import ReportsOptions
from .pubsub import FEATURES as PUBSUB_FEATURES, MonitorFeed
from .service import Reports, live, live_everywhere, today_range, week_range
from .texts import is_zh, text

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CHAT_COMMANDS = ("monitor", "report")


def parse_chat(body: str) -> tuple[str, str] | None:
    """``/monitor sales`` -> ("monitor", "sales"); None when the body is not a slash command."""
    body = body.strip()
    if not body.startswith("/") or len(body) < 2:
        return None
    name, _, rest = body[1:].partition(" ")
    return name.lower(), rest.strip()


def stanza_lang(msg: Message, default: str) -> str:
    """The language the sender wrote in (the body's xml:lang, else the message's), else ``default``."""
    for child in msg.xml:
        if child.tag.endswith("}body") and child.get(XML_LANG):
            return "zh" if is_zh(child.get(XML_LANG)) else "en"
    lang = msg.xml.get(XML_LANG)
    if lang:
        return "zh" if is_zh(lang) else "en"
    return default


class ReportsPlugin(Plugin):
    name = "support_reports"
    depends = ("support",)
    #: The monitor reads queues owned by other processes as stored; the live feed has one publisher
    #: (the process receiving the service domain's stanzas holds the subscriptions). docs/scaling.md.
    shares_domain = True
    Options = ReportsOptions
    command_line = cli.COMMANDS
    identities = (("pubsub", "service", ""),)
    features = PUBSUB_FEATURES

    #: The clock (tests move it).
    now: Callable[[], float] = staticmethod(time.time)

    async def setup(self) -> None:
        self.support = self.hooks.service(support_hooks.SERVICE)
        options: ReportsOptions = self.options
        self.reports = Reports(self.support.ticket_events, options.tz, options.timezone, now=lambda: self.now())
        self.hooks.on(support_hooks.STAFF_COMMAND, self.staff_command)
        # After every other handler: only slash commands to the bare domain that nobody took.
        self.service.on_message(self.domain_message, priority=-10)
        self.hooks.provide(SERVICE, ReportsFacade(self))
        for command in COMMANDS:
            self.service.commands.register(command(self))
        self.feed = MonitorFeed(self)
        self.feed.register()
        self.measures = SupportMeasures(self)

    async def stop(self) -> None:
        await self.feed.stop()

    # -- helpers shared by the commands ----------------------------------------------------------
    def snapshot(self, queues: list[str]) -> Snapshot:
        """The queues as this process holds them (all of them when it serves the domain alone)."""
        return live(self.support, queues, self.now())

    @property
    def shared(self) -> bool:
        return self.service.app.config.balancing.shared

    async def current(self, queues: list[str]) -> Snapshot:
        """The queues now, wherever they are owned (other processes' as stored)."""
        if not self.shared:
            return self.snapshot(queues)
        return await live_everywhere(self.support, queues, self.now())

    def clock(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.options.tz).strftime("%Y-%m-%d %H:%M:%S")

    def day_of(self, at: float) -> str:
        return local_day(at, self.options.tz)

    async def chat_report(self, queues: list[str], arg: str, lang: str) -> str:
        """``/report``: today's figures (``week``: this week's), in total and per queue when several."""
        now = self.now()
        week = arg.lower() in ("week", "w", "本周", "周")
        since, until = (week_range if week else today_range)(self.options.tz, now)
        data = await self.reports.data(since, until, queues=queues, lang=lang, period="all",
                                       group="queue")
        title = text("this_week" if week else "today", lang)
        title = title[:1].upper() + title[1:]
        lines = [summary_line(data.totals, title, self._range(since, until, lang), lang)]
        if len(queues) > 1:
            for row in report(data.convs, "queue", "all", self.options.tz):
                lines.append(summary_line(row, f"{self.support.queue_title(row['queue'])} ({row['queue']})",
                                          self._range(since, until, lang), lang))
        return "\n".join(lines)

    def _range(self, since: float, until: float, lang: str) -> str:
        return text("range", lang, since=self.day_of(since), until=self.day_of(until - 1), tz=self.options.timezone)

    async def _answer(self, name: str, arg: str, here: list[str], allowed: list[str], lang: str) -> str:
        """A chat command's answer; ``here``: the queues it is about by default."""
        target = arg.split()[0] if arg.split() else ""
        if name == "monitor":
            if target.lower() in ("all", "*", "全部"):
                queues = allowed
            elif target:
                if target not in allowed:
                    raise StanzaError("forbidden", text("unknown_queue", lang, queue=target))
                queues = [target]
            else:
                queues = here
            return await monitor_text(self, queues, lang)
        return await self.chat_report(here, arg, lang)

    # -- chat commands ---------------------------------------------------------------------------
    async def staff_command(self, event: Any) -> Any:
        """An agent or supervisor wrote to a queue JID (support's hook)."""
        parsed = parse_chat(event.body)
        if parsed is None:
            return None
        name, arg = parsed
        lang = event.lang or self.options.lang
        if name == "help" and event.supervisor:
            return text("monitor_usage", lang)
        if name not in CHAT_COMMANDS:
            return None
        if not event.supervisor:
            raise StanzaError("forbidden", text("not_supervisor", lang))
        scope = await rights_scope(self.service, JID(event.sender), "queue")
        allowed = scope.filter(self.support.queues())
        if event.queue not in allowed:  # a supervisor by support's own list: their queue at least
            allowed.append(event.queue)
        return await self._answer(name, arg, [event.queue], allowed, lang)

    async def domain_message(self, msg: Message) -> Any:
        """``/monitor`` or ``/report`` sent to the service domain itself."""
        to = msg["to"]
        if to.user or to.resource or to.domain != self.service.domain:
            return None
        if msg["type"] in ("error", "groupchat", "headline"):
            return None
        parsed = parse_chat(msg["body"] or "")
        if parsed is None or parsed[0] not in CHAT_COMMANDS:
            return None
        lang = stanza_lang(msg, self.options.lang)
        scope = await rights_scope(self.service, msg["from"], "queue")
        allowed = scope.filter(self.support.queues())
        if not allowed:
            raise StanzaError("forbidden", text("not_supervisor", lang))
        answer = await self._answer(parsed[0], parsed[1], allowed, allowed, lang)
        reply = self.service.xmpp.make_message(mto=msg["from"], mfrom=self.service.domain, mbody=answer,
                                               mtype="chat")
        reply.xml.set(XML_LANG, lang)
        self.service.send(reply)
        return True


class ReportsFacade:
    """The public service ``hooks.service("support_reports")`` (for the admin plugin, dashboards)."""

    def __init__(self, plugin: ReportsPlugin) -> None:
        self._plugin = plugin

    def snapshot(self, queues: list[str] | None = None) -> Snapshot:
        """The queues as this process holds them (every queue where it serves the domain alone)."""
        return self._plugin.snapshot(queues if queues is not None else self._plugin.support.queues())

    async def current(self, queues: list[str] | None = None) -> Snapshot:
        """The queues now, those other processes own included (read as stored)."""
        return await self._plugin.current(queues if queues is not None else self._plugin.support.queues())

    async def report(self, since: float, until: float, queue: str | None = None, group: str = "queue",
                     period: str = "day") -> list[dict[str, Any]]:
        convs = await self._plugin.reports.conversations(since, until, queue)
        return report(convs, group, period, self._plugin.options.tz)
