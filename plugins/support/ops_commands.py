"""XEP-0050 commands at a queue JID for help-desk work: tickets, taking waiting ones, canned replies.

- ``support-ticket-search`` (agents, supervisors): tickets by status, tag, customer, agent, text;
- ``support-ticket`` (agents, supervisors): one ticket in full (pre-chat answers, times, rating,
  notes) with its priority, tags and status to change and a note to add;
- ``support-canned-list`` (agents, supervisors), ``support-canned-add``, ``support-canned-edit``,
  ``support-canned-delete`` (supervisors and administrators).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from component.adhoc import Context, Done, FormError, FormStep
from component.errors import StanzaError
from component.forms import new_form, table

from . import canned, prechat, tickets
from .canned import Canned
from .adhoc import _SupportCommand, _t
from .declare import QUEUE
from .model import RESOLVED, Ticket
from .stanza import xep0082

if TYPE_CHECKING:
    from .plugin import SupportPlugin


def _when(ts: float | None) -> str:
    return xep0082(ts) if ts else ""


class _QueueCommand(_SupportCommand):
    where = QUEUE
    supervisors_only = False
    agents_only = False

    def allowed(self, ctx: Context) -> bool:
        queue = self._queue(ctx)
        if not queue:
            return False
        engine = self.plugin.engine
        bare = ctx.requester.bare
        if self.supervisors_only:
            return engine.is_supervisor(queue, bare)
        if self.agents_only:
            return engine.is_agent(queue, bare)
        return engine.is_agent(queue, bare) or engine.is_supervisor(queue, bare)

    def queue(self, ctx: Context) -> str:
        queue = self._queue(ctx)
        if queue is None:
            raise StanzaError("item-not-found", "run this command at a queue address")
        return queue


class TicketSearchCommand(_QueueCommand):
    node = "support-ticket-search"
    name = "Search tickets"
    name_zh = "查找工单"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(_t(ctx, "Search tickets", "查找工单"),
                        _t(ctx, "Empty fields do not filter.", "留空的项不作筛选。"))
        field = form.add_field(var="status", ftype="list-multi", label=_t(ctx, "Status", "状态"))
        for status in tickets.STATUSES:
            field.add_option(label=tickets.status_name(status, ctx.lang), value=status)
        form.add_field(var="tag", ftype="text-single", label=_t(ctx, "Tags (space separated)", "标签（空格分隔）"))
        form.add_field(var="customer", ftype="text-single", label=_t(ctx, "Customer JID contains", "客户JID包含"))
        form.add_field(var="agent", ftype="text-single", label=_t(ctx, "Agent JID contains", "客服JID包含"))
        form.add_field(var="text", ftype="text-single",
                       label=_t(ctx, "Words (ticket id, name, email, order, first message)",
                                "关键词（工单号、姓名、邮箱、订单号、首条消息）"))
        form.add_field(var="limit", ftype="text-single", label=_t(ctx, "At most", "最多"), value="50")
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        queue = self.queue(ctx)
        tags = [tickets.normalise_tag(w) for w in str(values.get("tag") or "").replace(",", " ").split()]
        if any(tag is None for tag in tags):
            raise FormError(_t(ctx, "Tags are letters, digits, '.', '_' or '-'.", "标签只能包含字母、数字、. _ -。"))
        limit = str(values.get("limit") or "50").strip()
        if not limit.isdigit() or not 1 <= int(limit) <= 500:
            raise FormError(_t(ctx, "At most: a number from 1 to 500.", "最多：1 到 500 之间的数字。"))
        search = tickets.Search(statuses=[s for s in values.get("status") or [] if s in tickets.STATUSES],
                                tags=[t for t in tags if t], customer=str(values.get("customer") or "").strip(),
                                agent=str(values.get("agent") or "").strip(), text=str(values.get("text") or ""),
                                limit=int(limit))
        found = await self.plugin.engine.store.search([queue], search)
        return Done(form=ticket_table(ctx, found, self.plugin))


def ticket_table(ctx: Context, found: list[Ticket], plugin: "SupportPlugin") -> Any:
    columns = [("id", _t(ctx, "Ticket", "工单")), ("status", _t(ctx, "Status", "状态")),
               ("customer", _t(ctx, "Customer", "客户")), ("agent", _t(ctx, "Agent", "客服")),
               ("priority", _t(ctx, "Priority", "优先级")), ("tags", _t(ctx, "Tags", "标签")),
               ("created", _t(ctx, "Created", "创建时间")), ("rating", _t(ctx, "Rating", "评分")),
               ("jid", _t(ctx, "Address", "地址"))]
    rows = []
    for t in found:
        t = plugin.engine.tickets.get(t.id, t)
        rows.append({"id": t.id, "status": tickets.status_of(t.state), "customer": t.customer,
                     "agent": t.agent or (t.agents_seen[-1] if t.agents_seen else ""), "priority": t.priority,
                     "tags": " ".join(t.tags), "created": _when(t.created_at),
                     "rating": t.rating if t.rating is not None else "", "jid": plugin.engine.session_jid(t.id)})
    return table(columns, rows, title=_t(ctx, f"Tickets ({len(rows)})", f"工单（{len(rows)} 个）"))


class TicketCommand(_QueueCommand):
    node = "support-ticket"
    name = "View or update a ticket"
    name_zh = "查看或更新工单"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(_t(ctx, "Which ticket?", "哪个工单？"))
        form.add_field(var="ticket", ftype="text-single", label=_t(ctx, "Ticket", "工单"), required=True)
        return FormStep(form, self.chosen)

    async def _ticket(self, ctx: Context, ticket_id: str) -> Ticket:
        queue = self.queue(ctx)
        engine = self.plugin.engine
        ticket_id = ticket_id.strip().lower()
        t = engine.tickets.get(ticket_id) or (await engine.store.ticket(ticket_id) if ticket_id else None)
        if t is None or queue not in (t.queue, t.entry):
            raise FormError(_t(ctx, f"No ticket {ticket_id} in this queue.", f"此队列没有工单 {ticket_id}。"))
        return t

    async def chosen(self, ctx: Context, values: dict[str, Any]) -> FormStep:
        t = await self._ticket(ctx, str(values.get("ticket") or ""))
        ctx.state["ticket"] = t.id
        engine = self.plugin.engine
        lang = ctx.lang
        form = new_form(_t(ctx, f"Ticket {t.id}", f"工单 {t.id}"))

        def fixed(label: str, value: Any) -> None:
            if value not in (None, ""):
                form.add_field(ftype="fixed", value=f"{label}: {value}")

        fixed(_t(ctx, "Customer", "客户"), t.customer)
        fixed(_t(ctx, "Status", "状态"), tickets.status_name(tickets.status_of(t.state), lang))
        fixed(_t(ctx, "Queue", "队列"), engine.queue_jid(t.queue))
        fixed(_t(ctx, "Agent", "客服"), t.agent or ", ".join(t.agents_seen))
        fields = engine.queues[t.queue].join_form if t.queue in engine.queues else []
        fixed(_t(ctx, "Pre-chat", "预填信息"), prechat.summary(fields, t.form, lang))
        fixed(_t(ctx, "First message", "首条消息"), t.form.get("message", ""))
        fixed(_t(ctx, "Created", "创建"), _when(t.created_at))
        fixed(_t(ctx, "Queued", "排队"), _when(t.queued_at))
        fixed(_t(ctx, "First agent response", "客服首次回复"), _when(t.first_response_at))
        fixed(_t(ctx, "Resolved", "解决"), _when(t.resolved_at))
        if t.rating is not None:
            fixed(_t(ctx, "Rating", "评分"), f"{t.rating}/5 {t.rating_comment}".strip())
        for at, author, note in (await engine.store.notes(t.id))[-5:]:
            fixed(_t(ctx, "Note", "备注"), f"{_when(at)} {author.split('@', 1)[0]}: {note}")
        form.add_field(var="priority", ftype="text-single", label=_t(ctx, "Priority", "优先级"),
                       value=str(t.priority))
        form.add_field(var="tags", ftype="text-single", label=_t(ctx, "Tags (space separated)", "标签（空格分隔）"),
                       value=" ".join(t.tags))
        status = form.add_field(var="status", ftype="list-single", label=_t(ctx, "Status", "状态"), value="keep")
        status.add_option(label=_t(ctx, "Keep", "不变"), value="keep")
        for choice in self._status_choices(t):
            status.add_option(label=tickets.status_name(choice, lang), value=choice)
        form.add_field(var="note", ftype="text-multi", label=_t(ctx, "Add a private note", "添加内部备注"))
        return FormStep(form, self.submit, final=True)

    @staticmethod
    def _status_choices(t: Ticket) -> list[str]:
        if t.state == "active":
            return ["pending", "resolved"]
        if t.state in ("queued", "offered", "offline", "pending", "bot", "new", "prechat"):
            return ["resolved"]
        if t.state == RESOLVED:
            return ["closed"]
        return []

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        engine = self.plugin.engine
        t = await self._ticket(ctx, ctx.state.get("ticket", ""))
        bare = ctx.requester.bare
        priority = tickets.parse_priority(str(values.get("priority") or "0"), engine.queues[t.queue].urgent_priority
                                          if t.queue in engine.queues else 10)
        if priority is None:
            raise FormError(_t(ctx, "Priority: low, normal, high, urgent or a number from -100 to 100.",
                               "优先级：low、normal、high、urgent 或 -100 到 100 之间的数字。"))
        wanted = [tickets.normalise_tag(w) for w in str(values.get("tags") or "").replace(",", " ").split()]
        if any(tag is None for tag in wanted):
            raise FormError(_t(ctx, "Tags are letters, digits, '.', '_' or '-'.", "标签只能包含字母、数字、. _ -。"))
        status = values.get("status") or "keep"
        if status != "keep" and status not in self._status_choices(t):
            raise FormError(_t(ctx, "That status cannot be set now.", "现在不能设为该状态。"))
        tags = [tag for tag in wanted if tag]
        await engine.update(t.id, bare, [tag for tag in tags if tag not in t.tags],
                            [tag for tag in t.tags if tag not in tags], priority)
        note = "\n".join(values.get("note") or []).strip()
        if note:
            await engine.note(t.id, bare, note)
        if status == "pending":
            await engine.set_pending(t.id, bare)
        elif status == "resolved":
            await engine.close(t.id, bare)
        elif status == "closed":
            await engine.finish(t.id, bare)
        return Done(_t(ctx, f"Ticket {t.id} updated.", f"工单 {t.id} 已更新。"))


class CannedListCommand(_QueueCommand):
    node = "support-canned-list"
    name = "Canned replies"
    name_zh = "常用回复"

    async def start(self, ctx: Context) -> Done:
        replies = await self.plugin.engine.store.canned(self.queue(ctx))
        columns = [("shortcut", _t(ctx, "Shortcut", "快捷词")), ("text", _t(ctx, "English", "英文")),
                   ("text_zh", _t(ctx, "Chinese", "中文")), ("updated_by", _t(ctx, "Last edited by", "最后编辑"))]
        rows = [{"shortcut": r.shortcut, "text": r.text, "text_zh": r.text_zh, "updated_by": r.updated_by}
                for r in replies]
        return Done(form=table(columns, rows, title=self.title(ctx.lang)))


class _CannedEditing(_QueueCommand):
    supervisors_only = True

    def _form(self, ctx: Context, reply: Canned | None) -> Any:
        form = new_form(self.title(ctx.lang),
                        _t(ctx, "Placeholders: {name} (customer), {agent}, {ticket}, {queue}.",
                           "可用占位符：{name}（客户称呼）、{agent}（客服）、{ticket}（工单号）、{queue}（队列）。"))
        if reply is None:
            form.add_field(var="shortcut", ftype="text-single", label=_t(ctx, "Shortcut", "快捷词"), required=True)
        form.add_field(var="text", ftype="text-multi", label=_t(ctx, "Text (English)", "内容（英文）"),
                       required=True, value=reply.text.split("\n") if reply else None)
        form.add_field(var="text_zh", ftype="text-multi", label=_t(ctx, "Text (Chinese, optional)", "内容（中文，可选）"),
                       value=reply.text_zh.split("\n") if reply and reply.text_zh else None)
        return form

    async def _save(self, ctx: Context, shortcut: str, values: dict[str, Any]) -> Done:
        body = "\n".join(values.get("text") or []).strip()
        body_zh = "\n".join(values.get("text_zh") or []).strip()
        if not body:
            raise FormError(_t(ctx, "The English text is needed.", "请填写英文内容。"))
        if len(body) > canned.MAX_TEXT or len(body_zh) > canned.MAX_TEXT:
            raise FormError(_t(ctx, f"At most {canned.MAX_TEXT} characters.", f"最多 {canned.MAX_TEXT} 个字符。"))
        await self.plugin.engine.store.put_canned(Canned(self.queue(ctx), shortcut, body, body_zh,
                                                         ctx.requester.bare, time.time()))
        return Done(_t(ctx, f"Canned reply “{shortcut}” saved; agents send it with /c {shortcut}.",
                       f"常用回复“{shortcut}”已保存，客服可用 /c {shortcut} 发送。"))

    async def _choose(self, ctx: Context, multi: bool) -> Any:
        replies = await self.plugin.engine.store.canned(self.queue(ctx))
        if not replies:
            return Done(_t(ctx, "This queue has no canned replies yet.", "此队列还没有常用回复。"))
        form = new_form(self.title(ctx.lang))
        field = form.add_field(var="shortcut", ftype="list-multi" if multi else "list-single",
                               label=_t(ctx, "Shortcut", "快捷词"), required=True)
        for reply in replies:
            field.add_option(label=f"{reply.shortcut}: {reply.text[:60]}", value=reply.shortcut)
        return form


class CannedAddCommand(_CannedEditing):
    node = "support-canned-add"
    name = "Add a canned reply"
    name_zh = "添加常用回复"

    async def start(self, ctx: Context) -> FormStep:
        return FormStep(self._form(ctx, None), self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        shortcut = canned.normalise_shortcut(str(values.get("shortcut") or ""))
        if shortcut is None:
            raise FormError(_t(ctx, "A shortcut is one word: letters, digits, '.', '_' or '-' (up to 32).",
                               "快捷词为一个词：字母、数字、. _ -，最长 32。"))
        if await self.plugin.engine.store.canned_reply(self.queue(ctx), shortcut):
            raise FormError(_t(ctx, f"“{shortcut}” exists already; edit it instead.", f"“{shortcut}”已存在，请改用编辑。"))
        return await self._save(ctx, shortcut, values)


class CannedEditCommand(_CannedEditing):
    node = "support-canned-edit"
    name = "Edit a canned reply"
    name_zh = "编辑常用回复"

    async def start(self, ctx: Context) -> Any:
        chooser = await self._choose(ctx, multi=False)
        return chooser if isinstance(chooser, Done) else FormStep(chooser, self.chosen)

    async def chosen(self, ctx: Context, values: dict[str, Any]) -> FormStep:
        shortcut = str(values.get("shortcut") or "")
        reply = await self.plugin.engine.store.canned_reply(self.queue(ctx), shortcut)
        if reply is None:
            raise FormError(_t(ctx, "Choose a shortcut from the list.", "请从列表中选择快捷词。"))
        ctx.state["shortcut"] = shortcut
        return FormStep(self._form(ctx, reply), self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        return await self._save(ctx, ctx.state["shortcut"], values)


class CannedDeleteCommand(_CannedEditing):
    node = "support-canned-delete"
    name = "Delete canned replies"
    name_zh = "删除常用回复"

    async def start(self, ctx: Context) -> Any:
        chooser = await self._choose(ctx, multi=True)
        return chooser if isinstance(chooser, Done) else FormStep(chooser, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        shortcuts = [str(s) for s in values.get("shortcut") or []]
        count = await self.plugin.engine.store.delete_canned(self.queue(ctx), shortcuts)
        return Done(_t(ctx, f"{count} canned replies deleted.", f"已删除 {count} 条常用回复。"))


ALL = (TicketSearchCommand, TicketCommand, CannedListCommand, CannedAddCommand, CannedEditCommand,
       CannedDeleteCommand)
