"""XEP-0050 commands at our JIDs: every declared command with a node (see commands.py), plus the
multi-stage help-desk forms that exist only as forms (ops_commands.py) and the table of open
conversations at a queue.

The addressed JID is the core context's ``target`` (a conversation or a queue address).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slixmpp import JID

from component.adhoc import Command, Context, Done, FormError, FormStep
from component.errors import StanzaError
from component.forms import new_form, table

from .commands import REGISTRY
from .declare import QUEUE, SESSION, Call, Declaration

if TYPE_CHECKING:
    from .plugin import SupportPlugin


def _t(ctx: Context, en: str, zh: str) -> str:
    return zh if ctx.zh() else en


class _SupportCommand(Command):
    where = SESSION   # SESSION | QUEUE
    roles: tuple[str, ...] = ("agent", "supervisor")

    def __init__(self, plugin: "SupportPlugin") -> None:
        self.plugin = plugin

    def _target(self, ctx: Context) -> JID | None:
        target = ctx.target
        if target is None or target.domain != self.plugin.service.domain:
            return None
        return target

    def _ticket_id(self, ctx: Context) -> str | None:
        target = self._target(ctx)
        if target is None or self.where != SESSION:
            return None
        return self.plugin.engine.ticket_id_of(target.user)

    def _queue(self, ctx: Context) -> str | None:
        target = self._target(ctx)
        if target is None or self.where != QUEUE or target.resource:
            return None
        return target.user if target.user in self.plugin.engine.queues else None

    def allowed(self, ctx: Context) -> bool:
        engine = self.plugin.engine
        bare = ctx.requester.bare
        if self.where == QUEUE:
            queue = self._queue(ctx)
            return bool(queue) and (engine.is_agent(queue, bare) or engine.is_supervisor(queue, bare))
        ticket_id = self._ticket_id(ctx)
        t = engine.live(ticket_id) if ticket_id else None
        return t is not None and engine.role(t, bare) in self.roles

    def ticket(self, ctx: Context) -> Any:
        ticket_id = self._ticket_id(ctx)
        t = self.plugin.engine.live(ticket_id) if ticket_id else None
        if t is None:
            raise StanzaError("item-not-found", "no open ticket here")
        return t


class DeclaredCommand(_SupportCommand):
    """A declared command served as an XEP-0050 node: its fields as a form, its handler on submit."""

    def __init__(self, plugin: "SupportPlugin", declaration: Declaration) -> None:
        super().__init__(plugin)
        self.declaration = declaration
        self.node = declaration.node or ""
        self.name, self.name_zh = declaration.title
        self.where = SESSION if SESSION in declaration.places else QUEUE

    def _call(self, ctx: Context, values: dict[str, Any] | None = None) -> Call:
        d = self.declaration
        ticket = self.ticket(ctx) if self.where == SESSION else None
        queue = "" if ticket is not None else (self._queue(ctx) or "")
        role = REGISTRY.role_of(self.plugin, d, ctx.requester.bare, ticket, queue)
        if role is None:
            raise StanzaError("forbidden", "you may not run this command")
        return Call(self.plugin, str(ctx.requester), role, "zh" if ctx.zh() else "en", "adhoc", dict(values or {}),
                    ticket, queue)

    def allowed(self, ctx: Context) -> bool:
        ticket_id = self._ticket_id(ctx)
        ticket = self.plugin.engine.live(ticket_id) if ticket_id else None
        queue = "" if ticket is not None else (self._queue(ctx) or "")
        if self.where == SESSION and ticket is None:
            return False
        return REGISTRY.role_of(self.plugin, self.declaration, ctx.requester.bare, ticket, queue) is not None

    async def start(self, ctx: Context) -> Any:
        d = self.declaration
        call = self._call(ctx)
        if not d.fields:
            return Done(await REGISTRY.run(d, call) or "")
        early = d.ready(call) if d.ready else None
        if early:
            return Done(early)
        title = self.title(ctx.lang) + (f" ({call.ticket.id})" if call.ticket else "")
        instructions = (d.instructions[1] if ctx.zh() else d.instructions[0]) if d.instructions else None
        form = new_form(title, instructions or "")
        types: dict[str, str] = {}
        for f in d.fields:
            field = form.add_field(var=f.var, ftype=f.type, label=f.label_in(call.lang), required=f.required,
                                   value=f.default or None)
            for value, label in f.choices:
                field.add_option(label=label[1] if ctx.zh() else label[0], value=value)
            if f.options:
                for label_, value in f.options(call):
                    field.add_option(label=label_, value=value)
            types[f.var] = "text-single" if f.open_list else f.type
        return FormStep(form, self.submit, types=types, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        call = self._call(ctx, values)
        try:
            said = await REGISTRY.run(self.declaration, call)
        except StanzaError as error:
            if error.condition in ("forbidden", "not-authorized"):
                raise
            raise FormError(error.text) from error
        return Done(said or _t(ctx, "Done.", "已完成。"))


class TicketsCommand(_SupportCommand):
    """The open conversations of a queue, as a table (an agent sees their own, a supervisor all)."""

    node = "support-tickets"
    name = "Open conversations"
    name_zh = "进行中的会话"
    where = QUEUE

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


def all_commands(plugin: "SupportPlugin") -> list[Command]:
    from . import ops_commands

    found: list[Command] = [DeclaredCommand(plugin, d) for d in REGISTRY.with_nodes()]
    found.append(TicketsCommand(plugin))
    found += [command(plugin) for command in ops_commands.ALL]
    return found
