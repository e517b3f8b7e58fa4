"""Agent operations as chat commands (``/close``…) and as XEP-0050 commands on our JIDs.

Ad-hoc commands run at a conversation JID (close, transfer, note, monitor,
accept) or at a queue JID (take the next customer, list tickets). The core's
command context does not carry the addressed JID, so the plugin records it in
:data:`TARGET` while it claims the IQ (``commands.owns``), within the same task.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from slixmpp import JID

from component.adhoc import Command, Context, Done, FormError, FormStep
from component.errors import StanzaError
from component.forms import new_form, table

if TYPE_CHECKING:
    from .plugin import SupportPlugin

#: The JID an ad-hoc command was sent to (set while the plugin claims the IQ).
TARGET: contextvars.ContextVar[JID | None] = contextvars.ContextVar("support_command_target", default=None)


def _t(ctx: Context, en: str, zh: str) -> str:
    return zh if ctx.zh() else en


def parse_chat_command(body: str) -> tuple[str, str] | None:
    """``/transfer sales`` -> ("transfer", "sales"); None when the body is not a command."""
    body = body.strip()
    if not body.startswith("/") or len(body) < 2:
        return None
    name, _, rest = body[1:].partition(" ")
    return name.lower(), rest.strip()


class _SupportCommand(Command):
    where = "session"   # session | queue
    roles: tuple[str, ...] = ("agent", "supervisor")

    def __init__(self, plugin: "SupportPlugin") -> None:
        self.plugin = plugin

    def _target(self, ctx: Context) -> JID | None:
        if "target" not in ctx.state:
            ctx.state["target"] = TARGET.get()
        return ctx.state["target"]

    def _ticket_id(self, ctx: Context) -> str | None:
        target = self._target(ctx)
        if target is None or target.domain != self.plugin.service.domain or self.where != "session":
            return None
        return self.plugin.engine.ticket_id_of(target.user)

    def _queue(self, ctx: Context) -> str | None:
        target = self._target(ctx)
        if target is None or target.domain != self.plugin.service.domain or self.where != "queue":
            return None
        return target.user if target.user in self.plugin.engine.queues else None

    def allowed(self, ctx: Context) -> bool:
        engine = self.plugin.engine
        bare = ctx.requester.bare
        if self.where == "queue":
            queue = self._queue(ctx)
            return bool(queue) and (engine.is_agent(queue, bare) or engine.is_supervisor(queue, bare))
        ticket_id = self._ticket_id(ctx)
        t = engine.tickets.get(ticket_id) if ticket_id else None
        return t is not None and engine.role(t, bare) in self.roles

    def ticket(self, ctx: Context) -> Any:
        ticket_id = self._ticket_id(ctx)
        t = self.plugin.engine.tickets.get(ticket_id) if ticket_id else None
        if t is None:
            raise StanzaError("item-not-found", "no open ticket here")
        return t


class CloseCommand(_SupportCommand):
    node = "support-close"
    name = "Close this conversation"
    name_zh = "结束会话"

    async def start(self, ctx: Context) -> FormStep:
        t = self.ticket(ctx)
        form = new_form(_t(ctx, f"Close ticket {t.id}", f"结束工单 {t.id}"),
                        _t(ctx, "The customer is told the conversation ended.", "客户会收到会话结束的通知。"))
        form.add_field(var="reason", ftype="text-single", label=_t(ctx, "Reason", "原因"), value="resolved")
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = self.ticket(ctx)
        await self.plugin.engine.close(t.id, ctx.requester.bare, (values.get("reason") or "resolved")[:64])
        return Done(_t(ctx, f"Ticket {t.id} closed.", f"工单 {t.id} 已结束。"))


class TransferCommand(_SupportCommand):
    node = "support-transfer"
    name = "Transfer this conversation"
    name_zh = "转接会话"

    async def start(self, ctx: Context) -> FormStep:
        t = self.ticket(ctx)
        engine = self.plugin.engine
        form = new_form(_t(ctx, f"Transfer ticket {t.id}", f"转接工单 {t.id}"),
                        _t(ctx, "A queue name or JID, or an agent's JID. The history goes along.",
                                 "填写队列名或JID，或客服的JID。会话记录会一并转交。"))
        field = form.add_field(var="to", ftype="list-single", label=_t(ctx, "Transfer to", "转接至"),
                               required=True)
        for name in engine.queues:
            field.add_option(label=engine.queue_title(name), value=engine.queue_jid(name))
        for name, agents in engine.agents.items():
            for agent in agents.values():
                if agent.tier() is not None and agent.jid != t.agent:
                    field.add_option(label=agent.jid, value=agent.jid)
        return FormStep(form, self.submit, types={"to": "text-single"}, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = self.ticket(ctx)
        try:
            await self.plugin.engine.transfer(t.id, ctx.requester.bare, str(values.get("to") or ""))
        except StanzaError as error:
            raise FormError(error.text) from error
        return Done(_t(ctx, f"Ticket {t.id} transferred.", f"工单 {t.id} 已转接。"))


class NoteCommand(_SupportCommand):
    node = "support-note"
    name = "Add a private note"
    name_zh = "添加内部备注"

    async def start(self, ctx: Context) -> FormStep:
        t = self.ticket(ctx)
        form = new_form(_t(ctx, f"Note on ticket {t.id}", f"工单 {t.id} 备注"),
                        _t(ctx, "Never shown to the customer.", "客户看不到备注。"))
        form.add_field(var="note", ftype="text-multi", label=_t(ctx, "Note", "备注"), required=True)
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = self.ticket(ctx)
        await self.plugin.engine.note(t.id, ctx.requester.bare, "\n".join(values.get("note") or []))
        return Done(_t(ctx, "Note saved.", "备注已保存。"))


class MonitorCommand(_SupportCommand):
    node = "support-monitor"
    name = "Watch or join this conversation"
    name_zh = "旁听或加入会话"
    roles = ("supervisor",)

    async def start(self, ctx: Context) -> FormStep:
        t = self.ticket(ctx)
        form = new_form(_t(ctx, f"Monitor ticket {t.id}", f"监控工单 {t.id}"))
        field = form.add_field(var="mode", ftype="list-single", label=_t(ctx, "Mode", "方式"), required=True,
                               value="silent")
        field.add_option(label=_t(ctx, "Watch silently", "旁听"), value="silent")
        field.add_option(label=_t(ctx, "Join openly", "加入会话"), value="open")
        field.add_option(label=_t(ctx, "Stop", "停止"), value="stop")
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        t = self.ticket(ctx)
        mode = values.get("mode")
        if mode not in ("silent", "open", "stop"):
            raise FormError(_t(ctx, "Choose a mode.", "请选择方式。"))
        await self.plugin.engine.watch(t.id, ctx.requester.bare, None if mode == "stop" else mode)
        return Done(_t(ctx, "Done.", "已完成。"))


class AcceptCommand(_SupportCommand):
    node = "support-accept"
    name = "Accept this customer"
    name_zh = "接受该客户"
    roles = ("offered",)

    async def start(self, ctx: Context) -> Done:
        t = self.ticket(ctx)
        await self.plugin.engine.accept(t.id, str(ctx.requester))
        return Done(_t(ctx, f"You now hold ticket {t.id}.", f"您已接手工单 {t.id}。"))


class NextCommand(_SupportCommand):
    node = "support-next"
    name = "Take the next customer"
    name_zh = "接待下一位客户"
    where = "queue"

    def allowed(self, ctx: Context) -> bool:
        queue = self._queue(ctx)
        return bool(queue) and self.plugin.engine.is_agent(queue, ctx.requester.bare)

    async def start(self, ctx: Context) -> Done:
        queue = self._queue(ctx)
        assert queue is not None
        t = await self.plugin.engine.take_next(queue, str(ctx.requester))
        if t is None:
            return Done(_t(ctx, "Nobody is waiting.", "当前没有等待的客户。"))
        session = self.plugin.engine.session_jid(t.id)
        return Done(_t(ctx, f"You now hold ticket {t.id} ({t.customer}); write to {session}.",
                       f"您已接手工单 {t.id}（{t.customer}），会话地址 {session}。"))


class TicketsCommand(_SupportCommand):
    node = "support-tickets"
    name = "Open conversations"
    name_zh = "进行中的会话"
    where = "queue"

    async def start(self, ctx: Context) -> Done:
        queue = self._queue(ctx)
        assert queue is not None
        engine = self.plugin.engine
        bare = ctx.requester.bare
        supervisor = engine.is_supervisor(queue, bare)
        rows = []
        for t in sorted(engine.tickets.values(), key=lambda x: x.id):
            if t.queue != queue or not (supervisor or t.agent == bare):
                continue
            rows.append({"id": t.id, "jid": engine.session_jid(t.id), "customer": t.customer, "state": t.state,
                         "agent": t.agent})
        columns = [("id", _t(ctx, "Ticket", "工单")), ("jid", _t(ctx, "Address", "地址")),
                   ("customer", _t(ctx, "Customer", "客户")), ("state", _t(ctx, "State", "状态")),
                   ("agent", _t(ctx, "Agent", "客服"))]
        return Done(form=table(columns, rows, title=self.title(ctx.lang)))


ALL = (CloseCommand, TransferCommand, NoteCommand, MonitorCommand, AcceptCommand, NextCommand, TicketsCommand)
