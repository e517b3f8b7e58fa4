"""Every support command, declared once (see declare.py for what a declaration serves).

At a conversation (``t-<ticket>@…``): accept, reject, close, transfer, note, pending, tag, priority,
canned reply (``/c``), ticket search, help; supervisors: monitor (``/watch``, ``/join``,
``/leave``) and whisper. At a queue address: ticket search, take a waiting ticket, take the next
customer. The multi-stage forms of the help desk (ticket view and update, ticket search form,
canned-reply editing, the table of open conversations) are XEP-0050 only: adhoc.py.
"""

from __future__ import annotations

from typing import Any

from component.errors import StanzaError
from component.ids import new_id

from . import canned, stanza, tickets
from .declare import QUEUE, SESSION, Alias, Call, Declaration, Field, Registry
from .texts import ACCEPT_WORDS, REJECT_WORDS, text

STAFF = ("agent", "supervisor")


def _words(*words: str, **preset: str) -> tuple[Alias, ...]:
    return tuple(Alias(w, tuple(preset.items())) for w in words)


# -- offers -----------------------------------------------------------------------------------------
async def accept(call: Call) -> str | None:
    t = await call.engine.accept(call.ticket.id, call.actor)
    return None if call.surface == "chat" else call.text(f"You now hold ticket {t.id}.", f"您已接手工单 {t.id}。")


async def reject(call: Call) -> str | None:
    t = await call.engine.reject(call.ticket.id, call.actor)
    return None if call.surface == "chat" else call.text(f"You declined ticket {t.id}.", f"您已拒绝工单 {t.id}。")


# -- the conversation -------------------------------------------------------------------------------------
async def close(call: Call) -> str | None:
    t = await call.engine.close(call.ticket.id, call.bare, (call.value("reason") or "resolved")[:64])
    return None if call.surface == "chat" else call.text(f"Ticket {t.id} closed.", f"工单 {t.id} 已结束。")


def transfer_targets(call: Call) -> list[tuple[str, str]]:
    engine = call.engine
    found = [(engine.queue_title(name), engine.queue_jid(name)) for name in engine.queues]
    agent = call.ticket.agent if call.ticket else ""
    for agents in engine.agents.values():
        for a in agents.values():
            if a.tier() is not None and a.jid != agent and (a.jid, a.jid) not in found:
                found.append((a.jid, a.jid))
    return found


async def transfer(call: Call) -> str | None:
    t = await call.engine.transfer(call.ticket.id, call.bare, call.value("to"))
    return None if call.surface == "chat" else call.text(f"Ticket {t.id} transferred.", f"工单 {t.id} 已转接。")


async def note(call: Call) -> str | None:
    await call.engine.note(call.ticket.id, call.bare, call.value("note"), open_only=True)
    if call.surface == "chat":
        return text("noted", call.lang)
    return call.text("Note saved.", "备注已保存。")


async def pending(call: Call) -> str | None:
    t = await call.engine.set_pending(call.ticket.id, call.bare)
    return None if call.surface == "chat" else call.text(f"Ticket {t.id} waits for the customer.",
                                                          f"工单 {t.id} 等待客户回复。")


async def tag(call: Call) -> str | None:
    t = call.ticket
    arg = call.value("tags")
    if arg:
        added, removed, invalid = tickets.parse_tag_change(arg)
        if invalid:
            return text("tag_invalid", call.lang, words=" ".join(invalid))
        t = await call.engine.update(t.id, call.bare, added, removed)
    return text("tags_now", call.lang, ticket=t.id, tags=" ".join("#" + tag for tag in t.tags) or "-")


async def priority(call: Call) -> str | None:
    t = call.ticket
    arg = call.value("priority")
    if arg:
        engine = call.engine
        value = tickets.parse_priority(arg, engine.queues[t.queue].urgent_priority if t.queue in engine.queues
                                       else 10)
        if value is None:
            return text("priority_usage", call.lang)
        t = await engine.update(t.id, call.bare, priority=value)
    return text("priority_now", call.lang, ticket=t.id, priority=t.priority)


async def canned_reply(call: Call) -> str | None:
    """``/c``: list the shortcuts, or send one to the customer as the agent (an open supervisor too)."""
    engine, t, lang = call.engine, call.ticket, call.lang
    if call.role == "supervisor" and engine.watchers.get(t.id, {}).get(call.bare) != "open":
        return text("supervisor_help", lang)  # a supervisor speaks only after /join
    queues = [t.queue] + ([t.entry] if t.entry and t.entry != t.queue else [])
    arg = call.value("shortcut")
    if not arg:
        shortcuts = sorted({c.shortcut for q in queues for c in await engine.store.canned(q)})
        return text("canned_list", lang, shortcuts=", ".join(shortcuts)) if shortcuts else text("canned_none", lang)
    shortcut = canned.normalise_shortcut(arg.split()[0])
    reply = None
    for q in queues:
        if shortcut and reply is None:
            reply = await engine.store.canned_reply(q, shortcut)
    if reply is None:
        return text("canned_unknown", lang, shortcut=arg.split()[0])
    agent_name = call.bare.split("@", 1)[0]
    body = canned.render(reply.for_lang(t.lang), {
        "name": t.form.get("name") or t.customer.split("@", 1)[0], "agent": agent_name, "ticket": t.id,
        "queue": engine.queue_title(t.queue)})
    plugin = call.plugin
    out = plugin.service.xmpp.make_message(mto=engine.session_jid(t.id), mfrom=call.actor, mbody=body, mtype="chat")
    out["id"] = new_id().lower()
    await plugin.outbox.relay(t, out, call.role, agent_name)
    if call.role == "agent":
        await engine.first_response(t)
    return f"» {body}"  # the agent's client did not show it: they typed only the shortcut


async def search(call: Call) -> str | None:
    queue = call.queue or call.ticket.queue
    return await call.plugin.ops.listing([queue], call.value("search"), call.lang)


async def help_(call: Call) -> str | None:
    return text("supervisor_help" if call.role == "supervisor" else "agent_help", call.lang)


# -- supervisors ------------------------------------------------------------------------------------------
MODES = {"silent": "watching", "open": "joined", "stop": "left_watch"}


async def monitor(call: Call) -> str | None:
    mode = call.value("mode")
    if mode not in MODES:
        raise StanzaError("bad-request", call.text("Choose a mode: silent, open or stop.", "请选择方式。"))
    t = await call.engine.watch(call.ticket.id, call.bare, None if mode == "stop" else mode)
    if mode != "stop":
        await call.plugin.outbox.send_history(t, call.actor, label_customer=True)
    return text(MODES[mode], call.lang, ticket=t.id)


async def whisper(call: Call) -> str | None:
    agent = await call.engine.whisper(call.ticket.id, call.bare, call.value("text"))
    return call.text(f"Whispered to {agent} (the customer does not see it).",
                     f"已悄悄发给 {agent}（客户看不到）。")


# -- at a queue address ------------------------------------------------------------------------------------
def waiting_tickets(call: Call) -> list[tuple[str, str]]:
    engine = call.engine
    waiting = sorted((t for t in engine.tickets.values() if t.queue == call.queue
                      and t.state in ("queued", "offered", "offline", "pending")), key=lambda t: t.sort_key())
    now = engine.now()
    return [(tickets.line(t, call.lang, now), t.id) for t in waiting]


async def take(call: Call) -> str | None:
    engine = call.engine
    t = await engine.take(call.value("ticket").split()[0].lower(), call.actor)
    return text("taken", call.lang, ticket=t.id, jid=engine.session_jid(t.id))


def nothing_to_take(call: Call) -> str | None:
    return None if waiting_tickets(call) else call.text("No ticket is waiting.", "没有等待中的工单。")


async def take_next(call: Call) -> str | None:
    engine = call.engine
    t = await engine.take_next(call.queue, call.actor)
    if t is None:
        return call.text("Nobody is waiting.", "当前没有等待的客户。")
    session = engine.session_jid(t.id)
    return call.text(f"You now hold ticket {t.id} ({t.customer}); write to {session}.",
                     f"您已接手工单 {t.id}（{t.customer}），会话地址 {session}。")


def _element_text(var: str) -> Any:
    return lambda el: {var: el.text or ""}


DECLARATIONS = (
    Declaration("accept", ("Accept this customer", "接受该客户"), (SESSION,), ("offered",), accept,
                aliases=tuple(Alias(w, bare=True) for w in sorted(ACCEPT_WORDS)), node="support-accept",
                element="offer-accept"),
    Declaration("reject", ("Decline this customer", "拒绝该客户"), (SESSION,), ("offered",), reject,
                aliases=tuple(Alias(w, bare=True) for w in sorted(REJECT_WORDS)), node="support-reject",
                element="offer-reject"),
    Declaration("close", ("Close this conversation", "结束会话"), (SESSION,), STAFF, close,
                aliases=_words("close", "结束"), node="support-close", element="close",
                fields=(Field("reason", ("Reason", "原因"), default="resolved"),),
                instructions=("The customer is told the conversation ended.", "客户会收到会话结束的通知。"),
                read_element=lambda el: {"reason": el.findtext(f"{{{stanza.NS}}}reason") or "resolved"}),
    Declaration("transfer", ("Transfer this conversation", "转接会话"), (SESSION,), STAFF, transfer,
                aliases=_words("transfer", "转接"), node="support-transfer", element="transfer",
                fields=(Field("to", ("Transfer to", "转接至"), "list-single", required=True,
                              options=transfer_targets, open_list=True),),
                instructions=("A queue name or JID, or an agent's JID. The history goes along.",
                              "填写队列名或JID，或客服的JID。会话记录会一并转交。"),
                usage=("Usage: /transfer <queue or agent JID>", "用法：/transfer <队列或客服JID>"),
                read_element=lambda el: {"to": stanza.parse_transfer(el)[0]}),
    Declaration("note", ("Add a private note", "添加内部备注"), (SESSION,), STAFF, note,
                aliases=_words("note", "备注"), node="support-note", element="note",
                fields=(Field("note", ("Note", "备注"), "text-multi", required=True),),
                instructions=("Never shown to the customer.", "客户看不到备注。"),
                usage=("Usage: /note <text>", "用法：/note <内容>"), read_element=_element_text("note")),
    Declaration("pending", ("Wait for the customer", "等待客户回复"), (SESSION,), STAFF, pending,
                aliases=_words("pending", "等待"), node="support-pending"),
    Declaration("tag", ("Tags", "标签"), (SESSION,), STAFF, tag, aliases=_words("tag", "标签"),
                fields=(Field("tags", ("Tags (+tag, -tag)", "标签（+标签、-标签）")),)),
    Declaration("priority", ("Priority", "优先级"), (SESSION,), STAFF, priority, aliases=_words("priority", "优先级"),
                fields=(Field("priority", ("Priority", "优先级")),)),
    Declaration("canned", ("Canned reply", "常用回复"), (SESSION,), STAFF, canned_reply, aliases=_words("c", "快捷"),
                fields=(Field("shortcut", ("Shortcut", "快捷词")),)),
    Declaration("tickets", ("Find tickets", "查找工单"), (SESSION, QUEUE), STAFF, search,
                aliases=_words("tickets", "工单"), fields=(Field("search", ("Status, #tag, words", "状态、#标签、文字")),)),
    Declaration("help", ("Help", "帮助"), (SESSION,), STAFF, help_, aliases=_words("help", "帮助")),
    Declaration("monitor", ("Watch or join this conversation", "旁听或加入会话"), (SESSION,), ("supervisor",),
                monitor, node="support-monitor",
                aliases=(*_words("watch", "旁听", mode="silent"), *_words("join", "加入", mode="open"),
                         *_words("leave", "离开", mode="stop")),
                fields=(Field("mode", ("Mode", "方式"), "list-single", required=True, default="silent",
                              choices=(("silent", ("Watch silently", "旁听")), ("open", ("Join openly", "加入会话")),
                                       ("stop", ("Stop", "停止")))),)),
    Declaration("whisper", ("Whisper to the agent", "悄悄提醒客服"), (SESSION,), ("supervisor",), whisper,
                aliases=_words("whisper", "悄悄话"), node="support-whisper",
                fields=(Field("text", ("To the agent only", "只发给客服"), "text-multi", required=True),),
                instructions=("The agent of this conversation reads it; the customer never does.",
                              "只有本会话的客服能看到，客户看不到。"),
                usage=("Usage: /whisper <text>", "用法：/whisper <内容>")),
    Declaration("take", ("Take a waiting ticket", "接手等待中的工单"), (QUEUE,), ("agent",), take,
                aliases=_words("take", "接手"), node="support-take", ready=nothing_to_take,
                fields=(Field("ticket", ("Ticket", "工单"), "list-single", required=True, options=waiting_tickets,
                              open_list=True),),
                usage=("Usage: /take <ticket>", "用法：/take <工单号>")),
    Declaration("next", ("Take the next customer", "接待下一位客户"), (QUEUE,), ("agent",), take_next,
                aliases=_words("next", "下一位"), node="support-next"),
)

#: The public entry point: every declared support command.
REGISTRY = Registry(DECLARATIONS)
